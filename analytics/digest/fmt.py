"""Fixed number formats of the digest: the same value always prints the same way in md, HTML, PDF.

Tests parse these back (tests/digest), so change them together.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from analytics.fmt import DASH, duration, duration_or_bound, missing  # noqa: F401 (the digest's formats)
from analytics.fmt import count as n  # noqa: F401 (the digest's count format)
from analytics.fmt import share as pct  # noqa: F401 (the digest's share format)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def num(v: Any, digits: int = 1) -> str:
    """A plain decimal: 12.3."""
    return DASH if missing(v) else f"{float(v):,.{digits}f}"


def signed_pct(v: Any, digits: int = 1) -> str:
    """A change already in percent: -34.0 -> -34.0%."""
    return DASH if missing(v) else f"{float(v):+.{digits}f}%"


def signed(v: Any, digits: int = 1) -> str:
    return DASH if missing(v) else f"{float(v):+.{digits}f}"





def day(d: date) -> str:
    """'Mon Nov 16'."""
    return f"{WEEKDAYS[d.weekday()][:3]} {d.strftime('%b')} {d.day}"


def long_day(d: date) -> str:
    return f"{WEEKDAYS[d.weekday()]}, {d.strftime('%b')} {d.day}, {d.year}"


def span(d0: date, d1: date) -> str:
    """'Nov 16 – Nov 22, 2026'."""
    return f"{d0.strftime('%b')} {d0.day} – {d1.strftime('%b')} {d1.day}, {d1.year}"


def yes_no(v: Any) -> str:
    return "yes" if bool(v) else "no"
