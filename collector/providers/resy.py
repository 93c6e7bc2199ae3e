"""Resy-shaped provider client: pages through venuesearch, decodes each page into venues and slot keys.

Built by make_provider() for the poller; the wire contract is docs/provider-api.md (served by the
bundled simulator too). Timeouts, retries, rate limit and breaker come from base.HttpPolicy.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import orjson

from collector.providers.base import (
    RETRYABLE,
    Fetched,
    HttpPolicy,
    Outcome,
    PollResult,
    SlotKey,
    VenueInfo,
    naive_utc_now,
)
from tablepulse_settings import Settings, parse_hhmm

USER_AGENT = "tablepulse/0.1 (+https://github.com/tablepulse)"
SEARCH_PATH = "/3/venuesearch/search"
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


# --- one typed decode of a search page -------------------------------------------------------
# Only what a poll uses: each hit's venue fields and each slot's start and table type; msgspec skips
# everything else in C (tokens, payment, size: most of a 5 MB poll). Fields a venue can do without
# (neighborhood, time zone, coordinates, cuisine) are read leniently: an odd value costs that field,
# not the poll.
# Anything else these types refuse is schema drift, and msgspec's own error names where (_drift).
# gc=False: these hold no cycles, and ~40k short-lived objects per poll would otherwise trigger
# collections of the whole heap.


class _VenueRef(msgspec.Struct, gc=False, frozen=True):
    resy: int


class _SlotDate(msgspec.Struct, gc=False):
    start: str


class _SlotConfig(msgspec.Struct, gc=False):
    type: str


class _Slot(msgspec.Struct, gc=False):
    date: _SlotDate
    config: _SlotConfig


class _Availability(msgspec.Struct, gc=False):
    slots: list[_Slot]


class _Geo(msgspec.Struct, gc=False):
    lat: Any = None
    lon: Any = None


class _Location(msgspec.Struct, gc=False):
    time_zone: Any = None
    neighborhood: Any = None
    geo: _Geo | None = None


class _Hit(msgspec.Struct, gc=False):
    id: int | _VenueRef
    name: str
    availability: _Availability
    price_range_id: int | None = None
    neighborhood: Any = None
    location: _Location | None = None
    cuisine: Any = None


class _Search(msgspec.Struct, gc=False):
    hits: list[_Hit]
    nbHits: int | None = None     # the wire's names
    nbPages: int | None = None


class _Page(msgspec.Struct, gc=False):
    search: _Search


_decode_page = msgspec.json.Decoder(_Page).decode

# msgspec's errors end "- at `$.search.hits[0].availability.slots[3].date`"
_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_HIT = re.compile(r"^\.search\.hits\[(?P<i>\d+)\]\.?")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`$")


def _drift(error: str, where: str) -> str:
    """What is wrong with a page, from the typed decoder's error, in the words of a path: 'page 1 hit 0:
    availability.slots[3].date.start missing', 'page 2 hit 4: id: Expected `int | object`, got `str`'."""
    m = _AT.match(error.strip())
    what, path = (m["what"], m["path"] or "") if m else (error, "")
    h = _HIT.match(path)
    if h:
        where, path = f"{where} hit {h['i']}", path[h.end():]
    path = path.lstrip(".")
    missing = _MISSING.match(what)
    if missing:
        return f"{where}: {path + '.' if path else ''}{missing['field']} missing"
    return f"{where}: {path or 'body'}: {what}"


def _time_window(time_slot: str) -> tuple[int, int]:
    hh, mm = parse_hhmm(time_slot)
    t = hh * 60 + mm
    return t - WINDOW_MINUTES, t + WINDOW_MINUTES


def _slot_time(start: str, day: dt.date, window: tuple[int, int]) -> dt.time | None:
    """The slot's time if it starts on `day` within `window`, None if not (another bucket's slot, not
    an error); ValueError when `start` is not 'YYYY-MM-DD HH:MM:SS'."""
    if not (len(start) == 19 and start[10] == " " and start[4] == "-" and start[13] == ":"):
        raise ValueError(start)
    t = dt.datetime.fromisoformat(start)
    if t.date() != day or not window[0] <= t.hour * 60 + t.minute <= window[1]:
        return None
    return t.time()


