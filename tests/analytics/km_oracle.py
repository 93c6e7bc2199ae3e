"""A plain-Python time-to-close estimate, by the words of analytics/sql/measure_time_to_close.sql's
header: the test oracle for that one SQL definition (nothing outside tests uses it)."""

from __future__ import annotations

import math


def edges(b: int) -> tuple[float, float]:
    """duration_bins (migration 0002): bin 0 = [0, 1) s, bin k = [10^((k-1)/20), 10^(k/20))."""
    return (0.0 if b == 0 else 10 ** ((b - 1) / 20), 10 ** (b / 20))


def _inside(lo: float, hi: float, prev: float, cur: float, clamp_bin0: bool) -> float:
    frac = (prev - 0.5) / (prev - cur)
    clamped = min(1.0, max(0.0, frac))
    if lo <= 0:
        return clamped if clamp_bin0 else frac
    return lo * (hi / lo) ** clamped


def time_to_close(cells: dict[int, tuple[int, int]]) -> dict[str, float | None]:
    """cells: bin -> (closed, censored). Returns km_median_s, km_median_lo_s, km_median_hi_s,
    median_close_s (None where a curve never reaches 0.5)."""
    bins = sorted(b for b, (d, c) in cells.items() if d + c > 0)
    at_risk = sum(d + c for d, c in cells.values())
    total_closed = sum(d for d, _c in cells.values())
    log_s, greenwood, dead = 0.0, 0.0, False
    prev = (1.0, 1.0, 1.0)
    out: dict[str, float | None] = {"km_median_s": None, "km_median_lo_s": None, "km_median_hi_s": None,
                                    "median_close_s": None}
    names = ("km_median_s", "km_median_lo_s", "km_median_hi_s")
    closed_through = 0
    for b in bins:
        d, c = cells[b]
        n_eff = at_risk - c / 2
        if n_eff > 0 and d >= n_eff:
            dead = True
        elif n_eff > 0:
            log_s += math.log(1 - d / n_eff)
        if n_eff > 0 and n_eff > d:
            greenwood += d / (n_eff * (n_eff - d))
        s = 0.0 if dead else math.exp(log_s)
        se = s * math.sqrt(greenwood)
        cur = (s, max(0.0, s - 1.96 * se), min(1.0, s + 1.96 * se))
        lo, hi = edges(b)
        for i, name in enumerate(names):
            if out[name] is None and cur[i] <= 0.5 + 1e-9:
                out[name] = _inside(lo, hi, prev[i], cur[i], clamp_bin0=(i == 0))
        closed_through += d
        if out["median_close_s"] is None and d > 0 and closed_through >= total_closed / 2:
            frac = (total_closed / 2 - (closed_through - d)) / d
            out["median_close_s"] = frac if lo <= 0 else lo * (hi / lo) ** frac
        prev = cur
        at_risk -= d + c
    return out
