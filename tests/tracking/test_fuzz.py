"""Hypothesis fuzzing of the tracking endpoint: >= 1,000 generated requests (valid and invalid bodies,
headers and content types). No 5xx ever; every invalid input gets a 4xx naming what is wrong; a
batch marks exactly the broken items invalid and stores the rest."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.tracking.app import create_app
from collector.tracking.models import EVENT_TYPES

from .conftest import KEY

SETTINGS = settings(max_examples=340, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

ids = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() and "\x00" not in s
                                               and not any(0xD800 <= ord(c) <= 0xDFFF for c in s))
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
instants = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1))
json_leaf = st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | ids
json_val = st.recursive(json_leaf, lambda c: st.lists(c, max_size=4) | st.dictionaries(ids, c, max_size=4), max_leaves=12)


@st.composite
def valid_event(draw: Any) -> dict[str, Any]:
    occurred = draw(instants)
    delay = draw(st.floats(0, 86400))
    sent = occurred + timedelta(seconds=delay)
    tz1, tz2 = draw(offsets), draw(offsets)
    e: dict[str, Any] = {
        "message_id": str(draw(st.uuids())), "alert_id": draw(ids), "user_id": draw(ids),
        "event_type": draw(st.sampled_from(EVENT_TYPES)),
        "occurred_at": occurred.replace(tzinfo=UTC).astimezone(tz1).isoformat(),
        "sent_at": sent.replace(tzinfo=UTC).astimezone(tz2).isoformat()}
    if draw(st.booleans()):
        e["drop_event_id"] = draw(ids)
    if draw(st.booleans()):
        e["venue_id"] = draw(st.integers(0, 2**63 - 1))
    if draw(st.booleans()):
        e["goal_match_score"] = draw(st.floats(0, 1))
    if draw(st.booleans()):
        e["metadata"] = draw(st.dictionaries(ids, json_val, max_size=5))
    return e


FIN = {"allow_nan": False, "allow_infinity": False}
not_str = st.integers() | st.floats(**FIN) | st.booleans() | st.lists(st.integers(), max_size=2)
BAD = {
    "message_id": not_str | st.text(max_size=30).filter(lambda s: not _is_uuid(s)),
    "alert_id": not_str | st.just("") | st.just("   ") | st.text(min_size=129, max_size=200),
    "user_id": not_str | st.just("") | st.just("a\x00b"),
    "event_type": not_str | st.text(max_size=20).filter(lambda s: s not in EVENT_TYPES),
    "occurred_at": not_str | st.text(max_size=30).filter(lambda s: not _is_tz_ts(s))
                   | instants.map(lambda d: d.isoformat()),
    "sent_at": not_str | st.sampled_from(["1999-12-31T23:00:00Z", "2101-01-01T00:00:00Z", "soon", "2026-13-01T00:00Z"]),
    "venue_id": st.integers(max_value=-1) | st.integers(min_value=2**63) | st.floats(**FIN) | ids | st.booleans(),
    "goal_match_score": st.floats(min_value=1.0001, **FIN) | st.floats(max_value=-0.0001, **FIN) | ids | st.booleans(),
    "metadata": st.lists(st.integers(), max_size=3) | ids | st.integers() | st.just({"x": "y" * 33000}),
    "drop_event_id": st.integers() | st.just("") | st.text(min_size=513, max_size=600),
}


def _is_uuid(s: str) -> bool:
    try:
        uuid.UUID(s)
        return True
    except ValueError:
        return False


def _is_tz_ts(s: str) -> bool:
    try:
        return datetime.fromisoformat(s).tzinfo is not None
    except ValueError:
        return False


@st.composite
def mutated_event(draw: Any) -> tuple[dict[str, Any], str]:
    e = draw(valid_event())
    kind = draw(st.sampled_from([*BAD, "missing", "unknown"]))
    if kind == "missing":
        f = draw(st.sampled_from(["message_id", "alert_id", "user_id", "event_type", "occurred_at", "sent_at"]))
        del e[f]
        return e, f
    if kind == "unknown":
        f = draw(ids.filter(lambda s: s not in e and s not in BAD))
        e[f] = draw(json_val)
        return e, f[:100]
    e[kind] = draw(BAD[kind])
    return e, kind


def check_error_body(r: Any) -> list[dict[str, Any]]:
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])
    errs = r.json()["errors"]
    assert errs and all(isinstance(x["field"], str) and x["field"] and isinstance(x["reason"], str) and x["reason"]
                        for x in errs), errs
    return errs


def test_fuzz_endpoint(settings, store, clock):
    app = create_app(settings, store, clock)
    auth = {"Authorization": f"Bearer {KEY}"}
    count = {"n": 0}

    with TestClient(app, raise_server_exceptions=False) as c:
        def post(path: str, **kw: Any) -> Any:
            count["n"] += 1
            r = c.post(path, **kw)
            assert r.status_code < 500, (path, r.status_code, r.text[:300])
            return r

        @SETTINGS
        @given(st.one_of(valid_event().map(lambda e: (e, None)), mutated_event()))
        def single(case: tuple[dict[str, Any], str | None]) -> None:
            e, bad_field = case
            r = post("/v1/events", json=e, headers=auth)
            if bad_field is None:
                assert r.status_code in (200, 201), r.text
                assert r.json()["message_id"] == str(uuid.UUID(e["message_id"]))
            else:
                errs = check_error_body(r)
                if r.status_code == 400:
                    # sent_at out of range may surface as occurred_at > sent_at: both name a time field
                    fields = {x["field"] for x in errs}
                    assert bad_field in fields or (bad_field == "sent_at" and "occurred_at" in fields), (bad_field, errs)

        @SETTINGS
        @given(st.lists(st.one_of(valid_event().map(lambda e: (e, None)), mutated_event()), min_size=1, max_size=12))
        def batch(cases: list[tuple[dict[str, Any], str | None]]) -> None:
            r = post("/v1/batch", json={"events": [e for e, _ in cases]}, headers=auth)
            bad = {i for i, (_, f) in enumerate(cases) if f is not None}
            if r.status_code == 413:
                return
            if not bad:
                assert r.status_code == 200
            elif len(bad) == len(cases):
                assert r.status_code == 400
                assert {x["index"] for x in check_error_body(r)} == bad
                return
            else:
                assert r.status_code == 207
            body = r.json()
            assert {x["index"] for x in body["results"] if x["status"] == "invalid"} == bad
            assert {x["index"] for x in body["errors"]} == bad
            stored = [x["message_id"] for x in body["results"] if x["status"] in ("stored", "duplicate")]
            with store.cursor() as cur:
                got = cur.execute("SELECT count(*) FROM alert_events WHERE list_contains($ids, message_id)",
                                  {"ids": stored}).fetchone()[0]
            assert got == len(set(stored))

        headers_st = st.fixed_dictionaries({}, optional={
            "Authorization": st.sampled_from([f"Bearer {KEY}", "Bearer wrong", "Basic x", "Bearer", ""]),
            "X-Write-Key": st.sampled_from([KEY, "nope", ""]),
            "Content-Type": st.sampled_from(["application/json", "text/plain", "application/xml", "",
                                             "application/json; charset=utf-8", "multipart/form-data"]),
        })
        body_st = st.one_of(st.binary(max_size=200), json_val.map(lambda v: json.dumps(v).encode()),
                            valid_event().map(lambda e: json.dumps(e).encode()),
                            st.lists(valid_event(), max_size=3).map(lambda es: json.dumps({"events": es}).encode()))

        @SETTINGS
        @given(st.sampled_from(["/v1/events", "/v1/batch", "/v1/goals"]), headers_st, body_st)
        def anything(path: str, headers: dict[str, str], body: bytes) -> None:
            r = post(path, content=body, headers=headers)
            if r.status_code >= 400:
                check_error_body(r)
                key = headers.get("Authorization") or headers.get("X-Write-Key")
                if not key or key in ("Basic x", "Bearer"):
                    assert r.status_code == 401
                elif key not in (f"Bearer {KEY}", KEY):
                    assert r.status_code == 403
                elif not headers.get("Content-Type", "").startswith("application/json"):
                    assert r.status_code == 415

        single()
        batch()
        anything()
    assert count["n"] >= 1000
