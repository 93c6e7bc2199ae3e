"""One real browser (Debian's chromium via Playwright) against `streamlit run` on a seeded database.

The database is the synthetic market with every nightly table, plus what a running collector adds:
its published service state (breaker, health), alert events posted through the real tracking app by
the simulated alert client, and the read-only snapshot the dashboard reads.

``test_every_page_shows_what_it_says`` opens every page of the navigation (and the home page under
its own path, Venue detail with a venue chosen, the digest with a week chosen) and fails on what a
reader would stumble on: an exception, a "Page not found" dialog, a chart whose caption counts a
sample but which draws no mark, bars drawn as hairlines, a chart without its sample size, raw JSON,
raw snake_case column names or unrounded floats in a table. ``test_filter_csv_and_venue_click``
applies a sidebar filter, downloads the CSV and checks its rows against SQL, then opens a venue by
clicking a ranking row.
"""

from __future__ import annotations

import io
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
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
DATES = "dates=2026-11-03&dates=2026-11-14"
# every page in the navigation: url path -> title (the test checks the sidebar lists exactly these)
PAGES = {"pulse": "Market pulse", "hardest": "Hardest tables", "venue": "Venue detail",
         "durations": "Drop durations", "timing": "Timing and volatility", "trends": "Market trends",
         "funnels": "Conversion funnels", "digest": "Weekly digest", "health": "Data health"}
MIN_BAR_PX = 3.0           # a bar thinner than this reads as a hairline, not a bar
JSON = re.compile(r"[{\[]\s*\"[^\"\n]{1,60}\"\s*:")          # '{"provider": ...' and the like
SNAKE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)+$")            # n_prev, drop_off_share, median_s
RAW_FLOAT = re.compile(r"^-?\d+\.\d{4,}$")                    # 0.5967, 104.9529


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _collector_writes(db: Path, snapshot: Path) -> None:
    """What a running collector adds to the file: alert events posted by the simulated alert client
    through the real tracking app, its service state (breaker, health) and the published snapshot."""
    from fastapi.testclient import TestClient

    from collector.clock import ManualClock
    from collector.service import Service
    from collector.tracking.app import create_app
    from simulator.alerts import AlertSimulator, read_drops
    from tablepulse_settings import Settings

    now = datetime.combine(END + timedelta(days=1), datetime.min.time()) + timedelta(hours=5)
    drops = read_drops(str(db), now - timedelta(days=12))
    s = Settings().replace(db_path=str(db), snapshot_path=str(snapshot), upstream_url="http://127.0.0.1:9")
    clock = ManualClock(now)
    svc = Service(s, clock=clock, serve_http=False)
    svc.store.start()
    try:
        with TestClient(create_app(s, svc.store, clock, health=svc.health)) as client:
            AlertSimulator("http://testserver", s.write_keys[0], seed=5, users=20, client=client).run_for_drops(drops, now)
    finally:
        svc.stop()      # writes the service state and publishes the snapshot, as on Ctrl-C


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed at /usr/bin/chromium")
    d = tmp_path_factory.mktemp("e2e")
    db, snapshot = d / "e2e.duckdb", d / "e2e.snapshot.duckdb"
    make_synthetic_db(db, venues=60, days=14, events=30_000, seed=4, end=END)
    fill(db, today=END + timedelta(days=1))
    _collector_writes(db, snapshot)
    port = _free_port()
    env = {**os.environ, "TABLEPULSE_DB_PATH": str(db), "TABLEPULSE_SNAPSHOT_PATH": str(snapshot)}
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