def _venue(provider: str, vid: int, hit: _Hit) -> VenueInfo:
    """The hit's venue; optional fields of another type than expected are left out (None / default zone)."""
    nb, c, loc = hit.neighborhood, hit.cuisine, hit.location
    tz: Any = None
    lat: Any = None
    lon: Any = None
    if loc is not None:
        if not (type(nb) is str and nb):
            nb = loc.neighborhood
        tz, geo = loc.time_zone, loc.geo
        if geo is not None:
            lat, lon = geo.lat, geo.lon
    if type(c) is list:   # the first non-empty string of a list
        c = next((x for x in c if type(x) is str and x), None)
    return VenueInfo(provider, vid, hit.name, nb if type(nb) is str and nb else None, hit.price_range_id,
                     c if type(c) is str and c else None, tz if type(tz) is str and tz else DEFAULT_TZ,
                     float(lat) if type(lat) in (int, float) else None,
                     float(lon) if type(lon) in (int, float) else None)


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

    def health(self) -> dict[str, Any]:
        return {"provider": self.name, **self._policy.health()}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ResyProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- one poll ---------------------------------------------------------------------------

    def _search(self, day: dt.date, time_slot: str, window: tuple[int, int], party_size: int,
                now: Callable[[], dt.datetime]) -> PollResult:
        venues: dict[int, VenueInfo] = {}
        keys: dict[SlotKey, None] = {}   # every slot's key, in page order
        times: dict[str, dt.time | None] = {}   # start string -> its time in this bucket (a poll has a handful)
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
                                   decode=_decode_page, now=now)
            requests += f.requests
            latency_ms += f.latency_ms
            if not f.ok:
                return self._failed_page(f, page, nb_pages, requests, latency_ms)
            try:
                pg = self._read_page(f, f"page {page}", day, window, party_size, venues, keys, times)
            except SchemaDrift as e:
                return PollResult(Outcome.SCHEMA_DRIFT, pages=page, requests=requests, latency_ms=latency_ms,
                                  http_status=f.http_status, detail=str(e))
            assert f.sent_at is not None and f.received_at is not None
            page_times.append((f.sent_at, f.received_at))
            page_ends.append(len(keys))
            if page == 1:
                nb_pages, nb_hits = pg.search.nbPages, pg.search.nbHits
            n_hits = len(pg.search.hits)
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
        return PollResult(Outcome.OK, venues, keys, pages=page, requests=requests, latency_ms=latency_ms,
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

    def _read_page(self, f: Fetched, where: str, day: dt.date, window: tuple[int, int], party_size: int,
                   venues: dict[int, VenueInfo], keys: dict[SlotKey, None],
                   times: dict[str, dt.time | None]) -> _Page:
        """One decoded page into venues and slot keys (a slot repeated, on this page or another, counts
        once). A page the typed decoder refused, or a slot start that is not a date-time, raises
        SchemaDrift saying where."""
        pg = f.body
        if not isinstance(pg, _Page):
            raise SchemaDrift(_drift(f.decode_error or "not a search page", where))
        name = self.name
        for i, hit in enumerate(pg.search.hits):
            ref = hit.id
            vid = ref if isinstance(ref, int) else ref.resy
            venues[vid] = _venue(name, vid, hit)
            for j, slot in enumerate(hit.availability.slots):
                start = slot.date.start
                if start in times:
                    t = times[start]
                else:
                    try:
                        t = times[start] = _slot_time(start, day, window)
                    except ValueError:
                        raise SchemaDrift(f"{where} hit {i}: availability.slots[{j}].date.start {start[:40]!r} "
                                          "is not 'YYYY-MM-DD HH:MM:SS'") from None
                if t is not None:
                    keys[SlotKey(name, vid, day, t, party_size, slot.config.type)] = None
        return pg
