"""Venue detail's summary (views.venue_summary) is the venue's row of Hardest tables' ranking
(views.ranking) for the same slice, every column, whichever way it is read: alone from venue_rolling
with the scarcity score the nightly job stored (a nightly window ranked among every venue under the
job's min_sample), or by ranking every venue (another min_n, a neighborhood or price filter, a slice
that is not a nightly window, a window the job has not made yet). On the pipeline-built database of
test_one_definition (same parameters: built once per session)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta

import duckdb
import pandas as pd
import pytest

from analytics import views
from analytics.db import connect
from analytics.views import Filters
from tests.pipeline import Collected, build_collected_db


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> Collected:
    return build_collected_db(tmp_path_factory.mktemp("onedef"), venues=30, days=11, poll_interval_s=600,
                              time_slots=("15:00", "19:00"), party_sizes=(2, 4), window_days=2)


@pytest.fixture(scope="module")
def con(collected: Collected) -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect(collected.db_path, read_only=True)
    yield c
    c.close()


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
