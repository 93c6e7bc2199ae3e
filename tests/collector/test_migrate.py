"""Migrations on real DuckDB files: recorded once, and 0009 (open_slots.last_seen_at dropped) keeps
the rows, their key, and the last sighting readers now take from the bucket."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import duckdb
import pytest

from analytics.db import connect
from collector import nightly
from collector.store import migrate as mig

DAY = date(2026, 11, 5)
OPENED, LAST_TRUSTED = datetime(2026, 11, 5, 12, 0), datetime(2026, 11, 5, 18, 30)


def test_each_migration_is_recorded_and_applied_once(tmp_path: Path) -> None:
    con = connect(tmp_path / "m.duckdb")
    names = [f.stem for f in mig.migration_files()]
    assert mig.migrate(con) == names
    assert mig.migrate(con) == []
    assert mig.applied(con) == names


def test_0009_keeps_open_slots_and_their_primary_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = mig.migration_files()
    upto = [f.stem for f in files].index("0009_open_slots_last_seen")
    con = connect(tmp_path / "m.duckdb")
    monkeypatch.setattr(mig, "migration_files", lambda: files[:upto])
    mig.migrate(con)
    con.execute("INSERT INTO open_slots VALUES ('resy', 7, $d, TIME '19:00', 2, 'Bar', '2026-11-05_19:00', 'iv7', "
                "'drop', NULL, $o, $t, TRUE)", {"d": DAY, "o": OPENED, "t": LAST_TRUSTED})
    con.execute("CHECKPOINT")
    monkeypatch.setattr(mig, "migration_files", lambda: files[:upto + 1])
    assert mig.migrate(con) == ["0009_open_slots_last_seen"]
    assert con.execute("SELECT venue_id, interval_id, opened_hi, is_release FROM open_slots").fetchall() == [
        (7, "iv7", OPENED, True)]
    assert "last_seen_at" not in [r[0] for r in con.execute("DESCRIBE open_slots").fetchall()]
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO open_slots VALUES ('resy', 7, $d, TIME '19:00', 2, 'Bar', 'b', 'other', 'drop', "
                    "NULL, $o, FALSE)", {"d": DAY, "o": OPENED})


def test_an_expired_open_slot_was_last_seen_by_its_buckets_last_trusted_poll(tmp_path: Path) -> None:
    """open_slots keeps no last sighting of its own: the nightly expiry closes a slot at its bucket's
    last trusted poll (the poll that last saw it open), not at its first sighting."""
    con = connect(tmp_path / "m.duckdb")
    mig.migrate(con)
    bucket = "2026-11-05_19:00"
    con.execute("INSERT INTO buckets (bucket_id, party_size, bucket_date, time_slot, time_bucket, created_at, "
                "baseline_ready, last_poll_at, last_trusted_at) VALUES ($b, 2, $d, '19:00', 'prime', $o, TRUE, $t, $t)",
                {"b": bucket, "d": DAY, "o": OPENED, "t": LAST_TRUSTED})
    con.execute("INSERT INTO open_slots VALUES ('resy', 7, $d, $st, 2, 'Bar', $b, 'iv7', 'drop', $o, $o, FALSE)",
                {"d": DAY, "st": time(19), "b": bucket, "o": OPENED})
    out = nightly.prune_buckets(con, date(2026, 11, 6), "UTC")
    assert out == {"slots_expired": 1, "buckets_pruned": 1}
    assert con.execute("SELECT end_reason, opened_hi, closed_lo, closed_hi FROM slot_intervals").fetchall() == [
        ("expired", OPENED, LAST_TRUSTED, None)]
    assert con.execute("SELECT count(*) FROM open_slots").fetchall() == [(0,)]