# What the page shows, read from the DOM: every Vega chart's mark items (their SVG elements' boxes on the page) and the
# caption under it, every table's header and cell texts (the grid keeps an accessible table in the
# DOM), the page's text and whether every image loaded.
READ_PAGE = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const charts = [];
  for (const el of main.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    const groups = [];
    for (const g of el.querySelectorAll('svg g.role-mark')) {
      const type = [...g.classList].find(c => c.startsWith('mark-'));
      if (!type || type === 'mark-group') continue;
      const items = [];
      for (const node of g.children) {
        if (typeof node.getBBox !== 'function') continue;
        const b = node.getBoundingClientRect();   // page pixels, the item's own transform included
        items.push([b.x, b.y, b.width, b.height]);
      }
      groups.push({type: type.slice(5), items});
    }
    let caption = null;
    let sib = el.closest('[data-testid="stElementContainer"]');
    for (let k = 0; k < 2 && sib; k++) {
      sib = sib.nextElementSibling;
      const c = sib && sib.querySelector('[data-testid="stCaptionContainer"]');
      if (c) { caption = c.innerText; break; }
    }
    charts.push({label: el.getAttribute('aria-label') || '', svg: !!el.querySelector('svg.marks'),
                 groups, caption});
  }
  const tables = [];
  for (const t of main.querySelectorAll('[data-testid="stDataFrame"] table')) {
    tables.push({headers: [...t.querySelectorAll('th')].map(h => h.innerText.trim()),
                 cells: [...t.querySelectorAll('td')].map(c => c.innerText.trim())});
  }
  const images = [...main.querySelectorAll('img')].map(i => i.complete && i.naturalWidth > 0);
  return {charts, tables, images, text: main.innerText,
          body: document.body.innerText};
}"""


@dataclass
class Shown:
    url: str
    page: dict[str, Any]

    def problems(self) -> list[str]:
        out: list[str] = []
        p = self.page
        if "Page not found" in p["body"]:
            out.append("page-not-found: a 'Page not found' dialog")
        for c in p["charts"]:
            name = c["label"][:70] or "(chart without a description)"
            if not c["svg"]:
                out.append(f"chart-unreadable: {name}: not drawn as SVG, marks cannot be counted")
                continue
            m = re.search(r"n = ([\d,]+)", c["caption"] or "")
            if m is None:
                out.append(f"no-sample-size: {name}: no 'n = ...' caption under the chart")
            n = int(m.group(1).replace(",", "")) if m else 0
            # an area mark (bar, cell, point, label) shows when both sides are > 0; a line or a rule
            # when one is
            drawn = [b for g in c["groups"] for b in g["items"]
                     if (b[2] > 0 and b[3] > 0) or (g["type"] in ("line", "rule") and (b[2] > 0 or b[3] > 0))]
            if n > 0 and not drawn:
                out.append(f"no-marks: {name}: n = {n:,} but the chart draws no mark")
            bars = [b for g in c["groups"] if g["type"] == "rect" for b in g["items"] if b[2] > 0 and b[3] > 0]
            thin = _hairline(bars)
            if thin:
                out.append(f"hairline-bars: {name}: {thin}")
        texts = [p["text"]] + [" ".join(t["cells"]) for t in p["tables"]]
        for t in texts:
            j = JSON.search(t)
            if j:
                out.append(f"raw-json: {t[max(0, j.start() - 20):j.start() + 60]!r}")
        for t in p["tables"]:
            raw_names = [h for h in t["headers"] if SNAKE.match(h)]
            if raw_names:
                out.append(f"raw-column-names: {raw_names}")
            floats = [c for c in t["cells"] if RAW_FLOAT.match(c)]
            if floats:
                out.append(f"raw-floats: {floats[:4]} in a table with columns {t['headers'][:8]}")
        if not all(p["images"]):
            out.append(f"broken-image: {p['images'].count(False)} image(s) did not load")
        return out


def _hairline(bars: list[list[float]]) -> str:
    """Why BARS (x, y, width, height) read as hairlines, or "". A bar's thickness is its side that
    does not carry the value (the one that stays constant across bars); it is a hairline when thinner
    than MIN_BAR_PX or when it fills under a fifth of the closest step between neighbouring bars
    (5-px bars a day apart on a continuous time axis)."""
    if len(bars) < 2:
        return ""
    ws, hs = [b[2] for b in bars], [b[3] for b in bars]
    vertical = max(ws) - min(ws) <= max(hs) - min(hs)
    thick = statistics.median(ws if vertical else hs)
    centres = sorted({round(b[0] + b[2] / 2 if vertical else b[1] + b[3] / 2, 1) for b in bars})
    steps = [b - a for a, b in zip(centres, centres[1:], strict=False)]
    step = min(steps) if steps else thick
    if thick < MIN_BAR_PX or thick < 0.2 * step:
        return f"{len(bars)} bars {thick:.1f} px thick, {step:.0f} px apart"
    return ""


def _settle(page: Any) -> None:
    """Wait until the script run is over and every chart has drawn."""
    page.wait_for_load_state("networkidle")
    page.wait_for_function("""() => !document.querySelector('[data-testid="stStatusWidget"]')
        && [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
             .every(e => e.querySelector('svg.marks, canvas'))""", timeout=60_000)
    # a first run can rerun once (widgets bound to the URL settle): read until two reads agree
    sign = "() => document.querySelector('[data-testid=\"stMain\"]').innerText.length + ':' + [...document.querySelectorAll('[data-testid=\"stVegaLiteChart\"] svg.marks')].length"
    last = None
    for _ in range(20):
        page.wait_for_timeout(500)
        now = page.evaluate(sign)
        if now == last and not page.query_selector('[data-testid="stStatusWidget"]'):
            return
        last = now


def test_every_page_shows_what_it_says(served: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    # assertions wait as long as actions: a fresh Streamlit process's first render (imports, first
    # query) can take well over expect's 5 s default on a 2-core CI machine
    expect.set_options(timeout=30_000)
    base, db = served
    con = connect(db, read_only=True)
    try:
        busiest = con.execute("SELECT venue_id FROM venue_daily GROUP BY 1 ORDER BY sum(drops) DESC, 1 LIMIT 1").fetchall()[0][0]
    finally:
        con.close()
    visits = [(path, title) for path, title in PAGES.items()]
    visits += [("", "Market pulse"), (f"venue?venue={busiest}", "Venue detail"),
               ("digest?week=2026-W46", "Weekly digest")]
    shots = tmp_path / "screenshots"
    shots.mkdir()
    found: dict[str, list[str]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        for path, title in visits:
            url = f"{base}/{path}{'&' if '?' in path else '?'}{DATES}"
            page.goto(url)
            expect(page.get_by_role("heading", name=title, exact=True).first).to_be_visible()
            _settle(page)
            if not path:   # the navigation lists every page this test visits, and no other
                links = page.locator('[data-testid="stSidebarNav"] a').evaluate_all("as => as.map(a => a.href)")
                listed = {urlparse(h).path.strip("/") for h in links}
                assert listed == set(PAGES) - {"pulse"} | {""}, listed
            page.screenshot(path=str(shots / f"{path.replace('?', '_').replace('=', '-') or 'home'}.png"),
                            full_page=True)
            shown = Shown(url, page.evaluate(READ_PAGE))
            errors = page.locator('[data-testid="stException"]').count()
            found[path or "/"] = (["exception: an exception box"] if errors else []) + shown.problems()
        browser.close()
    bad = {k: v for k, v in found.items() if v}
    assert not bad, "\n" + "\n".join(f"{k}: {p}" for k, v in bad.items() for p in v)


def test_filter_csv_and_venue_click(served: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=30_000)
    base, db = served
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        page.set_default_timeout(30_000)

        # apply a filter in the sidebar: the URL carries it and the ranking follows
        page.goto(f"{base}/hardest?{DATES}")
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
        expect(page.get_by_text("Median time-to-close", exact=True).first).to_be_visible()
        vid = int(parse_qs(urlparse(page.url).query)["venue"][0])
        con = connect(db, read_only=True)
        try:
            row = con.execute("SELECT name FROM venues WHERE venue_id = $v", {"v": vid}).fetchone()
        finally:
            con.close()
        assert row is not None and row[0] == first_venue
        browser.close()
