"""The shared HTTP policy (collector/providers/base.py), driven through the Resy client on MockTransport.

Backoff bounds, Retry-After (both forms) as a floor, the retry budget, rate-limit spacing and the
circuit breaker. A fake monotonic clock advances only when the code under test sleeps.
"""

from __future__ import annotations

import json
import random
import threading
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from collector.providers.base import CircuitBreaker, Outcome, RetryBudget, backoff_delay, parse_retry_after
from collector.providers.resy import ResyProvider
from tablepulse_settings import Settings
from tests.collector.provider_fakes import DAY, FIXTURE, WALL, FakeClock


class Upstream:
    """Scripted responses (the last one repeats); records the fake time of every request."""

    def __init__(self, clock: FakeClock, *responses: httpx.Response | None) -> None:
        self.clock = clock
        self.responses = list(responses)
        self.times: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.times.append(self.clock.monotonic())
        r = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        return r if r is not None else httpx.Response(200, json=FIXTURE)


def make(clock: FakeClock, upstream: Any, **overrides: Any) -> ResyProvider:
    s = Settings().replace(upstream_url="http://resy.test", **{"rate_limit_per_s": 1000.0, **overrides})
    return ResyProvider(s, transport=httpx.MockTransport(upstream), sleep=clock.sleep,
                        monotonic=clock.monotonic, rng=random.Random(3), wall_clock=lambda: WALL)


OK = None  # Upstream shorthand for the recorded fixture


# --- backoff --------------------------------------------------------------------------------


def test_backoff_is_full_jitter_under_a_capped_exponential() -> None:
    rng = random.Random(11)
    base, cap = 0.5, 30.0
    for attempt in [0, 1, 2, 3, 5, 8, 70, 10_000]:
        bound = min(cap, base * 2 ** min(attempt, 64))
        draws = [backoff_delay(attempt, base, cap, rng) for _ in range(300)]
        assert all(0.0 <= d <= bound for d in draws)
        assert min(draws) < 0.1 * bound and max(draws) > 0.9 * bound  # spread over the whole range


def test_retries_sleep_within_the_backoff_bounds() -> None:
    clock = FakeClock()
    up = Upstream(clock, httpx.Response(500))
    res = make(clock, up, max_retries=3, backoff_base_s=0.5, backoff_cap_s=1.0).search(DAY, "19:00", 2)
    assert res.outcome is Outcome.SERVER_ERROR and res.requests == 4
    gaps = [b - a for a, b in zip(up.times, up.times[1:], strict=False)]
    assert all(0 <= g <= min(1.0, 0.5 * 2**i) + 0.001 for i, g in enumerate(gaps))  # +1 ms rate spacing
    assert len(set(gaps)) == 3  # jittered, not a fixed schedule


# --- Retry-After ----------------------------------------------------------------------------


def test_parse_retry_after_both_forms() -> None:
    assert parse_retry_after("7", WALL) == 7.0
    assert parse_retry_after(format_datetime(WALL + timedelta(seconds=12), usegmt=True), WALL) == 12.0
    assert parse_retry_after(format_datetime(WALL - timedelta(seconds=12), usegmt=True), WALL) == 0.0
    assert parse_retry_after("soon", WALL) is None and parse_retry_after("-3", WALL) is None
    assert parse_retry_after(None, WALL) is None


@pytest.mark.parametrize("header", ["7", format_datetime(WALL + timedelta(seconds=7), usegmt=True)],
                         ids=["delta-seconds", "http-date"])
def test_retry_after_is_a_floor_for_the_retry(header: str) -> None:
    clock = FakeClock()
    up = Upstream(clock, httpx.Response(429, headers={"Retry-After": header}), OK)
    res = make(clock, up, backoff_base_s=0.01).search(DAY, "19:00", 2)
    assert res.outcome is Outcome.OK and res.requests == 2
    assert up.times[1] - up.times[0] >= 7.0
    assert sum(clock.sleeps) >= 7.0 - 1e-9


def test_a_long_retry_after_ends_the_poll_and_holds_back_every_later_request() -> None:
    clock = FakeClock()
    up = Upstream(clock, httpx.Response(429, headers={"Retry-After": "120"}), OK)
    provider = make(clock, up, backoff_cap_s=5.0, breaker_failures=2)
    first = provider.search(DAY, "19:00", 2)
    assert first.outcome is Outcome.RATE_LIMITED and first.retry_after_s == 120.0 and first.requests == 1
    clock.t += 60
    second = provider.search(DAY, "15:00", 4)  # another bucket: the floor is per provider
    assert second.outcome is Outcome.RATE_LIMITED and second.requests == 0 and len(up.times) == 1
    assert second.retry_after_s == pytest.approx(60.0)
    provider.search(DAY, "19:00", 2)  # polls held back without a request are no news for the breaker
    assert provider.health()["breaker_state"] == "closed"
    clock.t += 60
    assert provider.search(DAY, "19:00", 2).outcome is Outcome.OK
    assert up.times[1] - up.times[0] >= 120.0


