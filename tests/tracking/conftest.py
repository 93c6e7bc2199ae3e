"""Fixtures for the tracking endpoint tests: a real Store on a tmp DuckDB file, the app, and a
uvicorn server on 127.0.0.1 in a thread (for behaviour that is about HTTP)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from collector.clock import ManualClock
from collector.store.writer import Store
from collector.tracking.app import create_app
from collector.tracking.server import config as server_config
from tablepulse_settings import Settings

KEY = "test-write-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
T0 = datetime(2026, 3, 6, 18, 0, 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def settings() -> Settings:
    return Settings().replace(write_keys=[KEY, "second-key"], cors_origins=["https://app.example"])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "t.duckdb").start()
    yield s
    s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def client(settings: Settings, store: Store, clock: ManualClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, store, clock)) as c:
        yield c


class ServerThread:
    """The app served as the collector serves it (``server.config``), on loopback; ``limits`` are
    config's keyword arguments (shorter timeouts in the limit tests)."""

    def __init__(self, app: object, **limits: float) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(server_config(app, "127.0.0.1", self.port, **limits))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@pytest.fixture
def server(settings: Settings, store: Store, clock: ManualClock) -> Iterator[ServerThread]:
    with ServerThread(create_app(settings, store, clock)) as s:
        yield s
