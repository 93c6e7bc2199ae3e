"""The bundle: every file exists and is valid, checksums match, CSV headers, a self-contained
HTML, reproducible output, and the CLI's errors."""

from __future__ import annotations

import hashlib
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from demo import NOW, WEEK, settings_for
from PIL import Image

from analytics.digest.cli import main

EXPECTED_CHARTS = {"hardest_tables", "movers", "drops_by_weekday", "drops_by_hour", "neighborhoods",
                   "prime_time_volatility"}
EXPECTED_TABLES = {"hardest_tables", "movers_harder", "movers_easier", "drops_by_weekday", "drops_by_hour",
                   "neighborhoods", "prime_time_volatility", "headlines"}


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_every_file_is_listed_with_a_matching_checksum(bundle_dir: Path) -> None:
    m = json.loads((bundle_dir / "manifest.json").read_text())
    assert m["week"] == WEEK and m["first_day"] == "2026-11-16" and m["last_day"] == "2026-11-22"
    listed = {f["path"] for f in m["files"]}
    assert listed == _files(bundle_dir) - {"manifest.json"}
    assert {"digest.md", "digest.html", "digest.pdf"} <= listed
    assert {f"charts/{c}.{ext}" for c in EXPECTED_CHARTS for ext in ("png", "svg")} <= listed
    assert {f"tables/{t}.csv" for t in EXPECTED_TABLES} <= listed
    for f in m["files"]:
        data = (bundle_dir / f["path"]).read_bytes()
        assert len(data) == f["bytes"], f["path"]
        assert hashlib.sha256(data).hexdigest() == f["sha256"], f["path"]
    assert sum(f["bytes"] for f in m["files"]) < 3_000_000


def _pdf_structure(data: bytes) -> int:
    """Checks header, xref/trailer/startxref, object offsets; returns the page count."""
    assert data.startswith(b"%PDF-1.")
    assert data.rstrip().endswith(b"%%EOF")
    sx = re.findall(rb"startxref\s+(\d+)\s+%%EOF", data)
    assert sx, "no startxref"
    off = int(sx[-1])
    assert data[off:off + 4] == b"xref", "startxref does not point at the xref table"
    xref = data[off:].split(b"trailer", 1)
    assert len(xref) == 2 and b"/Root" in xref[1] and b"/Size" in xref[1]
    lines = xref[0].split(b"\n")
    first, count = (int(x) for x in lines[1].split())
    entries = [ln for ln in lines[2:2 + count]]
    for i, e in enumerate(entries):
        pos, _gen, kind = e.split()[:3]
        if kind == b"n":
            assert re.match(rb"%d 0 obj" % (first + i), data[int(pos):int(pos) + 20]), f"object {first + i} offset"
    objs = re.findall(rb"\n\d+ 0 obj\n<<(.*?)>>\n(?:endobj|stream)", data, re.S)
    pages = [o for o in objs if re.search(rb"/Type /Page\b", o)]
    counts = [int(m.group(1)) for o in objs if re.search(rb"/Type /Pages\b", o)
              for m in [re.search(rb"/Count (\d+)", o)] if m]
    assert counts and counts[0] == len(pages) >= 1
    return len(pages)


def test_pdf_png_svg_csv_html_are_valid(bundle_dir: Path) -> None:
    assert _pdf_structure((bundle_dir / "digest.pdf").read_bytes()) >= 2
    for png in sorted((bundle_dir / "charts").glob("*.png")):
        raw = png.read_bytes()
        assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR"
        with Image.open(io.BytesIO(raw)) as im:
            im.verify()
        with Image.open(io.BytesIO(raw)) as im:
            assert im.size[0] > 400 and im.size[1] > 200
    for svg in sorted((bundle_dir / "charts").glob("*.svg")):
        assert ET.fromstring(svg.read_text()).tag.endswith("svg")
    for csv in sorted((bundle_dir / "tables").glob("*.csv")):
        text = csv.read_text()
        header = [ln for ln in text.splitlines() if ln.startswith("#")]
        for field in ("Week: 2026-W47", "Definition:", "Thresholds:", "Data freshness:", "Trusted polls:",
                      "Sample: n = "):
            assert any(field in h for h in header), (csv.name, field)
        df = pd.read_csv(csv, comment="#")
        assert len(df.columns) >= 3, csv.name
    html = (bundle_dir / "digest.html").read_text()
    assert "<img" in html
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", html), "external reference in digest.html"
    assert "http://" not in html and "https://" not in html and "@import" not in html
    md = (bundle_dir / "digest.md").read_text()
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (bundle_dir / link).is_file(), link


