"""ISO weeks of market-local days: parsing `--week 2026-W47` and the default "last complete week"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


class WeekError(ValueError):
    """A --week value that is not an ISO week like 2026-W47."""


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 7)

    def shift(self, weeks: int) -> IsoWeek:
        y, w, _ = (self.monday + timedelta(weeks=weeks)).isocalendar()
        return IsoWeek(y, w)

    @classmethod
    def of(cls, d: date) -> IsoWeek:
        y, w, _ = d.isocalendar()
        return cls(y, w)


def parse_week(text: str) -> IsoWeek:
    """'2026-W47' -> IsoWeek(2026, 47); anything else raises WeekError with a one-line reason."""
    m = _WEEK_RE.match(text.strip())
    if not m:
        raise WeekError(f"bad --week {text!r}: expected an ISO week like 2026-W47 (YYYY-Www)")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise WeekError(f"bad --week {text!r}: {year} has no ISO week {week}") from None
    return IsoWeek(year, week)


def last_complete_week(now_utc: datetime, tz: str) -> IsoWeek:
    """The last ISO week whose Sunday is over in the market time zone, as of ``now_utc``."""
    aware = now_utc if now_utc.tzinfo else now_utc.replace(tzinfo=UTC)
    today = aware.astimezone(ZoneInfo(tz)).date()
    return IsoWeek.of(today).shift(-1)
