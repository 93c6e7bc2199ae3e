"""`tablepulse digest --week 2026-W47 --out DIR`: write the weekly digest bundle.

Called by collector/cli.py as main(settings, week=..., out=...) with the one Settings object (the
leaf module tablepulse_settings, which analytics may import). Exit 0 on success, 2 with one line on
stderr for a bad --week, a week without data or a missing database.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from analytics.db import NoDatabase, read_connection
from analytics.digest.builder import BuildOptions, NoWeekData, build, write_bundle
from analytics.digest.week import WeekError, last_complete_week, parse_week
from tablepulse_settings import Settings

BAR_W = 30


def progress_bar(stream: TextIO) -> Callable[[int, int, str], None]:
    """A one-line text progress bar on STREAM (stderr), redrawn in place."""
    def show(i: int, total: int, label: str) -> None:
        filled = int(BAR_W * i / total) if total else BAR_W
        stream.write(f"\rdigest [{'#' * filled}{'.' * (BAR_W - filled)}] {i}/{total} {label:<28}")
        if i >= total:
            stream.write("\n")
        stream.flush()
    return show


def main(settings: Settings, week: str | None = None, out: str | Path = "digest", *,
         now: datetime | None = None, stderr: TextIO | None = None) -> int:
    err = stderr or sys.stderr
    now = now or datetime.now(UTC)
    try:
        wk = parse_week(week) if week else last_complete_week(now, settings.timezone)
    except WeekError as e:
        print(f"tablepulse digest: {e}", file=err)
        return 2
    opts = BuildOptions(tz=str(settings.timezone), min_sample=int(settings.min_sample),
                        tap_window_s=int(settings.tap_window_s), book_window_s=int(settings.book_window_s))
    try:
        with read_connection(settings.snapshot_path, settings.db_path) as con:
            bundle = build(con, wk, opts, generated_at=now, progress=progress_bar(err))
    except NoWeekData as e:
        print(f"tablepulse digest: {e}", file=err)
        return 2
    except NoDatabase as e:
        print(f"tablepulse digest: week {wk.label}: {e}", file=err)
        return 2
    paths = write_bundle(bundle, out)
    kept = [h.text for h in bundle.digest.headlines if h.passed] if bundle.digest else []
    print(f"digest {wk.label}: {len(paths)} files in {Path(out)} ({len(kept)} headline(s))", file=err)
    return 0
