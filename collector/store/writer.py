"""The single writer: one thread owns the read-write DuckDB connection; a queue feeds it.

Every write in the service is a job (a function of a cursor) submitted here. The writer drains
whatever is queued and commits it as one transaction (group commit); a job's Future resolves only
after COMMIT returns, so a resolved Future means durably written. If a group fails, the jobs are
retried one by one so one bad job cannot sink its neighbours. Readers in the same process take
``store.cursor()`` (DuckDB: one connection object per thread, a cursor each).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from analytics.db import connect
from collector.store.migrate import migrate

log = logging.getLogger(__name__)
T = TypeVar("T")
Job = Callable[[duckdb.DuckDBPyConnection], Any]


class QueueFull(RuntimeError):
    """The writer is behind; callers should shed load (the endpoint answers 503 + Retry-After)."""


class StoreClosed(RuntimeError):
    """The store is stopping or stopped and accepts no more writes."""


_STOP = object()


class Store:
    def __init__(self, path: str | Path, queue_max: int = 10000, max_group: int = 256) -> None:
        self.path = Path(path)
        self.con = connect(self.path)
        self.applied_migrations = migrate(self.con)
        self._q: queue.Queue[Any] = queue.Queue(maxsize=queue_max)
        self._max_group = max_group
        self._thread: threading.Thread | None = None
        self._closed = False
        self.commits = 0
        self.jobs_done = 0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Store:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Finish every queued write, then close the connection."""
        if self._closed:
            return
        self._closed = True
        if self._thread is not None:
            self._q.put(_STOP)
            self._thread.join(timeout)
        self.con.close()

    def __enter__(self) -> Store:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes ----------------------------------------------------------------------------
    def submit(self, job: Callable[[duckdb.DuckDBPyConnection], T]) -> Future[T]:
        if self._closed:
            raise StoreClosed("store is closed")
        fut: Future[T] = Future()
        if self._thread is None:  # not started: run inline (CLI one-shots, tests)
            self._run_group([(job, fut)])
            return fut
        try:
            self._q.put_nowait((job, fut))
        except queue.Full:
            raise QueueFull(f"writer queue is full ({self._q.maxsize} pending)") from None
        return fut

    def write(self, job: Callable[[duckdb.DuckDBPyConnection], T], timeout: float | None = 60) -> T:
        return self.submit(job).result(timeout)

    def pending(self) -> int:
        return self._q.qsize()

    # -- reads -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cur = self.con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    # -- the writer thread -------------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._q.get()
            if item is _STOP:
                break
            group = [item]
            while len(group) < self._max_group:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stopping = True
                    break
                group.append(nxt)
            self._run_group(group)

    def _run_group(self, group: list[tuple[Job, Future[Any]]]) -> None:
        group = [(j, f) for j, f in group if f.set_running_or_notify_cancel()]
        if not group:
            return
        cur = self.con.cursor() if self._thread is not None else self.con
        try:
            if len(group) > 1 and self._try_group(cur, group):
                return
            for job, fut in group:  # singly: one failure does not lose the others
                try:
                    cur.execute("BEGIN")
                    res = job(cur)
                    cur.execute("COMMIT")
                except BaseException as e:
                    with contextlib.suppress(Exception):
                        cur.execute("ROLLBACK")
                    fut.set_exception(e)
                else:
                    self.commits += 1
                    self.jobs_done += 1
                    fut.set_result(res)
        finally:
            if cur is not self.con:
                cur.close()

    def _try_group(self, cur: duckdb.DuckDBPyConnection, group: list[tuple[Job, Future[Any]]]) -> bool:
        results = []
        try:
            cur.execute("BEGIN")
            for job, _ in group:
                results.append(job(cur))
            cur.execute("COMMIT")
        except Exception as e:
            log.debug("group of %d failed (%s); retrying singly", len(group), e)
            with contextlib.suppress(Exception):
                cur.execute("ROLLBACK")
            return False
        self.commits += 1
        self.jobs_done += len(group)
        for (_, fut), res in zip(group, results, strict=True):
            fut.set_result(res)
        return True