def test_csv_rows_match_the_markdown_tables(bundle_dir: Path) -> None:
    day = pd.read_csv(bundle_dir / "tables" / "drops_by_weekday.csv", comment="#")
    assert len(day) == 7 and list(day["metric_date"]) == sorted(day["metric_date"])
    md = (bundle_dir / "digest.md").read_text()
    for d, drops in zip(day["metric_date"], day["drops"], strict=True):
        date = datetime.fromisoformat(d)
        assert f"| {date.strftime('%a %b')} {date.day} | {drops:,} |" in md


def _strip_time(files: dict[str, bytes]) -> dict[str, bytes]:
    out = dict(files)
    out["digest.md"] = re.sub(rb"Generated \S+ by", b"Generated <t> by", out["digest.md"])
    m = json.loads(out["manifest.json"])
    m.pop("generated_at")
    m["files"] = [f for f in m["files"] if f["path"] != "digest.md"]
    out["manifest.json"] = json.dumps(m, sort_keys=True).encode()
    return out


def test_two_runs_give_identical_bundles_apart_from_generation_time(digest_db: Path, bundle_dir: Path,
                                                                    tmp_path: Path) -> None:
    later = datetime(2026, 11, 24, 18, 5, 7, tzinfo=UTC)
    assert main(settings_for(digest_db), week=WEEK, out=tmp_path / "again", now=later) == 0
    a = {p: (bundle_dir / p).read_bytes() for p in _files(bundle_dir)}
    b = {p: (tmp_path / "again" / p).read_bytes() for p in _files(tmp_path / "again")}
    assert set(a) == set(b)
    differ = sorted(p for p in a if a[p] != b[p])
    assert differ == ["digest.md", "manifest.json"], differ
    assert _strip_time(a) == _strip_time(b)
    # the generation time appears in those two files only
    stamps = (NOW.strftime("%Y-%m-%dT%H:%M:%SZ").encode(), later.strftime("%Y-%m-%dT%H:%M:%SZ").encode())
    for files in (a, b):
        holders = sorted(p for p, data in files.items() if any(s in data for s in stamps))
        assert holders == ["digest.md", "manifest.json"]


def test_default_week_is_the_last_complete_one(digest_db: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    # Monday morning UTC is still Sunday night in New York: W47 is not complete yet, W46 is.
    assert main(settings_for(digest_db), week=None, out=tmp_path / "d",
                now=datetime(2026, 11, 23, 3, 0, tzinfo=UTC)) == 0
    assert json.loads((tmp_path / "d" / "manifest.json").read_text())["week"] == "2026-W46"
    err = capsys.readouterr().err
    assert "digest [" in err and "manifest" in err  # the progress bar went to stderr


@pytest.mark.parametrize("week, expect", [
    ("2026-47", "bad --week '2026-47': expected an ISO week like 2026-W47"),
    ("2026-W54", "2026 has no ISO week 54"),
    ("2026-W40", "no data for week 2026-W40 (Sep 28 – Oct 4, 2026)"),
])
def test_cli_errors_are_one_line_with_exit_2(digest_db: Path, tmp_path: Path, week: str, expect: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(settings_for(digest_db), week=week, out=tmp_path / "x", now=NOW) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expect in err, err
    assert not (tmp_path / "x").exists()


def test_empty_database_names_the_week(empty_digest_db: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(settings_for(empty_digest_db), week="2026-W47", out=tmp_path / "x", now=NOW) == 2
    err = capsys.readouterr().err.strip()
    assert "no data for week 2026-W47" in err and len(err.splitlines()) == 1


def test_bundle_zip_is_deterministic(digest_db: Path) -> None:
    from analytics.db import connect
    from analytics.digest import BuildOptions, build, parse_week

    con = connect(digest_db, read_only=True)
    try:
        b1 = build(con, parse_week(WEEK), BuildOptions(), generated_at=NOW)
    finally:
        con.close()
    z1, z2 = b1.zip_bytes(), b1.zip_bytes()
    assert z1 == z2 and z1[:2] == b"PK"


def test_committed_sample_bundle_is_complete_and_checksummed() -> None:
    root = Path(__file__).resolve().parents[2] / "docs" / "sample-digest"
    m = json.loads((root / "manifest.json").read_text())
    assert m["week"] == "2026-W47"
    assert {f["path"] for f in m["files"]} == _files(root) - {"manifest.json"}
    for f in m["files"]:
        assert hashlib.sha256((root / f["path"]).read_bytes()).hexdigest() == f["sha256"], f["path"]
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) < 3_000_000
    assert _pdf_structure((root / "digest.pdf").read_bytes()) >= 2
