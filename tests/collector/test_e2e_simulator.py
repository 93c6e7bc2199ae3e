"""End to end on loopback: the real simulator, provider client, poller and store in accelerated time.

Checks what the collector stores against the simulator's ground truth: every true open interval
longer than two poll intervals is found with its true open/close instants inside the recorded
bounds; injected faults never produce a CLOSED; injected 429s are waited out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import pytest

from collector.clock import ManualClock
from collector.poller import Poller
from collector.providers import make_provider
from collector.scheduler import Scheduler
from collector.store.writer import Store
from simulator.faults import FaultRule
from simulator.model import Market
from simulator.server import start_server
from tablepulse_settings import Settings

START = datetime(2026, 11, 3, 18, 0)   # 13:00 in New York: the evening's cancellations are coming
POLL_S = 30


def collect(tmp_path, *, venues=30, rounds=240, faults=None, seed=5, settings_over=None):
    market = Market(seed, venues, start=START, speed=0)
    server = start_server(market, faults=faults)
    s = Settings().replace(db_path=str(tmp_path / "c.duckdb"), upstream_url=server.url, window_days=1,
                           time_slots=["19:00"], prime_time_slots=["19:00"], party_sizes=[2],
                           rate_limit_per_s=1000.0, read_timeout_s=0.5, backoff_base_s=0.01, backoff_cap_s=3.0,
                           breaker_failures=100, **(settings_over or {}))
    clock = ManualClock(START)
    store = Store(s.db_path).start()
    provider = make_provider(s)
    sched = Scheduler(store, Poller(store, provider, s, clock), s, clock)
    try:
        for i in range(rounds):
            t = START + timedelta(seconds=POLL_S * i)
            market.advance_to(t)
            clock.set(t)
            sched.poll_round()
    finally:
        sched.drain()
        provider.close()
        store.close()
    end = START + timedelta(seconds=POLL_S * (rounds - 1))
    return market, server, s, end


def stored(db_path):
    con = duckdb.connect(db_path, read_only=True)
    try:
        iv = con.execute(
            "SELECT venue_id, slot_date::VARCHAR, slot_time::VARCHAR, table_type, source, opened_lo, opened_hi, closed_lo, "
            "closed_hi, end_reason, duration_s FROM slot_intervals").fetchall()
        op = con.execute(
            "SELECT venue_id, slot_date::VARCHAR, slot_time::VARCHAR, table_type, source, opened_lo, opened_hi "
            "FROM open_slots").fetchall()
        ledger = con.execute("SELECT started_at, trusted, outcome FROM poll_ledger ORDER BY started_at").fetchall()
        closed_polls = con.execute(
            "SELECT e.observed_at, l.trusted FROM availability_events e JOIN poll_ledger l USING (poll_id) "
            "WHERE e.event_type = 'CLOSED'").fetchall()
    finally:
        con.close()
    return iv, op, ledger, closed_polls


def truth(market, end):
    return [t for t in market.truth_intervals(START, end) if t["party_size"] == 2]


def first_live_poll(ledger):
    return min(t for t, trusted, _o in ledger if trusted and t > START + timedelta(seconds=2 * POLL_S))


def _key(r):
    return (r[0], r[1], r[2], r[3])


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("clean")
    market, server, s, end = collect(d, rounds=200)
    yield market, s, end
    server.stop()


def test_every_long_true_interval_is_found_within_its_bounds(clean_run):
    market, s, end = clean_run
    iv, op, ledger, _ = stored(s.db_path)
    live_from = first_live_poll(ledger)
    by_key: dict = {}
    for r in iv:
        by_key.setdefault(_key(r), []).append(r)
    open_by_key = {_key(r): r for r in op}
    checked = 0
    for t in truth(market, end):
        opened, closed = t["opened_at"], t["closed_at"]
        if opened <= live_from or (closed or end) - opened <= timedelta(seconds=2 * POLL_S):
            continue
        if closed is not None and closed > end - timedelta(seconds=POLL_S):
            continue
        k = (t["venue_id"], t["slot_date"], t["slot_time"], t["table_type"])
        cands = [r for r in by_key.get(k, []) if r[5] is not None and r[5] < opened <= r[6]]
        if closed is None:
            o = open_by_key.get(k)
            assert o is not None and o[5] < opened <= o[6], f"open interval {t} not tracked"
            checked += 1
            continue
        assert len(cands) == 1, f"true interval {t} not stored exactly once: {by_key.get(k)}"
        r = cands[0]
        assert r[7] < closed <= r[8], f"close {closed} outside [{r[7]}, {r[8]}]"
        assert r[9] == ("closed" if t["reason"] == "booked" else "expired")
        assert r[4] in ("drop", "reopen")
        true_s = (closed - opened).total_seconds()
        assert (r[7] - r[6]).total_seconds() <= true_s <= (r[8] - r[5]).total_seconds()
        assert (r[7] - r[6]).total_seconds() <= r[10] <= (r[8] - r[5]).total_seconds()
        checked += 1
    assert checked >= 30, f"only {checked} true intervals were long enough to check"


def test_stored_closes_are_true_closes(clean_run):
    market, s, end = clean_run
    iv, _op, _ledger, _ = stored(s.db_path)
    true_closes: dict = {}
    for t in truth(market, end):
        if t["closed_at"] is not None:
            true_closes.setdefault((t["venue_id"], t["slot_date"], t["slot_time"], t["table_type"]), []).append(t)
    closed = [r for r in iv if r[9] == "closed"]
    assert closed
    for r in closed:
        ts = [t for t in true_closes.get(_key(r), []) if r[7] < t["closed_at"] <= r[8]]
        assert ts and all(t["reason"] == "booked" for t in ts), f"stored close {r} has no true booking in its bounds"


FAULTS = [
    ("http_500", {}), ("http_503", {}), ("rate_limit", {"retry_after": 1}), ("rate_limit_date", {"retry_after": 1}),
    ("slow", {"delay": 1.0}), ("malformed", {}), ("challenge_200", {}), ("challenge_403", {}),
    ("drift_rename", {}), ("drift_missing_id", {}), ("missing_page", {}), ("empty_results", {}),
]


@pytest.mark.parametrize("kind, extra", FAULTS, ids=[k for k, _ in FAULTS])
def test_faults_never_produce_a_closed(tmp_path, kind, extra):
    # a burst mid-run: the fault answers the next requests; the collector must hold its state
    rules = [FaultRule(kind=kind, probability=0.25, path="search", **extra)]
    over = {"max_retries": 0} if kind.startswith("rate_limit") else {}
    venues = 150 if kind == "missing_page" else 12      # a missing page needs a paginated answer
    rounds = 20 if kind.startswith("rate_limit") else 40  # those wait out real Retry-After seconds
    market, server, s, end = collect(tmp_path, venues=venues, rounds=rounds, faults=rules, settings_over=over)
    iv, _op, ledger, closed_polls = stored(s.db_path)
    injected = len(server.faults.injected())
    assert injected, f"{kind}: nothing injected"
    outcomes = {o for _t, tr, o in ledger if not tr}
    assert outcomes, f"{kind}: no poll was untrusted, the fault did not reach the collector"
    assert all(trusted for _t, trusted in closed_polls)
    true_closes: dict = {}
    for t in truth(market, end):
        if t["closed_at"] is not None:
            true_closes.setdefault((t["venue_id"], t["slot_date"], t["slot_time"], t["table_type"]), []).append(t)
    for r in iv:
        if r[9] == "closed":
            assert any(r[7] < t["closed_at"] <= r[8] for t in true_closes.get(_key(r), [])), \
                f"{kind}: CLOSED {r} without a true close in its bounds (injected {injected})"
    server.stop()


def test_rate_limits_are_waited_out(tmp_path):
    rules = [FaultRule(kind="rate_limit", probability=0.3, path="search", retry_after=1),
             FaultRule(kind="rate_limit_date", probability=0.2, path="search", retry_after=2)]
    _market, server, _s, _end = collect(tmp_path, venues=8, rounds=8, faults=rules)
    log = server.requests
    limited = [r for r in log if r["status"] == 429]
    assert {r["fault"] for r in limited} == {"rate_limit", "rate_limit_date"}
    for r in limited:
        # the floor each answer announced: 1 s, or an HTTP-date (whole seconds) 1 + 2 s ahead
        floor = r["wall_time"] + 1 if r["fault"] == "rate_limit" else int(r["wall_time"]) + 3
        later = [x["wall_time"] for x in log if x["request_no"] > r["request_no"]]
        if later:
            assert min(later) >= floor - 0.01, f"a request came {floor - min(later):.2f} s before Retry-After of {r}"
    server.stop()
