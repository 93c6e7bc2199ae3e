"""Shared helpers for benchmarks: timing, peak memory, and the one JSON row format."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from typing import Any


def result(workload: str, metric: str, value: float, unit: str, target: float | None = None,
           baseline: float | None = None, higher_is_better: bool = False,
           ratio_target: float | None = None) -> dict[str, Any]:
    """One benchmark row. ratio = baseline / value for times (value / baseline for rates), so a ratio
    above 1 always means better than the baseline. With ratio_target, `target` and `ok` judge the
    ratio instead of the value."""
    ratio = None
    if baseline:
        ratio = (value / baseline) if higher_is_better else (baseline / value if value else None)
    ok = None
    if ratio_target is not None:
        return {"workload": workload, "metric": metric, "value": round(value, 6), "unit": unit,
                "baseline": None if baseline is None else round(baseline, 6),
                "ratio": None if ratio is None else round(ratio, 3), "target": ratio_target,
                "ok": ratio is not None and ratio >= ratio_target}
    if target is not None:
        ok = value >= target if higher_is_better else value <= target
    return {"workload": workload, "metric": metric, "value": round(value, 6), "unit": unit,
            "baseline": None if baseline is None else round(baseline, 6),
            "ratio": None if ratio is None else round(ratio, 3), "target": target, "ok": ok}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def cpu_timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def percentile(xs: list[float], q: float) -> float:
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[int(q) - 1]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def schema_tag() -> str:
    """A short fingerprint of the migrations: cached benchmark databases are rebuilt when it changes."""
    import hashlib
    from pathlib import Path

    mig = Path(__file__).resolve().parents[1] / "collector" / "store" / "migrations"
    h = hashlib.sha256()
    for f in sorted(mig.glob("*.sql")):
        h.update(f.read_bytes())
    return h.hexdigest()[:8]
