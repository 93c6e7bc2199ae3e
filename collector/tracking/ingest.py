"""Write side of the tracking endpoint: rows -> Arrow batch -> one INSERT OR IGNORE per store job.

A batch request arrives as an ``EventBatch`` (its Arrow table built column by column, skew
correction in numpy), a single event as a row tuple. ``Coalescer`` turns many concurrent requests
into one store job: while one job is in the writer, newly arriving rows wait and go together in
the next (no timer, so an idle endpoint adds no latency). The Store then group-commits whatever
jobs are queued. Each request learns, per message_id, whether it was stored or a duplicate; its
future resolves only after COMMIT.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from collector.store.writer import QueueFull, Store, StoreClosed
from collector.tracking.models import EPOCH, MICROSECOND, CleanEvent, CleanGoal, EventTuple

EVENT_COLUMNS = ("message_id", "alert_id", "user_id", "event_type", "occurred_at", "sent_at",
                 "received_at", "corrected_at", "skew_s", "skew_raw_s", "drop_event_id", "venue_id",
                 "goal_match_score", "metadata", "write_key_id")
_EVENT_TYPES = [pa.string(), pa.string(), pa.string(), pa.string(), pa.timestamp("us"), pa.timestamp("us"),
                pa.timestamp("us"), pa.timestamp("us"), pa.float64(), pa.float64(), pa.string(), pa.int64(),
                pa.float64(), pa.string(), pa.string()]
EVENT_ARROW_SCHEMA = pa.schema(list(zip(EVENT_COLUMNS, _EVENT_TYPES, strict=True)))

# Batch names are fixed identifiers (an Arrow table in the job's frame); values only travel inside it.
INSERT_EVENTS = """
INSERT OR IGNORE INTO alert_events (message_id, alert_id, user_id, event_type, occurred_at, sent_at,
    received_at, corrected_at, skew_s, skew_raw_s, drop_event_id, venue_id, goal_match_score, metadata,
    write_key_id)
SELECT message_id, alert_id, user_id, event_type, occurred_at, sent_at, received_at, corrected_at, skew_s,
    skew_raw_s, drop_event_id, venue_id, goal_match_score, metadata, write_key_id
