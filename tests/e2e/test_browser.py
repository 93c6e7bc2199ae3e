"""One real browser (Debian's chromium via Playwright) against `streamlit run` on a seeded database.

Visits every page (a screenshot of each under the test's tmp_path), applies a filter in the
sidebar, opens a venue by clicking a ranking row, downloads the CSV and checks its rows against SQL.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "dashboard"))
from dash_fill import fill  # noqa: E402

from analytics.db import connect  # noqa: E402
from bench.synth import make_synthetic_db  # noqa: E402

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
END = date(2026, 11, 14)
PAGES = {"pulse": "Market pulse", "hardest": "Hardest tables", "venue": "Venue detail",
         "durations": "Drop durations", "timing": "Timing and volatility", "trends": "Market trends",
         "funnels": "Conversion funnels", "health": "Data health"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    d = tmp_path_factory.mktemp("e2e")
    db = d / "e2e.duckdb"
    make_synthetic_db(db, venues=60, days=14, events=30_000, seed=4, end=END)
    fill(db, today=END + timedelta(days=1))
    port = _free_port()
    env = {**os.environ, "TABLEPULSE_DB_PATH": str(db), "TABLEPULSE_SNAPSHOT_PATH": str(d / "no-snapshot.duckdb")}
    log = (d / "streamlit.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/streamlit_app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (d / "streamlit.log").read_text()
            time.sleep(0.3)
        yield base, db
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_browser_walkthrough(served: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    # assertions wait as long as actions: a fresh Streamlit process's first render (imports, first
    # query) can take well over expect's 5 s default on a 2-core CI machine
    expect.set_options(timeout=30_000)
    base, db = served
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.set_default_timeout(30_000)

        # every page renders (title visible, no exception box); one screenshot each
        for path, title in PAGES.items():
            page.goto(f"{base}/{path}?dates=2026-11-03&dates=2026-11-14")
            expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible()
            page.wait_for_load_state("networkidle")
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
            page.screenshot(path=str(shots / f"{path}.png"), full_page=True)
        assert len(list(shots.glob("*.png"))) == len(PAGES)

        # apply a filter in the sidebar: the URL carries it and the ranking follows
        page.goto(f"{base}/hardest?dates=2026-11-03&dates=2026-11-14")
        expect(page.get_by_role("heading", name="Hardest tables", exact=True).first).to_be_visible()
        page.locator('[data-testid="stSidebar"]').get_by_text("Prime", exact=True).first.click()
        page.wait_for_url("**tb=Prime**")
        page.wait_for_load_state("networkidle")

        # download the CSV of exactly what is shown and check it against SQL. The URL changes before
        # the rerun finishes, so a click can still hit the previous render's button: download until
        # the file's own header says it holds the filtered view (the rerun landed), within 30 s.
        deadline = time.monotonic() + 30
        while True:
            with page.expect_download() as dl:
                page.get_by_role("button", name="Download CSV").click()
            text = Path(dl.value.path()).read_text()
            if "# time bucket prime" in text or time.monotonic() > deadline:
                break
            page.wait_for_timeout(500)
        assert "# time bucket prime" in text, text[:400]
        csv = pd.read_csv(io.StringIO(text), comment="#")
        con = connect(db, read_only=True)
        try:
            exp = con.execute("""
                SELECT v.name AS venue, sum(vd.drops) AS drops, sum(vd.closed_timed + vd.censored) AS n
                FROM venue_daily vd JOIN venues v USING (provider, venue_id)
                WHERE vd.metric_date BETWEEN DATE '2026-11-03' AND DATE '2026-11-14' AND vd.time_bucket = 'prime'
                GROUP BY ALL HAVING sum(vd.closed_timed + vd.censored) >= 10""").df()
        finally:
            con.close()
        assert len(csv) == len(exp) > 0
        assert dict(zip(csv["venue"], csv["drops"].astype(int), strict=True)) == \
            dict(zip(exp["venue"], exp["drops"].astype(int), strict=True))
        first_venue = str(csv["venue"].iloc[0])

        # open a venue from the ranking: click the first row's selection cell in the grid
        grid = page.locator('[data-testid="stDataFrame"]').locator("visible=true").first
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 12, box["y"] + 35 + 17)
        page.wait_for_url("**/venue?**venue=**")
        expect(page.get_by_role("heading", name="Venue detail", exact=True).first).to_be_visible()
        expect(page.get_by_text("Median time-to-close (KM)").first).to_be_visible()
        vid = int(parse_qs(urlparse(page.url).query)["venue"][0])
        con = connect(db, read_only=True)
        try:
            row = con.execute("SELECT name FROM venues WHERE venue_id = $v", {"v": vid}).fetchone()
        finally:
            con.close()
        assert row is not None and row[0] == first_venue
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(shots / "venue-from-ranking.png"), full_page=True)
        browser.close()