def test_the_floor_holds_back_every_thread() -> None:
    clock = FakeClock()
    up = Upstream(clock, httpx.Response(429, headers={"Retry-After": "90"}), OK)
    provider = make(clock, up, backoff_cap_s=5.0, breaker_failures=100)
    assert provider.search(DAY, "19:00", 2).outcome is Outcome.RATE_LIMITED

    def eight_concurrent_polls() -> list[Outcome]:
        out: list[Outcome] = []
        threads = [threading.Thread(target=lambda: out.append(provider.search(DAY, "19:00", 2).outcome))
                   for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    assert eight_concurrent_polls() == [Outcome.RATE_LIMITED] * 8 and len(up.times) == 1
    clock.t += 90
    assert eight_concurrent_polls() == [Outcome.OK] * 8
    assert len(up.times) == 9 and min(up.times[1:]) >= up.times[0] + 90


# --- retry budget ---------------------------------------------------------------------------


def test_retry_budget_share_over_a_sliding_minute() -> None:
    clock = FakeClock()
    budget = RetryBudget(0.2, clock.monotonic, min_retries=0)
    for _ in range(10):
        budget.note_request()
    assert [budget.try_retry() for _ in range(3)] == [True, True, False]  # 2/12 ok, 3/13 > 0.2
    clock.t += 61
    for _ in range(5):
        budget.note_request()
    assert budget.try_retry() and budget.usage() == (6, 1)
    assert not RetryBudget(0.0, clock.monotonic).try_retry()


def test_retry_budget_stops_retries_during_an_outage() -> None:
    clock = FakeClock()
    up = Upstream(clock, httpx.Response(500))
    provider = make(clock, up, max_retries=3, retry_budget=0.2, breaker_failures=100,
                    backoff_base_s=0.01, backoff_cap_s=0.1)
    results = [provider.search(DAY, "19:00", 2) for _ in range(60)]
    retries = len(up.times) - 60
    # A floor of 10 retries a minute lets the first polls retry fully; after that retries stay
    # within 20% of all requests (without a budget there would be 180 of them).
    assert [r.requests for r in results[:3]] == [4, 4, 4]
    assert results[4].requests == 1 and "retry budget exhausted" in results[4].detail
    assert 10 <= retries <= 0.2 * len(up.times)
    assert provider.health()["retry_budget_used"] <= 0.2 + 1e-9


# --- rate limit -----------------------------------------------------------------------------


def test_requests_are_spaced_by_the_rate_limit() -> None:
    clock = FakeClock()
    hits = [{"id": v, "name": f"V{v}", "availability": {"slots": []}} for v in range(300)]

    def upstream(request: httpx.Request) -> httpx.Response:
        times.append(clock.monotonic())
        p = json.loads(request.content)["page"]
        return httpx.Response(200, json={"search": {"hits": hits[(p - 1) * 75:p * 75], "nbHits": 300,
                                                    "nbPages": 4}})

    times: list[float] = []
    provider = make(clock, upstream, rate_limit_per_s=2.0)
    assert provider.search(DAY, "19:00", 2).pages == 4
    provider.search(DAY, "19:00", 2)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) == 7 and all(g >= 0.5 - 1e-9 for g in gaps)


# --- circuit breaker ------------------------------------------------------------------------


def test_breaker_opens_half_opens_and_closes() -> None:
    clock = FakeClock()
    up = Upstream(clock, httpx.Response(500))
    provider = make(clock, up, max_retries=0, breaker_failures=3, breaker_reset_s=10.0)
    assert [provider.search(DAY, "19:00", 2).outcome for _ in range(3)] == [Outcome.SERVER_ERROR] * 3
    assert provider.health()["breaker_state"] == "open"

    shut = provider.search(DAY, "19:00", 2)
    assert shut.outcome is Outcome.BREAKER_OPEN and shut.requests == 0 and len(up.times) == 3
    assert shut.retry_after_s == pytest.approx(10.0) and "3 consecutive failed polls" in shut.detail

    clock.t += 10
    assert provider.health()["breaker_state"] == "half_open"
    assert provider.search(DAY, "19:00", 2).outcome is Outcome.SERVER_ERROR  # the trial fails...
    assert provider.health()["breaker_state"] == "open"  # ...and it opens again at once
    assert provider.search(DAY, "19:00", 2).outcome is Outcome.BREAKER_OPEN

    clock.t += 10
    up.responses = [OK]
    assert provider.search(DAY, "19:00", 2).outcome is Outcome.OK
    health = provider.health()
    assert (health["breaker_state"], health["consecutive_failures"]) == ("closed", 0)
    assert health["outcome_counts"]["breaker_open"] == 2 and health["last_outcome"] == "ok"


def test_half_open_lets_exactly_one_trial_through() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(failures=1, reset_s=5.0, monotonic=clock.monotonic)
    breaker.record(False)
    assert breaker.allow() == pytest.approx(5.0)
    clock.t += 5
    assert breaker.allow() is None  # the trial
    assert breaker.allow() is not None  # everyone else waits for its verdict
    breaker.record(True)
    assert breaker.state == "closed" and breaker.allow() is None


def test_failures_that_are_not_consecutive_do_not_open_the_breaker() -> None:
    clock = FakeClock()
    up = Upstream(clock, httpx.Response(500), httpx.Response(500), OK, httpx.Response(500), httpx.Response(500), OK)
    provider = make(clock, up, max_retries=0, breaker_failures=3)
    outcomes = [provider.search(DAY, "19:00", 2).outcome for _ in range(6)]
    assert Outcome.BREAKER_OPEN not in outcomes and provider.health()["breaker_state"] == "closed"
