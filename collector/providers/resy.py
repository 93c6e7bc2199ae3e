"""Resy-shaped provider client: pages through venuesearch, validates and parses hits into typed slots.

Built by make_provider() for the poller; the wire contract is docs/provider-api.md (served by the
bundled simulator too). Timeouts, retries, rate limit and breaker come from base.HttpPolicy.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from collector.providers.base import (
    RETRYABLE,
    Fetched,
    HttpPolicy,
    ObservedSlot,
    Outcome,
    PollResult,
    SlotKey,
    VenueInfo,
)
from collector.settings import Settings

USER_AGENT = "tablepulse/0.1 (+https://github.com/tablepulse)"
SEARCH_PATH = "/3/venuesearch/search"
FIND_PATH = "/4/find"
PER_PAGE = 75  # the provider's cap
MAX_PAGES = 200  # 15,000 venues; beyond that something is wrong with the paging
WINDOW_MINUTES = 60  # time_filter T matches starts within [T - 60 min, T + 60 min]
DEFAULT_TZ = "America/New_York"
# Search area: New York City, as public Resy clients send it.
GEO = {"latitude": 40.7128, "longitude": -74.006, "radius": 35420}
START_FORMAT = "%Y-%m-%d %H:%M:%S"


class SchemaDrift(Exception):
    """A required field is missing or of the wrong type; the message names its path."""


# --- validation helpers ---------------------------------------------------------------------


def _req(obj: Any, where: str, path: str, prefix: str = "") -> Any:
    """Walk a dotted path of object keys; SchemaDrift naming the full path if any step is missing."""
    cur = obj
    for key in path.split("."):
        if not isinstance(cur, dict) or cur.get(key) is None:
            raise SchemaDrift(f"{where}: {prefix}{path} missing")
        cur = cur[key]
    return cur


def _opt(obj: Any, path: str) -> Any:
    cur = obj
    for key in path.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _req_str(obj: Any, where: str, path: str, prefix: str = "") -> str:
    v = _req(obj, where, path, prefix)
    if not isinstance(v, str):
        raise SchemaDrift(f"{where}: {prefix}{path} is not a string")
    return v


def _req_list(obj: Any, where: str, path: str) -> list[Any]:
    v = _req(obj, where, path)
    if not isinstance(v, list):
        raise SchemaDrift(f"{where}: {path} is not a list")
    return v


def _opt_int(obj: Any, where: str, path: str) -> int | None:
    v = _opt(obj, path)
    if v is None:
        return None
    if not _is_int(v):
        raise SchemaDrift(f"{where}: {path} is not an integer")
    return int(v)


def _opt_str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _opt_float(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _venue_id(obj: Any, where: str, path: str) -> int:
    raw = _req(obj, where, path)
    if isinstance(raw, dict):
        raw = raw.get("resy")
    if not _is_int(raw):
        raise SchemaDrift(f"{where}: {path} is neither {{'resy': N}} nor an integer")
    return int(raw)


def _strict_datetime(v: str) -> dt.datetime:
    """'YYYY-MM-DD HH:MM:SS' exactly; fromisoformat is ~10x faster than strptime (hot path)."""
    if not (isinstance(v, str) and len(v) == 19 and v[10] == " " and v[4] == "-" and v[13] == ":"):
        raise ValueError(v)
    return dt.datetime.fromisoformat(v)


def _parse_start(v: str, where: str, path: str) -> dt.datetime:
    try:
        return _strict_datetime(v)
    except (ValueError, TypeError):
        raise SchemaDrift(f"{where}: {path} {v[:40]!r} is not 'YYYY-MM-DD HH:MM:SS'") from None


def _time_window(time_slot: str) -> tuple[int, int]:
    hh, sep, mm = time_slot.partition(":")
    if not (sep and hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ValueError(f"time slot {time_slot!r} is not HH:MM")
    t = int(hh) * 60 + int(mm)
    return t - WINDOW_MINUTES, t + WINDOW_MINUTES


def _cuisine(v: Any) -> str | None:
    if isinstance(v, list):
        v = next((c for c in v if isinstance(c, str) and c), None)
    return _opt_str(v)


class ResyProvider:
    """The Resy web API client (see docs/provider-api.md). Thread-safe: polls may run concurrently."""

    name = "resy"

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, monotonic: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None, wall_clock: Callable[[], dt.datetime] | None = None) -> None:
        headers = {
            "Authorization": f'ResyAPI api_key="{settings.api_key}"',
            "Origin": "https://resy.com",
            "Referer": "https://resy.com/",
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        if settings.auth_token:
            headers["X-Resy-Auth-Token"] = settings.auth_token
        self._time_cache: dict[str, dt.time] = {}   # 'HH:MM:SS' -> time (a poll has a handful of distinct times)
        self._client = httpx.Client(
            base_url=settings.upstream_url,
            headers=headers,
            timeout=httpx.Timeout(connect=settings.connect_timeout_s, read=settings.read_timeout_s,
                                  write=settings.read_timeout_s, pool=settings.pool_timeout_s),
            limits=httpx.Limits(max_connections=settings.max_in_flight,
                                max_keepalive_connections=settings.max_in_flight),
            follow_redirects=False,  # a redirect means the login page: auth expired
            transport=transport,
        )
        self._policy = HttpPolicy(self._client, settings, sleep=sleep, monotonic=monotonic, rng=rng,
                                  wall_clock=wall_clock)

    # --- Provider API -----------------------------------------------------------------------

    def search(self, day: dt.date, time_slot: str, party_size: int) -> PollResult:
        """All pages of venuesearch for one bucket and party size; OK only if every page validated."""
        window = _time_window(time_slot)
        return self._policy.run_poll(lambda: self._search(day, time_slot, window, party_size))

    def find(self, day: dt.date, party_size: int, venue_id: int) -> PollResult:
        """Every slot of one venue on one day (GET /4/find)."""
        return self._policy.run_poll(lambda: self._find(day, party_size, venue_id))

    def health(self) -> dict[str, Any]:
        return {"provider": self.name, **self._policy.health()}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ResyProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- polls ------------------------------------------------------------------------------

    def _search(self, day: dt.date, time_slot: str, window: tuple[int, int], party_size: int) -> PollResult:
        venues: dict[int, VenueInfo] = {}
        slots: dict[SlotKey, ObservedSlot] = {}
        tokens: dict[SlotKey, set[str]] = {}
        requests, latency_ms = 0, 0.0
        nb_pages: int | None = None
        nb_hits: int | None = None
        page = 0
        while True:
            page += 1
            if page > MAX_PAGES:
                return PollResult(Outcome.INCOMPLETE_PAGES, pages=page - 1, requests=requests,
                                  latency_ms=latency_ms, detail=f"stopped after {MAX_PAGES} pages")
            body = {"availability": True, "page": page, "per_page": PER_PAGE,
                    "slot_filter": {"day": day.isoformat(), "party_size": party_size, "time_filter": time_slot},
                    "types": ["venue"], "order_by": "availability", "geo": GEO, "query": ""}
            f = self._policy.fetch("POST", SEARCH_PATH, json=body)
            requests += f.requests
            latency_ms += f.latency_ms
            if not f.ok:
                return self._failed_page(f, page, nb_pages, requests, latency_ms)
            where = f"page {page}"
            try:
                hits = _req_list(f.body, where, "search.hits")
                if page == 1:
                    nb_pages = _opt_int(f.body, where, "search.nbPages")
                    nb_hits = _opt_int(f.body, where, "search.nbHits")
                for i, hit in enumerate(hits):
                    self._parse_hit(hit, f"{where} hit {i}", day, window, party_size, venues, slots, tokens)
            except SchemaDrift as e:
                return PollResult(Outcome.SCHEMA_DRIFT, pages=page, requests=requests, latency_ms=latency_ms,
                                  http_status=f.http_status, detail=str(e))
            if nb_pages is not None:
                if not hits and page < nb_pages:
                    return PollResult(Outcome.INCOMPLETE_PAGES, pages=page, requests=requests,
                                      latency_ms=latency_ms, http_status=f.http_status,
                                      detail=f"page {page} of {nb_pages} returned no hits")
                if page >= nb_pages:
                    break
            elif len(hits) < PER_PAGE:
                break
        if nb_hits is not None and len(venues) < nb_hits:
            return PollResult(Outcome.INCOMPLETE_PAGES, pages=page, requests=requests, latency_ms=latency_ms,
                              http_status=200,
                              detail=f"collected {len(venues)} of {nb_hits} announced hits over {page} pages")
        return PollResult(Outcome.OK, venues, slots, pages=page, requests=requests, latency_ms=latency_ms,
                          http_status=200,
                          detail=f"{len(slots)} slots at {len(venues)} venues over {page} pages")

    @staticmethod
    def _failed_page(f: Fetched, page: int, nb_pages: int | None, requests: int,
                     latency_ms: float) -> PollResult:
        outcome, detail = f.outcome, f.detail
        if page > 1:
            of = f" of {nb_pages}" if nb_pages else ""
            if outcome in RETRYABLE:  # the page set is partial: the whole poll is untrusted
                outcome, detail = Outcome.INCOMPLETE_PAGES, f"page {page}{of} missing ({f.outcome}: {f.detail})"
            else:
                detail = f"page {page}{of}: {f.detail}"
        return PollResult(outcome, pages=page - 1, requests=requests, latency_ms=latency_ms,
                          http_status=f.http_status, detail=detail, retry_after_s=f.retry_after_s)

    def _find(self, day: dt.date, party_size: int, venue_id: int) -> PollResult:
        params = {"day": day.isoformat(), "party_size": party_size, "venue_id": venue_id, "lat": 0, "long": 0}
        f = self._policy.fetch("GET", FIND_PATH, params=params)
        if not f.ok:
            return self._failed_page(f, 1, None, f.requests, f.latency_ms)
        venues: dict[int, VenueInfo] = {}
        slots: dict[SlotKey, ObservedSlot] = {}
        tokens: dict[SlotKey, set[str]] = {}
        try:
            for i, entry in enumerate(_req_list(f.body, "find", "results.venues")):
                where = f"venue {i}"
                vid = _venue_id(entry, where, "venue.id")
                venues[vid] = VenueInfo(self.name, vid, _req_str(entry, where, "venue.name"), None, None, None,
                                        DEFAULT_TZ, None, None)
                for j, slot in enumerate(_req_list(entry, where, "slots")):
                    self._parse_slot(slot, where, j, vid, day, None, party_size, slots, tokens)
        except SchemaDrift as e:
            return PollResult(Outcome.SCHEMA_DRIFT, pages=1, requests=f.requests, latency_ms=f.latency_ms,
                              http_status=f.http_status, detail=str(e))
        return PollResult(Outcome.OK, venues, slots, pages=1, requests=f.requests, latency_ms=f.latency_ms,
                          http_status=f.http_status, detail=f"{len(slots)} slots at venue {venue_id}")

    # --- parsing ----------------------------------------------------------------------------

    def _parse_hit(self, hit: Any, where: str, day: dt.date, window: tuple[int, int], party_size: int,
                   venues: dict[int, VenueInfo], slots: dict[SlotKey, ObservedSlot],
                   tokens: dict[SlotKey, set[str]]) -> None:
        if not isinstance(hit, dict):
            raise SchemaDrift(f"{where}: not an object")
        vid = _venue_id(hit, where, "id")
        name = _req_str(hit, where, "name")
        raw_slots = _req_list(hit, where, "availability.slots")
        venues[vid] = VenueInfo(
            provider=self.name, venue_id=vid, name=name,
            neighborhood=_opt_str(hit.get("neighborhood")) or _opt_str(_opt(hit, "location.neighborhood")),
            price_range=_opt_int(hit, where, "price_range_id"),
            cuisine=_cuisine(hit.get("cuisine")),
            tz=_opt_str(_opt(hit, "location.time_zone")) or DEFAULT_TZ,
            lat=_opt_float(_opt(hit, "location.geo.lat")),
            lon=_opt_float(_opt(hit, "location.geo.lon")),
        )
        try:
            self._fast_slots(raw_slots, vid, day, window, party_size, slots, tokens)
        except (KeyError, TypeError, ValueError, AttributeError):
            # something is off: the careful parser says exactly what (the fast one is idempotent to redo)
            for j, slot in enumerate(raw_slots):
                self._parse_slot(slot, where, j, vid, day, window, party_size, slots, tokens)

    def _fast_slots(self, raw_slots: list[Any], vid: int, day: dt.date, window: tuple[int, int] | None,
                    party_size: int, slots: dict[SlotKey, ObservedSlot], tokens: dict[SlotKey, set[str]]) -> None:
        """The hot path (a 5,000-venue poll has ~12k slots): direct access, the same checks as
        _parse_slot; any surprise raises and the caller re-parses carefully for the error message."""
        day_s, name, times = day.isoformat(), self.name, self._time_cache
        for slot in raw_slots:
            d, cfg = slot["date"], slot["config"]
            start, table_type = d["start"], cfg["type"]
            if type(start) is not str or type(table_type) is not str or len(start) != 19 or start[10] != " ":
                raise ValueError("slow path")
            if start[:10] != day_s:
                _strict_datetime(start)       # validate, then skip: another day's slot
                continue
            tpart = start[11:]
            t = times.get(tpart)
            if t is None:
                t = times[tpart] = dt.time.fromisoformat(tpart)
            if window is not None and not window[0] <= t.hour * 60 + t.minute <= window[1]:
                continue
            token = cfg.get("token")
            token = token if type(token) is str else ""
            quantity = slot.get("quantity", 1)
            quantity = quantity if type(quantity) is int and quantity > 0 else 1
            end_raw = d.get("end")
            try:
                end = _strict_datetime(end_raw) if end_raw is not None else None
            except (TypeError, ValueError):
                end = None
            key = SlotKey(name, vid, day, t, party_size, table_type)
            seen = tokens.get(key)
            if seen is None:
                tokens[key] = {token}
                slots[key] = ObservedSlot(key, end, token, quantity)
            elif token not in seen:
                prev = slots[key]
                slots[key] = ObservedSlot(key, prev.end or end, prev.token, prev.quantity + quantity)
                seen.add(token)

    def _parse_slot(self, slot: Any, where: str, j: int, vid: int, day: dt.date,
                    window: tuple[int, int] | None, party_size: int,
                    slots: dict[SlotKey, ObservedSlot], tokens: dict[SlotKey, set[str]]) -> None:
        path = f"availability.slots[{j}]" if window is not None else f"slots[{j}]"
        if not isinstance(slot, dict):
            raise SchemaDrift(f"{where}: {path} is not an object")
        start = _parse_start(_req_str(slot, where, "date.start", f"{path}."), where, f"{path}.date.start")
        table_type = _req_str(slot, where, "config.type", f"{path}.")
        token = _opt_str(_opt(slot, "config.token")) or ""
        quantity = slot.get("quantity", 1)
        quantity = int(quantity) if _is_int(quantity) and quantity > 0 else 1
        try:  # optional: an odd end time costs the end, not the poll
            end = _strict_datetime(_opt(slot, "date.end"))
        except (TypeError, ValueError):
            end = None
        if start.date() != day:
            return  # another day's slot: not this bucket's business
        minutes = start.hour * 60 + start.minute
        if window is not None and not window[0] <= minutes <= window[1]:
            return
        key = SlotKey(self.name, vid, start.date(), start.time(), party_size, table_type)
        seen = tokens.setdefault(key, set())
        prev = slots.get(key)
        if prev is None:
            slots[key] = ObservedSlot(key, end, token, quantity)
        elif token not in seen:  # another token for the same slot: more tables, same identity
            slots[key] = ObservedSlot(key, prev.end or end, prev.token, prev.quantity + quantity)
        seen.add(token)
