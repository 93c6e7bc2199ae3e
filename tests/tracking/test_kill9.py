"""A kill -9 of `python -m collector.tracking` right after 2xx answers loses nothing: restart it on
the same file and every acknowledged message_id is there (a 2xx means committed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx

from .conftest import free_port

KEY = "kill-test-key"
ROOT = Path(__file__).resolve().parents[2]


def start(db: Path, port: int) -> subprocess.Popen[bytes]:
    p = subprocess.Popen([sys.executable, "-m", "collector.tracking", "--db", str(db), "--port", str(port),
                          "--write-key", KEY], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"server exited: {p.stderr.read().decode()[-2000:] if p.stderr else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return p
        except httpx.HTTPError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError("server did not start")


def event() -> dict[str, str]:
    return {"message_id": str(uuid.uuid4()), "alert_id": "a", "user_id": "u", "event_type": "alert_opened",
            "occurred_at": "2026-03-06T18:00:00Z", "sent_at": "2026-03-06T18:00:01Z"}


def test_kill9_after_2xx_loses_nothing(tmp_path):
    db = tmp_path / "k.duckdb"
    port = free_port()
    p = start(db, port)
    acked: list[str] = []
    h = {"Authorization": f"Bearer {KEY}"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            def single(_: int) -> str | None:
                e = event()
                r = c.post("/v1/events", json=e, headers=h)
                return e["message_id"] if r.status_code == 201 else None

            with ThreadPoolExecutor(16) as ex:
                acked += [m for m in ex.map(single, range(300)) if m]
            batch = [event() for _ in range(400)]
            r = c.post("/v1/batch", json={"events": batch}, headers=h)
            assert r.status_code == 200
            acked += [e["message_id"] for e in batch]
            # the very last 2xx, then kill -9 immediately: no graceful shutdown, no checkpoint
            last = event()
            assert c.post("/v1/events", json=last, headers=h).status_code == 201
            acked.append(last["message_id"])
            os.kill(p.pid, signal.SIGKILL)
            p.wait(10)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    assert len(acked) == 701

    p2 = start(db, port)  # the restarted service replays the WAL and still has everything
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as c:
            r = c.post("/v1/events", json={**event(), "message_id": acked[-1]}, headers=h)
            assert r.status_code == 200 and r.json()["duplicate"] is True
    finally:
        p2.send_signal(signal.SIGTERM)
        p2.wait(20)
    con = duckdb.connect(str(db), read_only=True)
    try:
        stored = {r[0] for r in con.execute("SELECT message_id FROM alert_events").fetchall()}
    finally:
        con.close()
    assert set(acked) <= stored
    assert len(stored) == len(set(acked))
