"""Coverage: a day not observed from its start to its end is partial (collection started or stopped
mid-day), as an outage day is, so no claim reads it as a quiet day."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.analytics.test_nightly import BUCKET, D, _agg, _polls_only, _row, at


def _day(tmp_path: Path, name: str, first_h: int, last_h: int) -> bool:
    """Trusted polls every 10 min from first_h:00 to last_h:00 on D: is D partial?"""
    polls = [at(first_h) + timedelta(minutes=10 * k) for k in range(6 * (last_h - first_h) + 1)]
    con = _polls_only(tmp_path, name, {BUCKET: polls})
    _agg(con, D)
    return bool(_row(con, "SELECT partial FROM day_quality")["partial"])


def test_a_day_watched_from_start_to_end_is_complete(tmp_path: Path) -> None:
    assert _day(tmp_path, "whole.duckdb", 0, 24) is False


def test_a_day_whose_collection_started_mid_day_is_partial(tmp_path: Path) -> None:
    assert _day(tmp_path, "started.duckdb", 14, 23) is True        # history began that afternoon


def test_a_day_whose_collection_stopped_mid_day_is_partial(tmp_path: Path) -> None:
    assert _day(tmp_path, "stopped.duckdb", 0, 18) is True
