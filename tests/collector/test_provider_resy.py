"""Resy client on httpx.MockTransport: wire format, decoding into slot keys, paging, error taxonomy.

The HTTP policy itself (backoff, budget, rate limit, Retry-After, breaker) is in
test_provider_policy.py. Time is a fake clock: nothing here sleeps for real.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from datetime import datetime, time
from typing import Any
from unittest import mock

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.providers import make_provider, resy
from collector.providers.base import Outcome, PollResult, SlotKey, VenueInfo
from collector.providers.resy import ResyProvider
from simulator.api import ProviderApi
from simulator.model import Market
from tablepulse_settings import Settings
from tests.collector.provider_fakes import DAY, FIXTURE, WALL, FakeClock


def make(handler: Any, **overrides: Any) -> ResyProvider:
    clock = FakeClock()
    s = Settings().replace(upstream_url="http://resy.test", **{"rate_limit_per_s": 1000.0, **overrides})
    return ResyProvider(s, transport=httpx.MockTransport(handler), sleep=clock.sleep,
                        monotonic=clock.monotonic, rng=random.Random(7), wall_clock=lambda: WALL)


def key(vid: int, hm: str, table: str = "Dining Room", party: int = 2) -> SlotKey:
    return SlotKey("resy", vid, DAY, time.fromisoformat(hm), party, table)


def hit(vid: int, *starts: str, table: str = "Dining Room", tokens: tuple[str, ...] = ()) -> dict[str, Any]:
    slots = [{"date": {"start": f"2026-11-25 {s}:00"},
              "config": {"type": table, "token": tokens[i] if tokens else f"tok-{vid}-{s}"}, "quantity": 1}
             for i, s in enumerate(starts)]
    return {"id": vid, "name": f"Venue {vid}", "availability": {"slots": slots}}


def paged(hits: list[dict[str, Any]], *, announce: bool = True, per_page: int = 75,
          seen: list[dict[str, Any]] | None = None) -> Any:
    """A handler serving `hits` page by page the way the API does."""
    nb_pages = -(-len(hits) // per_page)

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if seen is not None:
            seen.append(body)
        p = body["page"]
        search: dict[str, Any] = {"hits": hits[(p - 1) * per_page:p * per_page], "page": p,
                                  "hitsPerPage": per_page}
        if announce:
            search |= {"nbHits": len(hits), "nbPages": nb_pages}
        return httpx.Response(200, json={"search": search})
    return handler


def ok_fixture(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json=FIXTURE)


# --- parsing --------------------------------------------------------------------------------


def test_recorded_fixture_parses_into_typed_slots_and_venues() -> None:
    res = make(ok_fixture).search(DAY, "19:00", 2)
    assert res.outcome is Outcome.OK and res.trusted
    assert (res.pages, res.requests, res.http_status) == (1, 1, 200)
    # 21:30 is past the +-60 min window, 17:45 before it, 2026-11-26 another day: ignored, not errors.
    assert set(res.slots) == {key(1505, "19:00"), key(1505, "19:30", "Bar"),
                              key(2210, "18:00", "Counter"), key(2210, "20:00", "Counter")}
    assert res.venues[1505] == VenueInfo("resy", 1505, "Velvet Anchor", "West Village", 3, "Italian",
                                         "America/New_York", 40.733, -74.003)
    # scalar id, neighborhood under location, first cuisine of a list, default time zone
    assert res.venues[2210] == VenueInfo("resy", 2210, "Lantern & Salt", "Williamsburg", 2, "Japanese",
                                         "America/New_York", 40.714, -73.961)
    assert (res.venues[3001].tz, res.venues[3001].cuisine, res.venues[3001].lat) == ("America/Chicago",
                                                                                      "American", None)


def test_venue_id_object_and_scalar_give_the_same_key() -> None:
    as_object = {**hit(42, "19:00"), "id": {"resy": 42}}
    r1 = make(paged([as_object])).search(DAY, "19:00", 2)
    r2 = make(paged([hit(42, "19:00")])).search(DAY, "19:00", 2)
    assert set(r1.slots) == set(r2.slots) == {key(42, "19:00")}


def test_token_is_never_part_of_identity() -> None:
    poll1 = [hit(7, "19:00", "19:00", tokens=("rgs://a", "rgs://b"))]  # two tokens, one slot
    poll2 = [hit(7, "19:00", tokens=("rgs://c",))]  # same slot, a fresh token next poll
    r1 = make(paged(poll1)).search(DAY, "19:00", 2)
    r2 = make(paged(poll2)).search(DAY, "19:00", 2)
    assert list(r1.slots) == list(r2.slots) == [key(7, "19:00")]


def test_party_size_is_the_polled_one() -> None:
    res = make(paged([hit(7, "19:00")])).search(DAY, "19:00", 4)
    assert list(res.slots) == [key(7, "19:00", party=4)]


# --- wire format ----------------------------------------------------------------------------


def test_headers_and_body_follow_the_contract() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return ok_fixture(request)

    make(handler, api_key="k-123", auth_token="user-tok").search(DAY, "15:00", 4)
    (req,) = seen
    assert (req.method, req.url.path) == ("POST", "/3/venuesearch/search")
    h = req.headers
    assert h["authorization"] == 'ResyAPI api_key="k-123"'
    assert h["x-resy-auth-token"] == "user-tok"
    assert h["user-agent"] == "tablepulse/0.1 (+https://github.com/tablepulse)"
    assert (h["origin"], h["referer"], h["accept"]) == ("https://resy.com", "https://resy.com/",
                                                        "application/json")
    body = json.loads(req.content)
    assert body["per_page"] == 75 and body["page"] == 1 and body["availability"] is True
    assert body["slot_filter"] == {"day": "2026-11-25", "party_size": 4, "time_filter": "15:00"}


def test_no_auth_token_header_without_a_token() -> None:
    seen: list[httpx.Request] = []
    make(lambda r: seen.append(r) or ok_fixture(r)).search(DAY, "19:00", 2)
    assert "x-resy-auth-token" not in seen[0].headers


# --- paging ---------------------------------------------------------------------------------


def test_pages_through_every_page_with_per_page_75() -> None:
    bodies: list[dict[str, Any]] = []
    hits = [hit(v, "19:00") for v in range(1, 161)]
    res = make(paged(hits, seen=bodies)).search(DAY, "19:00", 2)
    assert res.outcome is Outcome.OK and (res.pages, res.requests) == (3, 3)
    assert [b["page"] for b in bodies] == [1, 2, 3] and {b["per_page"] for b in bodies} == {75}
    assert len(res.venues) == 160 and len(res.slots) == 160


def test_without_nbpages_paging_stops_at_a_short_page() -> None:
    res = make(paged([hit(v, "19:00") for v in range(80)], announce=False)).search(DAY, "19:00", 2)
    assert res.outcome is Outcome.OK and res.requests == 2 and len(res.slots) == 80


def test_a_page_failing_after_retries_makes_the_whole_poll_incomplete() -> None:
    good = paged([hit(v, "19:00") for v in range(200)])

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503) if json.loads(request.content)["page"] == 2 else good(request)

    res = make(handler, max_retries=2).search(DAY, "19:00", 2)
    assert res.outcome is Outcome.INCOMPLETE_PAGES and not res.trusted
    assert "page 2 of 3 missing" in res.detail and "server_error" in res.detail
    assert res.slots == {} and res.venues == {} and res.requests == 1 + 3


def test_an_empty_page_while_more_are_announced_is_incomplete() -> None:
    good = paged([hit(v, "19:00") for v in range(200)])

    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["page"] == 2:
            return httpx.Response(200, json={"search": {"hits": [], "nbHits": 200, "nbPages": 3}})
        return good(request)

    res = make(handler).search(DAY, "19:00", 2)
    assert res.outcome is Outcome.INCOMPLETE_PAGES and res.detail == "page 2 of 3 returned no hits"
    assert res.slots == {}


def test_fewer_hits_than_announced_is_incomplete() -> None:
    body = copy.deepcopy(FIXTURE)
    body["search"]["nbHits"] = 5
    res = make(lambda r: httpx.Response(200, json=body)).search(DAY, "19:00", 2)
    assert res.outcome is Outcome.INCOMPLETE_PAGES and res.detail.startswith("collected 3 of 5")
    assert res.slots == {}


def test_a_challenge_on_a_later_page_keeps_its_class() -> None:
    good = paged([hit(v, "19:00") for v in range(100)])

    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["page"] == 2:
            return httpx.Response(200, html="<html><title>Just a moment...</title></html>")
        return good(request)

    res = make(handler).search(DAY, "19:00", 2)
    assert res.outcome is Outcome.CHALLENGE and res.detail.startswith("page 2 of 2:") and res.slots == {}


# --- error taxonomy -------------------------------------------------------------------------


def _raise(exc: type[httpx.TransportError]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("boom", request=request)
    return handler


RETRIES = 2
OUTCOMES = [
    ("419", lambda r: httpx.Response(419, json={"status": 419, "message": "Unauthorized"}),
     Outcome.BAD_KEY, 1),
    ("401", lambda r: httpx.Response(401), Outcome.AUTH_EXPIRED, 1),
    ("302 to login, not followed", lambda r: httpx.Response(302, headers={"Location": "https://resy.com/login"}),
     Outcome.AUTH_EXPIRED, 1),
    ("403 html", lambda r: httpx.Response(403, html="<html><div id='cf-chl-widget'></div></html>"),
     Outcome.CHALLENGE, 1),
    ("200 html", lambda r: httpx.Response(200, html="<!DOCTYPE html><title>Just a moment...</title>"),
     Outcome.CHALLENGE, 1),
    ("200 marker text", lambda r: httpx.Response(200, text="Please complete the CAPTCHA"), Outcome.CHALLENGE, 1),
    ("200 not json", lambda r: httpx.Response(200, text='{"search": {"hits": ['), Outcome.MALFORMED, 1),
    ("500", lambda r: httpx.Response(500), Outcome.SERVER_ERROR, 1 + RETRIES),
    ("429", lambda r: httpx.Response(429), Outcome.RATE_LIMITED, 1 + RETRIES),
    ("read timeout", _raise(httpx.ReadTimeout), Outcome.TIMEOUT, 1 + RETRIES),
    ("connect error", _raise(httpx.ConnectError), Outcome.NETWORK_ERROR, 1 + RETRIES),
]


@pytest.mark.parametrize(("handler", "outcome", "requests"), [c[1:] for c in OUTCOMES],
                         ids=[c[0] for c in OUTCOMES])
def test_each_failure_has_its_outcome_and_only_transient_ones_are_retried(
        handler: Any, outcome: Outcome, requests: int) -> None:
    res = make(handler, max_retries=RETRIES).search(DAY, "19:00", 2)
    assert res.outcome is outcome and not res.trusted
    assert res.requests == requests
    assert res.detail and res.slots == {} and res.venues == {}


def _drop(path: list[Any]) -> Any:
    body = copy.deepcopy(FIXTURE)
    target = body
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return body


def _set(path: list[Any], value: Any) -> Any:
    body = copy.deepcopy(FIXTURE)
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


SLOTS0 = ["search", "hits", 0, "availability", "slots"]
DRIFTS = [
    (_drop([*SLOTS0, 3, "date", "start"]), "page 1 hit 0: availability.slots[3].date.start missing"),
    (_drop(["search", "hits", 1, "availability", "slots", 0, "config", "type"]),
     "page 1 hit 1: availability.slots[0].config.type missing"),
    (_set([*SLOTS0, 0, "date", "start"], "tonight at 7"),
     "page 1 hit 0: availability.slots[0].date.start 'tonight at 7' is not 'YYYY-MM-DD HH:MM:SS'"),
    (_drop(["search", "hits"]), "page 1: search.hits missing"),
    (_set(["search", "hits", 2, "id"], "3001"), "page 1 hit 2: id: Expected `int | object`, got `str`"),
    (_drop(["search", "hits", 2, "availability"]), "page 1 hit 2: availability missing"),
    ([FIXTURE], "page 1: body: Expected `object`, got `array`"),
]


@pytest.mark.parametrize(("body", "detail"), DRIFTS, ids=[d[1] for d in DRIFTS])
def test_schema_drift_names_the_missing_path(body: Any, detail: str) -> None:
    res = make(lambda r: httpx.Response(200, json=body)).search(DAY, "19:00", 2)
    assert (res.outcome, res.detail) == (Outcome.SCHEMA_DRIFT, detail)
    assert res.slots == {} and res.requests == 1


# --- robustness and concurrency -------------------------------------------------------------

# Keys the parser looks for, so junk reaches deep into the hit instead of failing at the first key.
KEYS = st.sampled_from(["id", "resy", "name", "neighborhood", "location", "time_zone", "geo", "lat", "lon",
                        "price_range_id", "cuisine", "availability", "slots", "date", "start", "end",
                        "config", "type", "token", "quantity"]) | st.text(max_size=6)
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
    | st.sampled_from(["2026-11-25 19:00:00", "2026-11-25 25:00:00", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=16)


def _all_paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else []
    out = []
    for k, v in items:
        out.append((*prefix, k))
        out.extend(_all_paths(v, (*prefix, k)))
    return out


FIXTURE_PATHS = _all_paths(FIXTURE)


def _poll(body: bytes) -> PollResult:
    provider = make(lambda r: httpx.Response(200, content=body), max_retries=0)
    try:
        return provider.search(DAY, "19:00", 2)
    finally:
        provider.close()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(
    JUNK.filter(lambda j: not (isinstance(j, dict) and "search" in j)).map(lambda j: json.dumps(j).encode()),
    JUNK.map(lambda j: json.dumps({"search": {"hits": [j], "nbHits": 1, "nbPages": 1}}).encode()),
    st.binary(max_size=64)))
def test_junk_bodies_never_raise_and_are_never_trusted(body: bytes) -> None:
    res = _poll(body)
    assert res.outcome is not Outcome.OK and res.slots == {}
    assert res.detail and not res.detail.startswith("unexpected error")


def _mutated(mutations: list[tuple[tuple[Any, ...], Any]]) -> bytes:
    """The recorded payload with each (path, value) applied: a value set, or "<delete>" removes it."""
    body = copy.deepcopy(FIXTURE)
    for path, value in mutations:
        target = body
        try:
            for step in path[:-1]:
                target = target[step]
            if value == "<delete>":
                del target[path[-1]]
            else:
                target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    return json.dumps(body).encode()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(FIXTURE_PATHS), st.one_of(st.just("<delete>"), JUNK)),
                min_size=1, max_size=4))
def test_a_mutated_recorded_payload_never_raises(mutations: list[tuple[tuple[Any, ...], Any]]) -> None:
    res = _poll(_mutated(mutations))
    assert not res.detail.startswith("unexpected error")
    if res.trusted:
        assert all(k.slot_date == DAY and time(18) <= k.slot_time <= time(20) for k in res.slots)
    else:
        assert res.detail and res.slots == {}


def test_eight_concurrent_polls_share_one_client() -> None:
    provider = make(paged([hit(v, "19:00", "19:15") for v in range(160)]))
    results: list[PollResult] = []
    lock = threading.Lock()

    def poll() -> None:
        r = provider.search(DAY, "19:00", 2)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=poll) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.outcome for r in results] == [Outcome.OK] * 8
    assert all(r.slots == results[0].slots and len(r.slots) == 320 for r in results)
    assert provider.health()["outcome_counts"]["ok"] == 8


def test_make_provider_picks_resy() -> None:
    p = make_provider(Settings(), transport=httpx.MockTransport(ok_fixture))
    assert isinstance(p, ResyProvider) and p.name == "resy"
    p.close()


# --- the one typed decode ---------------------------------------------------------------------


def test_every_page_is_decoded_typed() -> None:
    seen: list[Any] = []
    real = resy._decode_page

    def spy(content: bytes) -> Any:
        seen.append(real(content))
        return seen[-1]
    with mock.patch.object(resy, "_decode_page", spy):
        res = make(paged([hit(v, "19:00") for v in range(1, 161)])).search(DAY, "19:00", 2)
    assert res.trusted and len(seen) == 3 and all(isinstance(p, resy._Page) for p in seen)


def test_a_simulated_market_poll_has_every_open_slot_of_its_window() -> None:
    """Every page of a 600-venue poll from the bundled market (~8 pages, the real field mix): the keys
    are exactly the open slots of the bucket's window in the market's own rendering, in page order."""
    api = ProviderApi(Market(5, 600, start=datetime(2026, 11, 24, 21, 0), speed=0))
    pages: dict[int, bytes] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        p = json.loads(request.content)["page"]
        if p not in pages:
            status, _h, raw = api.search(json.loads(request.content))
            assert status == 200
            pages[p] = raw
        return httpx.Response(200, content=pages[p])
    res = make(handler).search(DAY, "19:00", 2)
    assert res.trusted and res.pages > 2 and len(res.slots) > 500
    expected = {}
    for p in sorted(pages):
        for h in json.loads(pages[p])["search"]["hits"]:
            vid = h["id"]["resy"] if isinstance(h["id"], dict) else h["id"]
            for sl in h["availability"]["slots"]:
                t = datetime.fromisoformat(sl["date"]["start"])
                if t.date() == DAY and time(18) <= t.time() <= time(20):
                    expected[SlotKey("resy", vid, DAY, t.time(), 2, sl["config"]["type"])] = None
    assert list(res.slots) == list(expected)
    assert res.page_ends[-1] == len(res.slots) and len(res.page_times) == res.pages


def test_a_venue_repeated_on_the_next_page_counts_each_slot_once() -> None:
    """Order shifted between pages: a venue seen again adds no slot twice."""
    hits = [hit(v, "19:00") for v in range(1, 76)] + [hit(1, "19:00", "19:15")]
    res = make(paged(hits, announce=False)).search(DAY, "19:00", 2)
    assert res.trusted and res.pages == 2 and len(res.slots) == 76
    assert list(res.slots)[-1] == key(1, "19:15")


def test_odd_optional_venue_fields_cost_the_field_not_the_poll() -> None:
    """A numeric neighborhood, a zone that is not text, a latitude as text, a cuisine list without a
    string, a quantity as text: the poll is trusted, those fields fall back."""
    h = hit(9, "19:00")
    h |= {"neighborhood": 12, "location": {"time_zone": 5, "geo": {"lat": "40.7", "lon": -73.9}}, "cuisine": [3, ""]}
    h["availability"]["slots"][0]["quantity"] = "2"
    res = make(paged([h])).search(DAY, "19:00", 2)
    assert res.trusted and list(res.slots) == [key(9, "19:00")]
    assert res.venues[9] == VenueInfo("resy", 9, "Venue 9", None, None, None, "America/New_York", None, -73.9)


def test_a_start_that_is_not_text_is_schema_drift_naming_it() -> None:
    hits = [hit(v, "19:00") for v in range(1, 11)]
    hits[3]["availability"]["slots"][0]["date"]["start"] = 1900
    res = make(paged(hits, announce=False)).search(DAY, "19:00", 2)
    assert res.outcome is Outcome.SCHEMA_DRIFT
    assert res.detail == "page 1 hit 3: availability.slots[0].date.start: Expected `str`, got `int`"


SLOT = st.fixed_dictionaries(
    {"date": st.fixed_dictionaries({"start": st.sampled_from([f"2026-11-25 {t}:00" for t in
                                                              ("17:45", "18:00", "19:00", "19:30", "20:00", "20:15")]
                                                             + ["2026-11-26 19:00:00"])},
                                   optional={"end": st.sampled_from(["2026-11-25 21:00:00", None, "later", 5])}),
     "config": st.fixed_dictionaries({"type": st.sampled_from(["Dining Room", "Bar", "Patio"])},
                                     optional={"token": st.sampled_from(["a", "b", "", None, 7])})},
    optional={"quantity": st.sampled_from([1, 2, 0, -1, None, "3"])})
HIT = st.builds(lambda vid, slots: {"id": vid if vid % 2 else {"resy": vid}, "name": f"V{vid}",
                                    "availability": {"slots": slots}},
                st.integers(1, 12), st.lists(SLOT, max_size=5))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(HIT, min_size=1, max_size=12), st.integers(2, 5))
def test_pages_give_the_window_slots_in_first_seen_order(hits: list[dict[str, Any]], per_page: int) -> None:
    """Several pages, venues repeated across them, slots repeated, odd ends, tokens and quantities:
    the keys are the slots on the day within the window, each once, in the order first seen."""
    nb_pages = -(-len(hits) // per_page)

    def handler(request: httpx.Request) -> httpx.Response:
        p = json.loads(request.content)["page"]
        return httpx.Response(200, json={"search": {"hits": hits[(p - 1) * per_page:p * per_page],
                                                    "nbPages": nb_pages}})
    res = make(handler).search(DAY, "19:00", 2)
    assert res.trusted and res.pages == nb_pages
    expected: dict[SlotKey, None] = {}
    for h in hits:
        vid = h["id"] if isinstance(h["id"], int) else h["id"]["resy"]
        for sl in h["availability"]["slots"]:
            t = datetime.fromisoformat(sl["date"]["start"])
            if t.date() == DAY and time(18) <= t.time() <= time(20):
                expected[SlotKey("resy", vid, DAY, t.time(), 2, sl["config"]["type"])] = None
    assert list(res.slots) == list(expected)
    assert {v: res.venues[v].name for v in res.venues} == {v: f"V{v}" for v in {
        h["id"] if isinstance(h["id"], int) else h["id"]["resy"] for h in hits}}


@pytest.mark.parametrize("upstream", ["http://sim.invalid", "http://sim.invalid:8080/", "https://api.example/prefix",
                                      "https://api.example/prefix/"])
def test_search_url_is_the_one_httpx_merges_from_the_path(upstream: str) -> None:
    """The search URL built once equals what the client builds from SEARCH_PATH for each request."""
    urls: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(request.url)
        return paged([hit(1, "19:00")])(request)
    p = ResyProvider(Settings().replace(upstream_url=upstream), transport=httpx.MockTransport(handler))
    assert p.search(DAY, "19:00", 2).trusted
    client = httpx.Client(base_url=upstream, transport=httpx.MockTransport(handler))
    client.post(resy.SEARCH_PATH, content=b"{\"page\": 1}")
    assert str(urls[0]) == str(urls[1]) and urls[0].raw_path == urls[1].raw_path
    p.close()
    client.close()
