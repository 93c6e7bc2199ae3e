"""Statistical test: over a long fast-forwarded run, each tier's empirical mean open duration and drop
rate match the model's parameters within 5% (censored-exponential estimates against the model's rates)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from sim_helpers import START, open_and_drop_estimates

from simulator.model import TIER_RANGES, TIERS, Market


def test_each_tier_recovers_its_mean_open_duration_and_drop_rate() -> None:
    m = Market(11, n_venues=160, start=START)
    days = [(START + timedelta(days=i)).date() for i in range(15)]
    for _ in range(3):  # three days, every slot of the 15-day window, all party classes, 8-hour steps
        m.materialize(days, (2, 4, 6), (None,))
        m.advance(8 * 3600)
    f = m.truth_frame()
    e = open_and_drop_estimates(f, m.now_ts())
    tier_of = {v.venue_id: v.tier for v in m.venues}
    open_tier = np.array([tier_of[int(v)] for v in f["venue_id"]])
    drop_tier = np.array([tier_of[int(v)] for v in e["booked_venue"]])
    for tier in TIERS:
        s, b = open_tier == tier, drop_tier == tier
        bookings = e["open_event"][s].sum()
        exposure = e["open_exposure"][s].sum()
        expected = (e["open_rate"][s] * e["open_exposure"][s]).sum()
        assert bookings > 4000, f"{tier}: too few bookings ({bookings}) for a 5% check"
        empirical_mean, model_mean = exposure / bookings, exposure / expected
        assert abs(empirical_mean / model_mean - 1) < 0.05, (tier, empirical_mean, model_mean)
        drops = e["booked_event"][b].sum()
        booked_exposure = e["booked_exposure"][b].sum()
        expected_drops = (e["booked_rate"][b] * e["booked_exposure"][b]).sum()
        assert drops > 4000, f"{tier}: too few drops ({drops})"
        assert abs((drops / booked_exposure) / (expected_drops / booked_exposure) - 1) < 0.05, (tier, drops,
                                                                                               expected_drops)
        # and the tier's scale is what it advertises: prime open spells at factor-1 conditions
        lo, hi = TIER_RANGES[tier]["mean_open_prime_s"]
        prime = s & (f["minute"] >= 18 * 60) & (f["minute"] <= 21 * 60)
        raw_mean = e["open_exposure"][prime].sum() / max(1, e["open_event"][prime].sum())
        assert lo / 2 < raw_mean < hi * 1.25, (tier, raw_mean, lo, hi)
