"""The shared display pieces: value formats, formatted table columns, the duration histogram's
first bin, day axes in bands, and partial days marked where the coverage rule says so."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dash_app import app, chart_data, use_db

from analytics import fmt
from analytics.db import connect
from dashboard.components import display


@pytest.mark.parametrize(("seconds", "text"), [
    (45, "45 s"), (130, "2 min 10 s"), (600, "10 min"), (3780, "1 h 03 min"), (47 * 3600, "47 h 00 min"),
    (542 * 3600 + 19 * 60, "22 d 14 h"), (None, fmt.DASH), (float("nan"), fmt.DASH)])
def test_duration_reads_in_units(seconds: float | None, text: str) -> None:
    assert fmt.duration(seconds) == text


def test_counts_and_shares() -> None:
    assert fmt.count(1234567) == "1,234,567"
    assert fmt.share(0.5967) == "59.7%"
    assert fmt.share(None) == fmt.DASH


def test_shown_columns_read_as_labelled() -> None:
    C = display.Col
    df = pd.DataFrame({"key": ["prime", "off_peak"], "rate": [0.5967, 0.35489126], "med": [104.9529, 7943.28],
                       "per_day": [184.8333333, 82.83333], "price": [2, None], "bucket": ["prime", "off_peak"]})
    out = display.shown(df, {"key": C("", "hidden"), "rate": C("Rate", "share"), "med": C("Median", "duration"),
                             "per_day": C("Per day", "number"), "price": C("Price", "price"),
                             "bucket": C("Time bucket", "bucket")})
    assert list(out.columns) == ["key", "rate", "med", "per_day", "price", "bucket"]
    assert out["key"].tolist() == ["prime", "off_peak"]           # hidden columns keep their raw value
    assert out["rate"].tolist() == [59.7, 35.5]                   # a share, in percent, to the digit shown
    assert out["med"].tolist() == ["1 min 45 s", "2 h 12 min"]
    assert out["per_day"].tolist() == [184.8, 82.8]
    assert out["price"].tolist() == ["$$", fmt.DASH]
    assert out["bucket"].tolist() == ["Prime", "Off-peak"]


def test_histogram_places_the_bin_that_starts_at_zero() -> None:
    surv = pd.DataFrame({"lo_s": [0.0, 1.0, 1.122, 1.259], "hi_s": [1.0, 1.122, 1.259, 1.413],
                         "closed": [3.0, 0.0, 5.0, 2.0]})
    spec = display.duration_hist(surv, "closed drops").to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert [r["closed"] for r in rows] == [3.0, 5.0, 2.0]          # empty bins are not drawn
    assert all(r["lo_plot"] > 0 for r in rows)                     # a log axis can place every bar
    assert rows[0]["lo_plot"] == pytest.approx(1.0 / display.BIN_RATIO)
    assert spec["encoding"]["y2"] == {"datum": 0}                  # bars stand on zero
    assert spec["encoding"]["x"]["scale"]["type"] == "log"


def test_day_axis_is_one_band_per_day() -> None:
    x = display.day_x().to_dict()
    assert x["type"] == "ordinal" and x["timeUnit"] == "utcyearmonthdate"


def test_pulse_marks_the_first_collected_day_and_today_partial(demo_db: Path, monkeypatch: pytest.MonkeyPatch,
                                                               sql: duckdb.DuckDBPyConnection) -> None:
    use_db(monkeypatch, demo_db)
    at = app("pulse")
    assert not at.exception, [e.value for e in at.exception]
    frame = next(f for f in chart_data(at, 0) if display.DAY_KIND in f.columns)
    kinds = dict(zip(pd.to_datetime(frame["day"]).dt.date, frame[display.DAY_KIND], strict=True))
    con = connect(demo_db, read_only=True)
    try:
        first_at, last_at = con.execute("SELECT min(started_at), max(started_at) FROM poll_ledger").fetchone()  # type: ignore[misc]
        flagged = {d for (d,) in con.execute("SELECT metric_date FROM day_quality WHERE partial").fetchall()}
    finally:
        con.close()
    local = {t: (pd.Timestamp(t).tz_localize("UTC").tz_convert("America/New_York").date()) for t in (first_at, last_at)}
    first, last = local[first_at], local[last_at]
    assert min(kinds) <= first and last in kinds                   # the chart spans both ends
    for d, kind in kinds.items():   # partial: collection began or was still running, or an outage day
        expected = d <= first or d >= last or d in flagged
        assert (kind == display.PARTIAL) == expected, (d, kind)
    assert any(k == display.COMPLETE for k in kinds.values())
