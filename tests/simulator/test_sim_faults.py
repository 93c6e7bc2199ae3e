"""Fault injection: every kind does what it says, is logged in the truth, and is reproducible from the seed."""

from __future__ import annotations

import email.utils
import json
from typing import Any

import httpx
import pytest
from sim_helpers import AUTH, DAY, START, search_body

from simulator.faults import FaultError, FaultPlan, parse_fault_spec
from simulator.model import Market
from simulator.server import start_server


def set_faults(c: httpx.Client, *rules: dict[str, Any]) -> None:
    r = c.post("/_sim/faults", json={"faults": list(rules)})
    assert r.status_code == 200, r.text


def search(c: httpx.Client, **kw: Any) -> httpx.Response:
    return c.post("/3/venuesearch/search", json=search_body(**kw))


def test_error_and_rate_limit_kinds(client: httpx.Client) -> None:
    set_faults(client, {"kind": "http_500", "count": 1}, {"kind": "http_503", "count": 1},
               {"kind": "rate_limit", "count": 1, "retry_after": 3},
               {"kind": "rate_limit_date", "count": 1, "retry_after": 5})
    assert search(client).status_code == 500
    assert search(client).status_code == 503
    r = search(client)
    assert r.status_code == 429 and r.headers["Retry-After"] == "3"
    r = search(client)
    assert r.status_code == 429
    when = email.utils.parsedate_to_datetime(r.headers["Retry-After"])
    assert when.tzinfo is not None and r.headers["Retry-After"].endswith("GMT")
    assert search(client).status_code == 200, "count rules are spent"
    log = client.get("/_sim/truth/faults").json()["faults"]
    assert [(f["request_no"], f["kind"], f["status"]) for f in log] == [
        (1, "http_500", 500), (2, "http_503", 503), (3, "rate_limit", 429), (4, "rate_limit_date", 429)]
    assert all(f["virtual_time"] == START.isoformat() and f["wall_time"] > 0 for f in log)
    reqs = client.get("/_sim/requests").json()["requests"]
    assert [(q["request_no"], q["status"], q["method"], q["path"]) for q in reqs][:5] == [
        (1, 500, "POST", "/3/venuesearch/search"), (2, 503, "POST", "/3/venuesearch/search"),
        (3, 429, "POST", "/3/venuesearch/search"), (4, 429, "POST", "/3/venuesearch/search"),
        (5, 200, "POST", "/3/venuesearch/search")]
    walls = [q["wall_time"] for q in reqs]
    assert walls == sorted(walls)
    assert [q["request_no"] for q in client.get("/_sim/requests", params={"since": 3}).json()["requests"]] == [4, 5]


def test_body_faults_malformed_challenge_drift_empty(client: httpx.Client) -> None:
    set_faults(client, {"kind": "malformed", "count": 1}, {"kind": "challenge_200", "count": 1},
               {"kind": "challenge_403", "count": 1}, {"kind": "drift_rename", "count": 1},
               {"kind": "drift_missing_id", "count": 1}, {"kind": "empty_results", "count": 2})
    r = search(client)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    r = search(client)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "Just a moment" in r.text and "challenge-platform" in r.text
    r = search(client)
    assert r.status_code == 403 and "captcha" in r.text
    hits = search(client).json()["search"]["hits"]
    assert hits and all("avail" in h and "availability" not in h for h in hits)
    hits = search(client).json()["search"]["hits"]
    assert hits and all("id" not in h for h in hits)
    for _ in range(2):
        s = search(client).json()["search"]
        assert s["hits"] == [] and s["nbHits"] == 0
    assert search(client).json()["search"]["nbHits"] > 0, "the burst is over"
    kinds = [f["kind"] for f in client.get("/_sim/truth/faults").json()["faults"]]
    assert kinds == ["malformed", "challenge_200", "challenge_403", "drift_rename", "drift_missing_id",
                     "empty_results", "empty_results"]


