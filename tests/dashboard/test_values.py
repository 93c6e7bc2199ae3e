"""Numbers shown equal a direct SQL query on the same database, and filters change them.

Expected values are computed here with SQL against the demo file (never through analytics.views).
Filters are set through the URL query string, the way a shared link sets them.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dash_app import app, chart_data, dataframe, use_db

from analytics import fmt

D0, D1 = "2026-11-03", "2026-11-14"
BASE = {"dates": [D0, D1]}


@pytest.fixture(autouse=True)
def _demo(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_db(monkeypatch, demo_db)


def _busiest_hood(sql: duckdb.DuckDBPyConnection) -> str:
    row = sql.execute("""SELECT coalesce(v.neighborhood, '(unknown)') FROM venue_daily vd JOIN venues v USING (provider, venue_id)
                         WHERE vd.metric_date BETWEEN $a AND $b GROUP BY 1 ORDER BY sum(drops) DESC LIMIT 1""",
                      {"a": D0, "b": D1}).fetchone()
    assert row
    return str(row[0])


def _ranking_drops(sql: duckdb.DuckDBPyConnection, hood: str | None, tb: str | None) -> pd.Series:
    df = sql.execute("""
        SELECT v.name AS venue, sum(vd.drops) AS drops, sum(vd.closed_timed + vd.censored) AS n
        FROM venue_daily vd JOIN venues v USING (provider, venue_id)
        WHERE vd.metric_date BETWEEN $a AND $b
          AND ($h IS NULL OR coalesce(v.neighborhood, '(unknown)') = $h)
          AND ($tb IS NULL OR vd.time_bucket = $tb)
        GROUP BY ALL""", {"a": D0, "b": D1, "h": hood, "tb": tb}).df()
    df = df[df["n"] >= 10]                     # settings.min_sample default: thin rows hidden
    return df.set_index("venue")["drops"].astype(int).sort_index()


def test_hardest_tables_match_sql_and_follow_filters(sql: duckdb.DuckDBPyConnection) -> None:
    at = app("hardest", BASE)
    shown = dataframe(at, "rank", "venue", "drops", "thin")
    got = shown.set_index("venue")["drops"].astype(int).sort_index()
    assert got.to_dict() == _ranking_drops(sql, None, None).to_dict()
    assert not shown["thin"].any()
    assert shown["scarcity_score"].is_monotonic_decreasing

    hood = _busiest_hood(sql)
    at = app("hardest", {**BASE, "hood": [hood], "tb": "Prime"})
    shown2 = dataframe(at, "rank", "venue", "drops", "thin")
    got2 = shown2.set_index("venue")["drops"].astype(int).sort_index()
    assert got2.to_dict() == _ranking_drops(sql, hood, "prime").to_dict()
    assert set(shown2["neighborhood"]) == {hood}
    assert got2.sum() < got.sum()


def test_hardest_name_search_and_thin_rows(sql: duckdb.DuckDBPyConnection) -> None:
    name = str(sql.execute("SELECT name FROM venues ORDER BY venue_id LIMIT 1").fetchone()[0])  # type: ignore[index]
    word = name.split()[0]
    at = app("hardest", {**BASE, "q": word, "thin": "true"})
    shown = dataframe(at, "rank", "venue", "drops", "thin")
    expected = {r[0] for r in sql.execute(
        """SELECT DISTINCT v.name FROM venue_daily vd JOIN venues v USING (provider, venue_id)
           WHERE vd.metric_date BETWEEN $a AND $b AND contains(lower(v.name), lower($w))""",
        {"a": D0, "b": D1, "w": word}).fetchall()}
    assert set(shown["venue"]) == expected


def test_timing_hour_chart_matches_sql_over_complete_days(sql: duckdb.DuckDBPyConnection) -> None:
    # a partly observed day (the fixture's outage day) would read as a quiet one: left out
    used = """SELECT metric_date FROM day_quality WHERE metric_date BETWEEN $a AND $b AND NOT partial"""
    n_days, n_partial = sql.execute("SELECT count(*) FILTER (WHERE NOT partial), count(*) FILTER (WHERE partial) "
                                    "FROM day_quality WHERE metric_date BETWEEN $a AND $b", {"a": D0, "b": D1}).fetchone()  # type: ignore[misc]
    assert n_days > 0 and n_partial > 0

    def expected(tb: str | None) -> dict[int, float]:
        rows = sql.execute(f"""SELECT hour_local, sum(drops) FROM market_daily WHERE metric_date IN ({used})
                               AND ($tb IS NULL OR time_bucket = $tb) GROUP BY 1""",  # noqa: S608 - a fixed subquery
                           {"a": D0, "b": D1, "tb": tb}).fetchall()
        return {int(h): round(d / n_days, 9) for h, d in rows}

    for query, tb in ((BASE, None), ({**BASE, "tb": "Off-peak"}, "off_peak")):
        at = app("timing", query)
        frames = chart_data(at, 1)             # second chart: drops by hour of day
        df = next(f for f in frames if "hour_local" in f.columns)
        got = {int(h): round(float(v), 9) for h, v in zip(df["hour_local"], df["drops_per_day"], strict=True)}
        assert got == expected(tb)
        assert f"{n_partial} partly observed day(s) left out" in " ".join(c.value for c in at.caption)
    assert expected(None) != expected("off_peak")


def test_timing_weekday_seen_only_partly_is_marked(sql: duckdb.DuckDBPyConnection) -> None:
    """A weekday whose only day in range was partly observed keeps that day, labelled '(partial)';
    the others average their complete days."""
    partial_day = sql.execute("SELECT min(metric_date) FROM day_quality WHERE partial AND metric_date BETWEEN $a AND $b",
                              {"a": D0, "b": D1}).fetchone()[0]  # type: ignore[index]
    at = app("timing", {"dates": [partial_day.isoformat(), partial_day.isoformat()]})
    frames = chart_data(at, 0)
    df = next(f for f in frames if "weekday_name" in f.columns)
    assert set(df["weekday_name"]) == {partial_day.strftime("%a") + " (partial)"}
    drops = sql.execute("SELECT sum(drops) FROM market_daily WHERE metric_date = $d", {"d": partial_day}).fetchone()[0]  # type: ignore[index]
    assert df["drops_per_day"].sum() == drops


def test_trends_by_neighborhood_matches_sql(sql: duckdb.DuckDBPyConnection) -> None:
    for query, party in ((BASE, None), ({**BASE, "party": ["2"]}, 2)):
        at = app("trends", query)
        got = dataframe(at, "neighborhood", "drops").set_index("neighborhood")["drops"].astype(int).to_dict()
        rows = sql.execute("""SELECT neighborhood, sum(drops) FROM market_daily WHERE metric_date BETWEEN $a AND $b
                              AND ($p IS NULL OR party_size = $p) GROUP BY 1""", {"a": D0, "b": D1, "p": party}).fetchall()
        assert got == {h: int(d) for h, d in rows}


def test_durations_summary_matches_sql(sql: duckdb.DuckDBPyConnection) -> None:
    for split, col in (("Prime / off-peak", "vd.time_bucket"), ("Party size", "vd.party_size::VARCHAR")):
        at = app("durations", {**BASE, "split": split})
        got = dataframe(at, "group", "n_closed").set_index("group")["n_closed"].astype(int).to_dict()
        q = ("SELECT " + col + ", sum(n_closed) FROM venue_daily_hist vd "  # noqa: S608 - column from a fixed pair
             "WHERE metric_date BETWEEN $a AND $b GROUP BY 1")
        assert got == {str(g): int(n) for g, n in sql.execute(q, {"a": D0, "b": D1}).fetchall()}


def test_pulse_just_opened_matches_sql(sql: duckdb.DuckDBPyConnection) -> None:
    as_of = sql.execute("SELECT max(last_trusted_at) FROM buckets").fetchone()[0]  # type: ignore[index]
    for window in (15, 120):
        at = app("pulse", {"window": str(window)})
        n = sql.execute("""SELECT count(*) FROM open_slots WHERE source = 'drop'
                           AND date_diff('second', opened_hi, $t) <= $w""", {"t": as_of, "w": window * 60}).fetchone()[0]  # type: ignore[index]
        shown = dataframe(at, "venue", "age_min") if n else pd.DataFrame()
        assert len(shown) == n
        assert at.metric[0].value == f"{n:,}"


def test_venue_page_from_query_matches_sql(sql: duckdb.DuckDBPyConnection) -> None:
    vid, name = sql.execute("""SELECT venue_id, any_value(name) FROM venue_daily JOIN venues USING (provider, venue_id)
                               GROUP BY 1 ORDER BY sum(drops) DESC LIMIT 1""").fetchone()  # type: ignore[misc]
    at = app("venue", {**BASE, "venue": str(vid)})
    assert not at.exception
    drops = sql.execute("SELECT sum(drops) FROM venue_daily WHERE venue_id = $v AND metric_date BETWEEN $a AND $b",
                        {"v": vid, "a": D0, "b": D1}).fetchone()[0]  # type: ignore[index]
    assert at.metric[0].value == f"{int(drops):,}"
    iv = dataframe(at, "end_reason", "closed_lo")
    n_iv = sql.execute("""SELECT least(count(*), 200) FROM slot_intervals WHERE venue_id = $v
                          AND opened_local::DATE BETWEEN $a AND $b""", {"v": vid, "a": D0, "b": D1}).fetchone()[0]  # type: ignore[index]
    assert len(iv) == n_iv
    # the weekday x hour heatmap (nightly venue_hourly) counts every NEW_DROP of the venue, finished
    # (slot_intervals) or still open (open_slots), by the local weekday and hour it was first seen:
    # the same drops as the page's tile (venue_daily)
    heat = next(df for i in range(len(at.get("vega_lite_chart"))) for df in chart_data(at, i)
                if {"weekday", "hour", "drops"} <= set(df.columns))
    want = sql.execute("""WITH drops AS (
            SELECT timezone('America/New_York', timezone('UTC', opened_hi)) AS t FROM slot_intervals
            WHERE venue_id = $v AND source = 'drop'
            UNION ALL
            SELECT timezone('America/New_York', timezone('UTC', opened_hi)) FROM open_slots WHERE venue_id = $v AND source = 'drop')
        SELECT isodow(t), hour(t), count(*) FROM drops WHERE t::DATE BETWEEN $a AND $b GROUP BY ALL""",
                       {"v": vid, "a": D0, "b": D1}).fetchall()
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    assert {(days[d - 1], h, n) for d, h, n in want} == set(zip(heat["weekday"], heat["hour"].astype(int),
                                                                heat["drops"].astype(int), strict=True))
    assert sum(n for _d, _h, n in want) == drops


def test_health_counts_match_sql(sql: duckdb.DuckDBPyConnection) -> None:
    at = app("health", BASE)
    polls, trusted = sql.execute("SELECT count(*), count(*) FILTER (WHERE trusted) FROM poll_ledger").fetchone()  # type: ignore[misc]
    assert at.metric[0].value == f"{polls:,}"
    assert at.metric[1].value == f"{trusted / polls:.1%}"


def test_every_chart_uses_the_tablepulse_theme() -> None:
    from analytics.theme import FONT

    at = app("durations", BASE)
    charts = at.get("vega_lite_chart")
    assert charts
    for c in charts:
        spec = json.loads(c.proto.spec)
        assert spec["config"]["font"] == FONT
        assert c.proto.theme == ""            # Streamlit's theme off: ours applies


def test_ranking_median_interval_brackets_the_median(sql: duckdb.DuckDBPyConnection) -> None:
    shown = dataframe(app("hardest", BASE), "rank", "median_close", "median_close_s", "median_lo_min", "median_hi_min")
    bound = shown["median_close"].str.startswith("under ")
    # a median shown as a bound has no interval (it would look precise); a resolved one brackets it
    assert shown.loc[bound, ["median_lo_min", "median_hi_min"]].isna().all().all()
    both = shown[~bound].dropna(subset=["median_lo_min", "median_hi_min"])
    assert len(both) > 0
    minutes = both["median_close_s"] / 60
    assert (both["median_lo_min"] <= minutes + 0.05).all() and (minutes <= both["median_hi_min"] + 0.05).all()
    assert both["median_close"].tolist() == [fmt.duration(m) for m in both["median_close_s"]]


def test_hardest_fast_path_reads_venue_rolling(sql: duckdb.DuckDBPyConnection) -> None:
    """A 14-day range without party/weekday filters is read from the nightly venue_rolling rows."""
    d1 = sql.execute("SELECT max(as_of) FROM venue_rolling").fetchone()[0]  # type: ignore[index]
    d0 = d1 - pd.Timedelta(days=13)
    at = app("hardest", {"dates": [str(d0.date() if hasattr(d0, "date") else d0), str(d1)], "tb": "Prime"})
    shown = dataframe(at, "rank", "venue", "drops", "thin", "median_close")
    exp = sql.execute("""SELECT v.name, r.drops, r.km_median_s FROM venue_rolling r JOIN venues v USING (provider, venue_id)
                         WHERE r.as_of = $d AND r.window_days = 14 AND r.time_bucket = 'prime' AND r.n >= 10""",
                      {"d": d1}).fetchall()
    assert dict(zip(shown["venue"], shown["drops"].astype(int), strict=True)) == {n: int(d) for n, d, _m in exp}
    # time-to-close reads as the stored seconds, or as a bound where the polls cannot resolve it
    medians = dict(zip(shown["venue"], shown["median_close"], strict=True))
    timed = [(n, m) for n, _d, m in exp if m is not None]
    assert timed
    for n, m in timed:
        assert medians[n] == fmt.duration(m) or medians[n].startswith("under "), (n, m, medians[n])


def test_pulse_counts_stay_exact_when_rows_are_capped(sql: duckdb.DuckDBPyConnection) -> None:
    from analytics import views

    as_of = sql.execute("SELECT max(last_trusted_at) FROM buckets").fetchone()[0]  # type: ignore[index]
    expected = dict(sql.execute("""
        SELECT CASE WHEN source <> 'drop' THEN 'baseline'
                    WHEN date_diff('second', opened_hi, $t) <= 3600 THEN 'just' ELSE 'still' END, count(*)
        FROM open_slots GROUP BY 1""", {"t": as_of}).fetchall())
    assert expected.get("still", 0) > 3                 # the cap below must bite
    f = views.Filters(d0=pd.Timestamp(D0).date(), d1=pd.Timestamp(D1).date())
    rows, counts = views.open_now(sql, f, as_of, 3600, limit=3)
    assert counts == {c: int(expected.get(c, 0)) for c in views.OPEN_CLASSES}
    for c in views.OPEN_CLASSES:
        got = rows[rows["cls"] == c]
        assert len(got) == min(3, counts[c])
        newest = sql.execute("SELECT max(opened_hi) FROM open_slots WHERE CASE WHEN source <> 'drop' THEN 'baseline' "
                             "WHEN date_diff('second', opened_hi, $t) <= 3600 THEN 'just' ELSE 'still' END = $c",
                             {"t": as_of, "c": c}).fetchone()[0]  # type: ignore[index]
        if len(got):
            assert got["opened_at"].iloc[0] == newest


def test_pulse_daily_drops_equal_raw_events_and_aggregates(sql: duckdb.DuckDBPyConnection) -> None:
    from analytics import views

    last = sql.execute("SELECT max(metric_date) FROM day_quality").fetchone()[0]  # type: ignore[index]
    d0 = last - pd.Timedelta(days=27)
    daily = views.daily_drops(sql, d0, last)
    got = {pd.Timestamp(d).date(): int(n) for d, n in zip(daily["day"], daily["drops"], strict=True)}
    raw = dict(sql.execute("""SELECT observed_local::DATE, count(*) FROM availability_events
                              WHERE event_type = 'NEW_DROP' AND observed_local::DATE BETWEEN $a AND $b GROUP BY 1""",
                           {"a": d0, "b": last}).fetchall())
    assert raw and {d: n for d, n in got.items() if n} == {d: int(n) for d, n in raw.items()}
    typical = views.today_vs_typical(views.daily_drops(sql, d0, last), last)
    complete = [int(n) for (n,) in sql.execute(
        """SELECT coalesce(sum(md.drops), 0) FROM day_quality q LEFT JOIN market_daily md USING (metric_date)
           WHERE q.metric_date BETWEEN $a AND $b AND NOT q.partial GROUP BY q.metric_date""",
        {"a": d0, "b": last - pd.Timedelta(days=1)}).fetchall()]
    assert typical["n_days"] == len(complete)
    assert typical["typical"] == (float(pd.Series(complete).median()) if complete else None)


def test_data_span_is_the_aggregated_days_or_else_the_last_raw_day(demo_db: Path, tmp_path: Path) -> None:
    import shutil

    from analytics import views
    from analytics.db import connect

    con = connect(demo_db, read_only=True)
    try:
        expected = con.execute("SELECT min(metric_date), max(metric_date) FROM day_quality").fetchone()
        raw = con.execute("SELECT max(observed_local)::DATE FROM availability_events").fetchone()[0]  # type: ignore[index]
        assert views.data_span(con) == expected
    finally:
        con.close()
    fresh = tmp_path / "not-aggregated.duckdb"           # before the first nightly run
    shutil.copy(demo_db, fresh)
    con = connect(fresh)
    try:
        con.execute("DELETE FROM day_quality")
        assert views.data_span(con) == (raw, raw)
    finally:
        con.close()


def test_time_to_close_captions_state_the_poll_resolution(sql: duckdb.DuckDBPyConnection) -> None:
    """Durations are measured between polls: the pages that show time-to-close say how far apart the
    polls were (day_quality.median_gap_s of the days in range: min to max)."""
    lo, hi = sql.execute("SELECT min(median_gap_s), max(median_gap_s) FROM day_quality "
                         "WHERE metric_date BETWEEN $a AND $b", {"a": D0, "b": D1}).fetchone()  # type: ignore[misc]
    assert lo is not None and lo > 0
    apart = f", {fmt.duration(lo)} apart" if lo == hi else f", {fmt.duration(lo)} to {fmt.duration(hi)} apart"
    for page in ("hardest", "durations"):
        captions = [c.value for c in app(page, BASE).caption]
        assert any(apart in c for c in captions), (page, apart, captions)


def test_resolution_clause_spans_the_days_and_skips_days_without_a_gap() -> None:
    from dashboard.components import notes
    assert notes.resolution([None, float("nan")]) == ""          # days aggregated before 0008
    assert ", 30 s to 1 h 00 min apart" in notes.resolution([30.0, None, 3600.0, 600.0])
    assert ", 10 min apart" in notes.resolution([600.0, 600.2])
