"""Turnbull's estimator of a time-to-close distribution from interval-censored durations.

A slot's duration is never seen exactly: the polls bracket it between L (it was seen open that
long) and R (it was gone by then), and a slot that left without a booking only says "at least L".
Over hourly polls [L, R] is an hour wide; over 30-second polls it is a minute. Turnbull's
nonparametric maximum-likelihood estimate uses each interval for exactly what it says, so coarse
and fine observations combine: an hour-wide interval adds its weight where the fine intervals put
the mass, instead of reading as "about an hour".

The durations are binned on the fixed log grid of measure_time_to_close.sql (duration_bin: bin 0 is
[0, 1 s), then 20 bins per decade); an observation is the inclusive bin range [lo, hi] its duration
lies in (hi = LAST_BIN: at least lo, no upper bound). The estimate is a probability per bin, found by
the self-consistency (EM) iteration

    p_j <- p_j * sum over intervals i containing j of n_i / P_i,  divided by N,
    P_i  = sum of p over the bins of interval i,

which converges to the NPMLE (accelerated by SQUAREM steps). The mass lives only on the *innermost
intervals* (a left end followed by a right end with no end between them; every other bin gets 0),
so the iteration runs over those intervals, and both sums of the update are differences of prefix
sums along a group's row of intervals: one iteration is a few passes over a (groups x most
intervals) array for all groups at once.

Where the polls cannot place the mass inside an innermost interval, neither can the estimate (it keeps
the starting split, even per bin), and coarse polls bias it besides; ``summarize`` therefore also
says how finely the polls place the median (resolution_s) and what bound holds whatever happened
between polls (bound_s), and measure_time_to_close decides from them what to show.

This is the one numeric step of the metrics outside SQL. The estimate is an iteration to a fixed
point (tens to hundreds of steps per group); DuckDB's only loop is a recursive CTE, which keeps the
rows of every step and would join and window every support cell (about a million each night) once
per step. analytics.db.connect registers it on each connection as the scalar functions
``turnbull_fit`` and ``turnbull_curve`` (lists of one group's observations in; DuckDB hands them
over in batches of groups), called only from measure_time_to_close.sql. tests/analytics/test_time_to_close.py checks
it against a plain EM (tests/analytics/turnbull_oracle.py).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

LAST_BIN = 141               # duration_bin's top bin; an observation ending here has no upper bound
N_BINS = LAST_BIN + 1
TOL = 1e-5                   # a group is done when a step moves no bin's mass by this much...
GROWTH_TOL = 1e-3            # ...and grows no bin by this factor (or after MAX_ITER EM steps)
MAX_ITER = 2000
FLOOR = 1e-12                # least mass a support cell keeps during the iteration
RESOLVING_N = 10             # closed intervals that must place the median (summarize: resolution_s)


def bin_edges() -> tuple[np.ndarray, np.ndarray]:
    """[lo_s, hi_s) of every bin, as duration_bins in migration 0002 defines them."""
    b = np.arange(N_BINS, dtype=float)
    lo = np.where(b == 0, 0.0, 10 ** ((b - 1) / 20))
    hi = 10 ** (b / 20)
    hi[LAST_BIN] = np.inf
    return lo, hi


def support(group: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_groups: int) -> np.ndarray:
    """(n_groups, N_BINS) mask of the bins inside each group's innermost intervals: [l, r] with l a left
    end, r the nearest right end at or after it, and no other left end in (l, r]."""
    is_l = np.zeros((n_groups, N_BINS), dtype=bool)
    is_r = np.zeros((n_groups, N_BINS), dtype=bool)
    is_l[group, lo] = True
    is_r[group, hi] = True
    idx = np.arange(N_BINS)
    last_l = np.maximum.accumulate(np.where(is_l, idx, -1), axis=1)          # nearest left end at or before
    first_r = np.minimum.accumulate(np.where(is_r, idx, N_BINS)[:, ::-1], axis=1)[:, ::-1]  # right end at or after
    rows = np.arange(n_groups)[:, None]
    inside = (last_l >= 0) & (first_r < N_BINS)
    l_safe, r_safe = np.clip(last_l, 0, N_BINS - 1), np.clip(first_r, 0, N_BINS - 1)
    # j lies in [l, r] = [last_l(j), first_r(j)] when no right end is in [l, j) and no left end in (j, r]
    return inside & (first_r[rows, l_safe] == first_r) & (last_l[rows, r_safe] == last_l)


def _em_step(q: np.ndarray, start: np.ndarray, stop: np.ndarray, n: np.ndarray, total: np.ndarray) -> np.ndarray:
    """One self-consistency step for the rows of ``q`` (one group each, its cells packed left).
    Observation i covers cells [start_i, stop_i) of the flattened rows' prefix sums (a row is one
    cell wider than ``q``)."""
    c = np.zeros((q.shape[0], q.shape[1] + 1))
    np.cumsum(q, axis=1, out=c[:, 1:])
    w = n / (c.ravel()[stop] - c.ravel()[start])                         # n_i / P_i
    acc = (np.bincount(start, weights=w, minlength=c.size)
           - np.bincount(stop, weights=w, minlength=c.size)).reshape(c.shape)
    return q * np.cumsum(acc, axis=1)[:, :-1] / total


def _squarem(p: np.ndarray, row: np.ndarray, first: np.ndarray, last: np.ndarray, n: np.ndarray,
             size: np.ndarray) -> np.ndarray:
    """The fixed point of the EM for each row of ``p`` (a group's starting masses over its ``size``
    cells, packed left); observation i of row ``row[i]`` covers cells first_i..last_i - 1, n_i times.
    A row leaves the iteration once it has converged, and its observations with it."""
    out = p.copy()
    width = p.shape[1] + 1
    idx = np.arange(len(p))                    # the rows still iterating
    total = np.bincount(row, weights=n, minlength=len(p))[:, None]
    real = np.arange(p.shape[1])[None, :] < size[:, None]
    for _ in range(MAX_ITER // 3):
        if not len(idx):
            break
        em = partial(_em_step, start=row * width + first, stop=row * width + last, n=n, total=total)
        # SQUAREM (Varadhan & Roland 2008): two EM steps, a step along their extrapolation, one EM
        # step from there; the same fixed point in a fraction of the iterations
        p1 = em(p)
        p2 = em(p1)
        r, v = p1 - p, p2 - 2 * p1 + p
        rr, vv = (r * r).sum(axis=1), (v * v).sum(axis=1)
        alpha = np.minimum(-1.0, -np.sqrt(rr / np.where(vv > 0, vv, 1.0)))[:, None]
        jump = p - 2 * alpha * r + alpha * alpha * v
        # a jump that leaves the simplex (a cell at or below 0: EM could never bring it back) is
        # refused for that row, which takes EM's own p2
        wild = ((jump <= 0) & (p > 0)).any(axis=1, keepdims=True)
        step = np.where(wild, p2, jump)
        # no cell below FLOOR: an observation's share is a difference of prefix sums, which cannot tell
        # a smaller mass from 0 (the estimate's own zeros end at FLOOR instead)
        step = np.where(real, np.maximum(step, FLOOR), 0.0)
        step /= step.sum(axis=1, keepdims=True)
        new = em(step)
        out[idx] = new
        # done when no cell moves by TOL and none still grows (a cell a jump pushed towards 0 that the
        # estimate wants back grows by a steady factor while its mass is still too small to move)
        grows = np.divide(new, step, out=np.zeros_like(new), where=real).max(axis=1) > 1 + GROWTH_TOL
        moving = (np.abs(new - step).max(axis=1) >= TOL) | grows
        if not moving.all():
            mine = moving[row]
            row = (np.cumsum(moving) - 1)[row[mine]]
            first, last, n = first[mine], last[mine], n[mine]
            idx, new, total, real = idx[moving], new[moving], total[moving], real[moving]
        p = new
    return out


def fit(group: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: np.ndarray, n_groups: int) -> np.ndarray:
    """Turnbull's NPMLE per group: a (n_groups, N_BINS) array of probabilities (each row with data sums
    to 1; a row without is 0). Observations: ``n[i]`` durations of group ``group[i]`` in bins
    ``lo[i]..hi[i]`` (hi = LAST_BIN: right-censored at lo).

    Every sum runs inside one group's row, over its observations in a fixed order, so a group's
    estimate is the same bit for bit whichever groups share the call (ranking ties stay ties)."""
    group, lo, hi = (np.asarray(a, dtype=np.int64) for a in (group, lo, hi))
    n = np.asarray(n, dtype=float)
    keep = n > 0
    group, lo, hi, n = group[keep], lo[keep], hi[keep], n[keep]
    if (lo > hi).any() or (lo < 0).any() or (hi > LAST_BIN).any():
        raise ValueError("each observation needs 0 <= lo <= hi <= LAST_BIN")
    order = np.lexsort((n, hi, lo, group))
    group, lo, hi, n = group[order], lo[order], hi[order], n[order]
    on = support(group, lo, hi, n_groups)
    # The EM runs over each group's innermost intervals, packed to the left of a row. An observation
    # covers whole innermost intervals (none has an end inside one), so the EM never changes the split
    # of an interval's mass over its bins: the estimate keeps the starting split, even per bin.
    begins = np.zeros((n_groups, N_BINS), dtype=bool)
    begins[group, lo] = True
    begins &= on                                          # an innermost interval begins at a left end
    through = np.cumsum(begins, axis=1)                   # intervals begun at or below a bin
    first = through[group, lo] - begins[group, lo]
    last = through[group, hi]
    size = through[:, -1]
    rows, bins = np.nonzero(on)
    cell = through[rows, bins] - 1                        # each support bin's interval
    n_bins = np.zeros((n_groups, max(int(size.max(initial=0)), 1)))
    np.add.at(n_bins, (rows, cell), 1.0)
    p = n_bins / np.maximum(n_bins.sum(axis=1, keepdims=True), 1)
    fitted = np.flatnonzero(np.bincount(group, weights=n, minlength=n_groups) > 0)
    at = np.full(n_groups, -1)
    at[fitted] = np.arange(len(fitted))
    p[fitted] = _squarem(p[fitted], at[group], first, last, n, size[fitted])
    out = np.zeros((n_groups, N_BINS))
    out[rows, bins] = p[rows, cell] / n_bins[rows, cell]
    return out


def quantile(mass: np.ndarray, q: float | np.ndarray) -> np.ndarray:
    """Per group (row of ``fit``), the q-quantile in seconds: log-linear inside its bin (linear in bin
    0, which starts at 0 s; the last bin's start). NaN where the curve never reaches q."""
    lo_edge, hi_edge = bin_edges()
    q = np.broadcast_to(np.asarray(q, dtype=float), (len(mass),))[:, None]
    through = np.cumsum(mass, axis=1)
    reached = (through >= q - 1e-9) & (mass > 0)
    out = np.full(len(mass), np.nan)
    rows = np.flatnonzero(reached.any(axis=1))
    b = reached[rows].argmax(axis=1)
    share = (q[rows, 0] - (through[rows, b] - mass[rows, b])) / mass[rows, b]
    lo_s, hi_s = lo_edge[b], hi_edge[b]
    linear = (lo_s <= 0) | np.isinf(hi_s)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out[rows] = np.where(linear, lo_s + share * np.where(np.isinf(hi_s), 0.0, hi_s - lo_s),
                             lo_s * (hi_s / np.where(lo_s > 0, lo_s, 1.0)) ** share)
    return out


def _median_bin(mass: np.ndarray) -> np.ndarray:
    """Per group, the bin where the CDF reaches 1/2 (-1: never)."""
    reached = (np.cumsum(mass, axis=1) >= 0.5 - 1e-9) & (mass > 0)
    return np.where(reached.any(axis=1), reached.argmax(axis=1), -1)


def _weighted_pick(group: np.ndarray, key: np.ndarray, n: np.ndarray, need: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the smallest ``key`` at which the count-weighted running total over the group's
    rows (in ``key`` order) reaches ``need[group]``; the largest key when it never does; NaN
    without rows."""
    out = np.full(n_groups, np.nan)
    if not len(group):
        return out
    order = np.lexsort((key, group))
    g, k, c = group[order], key[order], n[order]
    cum = np.cumsum(c)
    start = np.searchsorted(g, g, side="left")
    within = cum - np.concatenate([[0.0], cum])[start]
    last = np.r_[g[1:] != g[:-1], True]
    reached = within >= need[g] - 1e-9
    first = reached & np.r_[True, ~(reached[:-1] & (g[1:] == g[:-1]))]
    out[g[last]] = k[last]
    out[g[first]] = k[first]
    return out


def summarize(group: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_closed: np.ndarray, n_censored: np.ndarray,
              n_groups: int) -> dict[str, np.ndarray]:
    """Per group, what measure_time_to_close reports (NaN = NULL):

    median_s                   the median of the fitted distribution
    median_lo_s, median_hi_s   its 95% interval: the quantiles at 1/2 -/+ 1.96 sqrt(1/4n) (the
                               distribution-free interval of a median over n intervals; censoring
                               widens the true one somewhat)
    resolution_s               how finely the polls place the median: half the width of the
                               RESOLVING_N-th narrowest closed interval that contains the median's
                               bin (a slot seen at polls a gap apart has bounds about two gaps wide)
    bound_s                    the median of the intervals' upper ends (a censored one has none):
                               at least half the timed tables were certainly gone by then, so the
                               true median is under it whatever happened between polls
    """
    group, lo, hi = (np.asarray(a, dtype=np.int64) for a in (group, lo, hi))
    n_closed, n_censored = np.asarray(n_closed, dtype=float), np.asarray(n_censored, dtype=float)
    obs_group = np.concatenate([group, group])
    obs_lo = np.concatenate([lo, lo])
    obs_hi = np.concatenate([hi, np.full(len(hi), LAST_BIN)])
    obs_n = np.concatenate([n_closed, n_censored])
    mass = fit(obs_group, obs_lo, obs_hi, obs_n, n_groups)
    n = np.bincount(obs_group, weights=obs_n, minlength=n_groups)
    half = 1.96 * np.sqrt(0.25 / np.maximum(n, 1))
    # (too few intervals for the interval to have a lower end: 1/2 - half <= 0 leaves it NULL, as the
    # upper end is NULL where the curve never reaches 1/2 + half)
    out = {"median_s": quantile(mass, 0.5), "median_lo_s": np.where(half < 0.5, quantile(mass, 0.5 - half), np.nan),
           "median_hi_s": quantile(mass, 0.5 + half)}
    lo_edge, hi_edge = bin_edges()
    # resolution: the closed intervals holding the median's bin
    mid_bin = _median_bin(mass)
    holds = (n_closed > 0) & (mid_bin[group] >= lo) & (mid_bin[group] <= hi)
    half_width = (hi_edge[hi] - lo_edge[lo]) / 2
    need = np.full(n_groups, float(RESOLVING_N))
    out["resolution_s"] = _weighted_pick(group[holds], half_width[holds], n_closed[holds], need, n_groups)
    # bound: the median of the upper ends, a censored interval's being infinite
    bound = _weighted_pick(obs_group, hi_edge[obs_hi], obs_n, n / 2, n_groups)
    out["bound_s"] = np.where(np.isinf(bound), np.nan, bound)
    return out


FIT_FIELDS = ("median_s", "median_lo_s", "median_hi_s", "resolution_s", "bound_s")
_LISTS = [duckdb.list_type("SMALLINT"), duckdb.list_type("SMALLINT"), duckdb.list_type("BIGINT"), duckdb.list_type("BIGINT")]


def _flatten(*lists: Any) -> tuple[np.ndarray, ...]:
    """One chunk of a UDF's list arguments (one list per group) as flat arrays plus each element's group."""
    arrays = [a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a for a in lists]
    offsets = arrays[0].offsets.to_numpy()
    group = np.repeat(np.arange(len(arrays[0])), np.diff(offsets))
    flat = [np.asarray(a.values.to_numpy(zero_copy_only=False))[offsets[0]:offsets[-1]] for a in arrays]
    return (group, *flat)


def _fit_udf(lo: Any, hi: Any, n_closed: Any, n_censored: Any) -> pa.StructArray:
    group, lo_, hi_, closed, censored = _flatten(lo, hi, n_closed, n_censored)
    out = summarize(group, lo_, hi_, closed, censored, len(lo))
    return pa.StructArray.from_arrays([pa.array(out[k], pa.float64(), from_pandas=True) for k in FIT_FIELDS],
                                      names=list(FIT_FIELDS))


def _curve_udf(lo: Any, hi: Any, n_closed: Any, n_censored: Any) -> pa.ListArray:
    group, lo_, hi_, closed, censored = _flatten(lo, hi, n_closed, n_censored)
    mass = fit(np.concatenate([group, group]), np.concatenate([lo_, lo_]),
               np.concatenate([hi_, np.full(len(hi_), LAST_BIN)]), np.concatenate([closed, censored]), len(lo))
    g, b = np.nonzero(mass > 0)
    offsets = np.searchsorted(g, np.arange(len(lo) + 1)).astype(np.int32)
    items = pa.StructArray.from_arrays([pa.array(b.astype(np.int16)), pa.array(mass[g, b])], names=["bin", "mass"])
    return pa.ListArray.from_arrays(pa.array(offsets), items)


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Define turnbull_fit and turnbull_curve in the connection's database instance.

    Both take one group's observations as four lists (lo_bin, hi_bin, n_closed, n_censored; closed
    ones in lo_bin..hi_bin, censored ones at least lo_bin): turnbull_fit returns the FIT_FIELDS of
    ``summarize``, turnbull_curve the fitted mass per bin as a list of (bin, mass).

    analytics.db.connect calls this on every connection it opens, before anything else runs on it.
    The functions belong to the database instance, which DuckDB shares between the connections of
    one process to one file (and their cursors): where another connection defined them already,
    DuckDB refuses and the definitions in place are kept. The refusal is an error, which would
    abort an open transaction: hence only on a fresh connection."""
    defs = [("turnbull_fit", _fit_udf, duckdb.struct_type({k: "DOUBLE" for k in FIT_FIELDS})),
            ("turnbull_curve", _curve_udf, duckdb.list_type(duckdb.struct_type({"bin": "SMALLINT", "mass": "DOUBLE"})))]
    for name, udf, returns in defs:
        try:
            # type="arrow": one call per batch of groups, not per group (the stubs only list the enum form)
            con.create_function(name, udf, _LISTS, returns, type="arrow")  # type: ignore[call-overload]
        except duckdb.CatalogException as e:
            if "already exists" not in str(e):
                raise
