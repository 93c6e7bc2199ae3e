"""One definition per metric: on a database built the way the product builds it (tests/pipeline.py:
the simulator, provider client, poller, store and the nightly job at every local midnight), the
time-to-close median and its 95% interval, the fully-booked share and the scarcity score read the
same on every surface that shows them, for several venues and filter combinations:
Hardest tables (views.ranking), Venue detail (views.venue_summary), Drop durations
(views.time_to_close with the venue's filter) and the digest's tables (analytics.digest.tables)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import views
from analytics.db import connect
from analytics.digest import fmt, queries, tables
from analytics.digest.week import IsoWeek
from analytics.sql_loader import run
from analytics.views import Filters
from tests.pipeline import Collected, build_collected_db

MIN_N = 10
FIGURES = ("km_median_s", "km_median_lo_s", "km_median_hi_s", "km_median_bound_s", "fully_booked_share",
           "scarcity_score", "drops_per_day")


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Collected:
    # 11 days from a Monday (a whole ISO week for the digest, and 10-day ranges), two party sizes
    # and two time buckets so the filters have something to cut; polls every 10 simulated minutes
    return build_collected_db(tmp_path_factory.mktemp("onedef"), venues=30, days=11, poll_interval_s=600,
                              time_slots=("15:00", "19:00"), party_sizes=(2, 4), window_days=2)


@pytest.fixture(scope="module")
def con(collected: Collected) -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(collected.db_path, read_only=True)
    yield c
    c.close()


def _slices(collected: Collected) -> dict[str, Filters]:
    days = collected.days
    week0 = days[0]                                   # a Monday: the ISO week the digest covers
    last = days[-1]
    return {
        "7-day week": Filters(week0, week0 + timedelta(days=6)),
        "7-day, prime": Filters(last - timedelta(days=6), last, time_bucket="prime"),
        "10-day": Filters(last - timedelta(days=9), last),
        "7-day, party of 4": Filters(last - timedelta(days=6), last, parties=(4,)),
        "10-day, weekdays": Filters(last - timedelta(days=9), last, dows=(1, 2, 3, 4, 5)),
        "10-day, party of 2, weekends": Filters(last - timedelta(days=9), last, parties=(2,), dows=(6, 7)),
    }


def _same(a: object, b: object) -> bool:
    if a is None or pd.isna(a):                       # type: ignore[arg-type]
        return b is None or bool(pd.isna(b))           # type: ignore[arg-type]
    return b is not None and not pd.isna(b) and float(b) == pytest.approx(float(a), rel=1e-9, abs=1e-6)  # type: ignore[arg-type]


def test_every_surface_shows_the_same_figures(collected: Collected, con: duckdb.DuckDBPyConnection) -> None:
    checked = 0
    for label, f in _slices(collected).items():
        hardest = views.ranking(con, f, MIN_N)
        ranked = hardest[hardest["scarcity_score"].notna()]
        assert len(ranked) >= 3, label
        # several venues: the top, the bottom and the middle of the ranking, and a thin one if any
        picks = [ranked.iloc[0], ranked.iloc[-1], ranked.iloc[len(ranked) // 2]]
        picks += [r for _i, r in hardest[hardest["thin"]].head(1).iterrows()]
        for row in picks:
            fv = dataclasses.replace(f, venue_id=int(row["venue_id"]))
            venue = views.venue_summary(con, fv, MIN_N)
            assert len(venue) == 1, (label, row["venue_id"])
            for name in FIGURES:
                assert _same(row[name], venue.iloc[0][name]), (label, int(row["venue_id"]), name)
            durations = views.time_to_close(con, fv, "none")
            assert len(durations) == 1 and int(durations.iloc[0]["n"]) == int(row["n"])
            for name in ("km_median_s", "km_median_lo_s", "km_median_hi_s", "km_median_bound_s"):
                assert _same(row[name], durations.iloc[0][name]), (label, int(row["venue_id"]), name)
            checked += 1
    assert checked >= 18


def test_a_nightly_window_reads_the_same_as_the_same_slice_computed_from_daily_rows(
        collected: Collected, con: duckdb.DuckDBPyConnection) -> None:
    """Hardest tables read a 7- or 14-day slice from venue_rolling (made by the nightly job); any
    other slice is computed from the per-day tables. Both are the same definitions: same rows."""
    for label, f in _slices(collected).items():
        if f.n_days != 7 or f.parties or f.dows:
            continue
        from_rolling = views.ranking(con, f, MIN_N).set_index("venue_id")
        assert from_rolling["km_median_bound_s"].notna().any(), label     # 10-minute polls: some bounds
        p = f.params()
        p.pop("venue_id")
        computed = run(con, "dash_ranking", min_n=MIN_N, **p).df().set_index("venue_id")
        assert sorted(from_rolling.index) == sorted(computed.index), label
        for vid in computed.index:
            for name in (*FIGURES, "n", "drops", "trend_pct", "mean_close_s"):
                assert _same(computed.loc[vid, name], from_rolling.loc[vid, name]), (label, vid, name)


def test_the_digest_hardest_table_shows_the_dashboard_figures(collected: Collected,
                                                              con: duckdb.DuckDBPyConnection) -> None:
    f = _slices(collected)["7-day week"]
    year, week, _ = f.d0.isocalendar()
    w = queries.gather(con, IsoWeek(year, week), tz=collected.settings.timezone, min_sample=MIN_N,
                       tap_window_s=900, book_window_s=3600)
    table = tables.hardest(w)
    assert len(table.rows) >= 3
    shown = {r[1]: r for r in table.rows}             # venue name -> formatted row
    for name, row in shown.items():
        vid = int(table.raw.loc[table.raw["venue"] == name, "venue_id"].iloc[0])
        venue = views.venue_summary(con, dataclasses.replace(f, venue_id=vid), MIN_N).iloc[0]
        durations = views.time_to_close(con, dataclasses.replace(f, venue_id=vid), "none").iloc[0]
        assert row[3] == fmt.num(venue["scarcity_score"])
        assert row[4] == fmt.pct(venue["fully_booked_share"])
        assert row[5] == fmt.num(venue["drops_per_day"])
        assert row[6] == fmt.duration_or_bound(venue["km_median_s"], venue["km_median_bound_s"]) \
            == fmt.duration_or_bound(durations["km_median_s"], durations["km_median_bound_s"])
        assert row[7] == fmt.n(venue["n"])


def test_the_pipeline_database_is_the_one_the_product_builds(collected: Collected) -> None:
    assert collected.stats["nightly"] >= 10 and Path(collected.db_path).exists()


# Venue detail's summary is the venue's row of Hardest tables' ranking, every column, whichever way it
# is read: alone from venue_rolling with the scarcity score the nightly job stored (a nightly window
# ranked among every venue under the job's min_sample), or by ranking every venue (another min_n, a
# neighborhood or price filter, a slice that is not a nightly window, a window not aggregated yet).

def _assert_rows_match_ranking(con: duckdb.DuckDBPyConnection, f: Filters, min_n: int) -> pd.DataFrame:
    ranked = views.ranking(con, f, min_n)
    assert len(ranked) >= 3
    for vid in ranked["venue_id"]:
        want = ranked[ranked["venue_id"] == vid].reset_index(drop=True)
        got = views.venue_summary(con, dataclasses.replace(f, venue_id=int(vid)), min_n)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
    return ranked


def test_a_nightly_window_reads_the_ranking_row(collected: Collected, con: duckdb.DuckDBPyConnection) -> None:
    last = collected.days[-1]
    min_n = collected.settings.min_sample          # what the nightly job flagged thin with
    for f in (Filters(last - timedelta(days=6), last), Filters(last - timedelta(days=6), last, time_bucket="prime"),
              Filters(last - timedelta(days=13), last, time_bucket="off_peak")):
        ranked = _assert_rows_match_ranking(con, f, min_n)
        assert ranked["scarcity_score"].notna().sum() >= 3, f


def test_another_min_sample_ranks_with_its_own_thin_flags(collected: Collected,
                                                          con: duckdb.DuckDBPyConnection) -> None:
    last = collected.days[-1]
    f = Filters(last - timedelta(days=6), last)
    n = views.ranking(con, f, collected.settings.min_sample)["n"]
    min_n = int(n.median()) + 1                    # flags venues the nightly job ranked as thin
    assert ((n >= collected.settings.min_sample) & (n < min_n)).any()
    ranked = _assert_rows_match_ranking(con, f, min_n)
    stored = con.execute("SELECT venue_id, scarcity_score FROM venue_rolling WHERE as_of = $d1 AND window_days = 7 "
                         "AND time_bucket = 'all'", {"d1": last}).df().set_index("venue_id")["scarcity_score"]
    scores = ranked.set_index("venue_id")["scarcity_score"]
    assert (scores.fillna(-1) != stored.loc[scores.index].fillna(-1)).any()


def test_a_neighborhood_filter_ranks_among_its_venues(collected: Collected, con: duckdb.DuckDBPyConnection) -> None:
    last = collected.days[-1]
    f = Filters(last - timedelta(days=6), last)
    everyone = views.ranking(con, f, collected.settings.min_sample).set_index("venue_id")["scarcity_score"]
    hood = str(views.ranking(con, f, collected.settings.min_sample)["neighborhood"].value_counts().index[0])
    ranked = _assert_rows_match_ranking(con, dataclasses.replace(f, hoods=(hood,)), collected.settings.min_sample)
    among_hood = ranked.set_index("venue_id")["scarcity_score"]
    assert (among_hood.fillna(-1) != everyone.loc[among_hood.index].fillna(-1)).any()


def test_other_slices_read_the_ranking_row(collected: Collected, con: duckdb.DuckDBPyConnection) -> None:
    last = collected.days[-1]
    # not nightly windows; a 7-day window ending after the last day the job aggregated (no
    # venue_rolling rows: computed from the per-day tables)
    for f in (Filters(last - timedelta(days=9), last), Filters(last - timedelta(days=6), last, parties=(2,)),
              Filters(last - timedelta(days=5), last + timedelta(days=1))):
        _assert_rows_match_ranking(con, f, collected.settings.min_sample)


def test_a_venue_without_a_row_gets_none(collected: Collected, con: duckdb.DuckDBPyConnection) -> None:
    last = collected.days[-1]
    f = Filters(last - timedelta(days=6), last)
    got = views.venue_summary(con, dataclasses.replace(f, venue_id=987654321), collected.settings.min_sample)
    assert got.empty and list(got.columns) == list(views.ranking(con, f, collected.settings.min_sample).columns)
