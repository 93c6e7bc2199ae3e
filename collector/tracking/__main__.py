"""`python -m collector.tracking --db PATH --port N`: the tracking endpoint alone (Store + app + uvicorn).

For tests (the kill -9 test), the bench and local experiments. In production the collector
service hosts the same app in-process, sharing its Store.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

import tablepulse_settings as settings_mod
from collector.clock import SystemClock
from collector.store.writer import Store
from collector.tracking import server
from collector.tracking.app import create_app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m collector.tracking", description=__doc__)
    p.add_argument("--db", required=True, help="DuckDB file to open read-write (created if missing)")
    p.add_argument("--host", default=None, help="interface (default: setting tracking_host)")
    p.add_argument("--port", type=int, default=None, help="port (default: setting tracking_port)")
    p.add_argument("--write-key", action="append", default=None, help="accepted write key (repeatable)")
    p.add_argument("--max-group", type=int, default=256, help="store jobs per commit (1 = commit per job)")
    p.add_argument("--no-coalesce", action="store_true", help="one store job per request (bench baseline)")
    a = p.parse_args(argv)
    s = settings_mod.load(db_path=a.db, tracking_host=a.host, tracking_port=a.port)
    if a.write_key:
        s = s.replace(write_keys=a.write_key)
    store = Store(a.db, queue_max=s.writer_queue_max, max_group=a.max_group).start()
    try:
        app = create_app(s, store, SystemClock(), coalesce=not a.no_coalesce)
        uvicorn.Server(server.config(app, s.tracking_host, s.tracking_port)).run()
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
