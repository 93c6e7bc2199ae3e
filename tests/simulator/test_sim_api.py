"""The provider API served by the simulator: shape (plain JSON walk), auth, pagination, tokens, determinism."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import httpx
from sim_helpers import AUTH, DAY, START, poll_all, search_body

import simulator.model
from simulator.model import Market
from simulator.server import start_server

LOCAL_TS = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


def walk(obj: Any, path: str) -> Any:
    """Follow a documented path like 'search.hits' with plain dict/list indexing (fails loudly)."""
    for part in path.split("."):
        obj = obj[int(part)] if isinstance(obj, list) else obj[part]
    return obj


def check_slot(slot: dict[str, Any], day: str) -> None:
    assert LOCAL_TS.match(walk(slot, "date.start")) and walk(slot, "date.start").startswith(day)
    assert LOCAL_TS.match(walk(slot, "date.end"))
    assert isinstance(walk(slot, "config.id"), int)
    assert walk(slot, "config.type") in ("Dining Room", "Bar", "Patio", "Counter")
    assert walk(slot, "config.token").startswith("rgs://resy/")
    assert walk(slot, "size.max") >= walk(slot, "size.min") >= 1
    assert walk(slot, "quantity") == 1
    assert "is_paid" in walk(slot, "payment")


def test_search_shape_walks_every_documented_path(client: httpx.Client) -> None:
    pages = poll_all(client, per_page=40)
    first = pages[0]
    assert walk(first, "query.day") == DAY and walk(first, "query.party_size") == 2
    assert walk(first, "query.time_filter") == "19:00"
    assert walk(first, "search.nbHits") > 40 and len(pages) > 1, "the test market should need more than one page"
    n_slots = 0
    for page in pages:
        for hit in walk(page, "search.hits"):
            assert isinstance(walk(hit, "id.resy"), int)
            assert walk(hit, "name") and walk(hit, "neighborhood")
            assert walk(hit, "location.time_zone") == "America/New_York"
            assert 40.5 < walk(hit, "location.geo.lat") < 41 and -74.3 < walk(hit, "location.geo.lon") < -73.7
            assert walk(hit, "price_range_id") in (1, 2, 3, 4)
            assert isinstance(walk(hit, "cuisine.0"), str)
            slots = walk(hit, "availability.slots")
            assert slots, "availability: true returns only venues with an open slot"
            for slot in slots:
                check_slot(slot, DAY)
                hhmm = walk(slot, "date.start")[11:16]
                minutes = int(hhmm[:2]) * 60 + int(hhmm[3:])
                assert 18 * 60 <= minutes <= 20 * 60, "time_filter 19:00 serves [18:00, 20:00] inclusive"
                n_slots += 1
            names = [walk(o, "name") for o in walk(hit, "availability.notify_options")]
            assert "Dinner" in names
            assert walk(hit, "availability.notify_options.0.time_range.start")
    assert n_slots > 0


def test_find_shape(client: httpx.Client, market: Market) -> None:
    vid = market.venues[3].venue_id
    r = client.get("/4/find", params={"day": DAY, "party_size": 2, "venue_id": vid, "lat": 0, "long": 0})
    assert r.status_code == 200
    venue = walk(r.json(), "results.venues.0")
    assert walk(venue, "venue.id.resy") == vid and walk(venue, "venue.name") == market.venues[3].name
    for slot in walk(venue, "slots"):
        check_slot(slot, DAY)
    unknown = client.get("/4/find", params={"day": DAY, "party_size": 2, "venue_id": 1, "lat": 0, "long": 0})
    assert unknown.json() == {"results": {"venues": []},
                              "query": {"day": DAY, "party_size": 2, "time_filter": None}}


def test_auth_missing_or_wrong_key_is_419(server: Any) -> None:
    with httpx.Client(base_url=server.url) as c:
        for headers in ({}, {"Authorization": 'ResyAPI api_key="wrong"'}, {"Authorization": "Bearer x"}):
            r = c.post("/3/venuesearch/search", json=search_body(), headers=headers)
            assert r.status_code == 419 and r.json() == {"status": 419, "message": "Unauthorized"}
            r = c.get("/4/find", params={"day": DAY, "party_size": 2, "venue_id": 1}, headers=headers)
            assert r.status_code == 419
        assert c.post("/3/venuesearch/search", json=search_body(), headers=AUTH).status_code == 200


def test_configurable_api_key(market: Market) -> None:
    with start_server(market, api_key="k-123") as srv, httpx.Client(base_url=srv.url) as c:
        assert c.post("/3/venuesearch/search", json=search_body(), headers=AUTH).status_code == 419
        ok = c.post("/3/venuesearch/search", json=search_body(), headers={"Authorization": "ResyAPI api_key=k-123"})
        assert ok.status_code == 200


def test_pagination_totals_and_per_page_cap(client: httpx.Client) -> None:
    big = client.post("/3/venuesearch/search", json=search_body(per_page=500)).json()["search"]
    assert big["hitsPerPage"] == 75 and len(big["hits"]) == 75
    n = big["nbHits"]
    assert big["nbPages"] == -(-n // 75)
    small = poll_all(client, per_page=20)
    assert all(p["search"]["hitsPerPage"] == 20 for p in small)
    assert len(small) == -(-n // 20)
    ids = [h["id"]["resy"] for p in small for h in p["search"]["hits"]]
    assert len(ids) == n and len(set(ids)) == n, "pages neither overlap nor skip venues"
    assert [len(p["search"]["hits"]) for p in small][:-1] == [20] * (len(small) - 1)
    beyond = client.post("/3/venuesearch/search", json=search_body(page=len(small) + 1, per_page=20)).json()
    assert beyond["search"]["hits"] == [] and beyond["search"]["nbHits"] == n


def test_tokens_change_between_polls_but_slot_identity_does_not(client: httpx.Client) -> None:
    def slots() -> dict[tuple[Any, ...], str]:
        out = {}
        for p in poll_all(client):
            for h in p["search"]["hits"]:
                for s in h["availability"]["slots"]:
                    out[(h["id"]["resy"], s["date"]["start"], s["config"]["type"])] = s["config"]["token"]
        return out

    a, b = slots(), slots()  # same virtual instant: same slots, new poll
    assert a.keys() == b.keys() and a
    assert all(a[k] != b[k] for k in a), "every token differs between two polls of the same slot"


def test_bad_bodies_get_400_naming_the_problem(client: httpx.Client) -> None:
    cases = [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"slot_filter": "2026-11-25"}', "slot_filter"),
        (b'{"geo": {"bounding_box": [40.7, -74.0, 40.8]}}', "geo.bounding_box"),
        (b'{"geo": {"latitude": "north", "longitude": -74.0}}', "geo.latitude"),
        (b'{"slot_filter": {"day": "25/11/2026", "party_size": 2}}', "slot_filter.day"),
        (b'{"slot_filter": {"day": "2026-11-25", "party_size": "2"}}', "slot_filter.party_size"),
        (b'{"slot_filter": {"day": "2026-11-25", "party_size": 2, "time_filter": "7pm"}}', "time_filter"),
        (b'{"slot_filter": {"day": "2026-11-25", "party_size": 2}, "page": 0}', "page"),
        (b'{"slot_filter": {"day": "2026-11-25", "party_size": 2}, "venue_filter": {"ids": "x"}}', "venue_filter"),
    ]
    for body, needle in cases:
        r = client.post("/3/venuesearch/search", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, body
        assert needle in r.json()["message"], (body, r.json())
    r = client.get("/4/find", params={"day": "x", "party_size": 2, "venue_id": 1})
    assert r.status_code == 400 and "day" in r.json()["message"]
    for body, needle in ((b'{"day": "2026-11-25", "party_size": "two", "venue_id": 1}', "party_size"),
                         (b'{"day": "2026-11-25", "party_size": 2}', "lat"),
                         (b'["2026-11-25"]', "JSON object"), (b"{", "not valid JSON")):
        r = client.post("/4/find", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and needle in r.json()["message"], (body, r.json())
    r = client.post("/3/venuesearch/search", content=b"query=x",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 400 and "struct_data" in r.json()["message"]


def test_venue_filter_restricts_hits(client: httpx.Client, market: Market) -> None:
    all_ids = [h["id"]["resy"] for p in poll_all(client) for h in p["search"]["hits"]]
    pick = all_ids[:3]
    body = search_body()
    del body["geo"]
    body["venue_filter"] = {"ids": pick}
    hits = client.post("/3/venuesearch/search", json=body).json()["search"]["hits"]
    assert sorted(h["id"]["resy"] for h in hits) == sorted(pick)


def _session(url: str, vid: int) -> list[bytes]:
    out = []
    with httpx.Client(base_url=url, headers=AUTH) as c:
        for step in range(3):
            for tf in ("15:00", "19:00"):
                for page in (1, 2):
                    out.append(c.post("/3/venuesearch/search", json=search_body(tf=tf, page=page)).content)
            out.append(c.get("/4/find", params={"day": DAY, "party_size": 4, "venue_id": vid}).content)
            c.post("/_sim/advance", json={"seconds": 600 * (step + 1)})
    return out


def test_same_seed_same_requests_same_bytes() -> None:
    a_m, b_m = Market(5, n_venues=120, start=START), Market(5, n_venues=120, start=START)
    with start_server(a_m) as a, start_server(b_m) as b:
        assert [v.venue_id for v in a_m.venues] == [v.venue_id for v in b_m.venues]
        vid = a_m.venues[0].venue_id
        ra, rb = _session(a.url, vid), _session(b.url, vid)
    assert ra == rb
    assert len(set(ra)) > 5
    with start_server(Market(6, n_venues=120, start=START)) as c:
        assert _session(c.url, vid) != ra, "another seed is another market"


def test_admin_clock_and_venues(client: httpx.Client, market: Market) -> None:
    assert client.get("/_sim/health").json() == {"ok": True, "venues": 150, "seed": 7}
    assert client.get("/_sim/clock").json() == {"now": START.isoformat(), "speed": 0.0}
    r = client.post("/_sim/advance", json={"seconds": 90})
    assert r.json()["now"] == "2026-11-23T17:01:30"
    r = client.post("/_sim/advance", json={"to": "2026-11-23T18:00:00Z"})
    assert r.json()["now"] == "2026-11-23T18:00:00"
    back = client.post("/_sim/advance", json={"to": "2026-11-23T17:00:00"})
    assert back.status_code == 400 and "forward" in back.json()["message"]
    assert client.post("/_sim/advance", json={"minutes": 3}).status_code == 400
    vs = client.get("/_sim/venues").json()["venues"]
    assert len(vs) == 150
    v = vs[0]
    for k in ("venue_id", "name", "neighborhood", "tier", "mean_open_prime_s", "mean_open_offpeak_s",
              "mean_booked_s", "booking_window_days", "release_time", "cutoff_minutes"):
        assert k in v
    assert all(0 <= x["cutoff_minutes"] <= 60 for x in vs)
    assert all(7 <= x["booking_window_days"] <= 30 for x in vs)
    assert len({x["name"] for x in vs}) == 150


def test_concurrent_polls_of_different_buckets_match_sequential_ones(server: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    buckets = [(f"2026-11-{d}", tf, p) for d in (24, 26) for tf in ("15:00", "19:00") for p in (2, 4)]

    def one(b: tuple[str, str, int]) -> set[tuple[Any, ...]]:
        with httpx.Client(base_url=server.url, headers=AUTH) as c:
            pages = poll_all(c, day=b[0], tf=b[1], party=b[2])
        return {(h["id"]["resy"], s["date"]["start"], s["config"]["type"])
                for p in pages for h in p["search"]["hits"] for s in h["availability"]["slots"]}

    with ThreadPoolExecutor(8) as ex:
        together = list(ex.map(one, buckets))
    alone = [one(b) for b in buckets]
    assert together == alone and all(together)


def test_the_model_imports_no_other_simulator_module() -> None:
    """simulator/api.py renders the model; the model knows nothing of it (no import cycle)."""
    tree = ast.parse(Path(simulator.model.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in imported if m == "simulator" or m.startswith("simulator.")}, imported
