"""The collector service: the ONLY process that opens the DuckDB file read-write.

It polls buckets (scheduler + poller), runs the nightly job at its local time, hosts the tracking
endpoint and the health report over HTTP in-process, and publishes a read-only snapshot for
readers. `tablepulse collect` runs it; SIGTERM/SIGINT finish the in-flight writes and stop.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import schedule
import uvicorn

from collector.buckets import local_today, to_local
from collector.clock import Clock, ScaledClock, SystemClock, utcnow
from collector.poller import Poller
from collector.providers import make_provider
from collector.providers.base import Provider
from collector.scheduler import Scheduler
from collector.snapshot import publish_snapshot
from collector.store.writer import Store
from tablepulse_settings import Settings

log = logging.getLogger("tablepulse.service")


def upstream_clock(settings: Settings) -> Clock:
    """The simulator's virtual clock when the upstream is the bundled simulator, else wall time."""
    try:
        r = httpx.get(settings.upstream_url.rstrip("/") + "/_sim/clock", timeout=2.0)
        if r.status_code == 200:
            body = r.json()
            speed = float(body["speed"])
            if speed > 0:
                return ScaledClock(datetime.fromisoformat(body["now"]), speed)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        pass
    return SystemClock()


class Service:
    def __init__(self, settings: Settings, *, clock: Clock | None = None, provider: Provider | None = None,
                 serve_http: bool = True) -> None:
        self.settings = settings
        self.clock = clock or upstream_clock(settings)
        self.store = Store(settings.db_path, queue_max=settings.writer_queue_max)
        self.provider = provider or make_provider(settings)
        self.poller = Poller(self.store, self.provider, settings, self.clock)
        self.scheduler = Scheduler(self.store, self.poller, settings, self.clock)
        self.serve_http = serve_http
        self.stop_event = threading.Event()
        self._stop_lock = threading.Lock()
        self._stopped = False
        self.http: uvicorn.Server | None = None
        self.http_port: int | None = None
        self._threads: list[threading.Thread] = []
        self._snapshot_lock = threading.Lock()
        self.last_snapshot: dict[str, Any] = {}
        self.last_nightly: dict[str, Any] = {}
        self.started_at = utcnow()
        self._sched = schedule.Scheduler()

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Service:
        self.store.start()
        self.scheduler.refresh()
        self._sched.every(1).seconds.do(self._safe(self.scheduler.tick))
        self._sched.every(self.settings.snapshot_interval_s).seconds.do(self._background(self.publish))
        self._sched.every(30).seconds.do(self._safe(self._save_state))
        self._sched.every(20).seconds.do(self._safe(self._maybe_nightly))
        self._safe(self.scheduler.tick)()   # poll at once; then every second
        self._spawn("scheduler", self._loop)
        if self.serve_http:
            self._start_http()
        self._background(self.publish)()
        log.info("collector started", extra={"ctx": {"db": self.settings.db_path, "upstream": self.settings.upstream_url,
                                                     "buckets": len(self.scheduler._specs), "http_port": self.http_port}})
        return self

    def stop(self) -> None:
        """Clean stop: no new polls, in-flight writes finish, final snapshot, file closed.

        Idempotent on its own flag: a signal handler sets stop_event first, and stop() must still run."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self.stop_event.set()
        if self.http is not None:
            self.http.should_exit = True   # uvicorn finishes in-flight requests (their writes commit) and exits
        for t in self._threads:
            t.join(timeout=30)
        self.scheduler.drain()
        with contextlib.suppress(Exception):
            self._save_state()
        with contextlib.suppress(Exception):
            self.publish()
        self.provider.close()
        self.store.close()
        log.info("collector stopped")

    def run_forever(self) -> None:
        try:
            while not self.stop_event.wait(0.5):
                pass
        finally:
            self.stop()

    # -- loops -----------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self.stop_event.is_set():
            self._sched.run_pending()
            self.stop_event.wait(0.2)

    def _spawn(self, name: str, fn: Callable[[], None]) -> None:
        t = threading.Thread(target=fn, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _safe(self, fn: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except Exception:
                log.exception("%s failed", getattr(fn, "__name__", fn))
        return run

    def _background(self, fn: Callable[[], Any]) -> Callable[[], None]:
        """Run fn on its own thread unless it is still running (snapshot must not stall polling)."""
        busy = threading.Lock()

        def run() -> None:
            if not busy.acquire(blocking=False):
                return

            def go() -> None:
                try:
                    self._safe(fn)()
                finally:
                    busy.release()
            threading.Thread(target=go, name=getattr(fn, "__name__", "bg"), daemon=True).start()
        return run

    # -- jobs ------------------------------------------------------------------------------------
    def publish(self) -> dict[str, Any]:
        with self._snapshot_lock:
            secs = publish_snapshot(self.store.con, self.settings.db_path, self.settings.snapshot_path)
            self.last_snapshot = {"published_at": utcnow().isoformat(timespec="seconds"), "seconds": round(secs, 3)}
            return self.last_snapshot

    def _maybe_nightly(self) -> None:
        """Run the nightly job once per local day, after nightly_at, for the day that just ended."""
        now = self.clock.now()
        local = to_local(now, self.settings.timezone)
        hh, mm = map(int, self.settings.nightly_at.split(":"))
        if (local.hour, local.minute) < (hh, mm):
            return
        yesterday = local_today(now, self.settings.timezone) - timedelta(days=1)
        with self.store.cursor() as cur:
            rows = cur.execute("SELECT value FROM service_state WHERE key = 'nightly_last_day'").fetchall()
        last = date.fromisoformat(rows[0][0]) if rows else yesterday - timedelta(days=1)
        # catch up every night missed while the service was down (raw events are kept that long)
        day = max(last + timedelta(days=1), yesterday - timedelta(days=self.settings.raw_retention_days - 1))
        while day <= yesterday and not self.stop_event.is_set():
            self.run_nightly(day)
            day += timedelta(days=1)

    def run_nightly(self, day: date) -> dict[str, Any]:
        from collector.nightly import run_nightly

        t0 = time.perf_counter()
        result = run_nightly(self.store, day, self.settings, self.clock.now())
        self.last_nightly = {"day": day.isoformat(), "seconds": round(time.perf_counter() - t0, 3)}
        self.scheduler.refresh()
        self._background(self.publish)()
        log.info("nightly job done", extra={"ctx": self.last_nightly})
        return result

    def _save_state(self) -> None:
        h = self.health(include_buckets=False)
        rows = [("health", json.dumps(h, default=str)), ("breaker", json.dumps(h["provider"], default=str))]

        def job(c: Any) -> None:
            for k, v in rows:
                c.execute("INSERT OR REPLACE INTO service_state VALUES ($k, $v, $t)", {"k": k, "v": v, "t": utcnow()})
        self.store.write(job)

    # -- HTTP: tracking endpoint + health ---------------------------------------------------------
    def _start_http(self) -> None:
        from collector.tracking import server
        from collector.tracking.app import create_app

        app = create_app(self.settings, self.store, self.clock, health=self.health)
        self.http = uvicorn.Server(server.config(app, self.settings.tracking_host, self.settings.tracking_port))
        self._spawn("http", self.http.run)
        deadline = time.monotonic() + 10
        while not self.http.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.http.started:
            raise RuntimeError(f"collector HTTP endpoint did not start on {self.settings.tracking_host}:"
                               f"{self.settings.tracking_port} (port in use?)")
        sockets = [s for srv in getattr(self.http, "servers", []) for s in srv.sockets]
        self.http_port = sockets[0].getsockname()[1] if sockets else self.settings.tracking_port

    # -- health ------------------------------------------------------------------------------------
    def health(self, include_buckets: bool = True) -> dict[str, Any]:
        now = self.clock.now()
        since = now - timedelta(hours=1)
        with self.store.cursor() as cur:
            by_reason = cur.execute(
                "SELECT outcome, count(*) FROM poll_ledger WHERE started_at >= $s GROUP BY 1 ORDER BY 2 DESC",
                {"s": since}).fetchall()
            buckets = cur.execute(
                "SELECT bucket_id, party_size, last_trusted_at, baseline_ready FROM buckets "
                "WHERE bucket_date >= $d ORDER BY bucket_id, party_size",
                {"d": local_today(now, self.settings.timezone)}).fetchall() if include_buckets else []
        total = sum(n for _, n in by_reason)
        untrusted = {r: n for r, n in by_reason if r != "ok"}
        last_trusted = max((b[2] for b in buckets if b[2] is not None), default=None)
        out: dict[str, Any] = {
            "ok": not self.stop_event.is_set(),
            "now": now.isoformat(timespec="seconds"),
            "started_at": self.started_at.isoformat(timespec="seconds"),
            "polls_last_hour": total,
            "untrusted_share_last_hour": round(sum(untrusted.values()) / total, 4) if total else None,
            "untrusted_by_reason": untrusted,
            "provider": self.provider.health(),
            "writer_queue": self.store.pending(),
            "scheduler_errors": self.scheduler.errors,
            "snapshot": self.last_snapshot,
            "nightly": self.last_nightly,
        }
        if include_buckets:
            out["last_trusted_poll"] = last_trusted.isoformat(timespec="seconds") if last_trusted else None
            out["buckets"] = [{"bucket_id": b, "party_size": p, "last_trusted_at": t.isoformat(timespec="seconds") if t else None,
                               "baseline_ready": r} for b, p, t, r in buckets]
        return out


class JsonFormatter(logging.Formatter):
    """Structured logs: one JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        ctx = getattr(record, "ctx", None)
        if ctx:
            out.update(ctx)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: str) -> None:
    h = logging.StreamHandler()
    h.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [h]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))  # one line per request is noise
