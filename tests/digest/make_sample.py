"""Build the committed sample bundle (docs/sample-digest/) from a seeded demo database.

    .venv/bin/python tests/digest/make_sample.py [OUT]     # default OUT: docs/sample-digest

Demo database: bench.synth (200 venues, 35 days ending Sunday 2026-11-22, seed 11; one outage on the
Friday), the real nightly aggregation (analytics.nightly.recompute) and seeded alert journeys for the
last week (tests/digest/demo.py). The digest is for 2026-W47 with a fixed generation time, so
re-running this script reproduces the committed files byte for byte.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

from demo import make_demo_db  # noqa: E402

from analytics.digest.cli import main  # noqa: E402

TZ = "America/New_York"
END = date(2026, 11, 22)
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def build(out: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.duckdb"
        make_demo_db(db, venues=200, days=35, events=240_000, seed=11, end=END, week=date(2026, 11, 16))
        if out.exists():
            shutil.rmtree(out)
        s = SimpleNamespace(db_path=str(db), snapshot_path=str(db.with_suffix(".none")), timezone=TZ, min_sample=10,
                            tap_window_s=1800, book_window_s=86400)
        return main(s, week="2026-W47", out=out, now=NOW)


if __name__ == "__main__":
    sys.exit(build(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "sample-digest"))
