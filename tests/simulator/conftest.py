"""Fixtures for the simulator tests: a small seeded market served on loopback, and an authed client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sim_helpers import AUTH, START

from simulator.model import Market
from simulator.server import RunningServer, start_server


@pytest.fixture
def market() -> Market:
    return Market(7, n_venues=150, start=START)


@pytest.fixture
def server(market: Market) -> Iterator[RunningServer]:
    with start_server(market) as srv:
        yield srv


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as c:
        yield c
