"""Snapshot publishing: a reader process-side copy that is consistent and replaceable while writes go on."""

import threading

import duckdb

from analytics.db import read_connection
from collector.snapshot import publish_snapshot
from collector.store.writer import Store


def test_snapshot_is_readable_consistent_and_replaced_atomically(tmp_path):
    live, snap = tmp_path / "live.duckdb", tmp_path / "snap.duckdb"
    store = Store(live).start()
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            # each job writes a pair of rows: a consistent snapshot never holds half a pair
            store.write(lambda c, i=i: c.execute(
                "INSERT INTO service_state VALUES ($a, 'x', TIMESTAMP '2026-01-01'), ($b, 'x', TIMESTAMP '2026-01-01')",
                {"a": f"a{i}", "b": f"b{i}"}))
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(5):
            publish_snapshot(store.con, live, snap)
            with read_connection(snap, live) as con:
                a, b = con.execute("SELECT count(*) FILTER (key LIKE 'a%'), count(*) FILTER (key LIKE 'b%') "
                                   "FROM service_state").fetchall()[0]
                assert a == b
                assert con.execute("SELECT count(*) FROM schema_migrations").fetchall()[0][0] >= 1
    finally:
        stop.set()
        t.join()
    n_live = store.write(lambda c: c.execute("SELECT count(*) FROM service_state").fetchall()[0][0])
    publish_snapshot(store.con, live, snap)
    store.close()
    con = duckdb.connect(str(snap), read_only=True)
    assert con.execute("SELECT count(*) FROM service_state").fetchall()[0][0] == n_live
    con.close()
    assert not list(tmp_path.glob(".*publishing*"))
