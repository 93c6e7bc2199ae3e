"""Fill the metric tables of a test database with the nightly job (analytics.nightly.recompute).

The dashboard tests compare what pages show against SQL on these same tables.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from analytics import nightly
from analytics.db import connect


def fill(path: Path, today: date) -> None:
    """Every metric table for the days before TODAY, as the nightly job writes them."""
    con = connect(path)
    try:
        nightly.recompute(con, tz="America/New_York", min_sample=10, today=today)
    finally:
        con.close()
