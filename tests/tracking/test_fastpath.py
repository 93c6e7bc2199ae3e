"""The throughput changes keep behaviour: the raw ASGI fast path answers exactly like the FastAPI
routes; the optimistic plain INSERT falls back to the careful INSERT OR IGNORE when a message_id is
already stored (also when the recent-id hint does not know it, e.g. after a restart); a message_id
repeated inside one request is stored once, first one wins."""

from __future__ import annotations

import json
import uuid
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from collector.store.writer import Store
from collector.tracking.app import create_app
from collector.tracking.ingest import EventsJob, event_row
from collector.tracking.models import validate_event

from .conftest import AUTH, T0
from .test_endpoint import ev, rows

ORIGIN = {"Origin": "https://app.example"}  # an allowed browser origin: served by the FastAPI routes


def _cases() -> list[tuple[str, dict[str, str], bytes]]:
    h = {**AUTH, "Content-Type": "application/json"}
    e1 = ev(message_id="00000000-0000-4000-8000-000000000001")
    bad = ev(message_id="00000000-0000-4000-8000-000000000002", event_type="nope", venue_id=-1)
    return [
        ("/v1/events", h, json.dumps(e1).encode()),
        ("/v1/events", h, json.dumps(e1).encode()),  # duplicate
        ("/v1/events", h, json.dumps(bad).encode()),
        ("/v1/events", {"Content-Type": "application/json"}, json.dumps(e1).encode()),
        ("/v1/events", {"Authorization": "Bearer nope", "Content-Type": "application/json"}, b"{}"),
        ("/v1/events", {**AUTH, "Content-Type": "text/plain"}, b"{}"),
        ("/v1/events", h, b"{"),
        ("/v1/events", h, b""),
        ("/v1/events", h, json.dumps({**e1, "x": 1}).encode()),
        ("/v1/events", {**h, "Content-Length": "99999999"}, b""),
        ("/v1/batch", h, json.dumps({"events": [e1, bad, ev(message_id="00000000-0000-4000-8000-000000000003"),
                                                "x"]}).encode()),
        ("/v1/batch", h, json.dumps({"events": [bad]}).encode()),
        ("/v1/batch", h, json.dumps({"events": [ev() for _ in range(501)]}).encode()),
        ("/v1/batch", h, b'{"events": [], "x": 1}'),
    ]


def _run(c: TestClient, extra: dict[str, str]) -> list[tuple[int, Any, str | None, str | None]]:
    out = []
    for path, headers, body in _cases():
        r = c.post(path, content=body, headers={**headers, **extra})
        out.append((r.status_code, r.json(), r.headers.get("www-authenticate"), r.headers.get("content-type")))
    return out


def test_fast_path_answers_like_the_fastapi_routes(settings, tmp_path, clock):
    answers = []
    for name, extra in (("fast", {}), ("routed", ORIGIN)):
        with Store(tmp_path / f"{name}.duckdb") as store:
            app = create_app(settings, store, clock)
            with TestClient(app) as c:
                answers.append(_run(c, extra))
                if extra:
                    assert app.served == 0  # browsers (Origin) go through FastAPI and its CORS middleware
                    r = c.post("/v1/events", json=ev(), headers={**AUTH, **ORIGIN})
                    assert r.headers["access-control-allow-origin"] == "https://app.example"
                else:
                    assert app.served == len(_cases())
    fast, routed = answers
    assert fast == routed
    statuses = [a[0] for a in fast]
    assert statuses == [201, 200, 400, 401, 403, 415, 400, 400, 400, 413, 207, 400, 413, 400]
    assert fast[3][2] == "Bearer" and fast[0][3] == "application/json"


def test_other_paths_and_methods_still_served_by_fastapi(client):
    assert client.get("/health").status_code == 200
    assert client.get("/v1/events").status_code == 405
    assert "/v1/batch" in client.get("/openapi.json").json()["paths"]


