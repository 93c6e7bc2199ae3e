"""Resy-shaped provider client: pages through venuesearch, validates and parses hits into typed slots.

Built by make_provider() for the poller; the wire contract is docs/provider-api.md (served by the
bundled simulator too). Timeouts, retries, rate limit and breaker come from base.HttpPolicy.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import httpx
import msgspec
import orjson

from collector.providers.base import (
    RETRYABLE,
    Fetched,
    HttpPolicy,
    LazySlots,
    ObservedSlot,
    Outcome,
    PollResult,
    SlotKey,
    VenueInfo,
    naive_utc_now,
)
from tablepulse_settings import Settings

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
JSON_BODY = {"Content-Type": "application/json"}   # request bodies are encoded with orjson


class SchemaDrift(Exception):
    """A required field is missing or of the wrong type; the message names its path."""


# --- typed decoding of search pages ---------------------------------------------------------
# Only the fields the parser reads; msgspec skips everything else in C (tokens' neighbours, payment,
# size, notify_options...: most of a 5 MB poll). A page that does not fit these types exactly is
# parsed as plain JSON by the careful path instead, which names what is wrong (or accepts the
# harmless oddities these types refuse, e.g. a numeric neighborhood). gc=False: these hold no cycles,
# and ~40k short-lived objects per poll otherwise trigger collections of the whole heap.


class _VenueRef(msgspec.Struct, gc=False, frozen=True):
    resy: int


class _Geo(msgspec.Struct, gc=False, frozen=True):
    lat: float | None = None
    lon: float | None = None


class _Location(msgspec.Struct, gc=False, frozen=True):
    time_zone: str | None = None
    neighborhood: str | None = None
    geo: _Geo | None = None


class _SlotStart(msgspec.Struct, gc=False):
    start: str


class _SlotType(msgspec.Struct, gc=False):
    type: str


class _KeySlot(msgspec.Struct, gc=False):
    """A slot as a poll reads it: only what its key needs (the start and the table type)."""

    date: _SlotStart
    config: _SlotType


class _SlotDate(msgspec.Struct, gc=False):
    start: str
    end: str | None = None


class _SlotConfig(msgspec.Struct, gc=False):
    type: str
    token: str | None = None


class _Slot(msgspec.Struct, gc=False):
    """A slot with its details (end, token, quantity), read only when someone asks (see _details)."""

    date: _SlotDate
    config: _SlotConfig
    quantity: int | None = None


S = TypeVar("S", _KeySlot, _Slot)


class _Availability(msgspec.Struct, Generic[S], gc=False):
    slots: list[S]


class _Hit(msgspec.Struct, Generic[S], gc=False):
    id: int | _VenueRef
    name: str
    availability: _Availability[S]
    neighborhood: str | None = None
    location: _Location | None = None
    price_range_id: int | None = None
    cuisine: str | list[Any] | None = None


class _Search(msgspec.Struct, Generic[S], gc=False):
    hits: list[_Hit[S]]
    nbHits: int | None = None     # the wire's names
    nbPages: int | None = None


class _Page(msgspec.Struct, Generic[S], gc=False):
    search: _Search[S]


# A poll decodes its pages for the slot keys only: the details' fields (end, token, quantity: the
# longest strings of a page) are skipped in C, and a page whose details alone are odd (a quantity as
# text) still takes the typed path for its keys. _details decodes them with the full types, and reads
# a page they refuse with the careful parser, as it always did. The hit's own fields are the same
# types both ways, so a page either decoder accepts has the same venues and keys either way.
_decode_keys = msgspec.json.Decoder(_Page[_KeySlot]).decode
_decode_page = msgspec.json.Decoder(_Page[_Slot]).decode


class _Careful(Exception):
    """The typed fast path met something only the careful parser can judge (e.g. a malformed start)."""


_SKIP = object()   # a start outside this bucket (another day, outside the window): not an error


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


def _start_info(start: str, day: dt.date, window: tuple[int, int] | None) -> Any:
    """A slot start as the careful parser reads it: its time if on `day` within `window`, else _SKIP;
    a malformed start raises _Careful (the careful parser then names it)."""
    try:
        t = _strict_datetime(start)
    except (ValueError, TypeError):
        raise _Careful(start) from None
    if t.date() != day or (window is not None and not window[0] <= t.hour * 60 + t.minute <= window[1]):
        return _SKIP
    return t.time()


def _lenient_end(v: Any) -> dt.datetime | None:
    try:  # optional: an odd end time costs the end, not the poll
        return _strict_datetime(v)
    except (TypeError, ValueError):
        return None


def _add_slot(slots: dict[SlotKey, ObservedSlot], tokens: dict[SlotKey, set[str]], key: SlotKey,
              end: dt.datetime | None, token: str, quantity: int) -> None:
    """Record one sighting. Another token for a key already seen means more tables of the same slot
    (quantities add); the same token again (a page re-parsed) adds nothing. `tokens` holds only keys
    seen more than once: a key's first token is its ObservedSlot's."""
    prev = slots.get(key)
    if prev is None:
        slots[key] = ObservedSlot(key, end, token, quantity)
        return
    seen = tokens.get(key)
    if seen is None:
        seen = tokens[key] = {prev.token}
    if token not in seen:
        slots[key] = ObservedSlot(key, prev.end or end, prev.token, prev.quantity + quantity)
        seen.add(token)


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
        # venue id -> the hit fields last seen for it and their VenueInfo: one shared object per venue
        # while its fields stay (the poller compares venues by identity first)
        self._venue_latest: dict[int, tuple[tuple[Any, ...], VenueInfo]] = {}
        # One object per slot time and per table type, poll after poll: the poller matches each poll's
        # ~12k keys against the last poll's, and a key whose fields are the very same objects (the
        # venue id comes from the shared VenueInfo) compares without reading them (half the time).
        self._times: dict[dt.time, dt.time] = {}
        self._types: dict[str, str] = {}
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
        # The search URL as httpx merges SEARCH_PATH onto base_url, built once: an absolute URL object
        # skips parsing and merging it again for each of a poll's ~40 pages (~30 us a request).
        base = self._client.base_url
        self._search_url = base.copy_with(raw_path=base.raw_path + httpx.URL(SEARCH_PATH).raw_path.lstrip(b"/"))

    # --- Provider API -----------------------------------------------------------------------

    def search(self, day: dt.date, time_slot: str, party_size: int,
               now: Callable[[], dt.datetime] | None = None) -> PollResult:
        """All pages of venuesearch for one bucket and party size; OK only if every page validated.
        `now` (the poller's clock; naive UTC wall time by default) stamps each page's request and answer."""
        window = _time_window(time_slot)
        return self._policy.run_poll(lambda: self._search(day, time_slot, window, party_size, now or naive_utc_now))

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

    def _search(self, day: dt.date, time_slot: str, window: tuple[int, int], party_size: int,
                now: Callable[[], dt.datetime]) -> PollResult:
        venues: dict[int, VenueInfo] = {}
        keys: dict[SlotKey, None] = {}   # every slot's key, in parse order: all a poll needs
        slots: dict[SlotKey, ObservedSlot] = {}   # details of the pages only the careful parser read
        tokens: dict[SlotKey, set[str]] = {}     # only keys seen more than once (see _add_slot)
        starts: dict[str, Any] = {}   # 'YYYY-MM-DD HH:MM:SS' -> slot time or _SKIP (a poll has a handful)
        # the pages' bytes, for the details if someone reads them (LazySlots): bytes, not the decoded
        # pages, which would keep ~100k objects alive (and the cyclic collector busy) through a poll
        contents: list[bytes] = []
        typed = False
        requests, latency_ms = 0, 0.0
        nb_pages: int | None = None
        nb_hits: int | None = None
        page = 0
        page_times: list[tuple[dt.datetime, dt.datetime]] = []
        page_ends: list[int] = []
        while True:
            page += 1
            if page > MAX_PAGES:
                return PollResult(Outcome.INCOMPLETE_PAGES, pages=page - 1, requests=requests,
                                  latency_ms=latency_ms, detail=f"stopped after {MAX_PAGES} pages")
            body = {"availability": True, "page": page, "per_page": PER_PAGE,
                    "slot_filter": {"day": day.isoformat(), "party_size": party_size, "time_filter": time_slot},
                    "types": ["venue"], "order_by": "availability", "geo": GEO, "query": ""}
            f = self._policy.fetch("POST", self._search_url, content=orjson.dumps(body), headers=JSON_BODY,
                                   decode=_decode_keys, now=now)
            requests += f.requests
            latency_ms += f.latency_ms
            if not f.ok:
                return self._failed_page(f, page, nb_pages, requests, latency_ms)
            where = f"page {page}"
            try:
                n_hits, announced = self._parse_page(f, where, day, window, party_size, venues, keys, slots,
                                                     tokens, starts)
            except SchemaDrift as e:
                return PollResult(Outcome.SCHEMA_DRIFT, pages=page, requests=requests, latency_ms=latency_ms,
                                  http_status=f.http_status, detail=str(e))
            except orjson.JSONDecodeError as e:  # accepted by the typed decoder, refused as plain JSON
                return PollResult(Outcome.MALFORMED, pages=page, requests=requests, latency_ms=latency_ms,
                                  http_status=f.http_status, detail=f"{where}: body is not JSON: {e}")
            contents.append(f.content)
            assert f.sent_at is not None and f.received_at is not None
            page_times.append((f.sent_at, f.received_at))
            page_ends.append(len(keys))
            typed = typed or isinstance(f.body, _Page)
            if page == 1:
                nb_pages, nb_hits = announced
            if nb_pages is not None:
                if not n_hits and page < nb_pages:
                    return PollResult(Outcome.INCOMPLETE_PAGES, pages=page, requests=requests,
                                      latency_ms=latency_ms, http_status=f.http_status,
                                      detail=f"page {page} of {nb_pages} returned no hits")
                if page >= nb_pages:
                    break
            elif n_hits < PER_PAGE:
                break
        if nb_hits is not None and len(venues) < nb_hits:
            return PollResult(Outcome.INCOMPLETE_PAGES, pages=page, requests=requests, latency_ms=latency_ms,
                              http_status=200,
                              detail=f"collected {len(venues)} of {nb_hits} announced hits over {page} pages")
        result: Mapping[SlotKey, ObservedSlot] = slots   # every page careful: the details are at hand
        if typed:
            result = LazySlots(keys, lambda: self._details(contents, day, window, party_size))
        return PollResult(Outcome.OK, venues, result, pages=page, requests=requests, latency_ms=latency_ms,
                          http_status=200, page_times=page_times, page_ends=page_ends,
                          detail=f"{len(keys)} slots at {len(venues)} venues over {page} pages")

    @staticmethod
    def _failed_page(f: Fetched, page: int, nb_pages: int | None, requests: int,
                     latency_ms: float) -> PollResult:
        outcome, detail = f.outcome, f.detail
        if page > 1:
            of = f" of {nb_pages}" if nb_pages else ""
            # the page set is partial, the whole poll untrusted: a page that failed for a while, or that
            # is not there (404) after page 1 answered (docs/provider-api.md: `incomplete_pages`)
            if outcome in RETRYABLE or f.http_status == 404:
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

    def _parse_page(self, f: Fetched, where: str, day: dt.date, window: tuple[int, int], party_size: int,
                    venues: dict[int, VenueInfo], keys: dict[SlotKey, None], slots: dict[SlotKey, ObservedSlot],
                    tokens: dict[SlotKey, set[str]],
                    starts: dict[str, Any]) -> tuple[int, tuple[int | None, int | None]]:
        """One page into venues and slot keys; returns (hits on the page, (nbPages, nbHits) as announced).

        A page the typed decoder accepted takes the fast path (keys only: the details are parsed by
        _details if someone reads them); one it refused (or where the fast path meets something odd)
        is parsed from plain JSON by the careful path, which raises SchemaDrift naming the path and
        fills `slots` with details too. Re-parsing after a partial fast pass adds nothing twice."""
        body = f.body
        if isinstance(body, _Page):
            try:
                self._typed_keys(body, day, window, party_size, venues, keys, starts)
                return len(body.search.hits), (body.search.nbPages, body.search.nbHits)
            except _Careful:
                body = orjson.loads(f.content)
        hits = _req_list(body, where, "search.hits")
        announced = (_opt_int(body, where, "search.nbPages"), _opt_int(body, where, "search.nbHits")) \
            if where == "page 1" else (None, None)
        for i, hit in enumerate(hits):
            self._parse_hit(hit, f"{where} hit {i}", day, window, party_size, venues, slots, tokens)
        keys.update(dict.fromkeys(slots))   # in the order the slots were first seen, as the details
        return len(hits), announced

    def _details(self, contents: list[bytes], day: dt.date, window: tuple[int, int],
                 party_size: int) -> dict[SlotKey, ObservedSlot]:
        """Every slot of a poll with its details (end, token, quantity), parsed from its pages the way
        classify_response and _parse_page read them (typed decoding, else plain JSON; typed walk,
        careful re-parse of a page where it gives up); every page parsed once already, so nothing
        here can fail that did not fail then."""
        venues: dict[int, VenueInfo] = {}
        slots: dict[SlotKey, ObservedSlot] = {}
        tokens: dict[SlotKey, set[str]] = {}
        starts: dict[str, Any] = {}
        ends: dict[Any, Any] = {}
        for n, content in enumerate(contents, 1):
            try:
                body: Any = _decode_page(content)
            except (msgspec.MsgspecError, ValueError, RecursionError):   # as classify_response
                body = orjson.loads(content)
            if isinstance(body, _Page):
                try:
                    self._typed_page(body, day, window, party_size, venues, slots, tokens, starts, ends)
                    continue
                except _Careful:
                    body = orjson.loads(content)
            for i, hit in enumerate(_req_list(body, f"page {n}", "search.hits")):
                self._parse_hit(hit, f"page {n} hit {i}", day, window, party_size, venues, slots, tokens)
        return slots

    def _venue(self, hit: _Hit[Any], vid: int) -> VenueInfo:
        """The hit's VenueInfo; the same object poll after poll while its fields stay (cheap to compare)."""
        fields = (hit.name, hit.neighborhood, hit.price_range_id, hit.cuisine, hit.location)
        last = self._venue_latest.get(vid)
        if last is not None and last[0] == fields:
            return last[1]
        return self._new_venue(hit, vid, fields)

    def _new_venue(self, hit: _Hit[Any], vid: int, fields: tuple[Any, ...]) -> VenueInfo:
        """A VenueInfo for a venue id not seen before or whose hit fields changed; kept as its latest."""
        loc, c = hit.location, hit.cuisine
        cuisine: str | None
        if isinstance(c, list):   # the first non-empty string of a list; '' -> None, as _cuisine
            cuisine = c[0] if c and type(c[0]) is str and c[0] else _cuisine(c)
        else:
            cuisine = c or None
        geo = loc.geo if loc is not None else None
        venue = VenueInfo(
            self.name, vid, hit.name, hit.neighborhood or (loc.neighborhood if loc else None) or None,
            hit.price_range_id, cuisine, (loc.time_zone if loc else None) or DEFAULT_TZ,
            geo.lat if geo else None, geo.lon if geo else None)
        if len(self._venue_latest) > 100_000:
            self._venue_latest.clear()
        self._venue_latest[vid] = (fields, venue)
        return venue

    def _typed_keys(self, pg: _Page[Any], day: dt.date, window: tuple[int, int], party_size: int,
                    venues: dict[int, VenueInfo], keys: dict[SlotKey, None], starts: dict[str, Any]) -> None:
        """The hot path (a 5,000-venue poll: 39 pages, ~12k slots): msgspec already checked every
        type, so what is left is the start format (once per distinct string), the day and window.
        Keys only: the same keys, in the same order, as _typed_page. Raises _Careful as it does."""
        name, sk, new_venue = self.name, SlotKey, self._new_venue
        start_of, types = starts.get, self._types
        type_of = types.get
        latest_of = self._venue_latest.get
        for hit in pg.search.hits:
            ref = hit.id
            vid = ref if type(ref) is int else ref.resy  # type: ignore[union-attr]
            # _venue, inlined on the hot path: most venues are as the last poll saw them
            fields = (hit.name, hit.neighborhood, hit.price_range_id, hit.cuisine, hit.location)
            last = latest_of(vid)
            venue = last[1] if last is not None and last[0] == fields else new_venue(hit, vid, fields)
            venues[vid] = venue
            vid = venue.venue_id   # the same int object poll after poll (see __init__)
            for slot in hit.availability.slots:
                start = slot.date.start
                t = start_of(start)
                if t is None:
                    t = starts[start] = self._start_time(start, day, window)
                if t is not _SKIP:
                    tt = slot.config.type
                    tt = type_of(tt) or self._table_type(tt)
                    keys[sk(name, vid, day, t, party_size, tt)] = None

    def _start_time(self, start: str, day: dt.date, window: tuple[int, int]) -> Any:
        """_start_info, with one time object per time of day (see __init__)."""
        t = _start_info(start, day, window)
        if t is _SKIP:
            return t
        if len(self._times) > 10_000:
            self._times.clear()
        return self._times.setdefault(t, t)

    def _table_type(self, tt: str) -> str:
        if len(self._types) > 10_000:   # a provider has a handful; never let junk grow it
            self._types.clear()
        return self._types.setdefault(tt, tt) or tt

    def _typed_page(self, pg: _Page[_Slot], day: dt.date, window: tuple[int, int], party_size: int,
                    venues: dict[int, VenueInfo], slots: dict[SlotKey, ObservedSlot],
                    tokens: dict[SlotKey, set[str]], starts: dict[str, Any],
                    ends: dict[Any, Any]) -> None:
        """Keys and details of a page the typed decoder accepted (for _details): msgspec already
        checked every type, so what is left is the start format (once per distinct string), the day
        and window, and the same defaults as _parse_hit / _parse_slot. Raises _Careful for anything else."""
        name, sk, osl, venue_of = self.name, SlotKey, ObservedSlot, self._venue
        start_of, end_of = starts.get, ends.get
        for hit in pg.search.hits:
            ref = hit.id
            vid = ref if type(ref) is int else ref.resy  # type: ignore[union-attr]
            venues[vid] = venue_of(hit, vid)
            for slot in hit.availability.slots:
                d = slot.date
                start = d.start
                t = start_of(start)
                if t is None:
                    t = starts[start] = _start_info(start, day, window)
                if t is _SKIP:
                    continue
                cfg = slot.config
                key = sk(name, vid, day, t, party_size, cfg.type)
                e = d.end
                end = end_of(e, _SKIP)
                if end is _SKIP:
                    end = ends[e] = None if e is None else _lenient_end(e)
                q = slot.quantity
                if q is None or q < 1:
                    q = 1
                if key in slots:
                    _add_slot(slots, tokens, key, end, cfg.token or "", q)
                else:
                    slots[key] = osl(key, end, cfg.token or "", q)

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
        except (KeyError, TypeError, ValueError, AttributeError, _Careful):
            # something is off: the careful parser says exactly what (the fast one is idempotent to redo)
            for j, slot in enumerate(raw_slots):
                self._parse_slot(slot, where, j, vid, day, window, party_size, slots, tokens)

    def _fast_slots(self, raw_slots: list[Any], vid: int, day: dt.date, window: tuple[int, int] | None,
                    party_size: int, slots: dict[SlotKey, ObservedSlot], tokens: dict[SlotKey, set[str]]) -> None:
        """Slots of a page the typed decoder refused (some other field is odd): direct access, the
        same checks as _parse_slot; any surprise raises and the caller re-parses carefully for the
        error message."""
        name = self.name
        for slot in raw_slots:
            d, cfg = slot["date"], slot["config"]
            start, table_type = d["start"], cfg["type"]
            if type(start) is not str or type(table_type) is not str:
                raise ValueError("slow path")
            t = _start_info(start, day, window)
            if t is _SKIP:
                continue
            token = cfg.get("token")
            token = token if type(token) is str else ""
            quantity = slot.get("quantity", 1)
            quantity = quantity if type(quantity) is int and quantity > 0 else 1
            end_raw = d.get("end")
            end = _lenient_end(end_raw) if end_raw is not None else None
            _add_slot(slots, tokens, SlotKey(name, vid, day, t, party_size, table_type), end, token, quantity)

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
        end = _lenient_end(_opt(slot, "date.end"))
        if start.date() != day:
            return  # another day's slot: not this bucket's business
        minutes = start.hour * 60 + start.minute
        if window is not None and not window[0] <= minutes <= window[1]:
            return
        _add_slot(slots, tokens, SlotKey(self.name, vid, start.date(), start.time(), party_size, table_type),
                  end, token, quantity)
