"""Write side of the tracking endpoint: validated events -> one idempotent INSERT per store job.

The statements are sql/insert_events.sql and sql/insert_goal.sql (named parameters; a retried
message_id or goal_id is skipped by ON CONFLICT DO NOTHING, so a job can always be rerun).
``Coalescer`` turns many concurrent requests into one store job: while one job is in the writer,
newly arriving rows wait and go together in the next (no timer, so an idle endpoint adds no
latency). Each request learns, per event, whether it was stored or a duplicate; its future
resolves only after COMMIT.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from collector.store.writer import QueueFull, Store
from collector.tracking.models import Event, Goal

SQL = {p.stem: p.read_text() for p in (Path(__file__).parent / "sql").glob("*.sql")}
ROW_SCHEMA = pa.schema([  # one row of tracking_events in insert_events.sql
    ("message_id", pa.string()), ("alert_id", pa.string()), ("user_id", pa.string()), ("event_type", pa.string()),
    ("occurred_at", pa.timestamp("us")), ("sent_at", pa.timestamp("us")), ("received_at", pa.timestamp("us")),
    ("drop_event_id", pa.string()), ("venue_id", pa.int64()), ("goal_match_score", pa.float64()),
    ("metadata", pa.string()), ("write_key_id", pa.string()),
])
Row = tuple[Any, ...]


def event_rows(events: Iterable[Event], received_at: datetime, write_key_id: str) -> list[Row]:
    return [(str(e.message_id), e.alert_id, e.user_id, e.event_type, e.occurred_at, e.sent_at, received_at,
             e.drop_event_id, e.venue_id, e.goal_match_score, e.metadata, write_key_id) for e in events]


class EventsJob:
    """A store job inserting rows; returns, per row, True if stored now, False if its message_id
    was already stored or came earlier in the same rows (the first one wins)."""

    def __init__(self, rows: Sequence[Row], max_skew_s: float) -> None:
        self.rows, self.max_skew_s = rows, max_skew_s

    def __call__(self, cur: duckdb.DuckDBPyConnection) -> list[bool]:
        first: dict[str, int] = {}
        for i, r in enumerate(self.rows):
            first.setdefault(r[0], i)
        rows = [self.rows[i] for i in first.values()]
        table = pa.Table.from_arrays([pa.array(col, t) for col, t in zip(zip(*rows, strict=True), ROW_SCHEMA.types,
                                                                          strict=True)], schema=ROW_SCHEMA)
        cur.register("tracking_events", table)
        try:
            stored = {r[0] for r in cur.execute(SQL["insert_events"], {"max_skew_s": self.max_skew_s}).fetchall()}
        finally:
            cur.unregister("tracking_events")
        return [first[r[0]] == i and r[0] in stored for i, r in enumerate(self.rows)]


def insert_goal_job(goal: Goal, created_at: datetime) -> Any:
    params = {**goal.model_dump(), "goal_id": str(goal.goal_id), "created_at": created_at}

    def job(cur: duckdb.DuckDBPyConnection) -> bool:
        return bool(cur.execute(SQL["insert_goal"], params).fetchall())

    return job


@dataclass(slots=True)
class _Waiter:
    rows: Sequence[Row]
    loop: asyncio.AbstractEventLoop
    fut: asyncio.Future[list[bool]]


def _resolve(group: list[_Waiter], result: list[bool] | None, exc: BaseException | None) -> None:
    """Hand each waiting request its part of the result: one thread-safe wake-up per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiter, list[bool] | None]]] = {}
    i = 0
    for w in group:
        by_loop.setdefault(w.loop, []).append((w, None if result is None else result[i:i + len(w.rows)]))
        i += len(w.rows)

    def wake(items: list[tuple[_Waiter, list[bool] | None]]) -> None:
        for w, res in items:
            if w.fut.done():  # the client went away; its rows are written all the same
                continue
            if exc is not None:
                w.fut.set_exception(exc)
            else:
                w.fut.set_result(res or [])

    for loop, items in by_loop.items():
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(wake, items)


class Coalescer:
    """At most one event job of this endpoint in the writer at a time; the rest wait and merge, so
    the group size follows the load. ``coalesce=False`` submits one job per request (the bench's
    commit-per-request baseline, with a Store of max_group=1)."""

    def __init__(self, store: Store, max_skew_s: float, queue_max: int, *, coalesce: bool = True,
                 max_rows: int = 20000) -> None:
        self.store, self.max_skew_s, self.queue_max = store, max_skew_s, queue_max
        self.coalesce, self.max_rows = coalesce, max_rows
        self._lock = threading.Lock()
        self._pending: deque[_Waiter] = deque()
        self._inflight = False

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def submit(self, rows: Sequence[Row]) -> asyncio.Future[list[bool]]:
        """Queue rows for writing; raises QueueFull or StoreClosed at once when it cannot."""
        loop = asyncio.get_running_loop()
        w = _Waiter(rows, loop, loop.create_future())
        if not self.coalesce:
            self._send([w], raise_now=True)
            return w.fut
        with self._lock:
            if len(self._pending) + self.store.pending() >= self.queue_max:
                raise QueueFull("tracking writer is behind")
            self._pending.append(w)
            if self._inflight:
                return w.fut
            self._inflight = True
        self._next()
        return w.fut

    def _next(self) -> None:
        with self._lock:
            n, group = 0, list[_Waiter]()
            while self._pending and (not group or n + len(self._pending[0].rows) <= self.max_rows):
                group.append(self._pending.popleft())
                n += len(group[-1].rows)
            if not group:
                self._inflight = False
                return
        self._send(group)

    def _send(self, group: list[_Waiter], raise_now: bool = False) -> None:
        try:
            fut = self.store.submit(EventsJob([r for w in group for r in w.rows], self.max_skew_s))
        except Exception as e:  # QueueFull, StoreClosed
            if raise_now:
                raise
            _resolve(group, None, e)
            self._next()
            return
        fut.add_done_callback(lambda f: self._done(group, f))

    def _done(self, group: list[_Waiter], fut: Future[list[bool]]) -> None:
        exc = fut.exception()
        _resolve(group, None if exc else fut.result(), exc)
        if self.coalesce:
            self._next()