def test_duplicate_unknown_to_the_recent_hint_falls_back_to_careful_insert(settings, store, clock):
    e, other = ev(), ev()
    with TestClient(create_app(settings, store, clock)) as c:
        assert c.post("/v1/events", json=e, headers=AUTH).status_code == 201
    # a new app (as after a restart): its recent-id hint is empty, so the plain INSERT meets the key
    app = create_app(settings, store, clock)
    with TestClient(app) as c:
        r = c.post("/v1/events", json=e, headers=AUTH)
        assert (r.status_code, r.json()["duplicate"]) == (200, True)
        r = c.post("/v1/batch", json={"events": [other, e, other]}, headers=AUTH)
        assert [x["status"] for x in r.json()["results"]] == ["stored", "duplicate", "duplicate"]
        assert app.state.coalescer.careful_jobs >= 1
        # now the hint knows both: a retry goes straight to the careful statement
        before = app.state.coalescer.careful_jobs
        assert c.post("/v1/events", json=other, headers=AUTH).status_code == 200
        assert app.state.coalescer.careful_jobs == before + 1
    assert {r[0] for r in rows(store)} == {e["message_id"], other["message_id"]}


def test_repeated_message_id_in_one_request_first_one_wins(client, store):
    e = ev(event_type="alert_sent")
    r = client.post("/v1/batch", json={"events": [e, {**e, "event_type": "booking_confirmed"}]}, headers=AUTH)
    assert [x["status"] for x in r.json()["results"]] == ["stored", "duplicate"]
    assert [(x[0], x[1]) for x in rows(store)] == [(e["message_id"], "alert_sent")]


@pytest.mark.parametrize("careful", [False, True])
def test_events_job_plain_then_careful(tmp_path, careful):
    def row(mid: str, et: str = "alert_sent") -> tuple[Any, ...]:
        clean, errs = validate_event(ev(message_id=mid, event_type=et))
        assert clean is not None, errs
        return event_row(clean, T0, 3600.0, "kid")

    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    with Store(tmp_path / "j.duckdb") as store:
        assert store.write(EventsJob([row(a)], careful=careful)) == [True]
        job = EventsJob([row(b), row(a, "alert_opened"), row(b)], careful=careful)
        if not careful:  # the plain INSERT meets the stored key: it raises and turns careful
            with pytest.raises(duckdb.ConstraintException):
                store.write(job)
            assert job.careful
        assert store.write(job) == [True, False, False]
        with store.cursor() as cur:
            got = cur.execute("SELECT message_id, event_type FROM alert_events ORDER BY message_id").fetchall()
    assert sorted(got) == sorted([(a, "alert_sent"), (b, "alert_sent")])


def test_json_parse_matches_the_standard_parser(client, store):
    """orjson is used where it answers like json.loads; 64-bit-overflowing numbers, lone surrogate
    escapes and NaN go to the standard parser, so the answers stay those of the stdlib."""
    big = 2**70
    e = ev(metadata={"n": big, "neg": -big, "s": "é ü"})
    r = client.post("/v1/events", content=json.dumps(e, ensure_ascii=False).encode(),
                    headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 201
    with store.cursor() as cur:
        meta = cur.execute("SELECT metadata FROM alert_events WHERE message_id = $m",
                           {"m": e["message_id"]}).fetchone()[0]
    assert json.loads(meta) == {"n": big, "neg": -big, "s": "é ü"}
    r = client.post("/v1/events", json=ev(venue_id=2**64), headers=AUTH)
    assert r.status_code == 400 and "between" in r.json()["errors"][0]["reason"]
    raw = json.dumps(ev(alert_id="\ud800x")).encode()  # "\ud800" escape: a lone surrogate
    r = client.post("/v1/events", content=raw, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "alert_id"
    raw = b'{"\\udc00": 1}'  # an unknown field whose name cannot be UTF-8: the answer is still JSON
    r = client.post("/v1/events", content=raw, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 400 and "is not a known field" in {x["reason"] for x in r.json()["errors"]}
    r = client.post("/v1/events", content=b'{"venue_id": NaN}', headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "body"