FROM tracking_event_batch
RETURNING message_id
"""
INSERT_EVENTS_PLAIN = INSERT_EVENTS.replace("INSERT OR IGNORE", "INSERT").replace("RETURNING message_id\n", "")
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


@dataclass(slots=True)
class EventBatch:
    """The valid events of one batch request, ready to insert: message_ids and an Arrow table with
    EVENT_ARROW_SCHEMA, in request order."""
    ids: list[str]
    table: pa.Table

    def __len__(self) -> int:
        return len(self.ids)


def event_batch(events: Sequence[EventTuple], received_at: datetime, max_skew_s: float,
                write_key_id: str) -> EventBatch:
    """``event_row`` for many events at once, column by column: the same values (skew clamped the
    same way, the same microseconds), with the arithmetic in numpy instead of per-row datetimes."""
    mid, alert, user, etype, occ, sent, drop, venue, score, meta = (list(c) for c in zip(*events, strict=True))
    n = len(mid)
    occ_us = np.array(occ, np.int64)
    sent_us = np.array(sent, np.int64)
    recv_us = (received_at - EPOCH) // MICROSECOND
    raw_us = sent_us - recv_us
    raw = raw_us / 1e6  # == timedelta.total_seconds(): int / 10**6, correctly rounded either way
    m = float(max_skew_s)
    low = np.where(raw < m, raw, m)             # min(m, raw), argument order kept (signed zeros)
    applied = np.where(low > -m, low, -m)       # max(-m, low)
    # corrected = occurred - timedelta(seconds=applied): unclamped that is raw_us exactly; clamped
    # it is the timedelta of +-max_skew_s, computed once the way event_row computes it
    applied_us = np.where(applied == raw, raw_us,
                          np.where(applied > 0, timedelta(seconds=m) // MICROSECOND, timedelta(seconds=-m) // MICROSECOND))
    corrected = (occ_us - applied_us).view("datetime64[us]")
    arrays = [
        pa.array(mid, pa.string()), pa.array(alert, pa.string()), pa.array(user, pa.string()),
        pa.array(etype, pa.string()), pa.array(occ_us.view("datetime64[us]"), pa.timestamp("us")),
        pa.array(sent_us.view("datetime64[us]"), pa.timestamp("us")),
        pa.array(np.full(n, recv_us, np.int64).view("datetime64[us]"), pa.timestamp("us")),
        pa.array(corrected, pa.timestamp("us")), pa.array(applied, pa.float64()), pa.array(raw, pa.float64()),
        pa.array(drop, pa.string()), pa.array(venue, pa.int64()), pa.array(score, pa.float64()),
        pa.array(meta, pa.string()), pa.array([write_key_id] * n, pa.string()),
    ]
    return EventBatch(mid, pa.Table.from_arrays(arrays, schema=EVENT_ARROW_SCHEMA))


def rows_table(rows: Sequence[Row]) -> pa.Table:
    cols = list(zip(*rows, strict=True))
    return pa.Table.from_arrays([pa.array(c, type=t) for c, t in zip(cols, _EVENT_TYPES, strict=True)],
                                schema=EVENT_ARROW_SCHEMA)


Part = Sequence[Row] | EventBatch  # what one request hands the Coalescer


class EventsJob:
    """A store job inserting rows; returns, per row, True if stored now, False if a duplicate.

    Built from row tuples or from ``parts`` (several requests' rows or EventBatches, in order:
    consecutive row parts become one Arrow table, batches are used as they are).
    A message_id repeated inside the rows is stored once (first one wins): that is settled here in
    Python. Against the table, the first attempt is a plain INSERT (the primary key checks each row
    through its index; ~4x cheaper in DuckDB 2.0 than INSERT OR IGNORE, which plans a join and a
    group-by). If a message_id is already stored, DuckDB raises ConstraintException and aborts the
    transaction; the job then turns ``careful`` and the writer (or the Coalescer) runs it again as
    INSERT OR IGNORE ... RETURNING, which reports exactly which rows were new.
    """

    __slots__ = ("careful", "ids", "keep", "table")

    def __init__(self, rows: Sequence[Row] = (), careful: bool = False, *, parts: Sequence[Part] = ()) -> None:
        self.careful = careful
        if rows:
            parts = [rows, *parts]
        tables: list[pa.Table] = []
        ids: list[str] = []
        pending: list[Row] = []
        for p in parts:
            if isinstance(p, EventBatch):
                if pending:
                    tables.append(rows_table(pending))
                    pending = []
                tables.append(p.table)
                ids += p.ids
            else:
                pending += p
                ids += [r[0] for r in p]
        if pending:
            tables.append(rows_table(pending))
        table = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        self.ids = ids
        if len(set(ids)) == len(ids):
            self.keep = [True] * len(ids)
        else:
            seen: set[str] = set()
            keep: list[bool] = []
            for mid in ids:
                first = mid not in seen
                keep.append(first)
                seen.add(mid)
            self.keep = keep
            table = table.filter(pa.array(keep, pa.bool_()))
        self.table = table

    def __call__(self, cur: duckdb.DuckDBPyConnection) -> list[bool]:
        # DuckDB's replacement scan finds the Arrow table by this local name (the name in the SQL):
        # half the cost of register() + unregister(), which change the catalog on every job.
        tracking_event_batch = self.table  # noqa: F841
        if self.careful:
            inserted = {r[0] for r in cur.execute(INSERT_EVENTS).fetchall()}
            return [k and mid in inserted for k, mid in zip(self.keep, self.ids, strict=True)]
        try:
            cur.execute(INSERT_EVENTS_PLAIN)
        except duckdb.ConstraintException:
            self.careful = True  # some message_id is already stored: the rerun reports which
            raise
        return list(self.keep)


def insert_events_job(rows: Sequence[Row], careful: bool = False) -> EventsJob:
    """A store job inserting rows; returns, per row, True if stored now, False if a duplicate."""
    return EventsJob(rows, careful)


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
    part: Part
    loop: asyncio.AbstractEventLoop
    fut: asyncio.Future[list[bool]]


def _set(w: _Waiter, result: list[bool] | None, exc: BaseException | None) -> None:
    if w.fut.done():  # the client went away; the rows are written all the same
        return
    if exc is not None:
        w.fut.set_exception(exc)
    else:
        w.fut.set_result(result or [])


def _resolve_all(answers: list[tuple[_Waiter, list[bool] | None, BaseException | None]]) -> None:
    """Hand results to the waiting requests: one thread-safe wake-up per event loop, not per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiter, list[bool] | None, BaseException | None]]] = {}
    for a in answers:
        by_loop.setdefault(a[0].loop, []).append(a)
    for loop, items in by_loop.items():
        def _run(items: list[tuple[_Waiter, list[bool] | None, BaseException | None]] = items) -> None:
            for w, res, exc in items:
                _set(w, res, exc)
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(_run)


