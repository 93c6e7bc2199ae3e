"""Statistical tests: over a long fast-forwarded run, each tier's bookings and drops match the events the
model's parameters predict within 5%, cancellations follow their lead bands (rising before the date), and
the activity clock is the integral of the hour-of-day profile."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from sim_helpers import START, open_and_drop_estimates

from simulator.model import CANCEL_LEAD_EDGES, TIER_RANGES, TIERS, TZ, ActivityClock, Market, local_to_ts


@pytest.fixture(scope="module")
def run() -> tuple[Market, dict[str, np.ndarray], dict[str, np.ndarray]]:
    m = Market(11, n_venues=160, start=START)
    days = [(START + timedelta(days=i)).date() for i in range(15)]
    for _ in range(3):  # three days, every slot of the 15-day window, all party classes, 8-hour steps
        m.materialize(days, (2, 4, 6), (None,))
        m.advance(8 * 3600)
    f = m.truth_frame()
    return m, f, open_and_drop_estimates(m, f)


def test_each_tier_recovers_its_mean_open_duration_and_drop_rate(
        run: tuple[Market, dict[str, np.ndarray], dict[str, np.ndarray]]) -> None:
    m, f, e = run
    tier_of = {v.venue_id: v.tier for v in m.venues}
    open_tier = np.array([tier_of[int(v)] for v in f["venue_id"]])
    drop_tier = np.array([tier_of[int(v)] for v in e["booked_venue"]])
    booked_expected = e["booked_expected_by_band"].sum(axis=0)
    for tier in TIERS:
        s, b = open_tier == tier, drop_tier == tier
        bookings = e["open_event"][s].sum()
        assert bookings > 4000, f"{tier}: too few bookings ({bookings}) for a 5% check"
        assert abs(bookings / e["open_expected"][s].sum() - 1) < 0.05, (tier, bookings, e["open_expected"][s].sum())
        drops = e["booked_event"][b].sum()
        assert drops > 4000, f"{tier}: too few drops ({drops})"
        assert abs(drops / booked_expected[b].sum() - 1) < 0.05, (tier, drops, booked_expected[b].sum())
        # and the tier's scale is what it advertises: prime open spells, wall-clock mean
        lo, hi = TIER_RANGES[tier]["mean_open_prime_s"]
        prime = s & (f["minute"] >= 18 * 60) & (f["minute"] <= 21 * 60)
        raw_mean = e["open_exposure"][prime].sum() / max(1, e["open_event"][prime].sum())
        assert lo / 2 < raw_mean < hi * 1.25, (tier, raw_mean, lo, hi)


def test_cancellations_follow_their_lead_bands_and_rise_before_the_date(
        run: tuple[Market, dict[str, np.ndarray], dict[str, np.ndarray]]) -> None:
    m, _, e = run
    lead_at_event = e["booked_slot_start"] - e["booked_end"]
    band = np.searchsorted(np.asarray(CANCEL_LEAD_EDGES), lead_at_event, side="left")
    rate = {}
    for i in range(3):  # the bands a 3-day run fills: <= 1 day, 1-2 days, 2-7 days before the slot
        drops = int((e["booked_event"] & (band == i)).sum())
        expected = e["booked_expected_by_band"][i].sum()
        assert drops > 2000, (i, drops)
        assert abs(drops / expected - 1) < 0.05, (i, drops, expected)
        rate[i] = drops / expected * m.model_parameters()["cancel_lead_factors"][i]
    assert rate[1] > rate[0] > 2 * rate[2], rate


def test_activity_clock_is_the_integral_of_the_hour_profile_across_a_dst_change() -> None:
    clock = ActivityClock()
    profile = np.asarray(Market.model_parameters()["activity_profile"])
    assert profile.shape == (24,) and abs(profile.mean() - 1) < 1e-12
    for first in (date(2026, 11, 23), date(2026, 10, 31)):  # an ordinary week; one spanning Nov 1 (25 h)
        clock.cover(first, first + timedelta(days=3))
        t0 = local_to_ts(first, 0)
        grid = t0 + np.arange(0, 3 * 86400 + 3600, 60.0)
        hours = np.array([datetime.fromtimestamp(x, TZ).hour for x in grid[:-1].tolist()])
        brute = np.concatenate([[0.0], np.cumsum(profile[hours] * 60.0)])
        got = clock.to_activity(grid) - t0
        # exact on ordinary days; the 25-hour day is scaled to its length (at most one hour's weight apart)
        tol = 1e-6 if first.day == 23 else 3600.0
        assert np.abs(got - brute).max() <= tol, np.abs(got - brute).max()
        assert np.allclose(clock.from_activity(clock.to_activity(grid)), grid, rtol=0, atol=1e-4)
        assert np.all(np.diff(got) > 0)
    mid = local_to_ts(date(2026, 11, 24), 0)
    day_a = clock.to_activity(np.array([mid, mid + 86400.0]))
    assert day_a[1] - day_a[0] == 86400.0
    night = clock.to_activity(np.array([mid + 3 * 3600.0, mid + 4 * 3600.0]))
    evening = clock.to_activity(np.array([mid + 18 * 3600.0, mid + 19 * 3600.0]))
    assert (evening[1] - evening[0]) > 10 * (night[1] - night[0])
