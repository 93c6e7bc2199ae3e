"""A plain-Python Turnbull estimate, by the words of the textbook: the test oracle for
analytics/turnbull.py (nothing outside tests uses it). Loops over innermost intervals, no prefix
sums, no vectorising: slow and obvious.

Observations are (lo, hi, n) over the bins of duration_bins: n durations in bins lo..hi inclusive.
"""

from __future__ import annotations

import math

import numpy as np

LAST_BIN = 141


def edges(b: int) -> tuple[float, float]:
    """duration_bins (migration 0002): bin 0 = [0, 1) s, bin k = [10^((k-1)/20), 10^(k/20)); the last
    bin has no end."""
    return (0.0 if b == 0 else 10 ** ((b - 1) / 20), math.inf if b == LAST_BIN else 10 ** (b / 20))


def innermost(obs: list[tuple[int, int, float]]) -> list[tuple[int, int]]:
    """Turnbull's innermost intervals: [l, r] with l a left end, r the nearest right end at or after it,
    and no other left end in (l, r]."""
    lefts = sorted({lo for lo, _hi, n in obs if n > 0})
    rights = sorted({hi for _lo, hi, n in obs if n > 0})
    out = []
    for lo in lefts:
        r = min((x for x in rights if x >= lo), default=None)
        if r is not None and not any(lo < x <= r for x in lefts):
            out.append((lo, r))
    return out


def fit(obs: list[tuple[int, int, float]], tol: float = 1e-11, max_iter: int = 20_000) -> dict[int, float]:
    """The NPMLE's probability per bin: EM over the innermost intervals, each interval's mass spread
    evenly over its bins."""
    obs = [o for o in obs if o[2] > 0]
    cells = innermost(obs)
    total = sum(n for _lo, _hi, n in obs)
    p = [1 / len(cells)] * len(cells)
    holds = [[lo <= a and b <= hi for (a, b) in cells] for lo, hi, _n in obs]
    for _ in range(max_iter):
        new = [0.0] * len(cells)
        for (_lo, _hi, n), h in zip(obs, holds, strict=True):
            share = sum(pj for pj, inside in zip(p, h, strict=True) if inside)
            for j, inside in enumerate(h):
                if inside:
                    new[j] += n * p[j] / share / total
        moved = max(abs(a - b) for a, b in zip(new, p, strict=True))
        p = new
        if moved < tol:
            break
    mass: dict[int, float] = {}
    for (a, b), pj in zip(cells, p, strict=True):
        for k in range(a, b + 1):
            mass[k] = mass.get(k, 0.0) + pj / (b - a + 1)
    return mass


def quantile(mass: dict[int, float], q: float) -> float | None:
    """Where the CDF reaches q: log-linear inside the bin (linear in bin 0 and the last bin)."""
    before = 0.0
    for b in sorted(mass):
        if before + mass[b] >= q - 1e-9 and mass[b] > 0:
            lo, hi = edges(b)
            f = (q - before) / mass[b]
            if lo <= 0:
                return lo + f * (hi - lo)
            if math.isinf(hi):
                return lo
            return lo * (hi / lo) ** f
        before += mass[b]
    return None


def cdf(mass: dict[int, float], x: float) -> float:
    """The CDF at x seconds, log-linear inside a bin (linear in bin 0): the inverse of ``quantile``."""
    total = 0.0
    for b in sorted(mass):
        lo, hi = edges(b)
        if x >= hi:
            total += mass[b]
        elif x > lo:
            f = x / hi if lo <= 0 else (0.0 if math.isinf(hi) else math.log(x / lo) / math.log(hi / lo))
            total += mass[b] * f
    return total


def km_median(durations: np.ndarray, booked: np.ndarray) -> float:
    """Plain Kaplan-Meier median of exact durations (booked = the event, else censored): the truth's
    own estimate where the simulator knows every instant (ground-truth tests)."""
    order = np.lexsort((~booked, durations))
    at_risk, survival = len(durations), 1.0
    for x, ev in zip(durations[order], booked[order], strict=True):
        if ev:
            survival *= 1 - 1 / at_risk
            if survival <= 0.5:
                return float(x)
        at_risk -= 1
    return float("nan")
