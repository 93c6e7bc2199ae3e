"""Write side of the tracking endpoint: rows -> Arrow batch -> one INSERT OR IGNORE per store job.

``Coalescer`` turns many concurrent requests into one store job: while one job is in the writer,
newly arriving rows wait and go together in the next (no timer, so an idle endpoint adds no
latency). The Store then group-commits whatever jobs are queued. Each request learns, per
message_id, whether it was stored or a duplicate; its future resolves only after COMMIT.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from collector.store.writer import QueueFull, Store, StoreClosed
from collector.tracking.models import CleanEvent, CleanGoal

EVENT_COLUMNS = ("message_id", "alert_id", "user_id", "event_type", "occurred_at", "sent_at",
                 "received_at", "corrected_at", "skew_s", "skew_raw_s", "drop_event_id", "venue_id",
                 "goal_match_score", "metadata", "write_key_id")
_EVENT_TYPES = [pa.string(), pa.string(), pa.string(), pa.string(), pa.timestamp("us"), pa.timestamp("us"),
                pa.timestamp("us"), pa.timestamp("us"), pa.float64(), pa.float64(), pa.string(), pa.int64(),
                pa.float64(), pa.string(), pa.string()]
EVENT_ARROW_SCHEMA = pa.schema(list(zip(EVENT_COLUMNS, _EVENT_TYPES, strict=True)))

# Registered batch names are fixed identifiers; values only ever travel inside the Arrow batch.
INSERT_EVENTS = """
INSERT OR IGNORE INTO alert_events (message_id, alert_id, user_id, event_type, occurred_at, sent_at,
    received_at, corrected_at, skew_s, skew_raw_s, drop_event_id, venue_id, goal_match_score, metadata,
    write_key_id)
SELECT message_id, alert_id, user_id, event_type, occurred_at, sent_at, received_at, corrected_at, skew_s,
    skew_raw_s, drop_event_id, venue_id, goal_match_score, metadata, write_key_id
FROM tracking_event_batch
RETURNING message_id
"""
INSERT_GOALS = """
INSERT OR IGNORE INTO goals (goal_id, user_id, date_from, date_to, time_from, time_to, party_size,
    neighborhoods, venue_ids, created_at)
SELECT goal_id, user_id, date_from, date_to, time_from, time_to, party_size, neighborhoods, venue_ids,
    created_at
