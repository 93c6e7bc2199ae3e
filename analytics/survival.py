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


class _Segments:
    """Cells grouped by segment (group), reordered so that segments of equal length are adjacent:
    each such block is a (segments x length) matrix, so a running sum per segment is one cumsum
    along its rows -- the same sequential additions as a dense cumsum over bins (an empty bin adds
    0), hence bit-identical results, and groups with identical cells stay exactly tied (a global
    cumsum minus each segment's offset would not: its rounding depends on the position)."""

    def __init__(self, starts: np.ndarray, n: int) -> None:
        lengths = np.diff(np.append(starts, n))
        self.order = np.argsort(lengths, kind="stable")          # segments, shortest first
        self.lengths = lengths[self.order]
        self.starts = np.cumsum(self.lengths) - self.lengths     # in the reordered cells
        self.perm = np.repeat(starts[self.order] - self.starts, self.lengths) + np.arange(n)
        ls, first = np.unique(self.lengths, return_index=True)
        self.blocks = [(int(self.starts[f]), int(cnt), int(ln))
                       for ln, f, cnt in zip(ls, first, np.diff(np.append(first, len(self.lengths))), strict=True)]

    def cumsum(self, x: np.ndarray) -> np.ndarray:
        out = np.empty_like(x)
        for s, cnt, ln in self.blocks:
            e = s + cnt * ln
            np.cumsum(x[s:e].reshape(cnt, ln), axis=1, out=out[s:e].reshape(cnt, ln))
        return out


def _seg_crossing(curve: np.ndarray, starts: np.ndarray, ends: np.ndarray, seg_n: int, b: np.ndarray,
                  edges: tuple[np.ndarray, np.ndarray], clamp0: bool) -> np.ndarray:
    """_crossing for the sparse layout: per segment, where the step curve first falls to 0.5."""
    out = np.full(seg_n, np.nan)
    n = len(curve)
    if n == 0:
        return out
    pos = np.where(curve <= 0.5 + TOL, np.arange(n), n)
    first = np.minimum.reduceat(pos, starts)
    cols = np.flatnonzero(first < ends)
    k = first[cols]
    cur = curve[k]
    prev = np.where(k > starts[cols], curve[np.maximum(k - 1, 0)], 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = (prev - 0.5) / (prev - cur)
    clamped = np.clip(frac, 0.0, 1.0)
    lo_k, hi_k = edges[0][b[k]], edges[1][b[k]]
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where(lo_k <= 0, clamped if clamp0 else frac,
                       lo_k * np.power(hi_k / np.where(lo_k > 0, lo_k, 1.0), clamped))
    out[cols] = val
    return out


def km_sparse(starts: np.ndarray, b: np.ndarray, d: np.ndarray, c: np.ndarray,
              edges: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """km_binned_t on the non-empty (group, bin) cells only: the same estimates, with work in
    proportion to the cells a window actually has (a third of the dense bins x groups matrix on the
    10M-event window).

    Cells are sorted by group, then bin; ``starts`` is where each group's cells begin (every group
    has at least one cell), ``b`` each cell's bin (an index into ``edges`` = (lower, upper) edges
    in seconds of all bins), ``d`` / ``c`` its closed / censored counts. An empty bin changes no
    curve (no event, no one censored), so dropping it changes no estimate; running sums restart at
    each group (see _Segments), so every estimate is bit-identical to km_binned_t's. Returns per
    group what km_binned_t returns per column.
    """
    G, n = len(starts), len(d)
    if G == 0:
        z = np.zeros(0)
        return {"n": z, "n_events": z, "km_median_s": z, "km_median_lo_s": z, "km_median_hi_s": z,
                "median_close_s": z}
    sg = _Segments(starts, n)
    d = d.astype(np.float64, copy=False)[sg.perm]
    c = c.astype(np.float64, copy=False)[sg.perm]
    b = b[sg.perm]
    starts, lengths = sg.starts, sg.lengths
    ends = starts + lengths
    dc = d + c
    gone_incl = sg.cumsum(dc)
    n_total = np.add.reduceat(dc, starts)
    n_eff = np.repeat(n_total, lengths) - (gone_incl - dc) - c / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_eff > 0, d / n_eff, 0.0)
        gw = np.where((n_eff > d) & (n_eff > 0), d / (n_eff * (n_eff - d)), 0.0)
        log1m = np.where(q < 1, np.log(1.0 - np.minimum(q, 1.0)), 0.0)
    dead = sg.cumsum((q >= 1).astype(np.float64)) > 0
    surv = np.where(dead, 0.0, np.exp(sg.cumsum(log1m)))
    se = surv * np.sqrt(sg.cumsum(gw))
    s_lo = np.maximum(0.0, surv - 1.96 * se)
    s_hi = np.minimum(1.0, surv + 1.96 * se)
    d_incl = sg.cumsum(d)
    d_total = np.add.reduceat(d, starts)
    med = np.full(G, np.nan)
    pos = np.where((d > 0) & (d_incl >= np.repeat(d_total, lengths) / 2.0), np.arange(n), n)
    first = np.minimum.reduceat(pos, starts)
    cols = np.flatnonzero(first < ends)
    k = first[cols]
    frac = (d_total[cols] / 2.0 - (d_incl[k] - d[k])) / d[k]
    lo_k, hi_k = edges[0][b[k]], edges[1][b[k]]
    med[cols] = np.where(lo_k <= 0, frac, lo_k * np.power(hi_k / np.where(lo_k > 0, lo_k, 1.0), frac))
    res = {"n": n_total, "n_events": d_total,
           "km_median_s": _seg_crossing(surv, starts, ends, G, b, edges, clamp0=True),
           "km_median_lo_s": _seg_crossing(s_lo, starts, ends, G, b, edges, clamp0=False),
           "km_median_hi_s": _seg_crossing(s_hi, starts, ends, G, b, edges, clamp0=False),
           "median_close_s": med}
    out = {}
    for key, v in res.items():                  # back to the callers' group order
        o = np.empty_like(v)
        o[sg.order] = v
        out[key] = o
    return out
