"""Every request form public Resy clients send to venuesearch and find is answered as the real API does
(docs/provider-api.md, "Request forms public clients send"). The clock stands still (speed 0), so two
forms asked at the same instant must describe the same open slots (tokens differ per poll)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sim_helpers import DAY

from simulator.model import Market

Slots = set[tuple[int, str, str]]


def hit_slots(payload: dict[str, Any]) -> Slots:
    return {(h["id"]["resy"], s["date"]["start"], s["config"]["type"])
            for h in payload["search"]["hits"] for s in h["availability"]["slots"]}


def find_slots(payload: dict[str, Any]) -> Slots:
    return {(v["venue"]["id"]["resy"], s["date"]["start"], s["config"]["type"])
            for v in payload["results"]["venues"] for s in v["slots"]}


def every_page(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    pages, page = [], 1
    while True:
        r = client.post("/3/venuesearch/search", json={**body, "page": page})
        assert r.status_code == 200, r.text
        pages.append(r.json())
        if page >= pages[-1]["search"]["nbPages"]:
            return pages
        page += 1


def whole_day(client: httpx.Client, party: int = 2) -> Slots:
    """Every open slot of DAY for the party, venue by venue (the collector's form, no time filter)."""
    out: Slots = set()
    for p in every_page(client, {"availability": True, "per_page": 75,
                                 "slot_filter": {"day": DAY, "party_size": party}}):
        out |= hit_slots(p)
    return out


def test_search_with_a_bounding_box_finds_the_venues_inside_it(client: httpx.Client, market: Market) -> None:
    # netayamin/paystub-service backend/scripts/resy_venue_search_curl.sh
    box = [40.70, -74.02, 40.76, -73.97]
    inside = {v.venue_id for v in market.venues if 40.70 <= v.lat <= 40.76 and -74.02 <= v.lon <= -73.97}
    assert 10 < len(inside) < len(market.venues)
    body = {"availability": True, "per_page": 20, "slot_filter": {"day": DAY, "party_size": 2, "time_filter": "21:00"},
            "types": ["venue"], "order_by": "availability", "geo": {"bounding_box": box}, "query": ""}
    pages = every_page(client, body)
    hits = {h["id"]["resy"] for p in pages for h in p["search"]["hits"]}
    everywhere = every_page(client, {**body, "geo": {"latitude": 40.73, "longitude": -73.99, "radius": 100000}})
    with_slots = {h["id"]["resy"] for p in everywhere for h in p["search"]["hits"]}
    assert hits and hits == with_slots & inside
    # a box given corner-first the other way round is the same box
    flipped = every_page(client, {**body, "geo": {"bounding_box": [box[2], box[3], box[0], box[1]]}})
    assert {h["id"]["resy"] for p in flipped for h in p["search"]["hits"]} == hits


def test_search_without_a_time_filter_serves_the_whole_day(client: httpx.Client) -> None:
    # slot_filter {day, party_size} only, geo with a radius, per_page 20: several public clients' venueSearch
    pages = every_page(client, {"availability": True, "per_page": 20, "slot_filter": {"day": DAY, "party_size": 2},
                                "types": ["venue"], "order_by": "availability",
                                "geo": {"latitude": 40.7129, "longitude": -74.0063, "radius": 100000}, "query": ""})
    slots = set().union(*(hit_slots(p) for p in pages))
    starts = {s[1][11:16] for s in slots}
    assert min(starts) < "15:00" and max(starts) > "20:00", "lunch and late dinner slots, not one window"
    assert pages[0]["query"] == {"day": DAY, "party_size": 2, "time_filter": None}
    assert slots == whole_day(client)


def test_search_by_name_without_a_slot_filter_finds_venues(client: httpx.Client, market: Market) -> None:
    # the web app's venue lookup (query, per_page 5, types venue+cuisine, highlight, geo without radius)
    v = market.venues[5]
    r = client.post("/3/venuesearch/search", json={
        "query": v.name, "per_page": 5, "types": ["venue", "cuisine"],
        "geo": {"latitude": v.lat, "longitude": v.lon}, "highlight": {"pre_tag": "<b>", "post_tag": "</b>"}})
    assert r.status_code == 200, r.text
    hits = r.json()["search"]["hits"]
    assert v.venue_id in [h["id"]["resy"] for h in hits]
    assert all(h["availability"]["slots"] == [] for h in hits), "no slot filter: venues, no slots"
    assert r.json()["query"] == {"day": None, "party_size": None, "time_filter": None}


def test_search_without_geo_searches_every_venue(client: httpx.Client, market: Market) -> None:
    # a client's retry without geo: {"per_page": 20, "query": cuisine}
    cuisine = market.venues[0].cuisine
    expect = {v.venue_id for v in market.venues if cuisine.lower() in f"{v.name} {v.neighborhood} {v.cuisine}".lower()}
    pages = every_page(client, {"per_page": 20, "query": cuisine})
    assert {h["id"]["resy"] for p in pages for h in p["search"]["hits"]} == expect


def test_form_encoded_search_with_struct_data_answers_as_json(client: httpx.Client) -> None:
    # a client posting the body form-encoded, the JSON in its struct_data field
    body = {"availability": True, "per_page": 75, "slot_filter": {"day": DAY, "party_size": 2},
            "geo": {"latitude": 40.7128, "longitude": -73.9876}, "query": ""}
    slots: Slots = set()
    page = 1
    while True:
        r = client.post("/3/venuesearch/search", data={"struct_data": json.dumps({**body, "page": page})})
        assert r.status_code == 200, r.text
        slots |= hit_slots(r.json())
        if page >= r.json()["search"]["nbPages"]:
            break
        page += 1
    assert slots and slots == whole_day(client)


def test_find_by_venue_in_every_form_agrees_with_search(client: httpx.Client, market: Market) -> None:
    day_slots = whole_day(client)
    venues = sorted({s[0] for s in day_slots})[:4] + [market.venues[-1].venue_id]
    for vid in venues:
        expect = {s for s in day_slots if s[0] == vid}
        forms = [
            # FoxHelms/res-sniper reqdec.py; xunhuang/yumyum-v2 findResyReservation.ts; jeffknaide/resy-bot
            client.get("/4/find", params={"lat": 0, "long": 0, "day": DAY, "party_size": 2, "venue_id": vid}),
            # a validator sending the venue's city as lat/long
            client.get("/4/find", params={"venue_id": vid, "day": DAY, "party_size": "2", "lat": "40.7128",
                                          "long": "-74.0060"}),
            # the web app: POST with a JSON body, numbers as numbers
            client.post("/4/find", json={"venue_id": vid, "day": DAY, "party_size": 2, "lat": 0, "long": 0}),
            # the auth token passed as a query parameter beside the universal-auth header
            client.get("/4/find", params={"x-resy-auth-token": "tok", "day": DAY, "lat": "0", "long": "0",
                                          "party_size": "2", "venue_id": str(vid)},
                       headers={"X-Resy-Universal-Auth": "tok"}),
        ]
        for r in forms:
            assert r.status_code == 200, r.text
            venue = r.json()["results"]["venues"]
            assert len(venue) == 1 and venue[0]["venue"]["id"]["resy"] == vid
            assert find_slots(r.json()) == expect, r.request.url
            assert r.json()["query"] == {"day": DAY, "party_size": 2, "time_filter": None}


def test_find_by_location_lists_the_venues_near_it_with_open_slots(client: httpx.Client, market: Market) -> None:
    # a client asking /4/find with lat/long and no venue_id (a city-wide availability sync)
    r = client.get("/4/find", params={"lat": 40.7128, "long": -74.006, "day": DAY, "party_size": 2})
    assert r.status_code == 200, r.text
    venues = r.json()["results"]["venues"]
    day_slots = whole_day(client)
    assert {v["venue"]["id"]["resy"] for v in venues} == {s[0] for s in day_slots}  # the market is one city
    assert find_slots(r.json()) == day_slots
    counts = [len(v["slots"]) for v in venues]
    assert counts == sorted(counts, reverse=True), "most open slots first"
    nowhere = client.get("/4/find", params={"lat": 0, "long": 0, "day": DAY, "party_size": 2})
    assert nowhere.json()["results"]["venues"] == []