FROM tracking_goal_batch
RETURNING goal_id
"""

Row = tuple[Any, ...]


def event_row(ev: CleanEvent, received_at: datetime, max_skew_s: float, write_key_id: str) -> Row:
    """Skew correction: the client clock offset is sent_at - received_at (network time ignored);
    it is clamped to +-max_skew_s and removed from occurred_at."""
    raw = (ev.sent_at - received_at).total_seconds()
    applied = max(-max_skew_s, min(max_skew_s, raw))
    corrected = ev.occurred_at - timedelta(seconds=applied)
    return (ev.message_id, ev.alert_id, ev.user_id, ev.event_type, ev.occurred_at, ev.sent_at, received_at,
            corrected, applied, raw, ev.drop_event_id, ev.venue_id, ev.goal_match_score, ev.metadata,
            write_key_id)


def insert_events_job(rows: Sequence[Row]) -> Callable[[duckdb.DuckDBPyConnection], list[bool]]:
    """A store job inserting rows; returns, per row, True if stored now, False if a duplicate."""
    cols = list(zip(*rows, strict=True))
    table = pa.Table.from_arrays([pa.array(c, type=t) for c, t in zip(cols, _EVENT_TYPES, strict=True)],
                                 schema=EVENT_ARROW_SCHEMA)
    ids = [r[0] for r in rows]

    def job(cur: duckdb.DuckDBPyConnection) -> list[bool]:
        cur.register("tracking_event_batch", table)
        try:
            inserted = {r[0] for r in cur.execute(INSERT_EVENTS).fetchall()}
        finally:
            cur.unregister("tracking_event_batch")
        out = []
        for mid in ids:  # a message_id repeated inside the batch is stored once: first one wins
            out.append(mid in inserted)
            inserted.discard(mid)
        return out

    return job


def insert_goal_job(goal: CleanGoal, created_at: datetime) -> Callable[[duckdb.DuckDBPyConnection], bool]:
    table = pa.table({
        "goal_id": pa.array([goal.goal_id], pa.string()),
        "user_id": pa.array([goal.user_id], pa.string()),
        "date_from": pa.array([goal.date_from], pa.date32()),
        "date_to": pa.array([goal.date_to], pa.date32()),
        "time_from": pa.array([goal.time_from], pa.time64("us")),
        "time_to": pa.array([goal.time_to], pa.time64("us")),
        "party_size": pa.array([goal.party_size], pa.int16()),
        "neighborhoods": pa.array([goal.neighborhoods], pa.list_(pa.string())),
        "venue_ids": pa.array([goal.venue_ids], pa.list_(pa.int64())),
        "created_at": pa.array([created_at], pa.timestamp("us")),
    })

    def job(cur: duckdb.DuckDBPyConnection) -> bool:
        cur.register("tracking_goal_batch", table)
        try:
            return bool(cur.execute(INSERT_GOALS).fetchall())
        finally:
            cur.unregister("tracking_goal_batch")

    return job


@dataclass(slots=True)
class _Waiter:
    rows: list[Row]
    loop: asyncio.AbstractEventLoop
    fut: asyncio.Future[list[bool]]


def _resolve(w: _Waiter, result: list[bool] | None, exc: BaseException | None) -> None:
    def _set() -> None:
        if w.fut.done():  # the client went away; the rows are written all the same
            return
        if exc is not None:
            w.fut.set_exception(exc)
        else:
            w.fut.set_result(result or [])
    with contextlib.suppress(RuntimeError):  # loop already closed
        w.loop.call_soon_threadsafe(_set)


class Coalescer:
    """At most one event job of this endpoint in the writer at a time; the rest wait and merge."""

    def __init__(self, store: Store, queue_max: int, max_rows: int = 20000, coalesce: bool = True) -> None:
        self.store = store
        self.queue_max = queue_max
        self.max_rows = max_rows
        self.coalesce = coalesce
        self._lock = threading.Lock()
        self._pending: list[_Waiter] = []
        self._inflight = False
        self.jobs = 0

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def submit(self, rows: list[Row]) -> asyncio.Future[list[bool]]:
        """Queue rows for writing; raises QueueFull or StoreClosed at once when it cannot."""
        loop = asyncio.get_running_loop()
        w = _Waiter(rows, loop, loop.create_future())
        if not self.coalesce:  # baseline: one store job (and, with max_group=1, one commit) per request
            self._submit_group([w], raise_now=True)
            return w.fut
        with self._lock:
            if len(self._pending) + self.store.pending() >= self.queue_max:
                raise QueueFull("tracking writer is behind")
            self._pending.append(w)
            if self._inflight:
                return w.fut
            self._inflight = True
            group = self._take()
        self._submit_group(group)
        return w.fut

    def _take(self) -> list[_Waiter]:
        group: list[_Waiter] = []
        n = 0
        while self._pending and (not group or n + len(self._pending[0].rows) <= self.max_rows):
            w = self._pending.pop(0)
            group.append(w)
            n += len(w.rows)
        return group

    def _submit_group(self, group: list[_Waiter], raise_now: bool = False) -> None:
        rows = [r for w in group for r in w.rows]
        try:
            fut = self.store.submit(insert_events_job(rows))
        except (QueueFull, StoreClosed) as e:
            if raise_now:
                raise
            for w in group:
                _resolve(w, None, e)
            self._next()
            return
        self.jobs += 1
        fut.add_done_callback(lambda f: self._done(group, f))

    def _done(self, group: list[_Waiter], fut: Future[list[bool]]) -> None:
        exc = fut.exception()
        if exc is None:
            res = fut.result()
            i = 0
            for w in group:
                _resolve(w, res[i:i + len(w.rows)], None)
                i += len(w.rows)
        elif len(group) > 1 and not isinstance(exc, QueueFull | StoreClosed):
            for w in group:  # one bad request must not sink the others: retry each on its own
                self._submit_single(w)
        else:
            for w in group:
                _resolve(w, None, exc)
        if self.coalesce:
            self._next()

    def _submit_single(self, w: _Waiter) -> None:
        try:
            fut = self.store.submit(insert_events_job(w.rows))
        except (QueueFull, StoreClosed) as e:
            _resolve(w, None, e)
            return

        def _cb(f: Future[list[bool]]) -> None:
            e = f.exception()
            _resolve(w, None if e else f.result(), e)
        fut.add_done_callback(_cb)

    def _next(self) -> None:
        with self._lock:
            if not self._pending:
                self._inflight = False
                return
            group = self._take()
        self._submit_group(group)
