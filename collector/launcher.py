"""`tablepulse up` / `make run`: the whole product on the simulator, with history, in one command.

Starts the simulated market, builds history on first start by fast-forwarding the simulator
through the same poll path as live polling (Poller -> provider HTTP -> diff -> store, then the
nightly job per day), restarts the market on real time, then runs the collector service, the
simulated alert client and the dashboard as child processes on free loopback ports. Ctrl-C stops
every child (SIGTERM, then SIGKILL after a grace period) and leaves the database consistent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx

from collector.buckets import BucketSpec, local_today, to_local
from collector.clock import ManualClock, utcnow
from tablepulse_settings import SETTINGS_FIELDS, Settings

ROOT = Path(__file__).resolve().parents[1]


def free_port(preferred: int, host: str = "127.0.0.1") -> int:
    """The preferred port if it is free, else one the OS picks (0 means: let the OS pick)."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError("no free port on loopback")


def dashboard_command(s: Settings, port: int) -> list[str]:
    return [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "streamlit_app.py"),
            "--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false"]


def env_for(s: Settings) -> dict[str, str]:
    """Child processes get the resolved settings as TABLEPULSE_* variables (one source of truth)."""
    env = dict(os.environ)
    for name in SETTINGS_FIELDS:
        raw = getattr(s, name)   # real values (secrets too): children need them; never logged
        env[f"TABLEPULSE_{name.upper()}"] = ",".join(map(str, raw)) if isinstance(raw, list) else str(raw)
    env.pop("TABLEPULSE_CONFIG", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {proc.returncode} before answering")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


@dataclass
class Children:
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], env: dict[str, str], log_dir: Path) -> subprocess.Popen[bytes]:
        log_dir.mkdir(parents=True, exist_ok=True)
        out = open(log_dir / f"{name}.log", "ab")
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        self.procs.append((name, p))
        return p

    def stop_one(self, name: str, grace: float = 15.0) -> None:
        for n, p in self.procs:
            if n == name and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(grace)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.procs = [(n, p) for n, p in self.procs if n != name]

    def stop_all(self, grace: float = 15.0) -> None:
        """Stop in reverse order of start: readers first, the collector (writer) before the market."""
        for name, _p in reversed(list(self.procs)):
            self.stop_one(name, grace)


