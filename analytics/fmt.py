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
    """Seconds as '45 s', '1 min 50 s', '2 h 05 min'; an em dash when unknown."""
    if missing(v):
        return DASH
    s = float(v)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        m, sec = divmod(int(round(s)), 60)
        return f"{m} min {sec:02d} s" if sec else f"{m} min"
    h, m = divmod(int(round(s / 60)), 60)   # hours: rounded to the minute
    return f"{h} h {m:02d} min"
