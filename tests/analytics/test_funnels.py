"""Funnel definitions on hand-built rows: ordering, windows, drop id forms, too-late bounds, deciles."""

from __future__ import annotations

from datetime import datetime

from analytics import funnels
from analytics.db import connect
from collector.store.migrate import migrate

T = datetime(2026, 3, 1, 12, 0, 0)


def _db(tmp_path):
    con = connect(tmp_path / "f.duckdb")
    migrate(con)
    con.execute("INSERT INTO venues VALUES ('resy', 1, 'V', 'SoHo', 2, 'x', 'UTC', 0, 0, $t, $t)", {"t": T})
    # interval i1: last seen open 12:05, first poll without it 12:07
    con.execute("""INSERT INTO slot_intervals VALUES ('i1', 'resy', 1, DATE '2026-03-02', TIME '19:00', 2, 'std',
        '2026-03-02_19:00', 'prime', 'drop', false, TIMESTAMP '2026-03-01 11:58', TIMESTAMP '2026-03-01 12:00',
        TIMESTAMP '2026-03-01 12:05', TIMESTAMP '2026-03-01 12:07', 'closed', 420, TIMESTAMP '2026-03-01 07:00',
        TIMESTAMP '2026-03-01 12:07')""")
    return con


def _ev(con, mid, alert, etype, at, drop=None, venue=None):
    con.execute("INSERT INTO alert_events VALUES ($m, $a, 'u', $e, $t, $t, $t, $t, 0, 0, $d, $v, NULL, NULL, 'k')",
                {"m": mid, "a": alert, "e": etype, "t": datetime.fromisoformat(at), "d": drop, "v": venue})


def test_ordered_steps_windows_and_too_late(tmp_path):
    con = _db(tmp_path)
    # a1: sent 12:01, opened 12:03, tapped 12:06 (possibly late), booked 12:20
    _ev(con, "1", "a1", "alert_sent", "2026-03-01 12:01:00", "i1|NEW_DROP", 1)
    _ev(con, "2", "a1", "alert_opened", "2026-03-01 12:03:00")
    _ev(con, "3", "a1", "tap_to_reserve", "2026-03-01 12:06:00")
    _ev(con, "4", "a1", "booking_confirmed", "2026-03-01 12:20:00")
    # a2: tap BEFORE open does not count; open at 12:10 is too late (> closed_hi 12:07)
    _ev(con, "5", "a2", "alert_sent", "2026-03-01 12:01:00", "i1", 1)
    _ev(con, "6", "a2", "tap_to_reserve", "2026-03-01 12:02:00")
    _ev(con, "7", "a2", "alert_opened", "2026-03-01 12:10:00")
    # a3: opened after the 30-minute window: not opened
    _ev(con, "8", "a3", "alert_sent", "2026-03-01 12:01:00", "i1", 1)
    _ev(con, "9", "a3", "alert_opened", "2026-03-01 12:31:01")
    # a4: no alert_sent in range -> not an alert of this funnel
    _ev(con, "10", "a4", "alert_opened", "2026-03-01 12:05:00")
    f = funnels.make_filter(datetime(2026, 3, 1), datetime(2026, 3, 2))
    rep = funnels.funnel_report(con, f, min_sample=2)
    assert rep["steps"]["n"].tolist() == [3, 2, 1, 1]
    assert rep["steps"]["drop_off"].tolist()[1:] == [1, 1, 0]
    times = rep["times"].set_index("span")
    assert times.loc["sent_to_open", "median_s"] == (120 + 540) / 2
    assert times.loc["sent_to_book", "median_s"] == 19 * 60
    late = rep["too_late"].iloc[0]
    assert (late["n_acted"], late["n_acted_too_late"], late["n_acted_possibly_late"]) == (2, 1, 1)
    assert (late["n_tapped"], late["n_tapped_possibly_late"]) == (1, 1)
    by = rep["by_neighborhood"].iloc[0]
    assert (by["value"], by["n_sent"], by["n_booked"], bool(by["thin"])) == ("SoHo", 3, 1, False)
    assert rep["by_time_bucket"]["value"].tolist() == ["prime"]
    assert rep["vs_scarcity"].empty  # no scores yet: skipped, not an error


def test_scarcity_decile_point_in_time(tmp_path):
    con = _db(tmp_path)
    _ev(con, "1", "a1", "alert_sent", "2026-03-01 12:01:00", "i1", 1)
    con.execute("""INSERT INTO venue_rolling (provider, venue_id, as_of, window_days, time_bucket, days_observed,
        partial_days, drops, release_drops, cancel_drops, closed, closed_timed, censored, observed_s, fully_booked_s,
        trend, scarcity_score, n, thin) VALUES
        ('resy', 1, DATE '2026-02-28', 14, 'all', 7, 0, 1, 0, 1, 1, 1, 0, 1, 1, 'flat', 87.5, 20, false),
        ('resy', 1, DATE '2026-03-05', 14, 'all', 7, 0, 1, 0, 1, 1, 1, 0, 1, 1, 'flat', 12.0, 20, false)""")
    j = funnels.alert_journeys(con, funnels.make_filter(datetime(2026, 3, 1), datetime(2026, 3, 2)))
    assert j["scarcity_score"].tolist() == [87.5] and j["scarcity_decile"].tolist() == [9]
