"""The write statement is idempotent by itself (ON CONFLICT DO NOTHING): a job run twice stores
nothing twice and says which rows were new; inside one job the first of a repeated message_id wins."""

from __future__ import annotations

import uuid

from collector.store.writer import Store
from collector.tracking import models as m
from collector.tracking.ingest import EventsJob, event_rows

from .conftest import T0
from .test_endpoint import ev


def test_a_job_run_twice_stores_once_and_reports_duplicates(store: Store):
    events = [m.Event.model_validate(ev()) for _ in range(3)]
    rows = event_rows(events, T0, "kid")
    assert store.write(EventsJob(rows, 3600.0)) == [True, True, True]
    assert store.write(EventsJob(rows, 3600.0)) == [False, False, False]
    fresh = event_rows([m.Event.model_validate(ev())], T0, "kid")
    assert store.write(EventsJob(rows[:1] + fresh, 3600.0)) == [False, True]
    with store.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM alert_events").fetchone() == (4,)


def test_first_of_a_repeated_message_id_wins_within_one_job(store: Store):
    mid = str(uuid.uuid4())
    first, second = (m.Event.model_validate(ev(message_id=mid, alert_id=a)) for a in ("first", "second"))
    assert store.write(EventsJob(event_rows([first, second], T0, "kid"), 3600.0)) == [True, False]
    with store.cursor() as cur:
        assert cur.execute("SELECT alert_id FROM alert_events").fetchall() == [("first",)]
