"""Kaplan-Meier time-to-close from the mergeable log-binned histograms (venue_daily_hist).

Called by analytics.nightly.refresh_rolling (the rolling tables) and usable on any SUM of
venue_daily_hist rows. Vectorised over many groups at once: one row per group, one column per
duration bin (see duration_bins in 0002). Definitions (same as the rolling.sql header):
at bin k, at_risk = n - (closed + censored in earlier bins); n_eff = at_risk - censored_k / 2
(life-table); S_k = prod (1 - closed_j / n_eff_j) (0 once a bin has closed_j >= n_eff_j); Greenwood
var = S^2 sum closed / (n_eff (n_eff - closed)); the median is where S first falls to 0.5 (1e-9
tolerance), log-linear inside the crossing bin (linear in bin 0, which starts at 0 s); its 95% CI is
where S -/+ 1.96 SE crosses 0.5. median_close_s is the plain median of the closed durations alone.
"""

from __future__ import annotations

import numpy as np

TOL = 1e-9


def _crossing(curve: np.ndarray, lo: np.ndarray, hi: np.ndarray, clamp0: bool) -> np.ndarray:
    """Per column, where a step curve (bins x groups: value at each bin's end; 1.0 before bin 0)
    first falls to 0.5. NaN when it never does. Inside the crossing bin: linear in bin 0, log-linear
    in the others."""
    n = curve.shape[1]
    out = np.full(n, np.nan)
    if n == 0 or curve.shape[0] == 0:
        return out
    mask = curve <= 0.5 + TOL
    k = mask.argmax(axis=0)
    cols = np.flatnonzero(mask[k, np.arange(n)])
    k = k[cols]
    cur = curve[k, cols]
    prev = np.where(k > 0, curve[np.maximum(k - 1, 0), cols], 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (prev - 0.5) / (prev - cur)
    clamped = np.clip(frac, 0.0, 1.0)
    lo_k, hi_k = lo[k], hi[k]
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(lo_k <= 0, clamped if clamp0 else frac, lo_k * np.power(hi_k / np.where(lo_k > 0, lo_k, 1.0), clamped))
    out[cols] = val
    return out


def km_binned(d: np.ndarray, c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, np.ndarray]:
    """Kaplan-Meier medians for each row of the (groups x bins) closed / censored count matrices.

    ``lo`` / ``hi`` are the bins' edges in seconds (columns may skip empty bins; the bin that starts
    at 0 s is interpolated linearly, the others log-linearly). Returns per row: n (closed +
    censored), n_events (closed), km_median_s, km_median_lo_s, km_median_hi_s, median_close_s
    (NaN where not reached / no closed interval).
    """
    return km_binned_t(np.ascontiguousarray(np.asarray(d, dtype=np.float64).T),
                       np.ascontiguousarray(np.asarray(c, dtype=np.float64).T), lo, hi)


def km_binned_t(d: np.ndarray, c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> dict[str, np.ndarray]:
    """km_binned on (bins x groups) matrices, one column per group: the layout the nightly job
    builds. Running sums along bins then vectorise across groups (a cumsum along short rows costs
    ~10x more in numpy), which is what makes 28 windows x 15k groups affordable."""
    d = d.astype(np.float64, copy=False)
    c = c.astype(np.float64, copy=False)
    nb, ng = d.shape
    dc = d + c
    gone_incl = np.cumsum(dc, axis=0)
    n_total = gone_incl[-1] if nb else np.zeros(ng)
    n_eff = n_total - (gone_incl - dc) - c / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_eff > 0, d / n_eff, 0.0)
        gw = np.where((n_eff > d) & (n_eff > 0), d / (n_eff * (n_eff - d)), 0.0)
        log1m = np.where(q < 1, np.log(1.0 - np.minimum(q, 1.0)), 0.0)
    dead = np.maximum.accumulate(q >= 1, axis=0)
    surv = np.where(dead, 0.0, np.exp(np.cumsum(log1m, axis=0)))
    se = surv * np.sqrt(np.cumsum(gw, axis=0))
    s_lo = np.maximum(0.0, surv - 1.96 * se)
    s_hi = np.minimum(1.0, surv + 1.96 * se)
    # plain median of the closed durations: first bin with d > 0 whose cumulative closed >= half
    d_incl = np.cumsum(d, axis=0)
    d_total = d_incl[-1] if nb else np.zeros(ng)
    mask = (d > 0) & (d_incl >= d_total / 2.0)
    med = np.full(ng, np.nan)
    if nb:
        k = mask.argmax(axis=0)
        cols = np.flatnonzero(mask[k, np.arange(ng)])
        k = k[cols]
        frac = (d_total[cols] / 2.0 - (d_incl[k, cols] - d[k, cols])) / d[k, cols]
        lo_k, hi_k = lo[k], hi[k]
        med[cols] = np.where(lo_k <= 0, frac, lo_k * np.power(hi_k / np.where(lo_k > 0, lo_k, 1.0), frac))
    return {"n": n_total, "n_events": d_total,
            "km_median_s": _crossing(surv, lo, hi, clamp0=True),
            "km_median_lo_s": _crossing(s_lo, lo, hi, clamp0=False),
            "km_median_hi_s": _crossing(s_hi, lo, hi, clamp0=False),
            "median_close_s": med}
