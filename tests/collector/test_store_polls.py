"""The store's poll write (collector/store/polls.py) against a migrated DuckDB file: the rows it
inserts line up with their tables column by column, and a re-applied batch writes nothing twice."""

from __future__ import annotations

from datetime import date, datetime, time

from analytics.db import connect
from collector.store import polls
from collector.store.migrate import migrate

T = datetime(2026, 11, 20, 17, 0)
DAY = date(2026, 11, 25)


def test_each_relation_has_its_tables_columns_in_order(tmp_path) -> None:
    """The inserts are positional (SELECT *; BY NAME costs ~0.7 ms a statement): the schemas must
    name the target table's columns in the table's order."""
    con = connect(tmp_path / "s.duckdb")
    migrate(con)
    for rel, table in polls.TARGETS.items():
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]   # table names from TARGETS only
        assert polls.SCHEMAS[rel].names == cols, table


def _poll(poll_id: str) -> polls.PollWrite:
    slot = {"provider": "resy", "venue_id": 7, "slot_date": DAY, "slot_time": time(19), "party_size": 2,
            "table_type": "Bar"}
    ledger = {"poll_id": poll_id, "provider": "resy", "bucket_id": f"{DAY}_19:00", "party_size": 2,
              "started_at": T, "finished_at": T, "phase": "live", "trusted": True, "outcome": "ok", "detail": None,
              "http_status": 200, "pages": 1, "requests": 1, "venues_seen": 1, "slots_seen": 1, "n_new_drop": 1,
              "n_closed": 0, "n_expired": 0, "latency_ms": 1.0}
    bucket = {"bucket_id": f"{DAY}_19:00", "party_size": 2, "last_poll_at": T, "last_trusted_at": T,
              "calibration_done": 1, "calibration_tries": 1, "baseline_ready": True, "baseline_slots": 0,
              "collapse_since": None, "collapse_answers": 0, "closes_seen": 0, "open_slot_s": 0.0}
    w = polls.PollWrite(poll_id, ledger, bucket)
    w.events = [{"event_id": "iv|NEW_DROP", "event_type": "NEW_DROP", **slot, "bucket_id": f"{DAY}_19:00",
                 "bucket_date": DAY, "time_bucket": "prime", "interval_id": "iv", "observed_at": T,
                 "observed_local": T, "prev_poll_at": None, "duration_s": None, "is_release": False,
                 "poll_id": poll_id}]
    w.opened = [{**slot, "bucket_id": f"{DAY}_19:00", "interval_id": "iv", "source": "drop", "opened_lo": T,
                 "opened_hi": T, "is_release": False}]
    return w


def test_a_batch_applied_twice_writes_once(tmp_path) -> None:
    con = connect(tmp_path / "s.duckdb")
    migrate(con)
    con.execute("INSERT INTO buckets (bucket_id, party_size, bucket_date, time_slot, time_bucket, created_at) "
                "VALUES ($b, 2, $d, '19:00', 'prime', $t)", {"b": f"{DAY}_19:00", "d": DAY, "t": T})
    assert polls.write_polls(con, [_poll("p1"), _poll("p1")]) == set()
    assert polls.write_polls(con, [_poll("p1")]) == {"p1"}
    counts = con.execute("SELECT (SELECT count(*) FROM poll_ledger), (SELECT count(*) FROM availability_events), "
                         "(SELECT count(*) FROM open_slots)").fetchall()
    assert counts == [(1, 1, 1)]


def test_each_keyed_relation_is_matched_on_its_tables_primary_key(tmp_path) -> None:
    """write_polls keeps one row per KEYS entry before each MERGE: that key must be the table's own."""
    con = connect(tmp_path / "s.duckdb")
    migrate(con)
    tables = {**polls.TARGETS, "new_venues": "venues"}
    for rel, key in polls.KEYS.items():
        pk = con.execute("SELECT constraint_column_names FROM duckdb_constraints() "
                         "WHERE table_name = $t AND constraint_type = 'PRIMARY KEY'", {"t": tables[rel]}).fetchall()
        assert pk == [(list(key),)], rel


def test_a_key_twice_in_one_batch_is_written_once(tmp_path) -> None:
    """Two polls of one batch opening the same slot (buckets whose time windows overlap) and seeing the
    same venue: one open_slots row, the venue as the later poll saw it, and no key violation."""
    con = connect(tmp_path / "s.duckdb")
    migrate(con)
    con.execute("INSERT INTO buckets (bucket_id, party_size, bucket_date, time_slot, time_bucket, created_at) "
                "VALUES ($b, 2, $d, '19:00', 'prime', $t)", {"b": f"{DAY}_19:00", "d": DAY, "t": T})
    batch = [_poll("p1"), _poll("p2")]
    for w, name in zip(batch, ["Old name", "New name"], strict=True):
        w.venues = [{"provider": "resy", "venue_id": 7, "name": name, "neighborhood": None, "price_range": 2,
                     "cuisine": None, "tz": "America/New_York", "lat": 40.7, "lon": -74.0, "seen_at": T}]
    assert polls.write_polls(con, batch) == set()
    rows = con.execute("SELECT (SELECT count(*) FROM poll_ledger), (SELECT count(*) FROM open_slots), "
                       "(SELECT list(name) FROM venues)").fetchall()
    assert rows == [(2, 1, ["New name"])]
