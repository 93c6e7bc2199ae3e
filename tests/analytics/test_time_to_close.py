"""The one time-to-close definition (analytics/sql/measure_time_to_close.sql) agrees with a plain
reading of its words (tests/analytics/km_oracle.py) on any histogram: empty bins, all-censored
groups, groups that die out, bin 0."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.sql_loader import run_script
from tests.analytics import km_oracle

Cells = dict[int, tuple[int, int]]

counts = st.integers(0, 6).map(lambda v: 0 if v > 3 else v)        # mostly empty
histograms = st.dictionaries(st.integers(0, 141), st.tuples(counts, counts), min_size=1, max_size=10)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("CREATE TABLE duration_bins (bin SMALLINT, lo_s DOUBLE, hi_s DOUBLE)")
    c.execute("INSERT INTO duration_bins SELECT i, CASE WHEN i = 0 THEN 0.0 ELSE pow(10, (i - 1) / 20.0) END, "
              "pow(10, i / 20.0) FROM range(0, 142) r(i)")
    run_script(c, "measure_time_to_close")
    return c


def _sql(con: duckdb.DuckDBPyConnection, groups: list[Cells]) -> pd.DataFrame:
    rows = [(g, b, d, c) for g, cells in enumerate(groups) for b, (d, c) in cells.items()]
    frame = pd.DataFrame(rows, columns=["grp", "bin", "n_closed", "n_censored"])
    con.register("hist_frame", frame)
    try:
        return con.execute("SELECT * FROM time_to_close(hist_frame) ORDER BY grp").df().set_index("grp")
    finally:
        con.unregister("hist_frame")


@settings(max_examples=200, deadline=None)
@given(st.lists(histograms, min_size=1, max_size=8))
def test_sql_time_to_close_equals_the_plain_definition(con: duckdb.DuckDBPyConnection, groups: list[Cells]) -> None:
    got = _sql(con, groups)
    for g, cells in enumerate(groups):
        if not any(d + c for d, c in cells.values()):
            assert g not in got.index                  # a group with no interval has no estimate
            continue
        want = km_oracle.time_to_close(cells)
        row = got.loc[g]
        assert row["n"] == sum(d + c for d, c in cells.values())
        for name, value in want.items():
            if value is None:
                assert pd.isna(row[name]), (name, cells)
            else:
                assert row[name] == pytest.approx(value, rel=1e-9, abs=1e-6), (name, cells)


def test_identical_histograms_give_identical_medians(con: duckdb.DuckDBPyConnection) -> None:
    """Ties stay ties (the scarcity ranks depend on it), wherever the groups sit among others."""
    same = {40: (3, 1), 55: (2, 0), 70: (1, 2)}
    groups = [same] + [{k: (1, 1) for k in range(i, i + 20)} for i in range(30)] + [same]
    got = _sql(con, groups)
    assert got.loc[0, "km_median_s"] == got.loc[len(groups) - 1, "km_median_s"]


def test_a_median_within_two_poll_gaps_is_shown_as_a_bound(con: duckdb.DuckDBPyConnection) -> None:
    """An interval seen in one poll reads as about one gap whatever its truth: a median within two
    gaps is only known to be under two gaps."""
    got = con.execute("SELECT time_to_close_bound(1100.0, 600.0), time_to_close_bound(1200.0, 600.0), "
                      "time_to_close_bound(1300.0, 600.0), time_to_close_bound(NULL, 600.0), "
                      "time_to_close_bound(90.0, NULL)").fetchone()
    assert got == (1200.0, 1200.0, None, None, None)