def test_find_drift_and_empty(client: httpx.Client, market: Market) -> None:
    vid = market.venues[0].venue_id
    params = {"day": DAY, "party_size": 2, "venue_id": vid, "lat": 0, "long": 0}
    set_faults(client, {"kind": "drift_rename", "count": 1, "path": "find"},
               {"kind": "drift_missing_id", "count": 1, "path": "find"})
    assert search(client).status_code == 200, "path=find leaves searches alone"
    v = client.get("/4/find", params=params).json()["results"]["venues"][0]
    assert "slot_list" in v and "slots" not in v
    v = client.get("/4/find", params=params).json()["results"]["venues"][0]
    assert "id" not in v["venue"]


def test_missing_page_empty_and_404(client: httpx.Client) -> None:
    set_faults(client, {"kind": "missing_page", "count": 1}, {"kind": "missing_page", "count": 1, "mode": "404"})
    p1 = search(client, per_page=20).json()["search"]
    assert p1["nbPages"] >= 3 and len(p1["hits"]) == 20, "page 1 is never the missing page"
    p2 = search(client, page=2, per_page=20).json()["search"]
    assert p2["hits"] == [] and p2["nbPages"] == p1["nbPages"] and p2["nbHits"] == p1["nbHits"]
    r3 = search(client, page=3, per_page=20)
    assert r3.status_code == 404
    assert len(search(client, page=2, per_page=20).json()["search"]["hits"]) == 20


def test_slow_response_passes_a_client_timeout(client: httpx.Client, server: Any) -> None:
    set_faults(client, {"kind": "slow", "count": 1, "delay": 1.0})
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=0.2) as impatient, \
            pytest.raises(httpx.ReadTimeout):
        search(impatient)
    assert client.get("/_sim/truth/faults").json()["faults"][0]["kind"] == "slow"


def _probabilistic_run(seed: int) -> list[tuple[int, str]]:
    m = Market(seed, n_venues=40, start=START)
    rules = [parse_fault_spec("http_503:p=0.15"), parse_fault_spec("rate_limit:p=0.1,retry_after=1"),
             parse_fault_spec("empty_results:p=0.1"), parse_fault_spec("missing_page:p=0.5")]
    with start_server(m, faults=rules) as srv, httpx.Client(base_url=srv.url, headers=AUTH) as c:
        for i in range(60):
            search(c, page=1 + i % 2)
        return [(f["request_no"], f["kind"]) for f in c.get("/_sim/truth/faults").json()["faults"]]


def test_probabilistic_faults_are_reproducible_from_the_seed() -> None:
    a, b = _probabilistic_run(3), _probabilistic_run(3)
    assert a == b
    assert {k for _, k in a} == {"http_503", "rate_limit", "empty_results", "missing_page"}
    assert 10 < len(a) < 50
    assert _probabilistic_run(4) != a


def test_fault_plan_validation(client: httpx.Client) -> None:
    bad = [{"kind": "nope", "count": 1}, {"kind": "slow"}, {"kind": "slow", "count": 1, "probability": 0.5},
           {"kind": "http_500", "probability": 2}, {"kind": "rate_limit", "count": 1, "retry_after": "soon"},
           {"kind": "missing_page", "count": 1, "mode": "gone"}, {"kind": "http_500", "count": 1, "extra": 1}]
    for rule in bad:
        r = client.post("/_sim/faults", json={"faults": [rule]})
        assert r.status_code == 400 and r.json()["message"], rule
    assert client.post("/_sim/faults", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    set_faults(client, {"kind": "http_503", "count": 2})
    plan = client.get("/_sim/faults").json()
    assert plan["rules"] == [{"kind": "http_503", "path": "any", "fired": 0, "count": 2, "remaining": 2}]
    for spec in ("bogus", "slow:delay=x", "http_500:p=0.1,count", "rate_limit:count=0"):
        with pytest.raises(FaultError):
            parse_fault_spec(spec)
    assert parse_fault_spec("rate_limit_date:count=3,retry_after=7").retry_after == 7


def test_plan_given_at_start(market: Market) -> None:
    plan = FaultPlan(seed=1, rules=[parse_fault_spec("http_500:count=1")])
    with start_server(market, faults=plan) as srv, httpx.Client(base_url=srv.url, headers=AUTH) as c:
        assert search(c).status_code == 500
        assert search(c).status_code == 200
        assert c.get("/_sim/faults").json()["rules"][0]["remaining"] == 0
