"""The batch fast path keeps behaviour: ``check_batch`` (typed msgspec decode, careful validation
only for the items it does not accept) answers exactly like validating every parsed item with
validate_event; ``event_batch`` (columns, skew in numpy) stores exactly what ``event_row`` does;
an EventsJob built from several requests' parts keeps their order and the first of a repeated
message_id."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.store.writer import Store
from collector.tracking import models as m
from collector.tracking.app import _loads
from collector.tracking.ingest import EventBatch, EventsJob, event_batch, event_row, rows_table

from .conftest import T0
from .test_endpoint import ev
from .test_fuzz import mutated_event, valid_event

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def clean(e: m.EventTuple) -> m.CleanEvent:
    at = [m.EPOCH + timedelta(microseconds=us) for us in e[4:6]]
    return m.CleanEvent(*e[:4], *at, *e[6:])


def careful(raw: bytes) -> m.BatchCheck:
    """The reference: parse the whole body, validate_event on every item."""
    return m.check_items(_loads(raw)["events"])


def same(raw: bytes) -> m.BatchCheck | None:
    got = m.check_batch(raw, _loads)
    if got is not None:
        want = careful(raw)
        assert (got.size, got.valid, got.errors) == (want.size, want.valid, want.errors)
    return got


# values the typed decode does not take but validate_event does (or the other way round)
ODD = {
    "message_id": st.sampled_from(["6F9619FF-8B86-D011-B42D-00CF4FC964FF", "{6f9619ff-8b86-d011-b42d-00cf4fc964ff}",
                                   "6f9619ff8b86d011b42d00cf4fc964ff", "urn:uuid:6f9619ff-8b86-d011-b42d-00cf4fc964ff",
                                   "6f9619ff-8b86-d011-b42d-00cf4fc964ff\n"]),
    "occurred_at": st.sampled_from(["2026-03-06T17:59:50.1234567Z", "2026-03-06T17:59:50.9999999+00:00",
                                    "2026-03-06 17:59:50+01:00", "2026-03-06T17:59Z", "2026-03-06t17:59:50z",
                                    "20260306T175950Z", "2026-03-06T17:59:50.5+00:00:30"]),
    "alert_id": st.sampled_from(["\u00a0", "\u2003\u3000", "\x1c", "a\x00", " a ", "é" * 128, "é" * 129]),
    "drop_event_id": st.sampled_from(["\u00a0", "x" * 512, "x" * 513, "a\x00b"]),
    "goal_match_score": st.sampled_from([0, 1, -0.0, 1.0000000000000002, 5e-324, True]),
    "venue_id": st.sampled_from([0, 2**63 - 1, 2**63, -0.0, 1.0, False]),
    "metadata": st.sampled_from([{}, {"n": 1.5e16, "s": "é\n\u2028", "l": [None, True, 1e-7]}, {"x": "y" * 32755},
                                 {"x": "é" * 16380}, {"x": "é" * 16390}, {"n": 2**70}]),
}


@st.composite
def odd_event(draw: Any) -> dict[str, Any]:
    e = draw(valid_event())
    for f in draw(st.sets(st.sampled_from(sorted(ODD)), min_size=1, max_size=3)):
        e[f] = draw(ODD[f])
    return e


events_st = st.lists(st.one_of(valid_event(), mutated_event().map(lambda c: c[0]), odd_event()), min_size=1, max_size=15)


@SETTINGS
@given(events_st)
def test_check_batch_answers_like_validate_event_on_every_item(events: list[dict[str, Any]]) -> None:
    same(json.dumps({"events": events}).encode())
    same(json.dumps({"events": events}, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def test_check_batch_raw_edge_cases() -> None:
    e = ev(message_id="00000000-0000-4000-8000-000000000001")
    good = json.dumps(e)
    cases = [
        # duplicate keys: the last one counts, as in json.loads / orjson
        '{"events": [' + good[:-1] + ', "venue_id": -1, "venue_id": 7}]}',
        '{"events": [' + good[:-1] + ', "venue_id": 7, "venue_id": -1}]}',
        '{"events": [], "events": [' + good + ']}',
        '{"events": [' + good + ', 1, null, [], "x", {}]}',
        '{"events": [' + good[:-1] + ', "metadata": {"deep": ' + '[' * 900 + ']' * 900 + '}}]}',
        '{"events": [' + good[:-1] + ', "goal_match_score": 1e400}]}',
        '{"events": [' + good[:-1] + ', "venue_id": 123456789012345678901234}]}',
        '{"events": [' + good[:-1] + ', "alert_id": "\\ud800"}]}',
        '{"events": [' + good[:-1] + ', "alert_id": "\\ud83d\\ude00"}]}',
    ]
    for body in cases:
        same(body.encode())
    at = "2026-03-06T18:00:00.000001Z"
    times = [ev(occurred_at=at, sent_at=at), ev(occurred_at=at, sent_at="2026-03-06T18:00:00Z"),
             ev(occurred_at="2026-03-06T19:00:00.000001+01:00", sent_at=at)]
    got = same(json.dumps({"events": times}).encode())
    assert got is not None and [i for i, _ in got.valid] == [0, 2]
    # bodies the typed decode cannot read at all: the caller parses them the general way
    for raw in (b'{"events": [' + good.encode()[:-1] + b', "alert_id": "\xff"}]}',   # invalid UTF-8 in an item
                b'{"events": []}', b'{"events": {}}', b'{"events": [1], "x": 2}', b'[1]', b'{"events": [1]} x',
                json.dumps({"events": [e] * 501}).encode()):
        assert m.check_batch(raw, _loads) is None, raw[:80]


def test_valid_batch_takes_the_typed_path_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = m.validate_event

    def counting(body: Any, index: int | None = None) -> Any:
        calls.append(index)
        return real(body, index)

    monkeypatch.setattr(m, "validate_event", counting)
    events = [ev(metadata={"platform": "ios"}, venue_id=i, goal_match_score=0.5) for i in range(500)]
    got = m.check_batch(json.dumps({"events": events}).encode(), _loads)
    assert got is not None and len(got.valid) == 500 and calls == []
    events[7]["venue_id"] = -1
    events[300]["alert_id"] = "   "
    got = m.check_batch(json.dumps({"events": events}).encode(), _loads)
    assert got is not None and len(got.valid) == 498 and calls == [7, 300]
    assert [(x["index"], x["field"]) for x in got.errors] == [(7, "venue_id"), (300, "alert_id")]


@SETTINGS
@given(st.dictionaries(st.text(max_size=8), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=10), max_size=4))
def test_typed_metadata_text_equals_json_dumps(meta: dict[str, Any]) -> None:
    try:
        raw = json.dumps({"m": meta}).encode()
    except ValueError:
        return
    try:
        decoded = msgspec.json.decode(raw)["m"]  # what the typed decode hands over (no lone surrogates)
    except msgspec.DecodeError:
        return
    assert m._typed_metadata(decoded) == m._metadata(decoded)


def test_typed_metadata_edges() -> None:
    for meta in ({"f": 1e-07, "g": 1e16}, {"n": 2**64, "s": "v1.2e3"}, {"d": [[[[{}]]]] * 3},
                 {"deep": json.loads("[" * 300 + "]" * 300)}, {"x": "é" * 16381}, {"x": "é" * 16382},
                 {"c": "".join(map(chr, range(32))) + "\\"}):
        assert m._typed_metadata(meta) == m._metadata(meta), str(meta)[:60]


@st.composite
def clean_events(draw: Any) -> tuple[list[m.EventTuple], float, datetime]:
    max_skew = draw(st.sampled_from([0, 0.5, 1, 3600, 86400]))
    received = T0 + timedelta(microseconds=draw(st.integers(-10**12, 10**12)))
    out = []
    for _ in range(draw(st.integers(1, 20))):
        offset = draw(st.one_of(st.integers(-10**11, 10**11), st.sampled_from(
            [0, 1, -1, int(max_skew * 1e6), -int(max_skew * 1e6), int(max_skew * 1e6) + 1, -int(max_skew * 1e6) - 1])))
        sent = received + timedelta(microseconds=offset)
        occurred = sent - timedelta(microseconds=draw(st.integers(0, 10**11)))
        clean, errs = m.validate_event(ev(
            message_id=str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)))), occurred_at=occurred.isoformat() + "Z",
            sent_at=sent.isoformat() + "Z", venue_id=draw(st.none() | st.integers(0, 2**63 - 1)),
            goal_match_score=draw(st.none() | st.floats(0, 1)), drop_event_id=draw(st.none() | st.just("d|NEW_DROP")),
            metadata=draw(st.none() | st.just({"k": [1, "é"]}))))
        assert clean is not None, errs
        out.append(m._event_tuple(clean))
    return out, float(max_skew), received


@SETTINGS
@given(clean_events())
def test_event_batch_equals_event_row(case: tuple[list[m.EventTuple], float, datetime]) -> None:
    events, max_skew, received = case
    want = rows_table([event_row(clean(e), received, max_skew, "kid") for e in events])
    got = event_batch(events, received, max_skew, "kid")
    assert got.ids == [e[0] for e in events]
    assert got.table.equals(want)
    # signed zeros too (max_skew_s = 0 clamps to -0.0, as max(-0.0, min(0.0, raw)) does)
    for col in ("skew_s", "skew_raw_s"):
        assert [str(x) for x in got.table[col].to_pylist()] == [str(x) for x in want[col].to_pylist()]


def test_events_job_parts_keep_order_and_first_of_repeated_id(tmp_path: Any) -> None:
    def tup(mid: str, et: str) -> m.EventTuple:
        clean, _ = m.validate_event(ev(message_id=mid, event_type=et))
        assert clean is not None
        return m._event_tuple(clean)

    a, b, c, d = (str(uuid.uuid4()) for _ in range(4))
    row_a = event_row(clean(tup(a, "alert_sent")), T0, 60.0, "kid")
    row_b = event_row(clean(tup(b, "alert_sent")), T0, 60.0, "kid")
    batch = event_batch([tup(c, "alert_sent"), tup(a, "booking_confirmed"), tup(d, "alert_sent")], T0, 60.0, "kid")
    parts: list[Any] = [[row_a], batch, [row_b], EventBatch(batch.ids[:1], batch.table.slice(0, 1))]
    job = EventsJob(parts=parts)
    assert job.ids == [a, c, a, d, b, c]
    assert job.keep == [True, True, False, True, True, False]
    assert job.table.column("message_id").to_pylist() == [a, c, d, b]
    with Store(tmp_path / "p.duckdb") as store:
        assert store.write(job) == [True, True, False, True, True, False]
        with store.cursor() as cur:
            got = dict(cur.execute("SELECT message_id, event_type FROM alert_events").fetchall())
    assert got == {a: "alert_sent", b: "alert_sent", c: "alert_sent", d: "alert_sent"}