class Coalescer:
    """At most one event job of this endpoint in the writer at a time; the rest wait and merge.

    While a job is in the writer (insert + COMMIT), newly arriving requests queue here; when it
    commits, everything queued goes as the next job (one Arrow batch, one INSERT), so the group size
    follows the load with no timer. ``recent`` remembers the last message_ids stored so that a
    group holding a likely retry goes straight to the careful INSERT OR IGNORE (a hint only: the
    primary key decides).
    """

    def __init__(self, store: Store, queue_max: int, max_rows: int = 20000, coalesce: bool = True,
                 recent_max: int = 65536) -> None:
        self.store = store
        self.queue_max = queue_max
        self.max_rows = max_rows
        self.coalesce = coalesce
        self.recent_max = recent_max
        self._lock = threading.Lock()
        self._pending: deque[_Waiter] = deque()
        self._inflight = False
        self._recent: dict[str, None] = {}
        self.jobs = 0
        self.rows = 0
        self.careful_jobs = 0

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def submit(self, part: Part) -> asyncio.Future[list[bool]]:
        """Queue rows (or a batch) for writing; raises QueueFull or StoreClosed at once when it cannot."""
        loop = asyncio.get_running_loop()
        w = _Waiter(part, loop, loop.create_future())
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
        while self._pending and (not group or n + len(self._pending[0].part) <= self.max_rows):
            w = self._pending.popleft()
            group.append(w)
            n += len(w.part)
        return group

    def _job(self, group: list[_Waiter]) -> EventsJob:
        if not self.coalesce:  # the baseline keeps the original statement: INSERT OR IGNORE per request
            return EventsJob(parts=[w.part for w in group], careful=True)
        job = EventsJob(parts=[w.part for w in group])
        with self._lock:
            recent = self._recent
            job.careful = not recent.keys().isdisjoint(job.ids)
        return job

    def _remember(self, ids: list[str]) -> None:
        with self._lock:
            recent = self._recent
            recent.update(dict.fromkeys(ids))
            extra = len(recent) - self.recent_max
            if extra > 0:
                for mid in list(itertools.islice(recent, extra)):
                    del recent[mid]

    def _submit_group(self, group: list[_Waiter], raise_now: bool = False) -> None:
        try:
            job = self._job(group)
            fut = self.store.submit(job)
        except (QueueFull, StoreClosed) as e:
            if raise_now:
                raise
            _resolve_all([(w, None, e) for w in group])
            self._next()
            return
        self.jobs += 1
        self.rows += len(job.ids)
        self.careful_jobs += job.careful
        fut.add_done_callback(lambda f: self._done(group, job, f))

    def _done(self, group: list[_Waiter], job: EventsJob, fut: Future[list[bool]]) -> None:
        exc = fut.exception()
        if exc is None:
            res = fut.result()
            answers: list[tuple[_Waiter, list[bool] | None, BaseException | None]] = []
            i = 0
            for w in group:
                answers.append((w, res[i:i + len(w.part)], None))
                i += len(w.part)
            _resolve_all(answers)
            if self.coalesce:
                self._remember(job.ids)
        elif isinstance(exc, duckdb.ConstraintException) and job.careful and self._resubmit(group, job):
            return  # a stored message_id stopped the plain INSERT: the same job runs again, careful
        elif len(group) > 1 and not isinstance(exc, QueueFull | StoreClosed):
            for w in group:  # one bad request must not sink the others: retry each on its own
                self._submit_single(w)
        else:
            _resolve_all([(w, None, exc) for w in group])
        if self.coalesce:
            self._next()

    def _resubmit(self, group: list[_Waiter], job: EventsJob) -> bool:
        try:
            fut = self.store.submit(job)
        except (QueueFull, StoreClosed):
            return False
        self.careful_jobs += 1
        fut.add_done_callback(lambda f: self._done_careful(group, f))
        return True

    def _done_careful(self, group: list[_Waiter], fut: Future[list[bool]]) -> None:
        # no third attempt: a careful job's failure goes to each request on its own
        exc = fut.exception()
        if exc is None:
            res = fut.result()
            i = 0
            answers: list[tuple[_Waiter, list[bool] | None, BaseException | None]] = []
            for w in group:
                answers.append((w, res[i:i + len(w.part)], None))
                i += len(w.part)
            _resolve_all(answers)
        elif len(group) > 1 and not isinstance(exc, QueueFull | StoreClosed):
            for w in group:
                self._submit_single(w)
        else:
            _resolve_all([(w, None, exc) for w in group])
        if self.coalesce:
            self._next()

    def _submit_single(self, w: _Waiter) -> None:
        try:
            fut = self.store.submit(EventsJob(parts=[w.part], careful=True))
        except (QueueFull, StoreClosed) as e:
            _resolve_all([(w, None, e)])
            return

        def _cb(f: Future[list[bool]]) -> None:
            e = f.exception()
            _resolve_all([(w, None if e else f.result(), e)])
        fut.add_done_callback(_cb)

    def _next(self) -> None:
        with self._lock:
            if not self._pending:
                self._inflight = False
                return
            group = self._take()
        self._submit_group(group)
