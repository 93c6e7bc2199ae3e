"""Value formats shared by the dashboard and the digest (stdlib only: cheap to import anywhere)."""

from __future__ import annotations

import math
from typing import Any

DASH = "—"


def missing(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(math.isnan(float(v)))
    except (TypeError, ValueError):
        return v is None


def duration(v: Any) -> str:
    """Seconds as '45 s', '1 min 50 s', '2 h 05 min', '3 d 04 h'; an em dash when unknown."""
    if missing(v):
        return DASH
    s = float(v)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        m, sec = divmod(int(round(s)), 60)
        return f"{m} min {sec:02d} s" if sec else f"{m} min"
    if s < 2 * 86400:
        h, m = divmod(int(round(s / 60)), 60)   # hours: rounded to the minute
        return f"{h} h {m:02d} min"
    d, h = divmod(int(round(s / 3600)), 24)     # days: rounded to the hour ("542 h" reads badly)
    return f"{d} d {h:02d} h"


def duration_or_bound(v: Any, bound: Any) -> str:
    """A time-to-close, or "under <bound>" where the polls cannot resolve it (km_median_bound_s of time_to_close in
    analytics/sql/measure_time_to_close.sql)."""
    return f"under {duration(bound)}" if not missing(bound) else duration(v)


def count(v: Any) -> str:
    """A count with thousand separators: 1,234."""
    return DASH if missing(v) else f"{int(v):,}"


def share(v: Any, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage: 0.123 -> 12.3%."""
    return DASH if missing(v) else f"{100 * float(v):.{digits}f}%"