def progress_bar(label: str) -> Callable[[float, str], None]:
    tty = sys.stderr.isatty()
    last = [-1]

    def show(frac: float, note: str = "") -> None:
        pct = int(frac * 100)
        if not tty and pct // 10 == last[0] // 10 and frac < 1:
            return
        last[0] = pct
        bar = "#" * (pct // 4) + "-" * (25 - pct // 4)
        line = f"{label} [{bar}] {pct:3d}% {note}"
        sys.stderr.write(("\r" + line) if tty else line + "\n")
        if tty and frac >= 1:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


FAR_EVERY = 12     # each later date's bucket is polled every 12th coarse round (12 h at the default 1 h)
FINE_DAYS = 1.0    # over the last day of history...
FINE_ROUNDS = 10   # ...each coarse round starts a burst of this many rounds at the live cadence


@dataclass(frozen=True)
class HistoryRound:
    at: datetime
    far_phase: int | None   # later dates' buckets of this phase too (coarse rounds); None: near dates only


def far_phase(spec: BucketSpec) -> int:
    """Which coarse rounds poll a later-date bucket: spread over the 12 phases, so each hour of the day
    polls some of them and their drops are not all stamped at the same two hours."""
    return zlib.crc32(f"{spec.bucket_id}/{spec.party_size}".encode()) % FAR_EVERY


def history_plan(s: Settings, start: datetime, end: datetime, fine_days: float = FINE_DAYS,
                 fine_rounds: int = FINE_ROUNDS) -> list[HistoryRound]:
    """The rounds that build history, in time order; the last one is at end.

    Coarse, from start: a round every history_poll_interval_s for today's and tomorrow's buckets
    (where cancellations and expiries happen) and one FAR_EVERY-th of the later dates' buckets in turn.
    Fine, over the last `fine_days`: each coarse round is followed by `fine_rounds - 1` rounds of
    today's and tomorrow's buckets at the live cadence (bucket_cooldown_s). A table that opens in such
    a burst is timed to the live cadence instead of the hour, so fast-closing venues get resolved
    durations; a burst every hour, round the clock, samples every hour of the day alike, so drops by
    hour keep the market's shape.
    """
    step = timedelta(seconds=s.history_poll_interval_s)
    fine = timedelta(seconds=s.bucket_cooldown_s)
    fine_from = end - timedelta(days=fine_days)
    rounds: dict[datetime, int | None] = {}
    t, i = start, 0
    while t < end:
        rounds[t] = i % FAR_EVERY
        if t >= fine_from:
            for k in range(1, fine_rounds):
                if t + k * fine < min(end, t + step):
                    rounds.setdefault(t + k * fine, None)
        t, i = t + step, i + 1
    rounds.setdefault(end, None)
    return [HistoryRound(at, phase) for at, phase in sorted(rounds.items())]


def build_history(s: Settings, sim_url: str, start: datetime, end: datetime,
                  progress: Callable[[float, str], None] | None = None, fine_days: float = FINE_DAYS,
                  fine_rounds: int = FINE_ROUNDS) -> dict[str, int]:
    """Fast-forward the simulator from start to end through the live code path (provider HTTP ->
    parse -> diff -> store) on the rounds of history_plan, then run the nightly job at each local
    day boundary. Durations are interval-censored by the cadence of the rounds that saw them, and
    their bounds say so (DESIGN: store both bounds)."""
    from collector.nightly import run_nightly
    from collector.poller import Poller
    from collector.providers import make_provider
    from collector.scheduler import Scheduler
    from collector.store.writer import Store

    clock = ManualClock(start)
    store = Store(s.db_path, queue_max=s.writer_queue_max).start()
    provider = make_provider(s.replace(upstream_url=sim_url, rate_limit_per_s=1000.0))
    poller = Poller(store, provider, s, clock)
    sched = Scheduler(store, poller, s, clock)
    plan = history_plan(s, start, end, fine_days, fine_rounds)
    # progress by the buckets each round polls: today's and tomorrow's, plus on coarse rounds a twelfth
    # of the later dates
    weights = [1.0 + (s.window_days - 2) / (2 * FAR_EVERY) if r.far_phase is not None else 1.0 for r in plan]
    total, done = sum(weights), 0.0
    stats = {"rounds": 0, "polls": 0, "trusted": 0, "new_drops": 0, "closed": 0, "nightly_days": 0}
    day = local_today(start, s.timezone)
    try:
        with httpx.Client(base_url=sim_url, timeout=60) as admin:
            for i, rnd in enumerate(plan):
                t = rnd.at
                admin.post("/_sim/advance", json={"to": t.isoformat()}).raise_for_status()
                clock.set(t)
                today = local_today(t, s.timezone)
                while day < today:
                    run_nightly(store, day, s, t)
                    stats["nightly_days"] += 1
                    day += timedelta(days=1)
                def keep(b: BucketSpec, until: date = today + timedelta(days=1),
                         phase: int | None = rnd.far_phase) -> bool:
                    return b.bucket_date <= until or far_phase(b) == phase
                res = sched.poll_round(keep)
                stats["rounds"] += 1
                stats["polls"] += len(res)
                stats["trusted"] += sum(r.trusted for r in res)
                stats["new_drops"] += sum(r.n_new_drop for r in res)
                stats["closed"] += sum(r.n_closed for r in res)
                done += weights[i]
                if progress:
                    progress(done / total, f"{to_local(t, s.timezone):%a %d %b %H:%M}  drops {stats['new_drops']}")
    finally:
        sched.drain()
        provider.close()
        store.close()
    return stats


def db_has_history(path: str) -> bool:
    if not Path(path).exists():
        return False
    from analytics.db import connect

    con = connect(path, read_only=True)
    try:
        return bool(con.execute("SELECT count(*) FROM poll_ledger").fetchall()[0][0])
    except Exception:
        return False
    finally:
        con.close()


def up(s: Settings, fresh: bool = False, history_days: int | None = None,
       ready: Callable[[dict[str, str]], None] | None = None, stop_after: float | None = None) -> int:
    """Run everything until Ctrl-C (or stop_after seconds, for tests). Returns an exit code."""
    days = s.history_days if history_days is None else history_days
    log_dir = Path(s.db_path).parent / "logs"
    if fresh:
        for suffix in ("", ".wal"):
            p = Path(s.db_path + suffix)
            if p.exists():
                p.rename(p.with_name(p.name + f".old-{int(time.time())}"))
    host = "127.0.0.1"
    s = s.replace(sim_port=free_port(s.sim_port), tracking_port=free_port(s.tracking_port),
                  dashboard_port=free_port(s.dashboard_port), tracking_host=host)
    sim_url = f"http://{host}:{s.sim_port}"
    s = s.replace(upstream_url=sim_url)
    Path(s.db_path).parent.mkdir(parents=True, exist_ok=True)
    children = Children()
    stopping = {"flag": False}

    def on_signal(signum: int, _f: object) -> None:
        stopping["flag"] = True
        raise KeyboardInterrupt

    old = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    env = env_for(s)
    sim_cmd = [sys.executable, "-m", "simulator", "serve", "--host", host, "--port", str(s.sim_port),
               "--seed", str(s.sim_seed), "--venues", str(s.sim_venues), "--api-key", s.api_key]
    try:
        now = utcnow().replace(microsecond=0)
        if days > 0 and not db_has_history(s.db_path):
            start = now - timedelta(days=days)
            print(f"building {days} days of history on the simulated market ({s.sim_venues} venues)...", flush=True)
            hist = children.start("market-history", [*sim_cmd, "--speed", "0", "--start", start.isoformat()], env, log_dir)
            wait_http(sim_url + "/_sim/health", proc=hist)
            t0 = time.monotonic()
            stats = build_history(s, sim_url, start, now, progress_bar("history"))
            print(f"history built in {time.monotonic() - t0:.0f} s: {stats}", flush=True)
            children.stop_one("market-history")
            now = utcnow().replace(microsecond=0)
        sim = children.start("market", [*sim_cmd, "--speed", "1", "--start", now.isoformat()], env, log_dir)
        wait_http(sim_url + "/_sim/health", proc=sim)
        col = children.start("collector", [sys.executable, "-m", "collector", "collect"], env, log_dir)
        wait_http(f"http://{host}:{s.tracking_port}/health", timeout=90, proc=col)
        children.start("alerts", [sys.executable, "-m", "simulator.alerts", "--endpoint", f"http://{host}:{s.tracking_port}",
                                  "--snapshot", s.snapshot_path, "--write-key", s.write_keys[0],
                                  "--seed", str(s.sim_seed)], env, log_dir)
        dash = children.start("dashboard", dashboard_command(s, s.dashboard_port), env, log_dir)
        dash_url = f"http://{host}:{s.dashboard_port}"
        wait_http(dash_url + "/_stcore/health", timeout=90, proc=dash)
        urls = {"dashboard": dash_url, "collector": f"http://{host}:{s.tracking_port}/health",
                "tracking": f"http://{host}:{s.tracking_port}/docs", "market": sim_url + "/_sim/health",
                "logs": str(log_dir)}
        print("\nTablepulse is running:", flush=True)
        for k, v in urls.items():
            print(f"  {k:<10} {v}", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        if ready:
            ready(urls)
        t_end = None if stop_after is None else time.monotonic() + stop_after
        while t_end is None or time.monotonic() < t_end:
            for name, child in children.procs:
                if child.poll() is not None and name != "alerts":
                    print(f"{name} exited with code {child.returncode}; see {log_dir / (name + '.log')}",
                          file=sys.stderr)
                    return 1
            time.sleep(0.5)
        return 0
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            children.stop_all()
        for sig, h in old.items():
            signal.signal(sig, h)
