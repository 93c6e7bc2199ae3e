"""The funnels page on a database with tracked alerts: step counts equal SQL on alert_events."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dash_app import app, dataframe, use_db

from analytics.db import connect


def test_funnel_steps_match_sql(demo_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "alerts.duckdb"
    shutil.copy(demo_db, db)
    con = connect(db)
    t = datetime(2026, 11, 10, 18, 0)
    steps = ["alert_sent", "alert_opened", "tap_to_reserve", "booking_confirmed"]
    reach = [4, 3, 1, 1, 2, 2, 1]              # how many steps each alert reached
    for a, k in enumerate(reach):
        for s in range(k):
            at = t + timedelta(minutes=a * 7 + s)
            con.execute("""INSERT INTO alert_events VALUES ($m, $a, $u, $e, $t, $t, $t, $t, 0, 0, NULL, 1, 0.5, NULL, 'k')""",
                        {"m": f"00000000-0000-4000-8000-{a:06d}{s:06d}", "a": f"alert{a}", "u": f"user{a % 3}",
                         "e": steps[s], "t": at})
    con.close()
    use_db(monkeypatch, db)
    at = app("funnels", {"dates": ["2026-11-03", "2026-11-14"]})
    assert not at.exception, [e.value for e in at.exception]
    shown = dataframe(at, "step", "n").set_index("step")["n"].astype(int).to_dict()
    con = connect(db, read_only=True)
    try:
        expected = dict(con.execute("SELECT event_type, count(DISTINCT alert_id) FROM alert_events GROUP BY 1").fetchall())
    finally:
        con.close()
    # the table names each step in words
    assert shown["Alert sent"] == expected["alert_sent"] == len(reach)
    assert shown["Alert opened"] == expected["alert_opened"]
    assert shown["Booking confirmed"] == expected["booking_confirmed"]
