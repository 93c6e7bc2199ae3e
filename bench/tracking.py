"""Tracking endpoint on loopback: single-event POSTs at 64 concurrent clients and 500-event batches,
group commit (coalesced jobs + Store group commit) against a commit-per-request baseline
(`--max-group 1 --no-coalesce`) in the same run. Servers run as `python -m collector.tracking`
subprocesses (the client must not share the server's GIL); the client is a minimal asyncio
HTTP/1.1 keep-alive client so that it is not the bottleneck. After each phase the server is stopped
and the rows are counted: every acknowledged message_id stored exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx

from bench.common import percentile, result

KEY = "bench-write-key"
ROOT = Path(__file__).resolve().parents[1]
SIZES = {  # single events (group), single events (baseline), batches of 500, batch concurrency
    "small": (3000, 400, 60, 4),
    "default": (12000, 1500, 200, 4),
    "large": (40000, 3000, 600, 4),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, db: Path, baseline: bool) -> None:
        self.db, self.port = db, _free_port()
        args = [sys.executable, "-m", "collector.tracking", "--db", str(db), "--port", str(self.port),
                "--write-key", KEY]
        if baseline:
            args += ["--max-group", "1", "--no-coalesce"]
        self.p = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.p.poll() is not None:
                self.p.kill()
                raise RuntimeError("tracking server did not start")
            time.sleep(0.05)

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server process so far (all its threads), from /proc."""
        try:
            with open(f"/proc/{self.p.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return float("nan")

    def stop(self) -> None:
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(10)


def _event() -> dict[str, Any]:
    return {"message_id": str(uuid.uuid4()), "alert_id": uuid.uuid4().hex[:12], "user_id": "bench-user",
            "event_type": "alert_opened", "occurred_at": "2026-03-06T18:00:00Z", "sent_at": "2026-03-06T18:00:01Z",
            "venue_id": 42, "goal_match_score": 0.8, "metadata": {"platform": "ios"}}


class Conn:
    """One keep-alive HTTP/1.1 connection: POST JSON, read status + Content-Length body."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.r: asyncio.StreamReader | None = None
        self.w: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.w is None:
            self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.r is not None
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.w.write(head + body)
        await self.w.drain()
        status_line = await self.r.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.r.readline()
            if line in (b"\r\n", b""):
                break
            k, _, v = line.decode().partition(":")
            if k.lower() == "content-length":
                length = int(v)
        return status, await self.r.readexactly(length)

    def close(self) -> None:
        if self.w is not None:
            self.w.close()


async def _load(port: int, payloads: list[tuple[str, bytes, list[str]]], clients: int) -> tuple[float, list[float], list[str]]:
    """Send every payload (retrying 503s) with CLIENTS connections; returns wall time, latencies, acked ids."""
    queue = list(reversed(payloads))
    lat: list[float] = []
    acked: list[str] = []

    async def worker() -> None:
        c = Conn(port)
        try:
            while queue:
                path, body, ids = queue.pop()
                while True:
                    t0 = time.perf_counter()
                    status, _ = await c.post(path, body)
                    if status == 503:
                        await asyncio.sleep(0.05)
                        continue
                    lat.append(time.perf_counter() - t0)
                    if status not in (200, 201):
                        raise RuntimeError(f"{path} answered {status}")
                    acked.extend(ids)
                    break
        finally:
            c.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return time.perf_counter() - t0, lat, acked


def _count(db: Path, acked: list[str]) -> tuple[int, int]:
    """(lost, duplicated): acknowledged ids missing from the table; rows beyond one per acked id."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = [r[0] for r in con.execute("SELECT message_id FROM alert_events").fetchall()]
    finally:
        con.close()
    lost = len(set(acked) - set(stored))
    return lost, len(stored) - len(set(acked) & set(stored))


def _phase(tmp: Path, name: str, baseline: bool, payloads: list[tuple[str, bytes, list[str]]],
           clients: int) -> dict[str, Any]:
    db = tmp / f"{name}.duckdb"
    srv = Server(db, baseline)
    try:
        # warm-up: a few requests so imports/JIT-ish first-call costs are not measured
        warm = asyncio.run(_load(srv.port, _singles(20), 4))[2]
        cpu0 = srv.cpu_s()
        wall, lat, acked = asyncio.run(_load(srv.port, payloads, clients))
        cpu = srv.cpu_s() - cpu0
        acked += warm
    finally:
        srv.stop()
    lost, dup = _count(db, acked)
    n_events = sum(len(ids) for _, _, ids in payloads)
    return {"events_per_s": n_events / wall, "p99_ms": percentile([x * 1000 for x in lat], 99),
            "cpu_ms_per_1000": cpu * 1e6 / n_events,
            "p50_ms": percentile([x * 1000 for x in lat], 50), "lost": lost, "dup": dup}


def _singles(n: int) -> list[tuple[str, bytes, list[str]]]:
    out = []
    for _ in range(n):
        e = _event()
        out.append(("/v1/events", json.dumps(e).encode(), [e["message_id"]]))
    return out


def _batches(n: int) -> list[tuple[str, bytes, list[str]]]:
    out = []
    for _ in range(n):
        es = [_event() for _ in range(500)]
        out.append(("/v1/batch", json.dumps({"events": es}).encode(), [e["message_id"] for e in es]))
    return out


def run(size: str = "default") -> Iterator[dict[str, Any]]:
    """Rows: throughput and latency against the targets; the server's CPU per 1,000 events (all its
    threads; less sensitive than wall time to other work on the machine); the 1-minute load average
    at the start and the end (2 cores: above 2 means the bench did not have the machine)."""
    n_single, n_base, n_batches, batch_clients = SIZES[size]
    yield result("tracking", "load_avg_1min_at_start", os.getloadavg()[0], "runnable")
    with tempfile.TemporaryDirectory(prefix="tp-bench-tracking-") as d:
        tmp = Path(d)
        base = _phase(tmp, "single_base", True, _singles(n_base), 64)
        grp = _phase(tmp, "single_group", False, _singles(n_single), 64)
        yield result("tracking", "single_events_per_s_64_clients", grp["events_per_s"], "events/s", target=1500,
                     baseline=base["events_per_s"], higher_is_better=True)
        yield result("tracking", "single_p99_ms_64_clients", grp["p99_ms"], "ms", target=100,
                     baseline=base["p99_ms"])
        yield result("tracking", "single_p50_ms_64_clients", grp["p50_ms"], "ms", baseline=base["p50_ms"])
        yield result("tracking", "single_server_cpu_ms_per_1000_events", grp["cpu_ms_per_1000"], "ms",
                     baseline=base["cpu_ms_per_1000"])
        bbase = _phase(tmp, "batch_base", True, _batches(max(4, n_batches // 5)), batch_clients)
        bgrp = _phase(tmp, "batch_group", False, _batches(n_batches), batch_clients)
        yield result("tracking", "batch500_events_per_s", bgrp["events_per_s"], "events/s", target=20000,
                     baseline=bbase["events_per_s"], higher_is_better=True)
        yield result("tracking", "batch500_p99_ms", bgrp["p99_ms"], "ms", baseline=bbase["p99_ms"])
        yield result("tracking", "batch500_server_cpu_ms_per_1000_events", bgrp["cpu_ms_per_1000"], "ms",
                     baseline=bbase["cpu_ms_per_1000"])
        lost = sum(p["lost"] for p in (base, grp, bbase, bgrp))
        dup = sum(p["dup"] for p in (base, grp, bbase, bgrp))
        yield result("tracking", "lost_events", lost, "events", target=0)
        yield result("tracking", "duplicated_events", dup, "events", target=0)
    yield result("tracking", "load_avg_1min_at_end", os.getloadavg()[0], "runnable")
