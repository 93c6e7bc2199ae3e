"""Tracking endpoint behaviour: auth, content type, size limits, validation answers, batch
per-item results, idempotent retries, skew correction, overload, CORS, health and OpenAPI."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from collector.store.writer import Store
from collector.tracking.app import create_app

from .conftest import AUTH, KEY, T0


def ev(**kw: Any) -> dict[str, Any]:
    base = {"message_id": str(uuid.uuid4()), "alert_id": "a-1", "user_id": "u-1", "event_type": "alert_sent",
            "occurred_at": "2026-03-06T17:59:50Z", "sent_at": "2026-03-06T18:00:00Z"}
    base.update(kw)
    return {k: v for k, v in base.items() if v is not ...}


def rows(store: Store) -> list[tuple[Any, ...]]:
    with store.cursor() as cur:
        return cur.execute("SELECT message_id, event_type, occurred_at, received_at, corrected_at, skew_s "
                           "FROM alert_events ORDER BY message_id").fetchall()


def test_auth_401_without_key_403_with_wrong_key(client, store):
    e = ev()
    r = client.post("/v1/events", json=e)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json()["errors"][0]["field"] == "Authorization"
    assert client.post("/v1/events", json=e, headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.post("/v1/events", json=e, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.post("/v1/events", json=e, headers={"X-Write-Key": "nope"}).status_code == 403
    assert rows(store) == []
    assert client.post("/v1/events", json=e, headers={"X-Write-Key": "second-key"}).status_code == 201
    assert client.post("/v1/batch", json={"events": [ev()]}).status_code == 401
    assert client.post("/v1/goals", json={}, headers={"Authorization": "Bearer x"}).status_code == 403
    assert len(rows(store)) == 1


def test_content_type_415(client, store):
    body = json.dumps(ev())
    for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""):
        r = client.post("/v1/events", content=body, headers={**AUTH, "Content-Type": ct})
        assert r.status_code == 415, ct
        assert r.json()["errors"][0]["field"] == "Content-Type"
    r = client.post("/v1/events", content=body, headers={**AUTH, "Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201


def test_size_limits_413(client, store):
    big = ev(metadata={"x": "y" * (40 * 1024)})  # body under 64 KB? no: metadata alone > 32 KB
    r = client.post("/v1/events", json=big, headers=AUTH)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "metadata"
    huge = json.dumps(ev(metadata={"x": "y" * (70 * 1024)}))
    r = client.post("/v1/events", content=huge, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413
    # a lying Content-Length is not trusted: the streamed body is counted (chunked, no length)
    def gen():
        yield huge.encode()
    r = client.post("/v1/events", content=gen(), headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413
    batch = {"events": [ev(metadata={"pad": "z" * 1500}) for _ in range(400)]}  # > 500 KB
    r = client.post("/v1/batch", json=batch, headers=AUTH)
    assert r.status_code == 413
    r = client.post("/v1/batch", json={"events": [ev() for _ in range(501)]}, headers=AUTH)
    assert r.status_code == 413 and r.json()["errors"][0]["field"] == "events"
    assert rows(store) == []
    r = client.post("/v1/batch", json={"events": [ev() for _ in range(500)]}, headers=AUTH)
    assert r.status_code == 200 and r.json()["stored"] == 500


def test_declared_content_length_over_limit_is_413_before_reading(server):
    # raw HTTP: announce a huge body, send nothing; the server must answer 413 without waiting
    import socket
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(b"POST /v1/batch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY.encode()
                  + b"\r\nContent-Type: application/json\r\nContent-Length: 99999999\r\n\r\n")
        head = s.recv(200)
    assert head.startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize("field,value,reason_part", [
    ("message_id", "not-a-uuid", "UUID"),
    ("message_id", 12, "UUID"),
    ("event_type", "alert_clicked", "one of"),
    ("occurred_at", "yesterday", "ISO 8601"),
    ("occurred_at", "2026-03-06T17:59:50", "UTC offset"),
    ("sent_at", "2026-03-06T17:00:00Z", "after sent_at"),
    ("goal_match_score", 1.5, "less than or equal to 1"),
    ("goal_match_score", True, "number"),
    ("venue_id", "12", "integer"),
    ("metadata", [1, 2], "object"),
    ("alert_id", "", "at least 1 character"),
    ("alert_id", "   ", "must not be empty"),
    ("user_id", ..., "required"),
    ("colour", "red", "not a known field"),
])
def test_invalid_event_400_names_field(client, store, field, value, reason_part):
    e = ev(**{field: value})
    r = client.post("/v1/events", json=e, headers=AUTH)
    assert r.status_code == 400
    errs = r.json()["errors"]
    want = "occurred_at" if field == "sent_at" else field
    assert any(x["field"] == want and reason_part in x["reason"] for x in errs), errs
    assert rows(store) == []


def test_bad_json_and_shapes_400(client):
    h = {**AUTH, "Content-Type": "application/json"}
    for body in (b"{", b"", b"\xff\xfe", b"[1,2]", b"NaN", b"[" * 30000 + b"]" * 30000):
        r = client.post("/v1/events", content=body, headers=h)
        assert r.status_code == 400, body
        assert r.json()["errors"][0]["field"] in ("body", "event")
    r = client.post("/v1/events", content=b'{"events": 3}', headers=h)
    assert r.status_code == 400 and {"events", "message_id"} <= {e["field"] for e in r.json()["errors"]}
    for body in (b"[]", b'{"events": 3}', b'{"events": []}', b'{"events": [], "x": 1}'):
        r = client.post("/v1/batch", content=body, headers=h)
        assert r.status_code == 400, body


def test_batch_keeps_valid_items_and_answers_per_item(client, store):
    good1, good2 = ev(), ev(event_type="alert_opened")
    bad = ev(event_type="nope")
    r = client.post("/v1/batch", json={"events": [good1, bad, good2, "x"]}, headers=AUTH)
    assert r.status_code == 207
    body = r.json()
    assert [x["status"] for x in body["results"]] == ["stored", "invalid", "stored", "invalid"]
    assert {e["index"] for e in body["errors"]} == {1, 3}
    assert body["stored"] == 2 and body["invalid"] == 2
    assert {x[0] for x in rows(store)} == {good1["message_id"], good2["message_id"]}
    r = client.post("/v1/batch", json={"events": [bad]}, headers=AUTH)
    assert r.status_code == 400 and r.json()["errors"][0]["index"] == 0


def test_idempotent_retries_single_and_batch(client, store):
    e = ev()
    r1 = client.post("/v1/events", json=e, headers=AUTH)
    r2 = client.post("/v1/events", json={**e, "sent_at": "2026-03-06T18:00:09Z"}, headers=AUTH)
    assert (r1.status_code, r1.json()["duplicate"]) == (201, False)
    assert (r2.status_code, r2.json()["duplicate"]) == (200, True)
    upper = {**e, "message_id": e["message_id"].upper()}  # same UUID, other spelling
    assert client.post("/v1/events", json=upper, headers=AUTH).json()["duplicate"] is True
    other = ev()
    r = client.post("/v1/batch", json={"events": [e, other, other]}, headers=AUTH)
    assert [x["status"] for x in r.json()["results"]] == ["duplicate", "stored", "duplicate"]
    assert len(rows(store)) == 2


def test_concurrent_retries_store_once(server, store):
    events = [ev() for _ in range(50)]

    def send():
        with httpx.Client(base_url=server.url) as c:
            for e in events:
                assert c.post("/v1/events", json=e, headers=AUTH).status_code in (200, 201)
    ts = [threading.Thread(target=send) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(rows(store)) == 50


def test_skew_correction_and_clamp(client, store, clock):
    clock.set(T0)
    # client clock 100 s ahead: occurred 10 s before it sent -> corrected = received - 10 s
    a = ev(occurred_at="2026-03-06T18:01:30Z", sent_at="2026-03-06T18:01:40Z")
    # client clock 5 h behind (beyond max_clock_skew_s=3600): correction clamped to 3600 s
    b = ev(occurred_at="2026-03-06T12:59:00Z", sent_at="2026-03-06T13:00:00Z")
    # offset +01:00 is converted to UTC
    c = ev(occurred_at="2026-03-06T18:59:55+01:00", sent_at="2026-03-06T19:00:00+01:00")
    for e in (a, b, c):
        assert client.post("/v1/events", json=e, headers=AUTH).status_code == 201
    got = {r[0]: r for r in rows(store)}
    assert got[a["message_id"]][4] == T0 - timedelta(seconds=10) and got[a["message_id"]][5] == 100.0
    assert got[b["message_id"]][4] == T0 - timedelta(hours=5, seconds=60) + timedelta(seconds=3600)
    assert got[b["message_id"]][5] == -3600.0
    assert got[c["message_id"]][2].hour == 17 and got[c["message_id"]][4] == T0 - timedelta(seconds=5)
    assert all(r[3] == T0 for r in got.values())


def test_overload_503_with_retry_after(settings, tmp_path, clock):
    store = Store(tmp_path / "o.duckdb", queue_max=10)  # writer thread not started: queue fills up
    store._thread = threading.Thread(target=lambda: None)  # pretend started so submit only queues
    app = create_app(settings.replace(writer_queue_max=10), store, clock)
    with TestClient(app) as c:
        for _ in range(10):
            store._q.put_nowait((lambda cur: None, None))
        r = c.post("/v1/events", json=ev(), headers=AUTH)
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert c.post("/v1/batch", json={"events": [ev()]}, headers=AUTH).status_code == 503
    store.con.close()


def test_closed_store_503(settings, tmp_path, clock):
    store = Store(tmp_path / "c.duckdb").start()
    store.close()
    with TestClient(create_app(settings, store, clock)) as c:
        r = c.post("/v1/events", json=ev(), headers=AUTH)
        assert r.status_code == 503 and "retry-after" in r.headers


def test_goals(client, store):
    g = {"goal_id": str(uuid.uuid4()), "user_id": "u", "date_from": "2026-03-06", "date_to": "2026-03-08",
         "time_from": "18:00", "time_to": "21:30", "party_size": 2, "neighborhoods": ["SoHo"], "venue_ids": [3]}
    assert client.post("/v1/goals", json=g, headers=AUTH).status_code == 201
    assert client.post("/v1/goals", json=g, headers=AUTH).json()["duplicate"] is True
    bad = {**g, "goal_id": str(uuid.uuid4()), "date_to": "2026-03-01", "party_size": 0}
    r = client.post("/v1/goals", json=bad, headers=AUTH)
    assert r.status_code == 400 and {e["field"] for e in r.json()["errors"]} == {"party_size", "date_to"}
    r = client.post("/v1/goals", json={**bad, "party_size": 2}, headers=AUTH)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "date_to"
    with store.cursor() as cur:
        assert cur.execute("SELECT neighborhoods, venue_ids, party_size FROM goals").fetchall() == [(["SoHo"], [3], 2)]


def test_health_openapi_cors(client, settings, store, clock):
    h = client.get("/health").json()
    assert h["ok"] is True and "writer_queue" in h
    spec = client.get("/openapi.json").json()
    assert {"/v1/events", "/v1/batch", "/v1/goals", "/health"} <= set(spec["paths"])
    def body_schema(path: str) -> dict[str, Any]:
        ref = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    event = body_schema("/v1/events")
    assert event["properties"]["event_type"]["enum"][0] == "alert_sent"
    assert event["additionalProperties"] is False and "metadata" not in event["required"]
    assert body_schema("/v1/batch")["properties"]["events"]["maxItems"] == 500
    assert body_schema("/v1/goals")["properties"]["party_size"]["maximum"] == 20
    assert client.get("/docs").status_code == 200
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "authorization,content-type"}
    r = client.options("/v1/events", headers=pre)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://app.example"
    r = client.options("/v1/events", headers={**pre, "Origin": "https://evil.example"})
    assert r.headers.get("access-control-allow-origin") != "https://evil.example"
    with TestClient(create_app(settings.replace(cors_origins=[]), store, clock)) as c2:
        assert "access-control-allow-origin" not in c2.options("/v1/events", headers=pre).headers
    with TestClient(create_app(settings, store, clock, health=lambda: {"ok": False, "x": 1})) as c3:
        assert c3.get("/health").json() == {"ok": False, "x": 1}
