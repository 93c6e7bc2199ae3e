"""The dashboard's Weekly digest page: preview and downloads on the demo DB, explained empty state."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "streamlit_app.py"


def _open(monkeypatch: pytest.MonkeyPatch, db: Path, week: str | None = None) -> AppTest:
    monkeypatch.setenv("TABLEPULSE_DB_PATH", str(db))
    monkeypatch.setenv("TABLEPULSE_SNAPSHOT_PATH", str(db.with_suffix(".missing-snapshot")))
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(APP), default_timeout=120)
    if week:
        at.query_params["week"] = week
    at.switch_page("app_pages/digest.py")
    return at.run()


def test_page_previews_the_digest_and_offers_the_bundle(digest_db: Path, bundle_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(monkeypatch, digest_db, "2026-W47")
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Weekly digest"
    text = "\n".join(m.value for m in at.markdown)
    assert "State of NYC reservations" in text and "Week 2026-W47" in text
    assert "this weekend vs last" in text          # the kept headline, as in the CLI bundle
    cli_md = (bundle_dir / "digest.md").read_text()
    hardest = cli_md[cli_md.index("### Hardest tables this week"):cli_md.index("![Horizontal bars")].strip()
    assert hardest.splitlines()[4] in text          # a ranking row identical to the CLI's
    assert len(at.get("image")) >= 5
    labels = [b.proto.label for b in at.get("download_button")]
    assert any("bundle" in lb for lb in labels) and any("PDF" in lb for lb in labels)


def test_bundle_zip_holds_the_same_files_as_the_cli(digest_db: Path, bundle_dir: Path) -> None:
    from datetime import UTC, datetime

    from analytics.db import connect
    from analytics.digest import BuildOptions, build, parse_week

    con = connect(digest_db, read_only=True)
    try:
        b = build(con, parse_week("2026-W47"), BuildOptions(), generated_at=datetime(2026, 11, 23, tzinfo=UTC))
    finally:
        con.close()
    with zipfile.ZipFile(io.BytesIO(b.zip_bytes())) as z:
        names = {n.split("/", 1)[1] for n in z.namelist()}
        assert z.read("digest-2026-W47/digest.pdf") == (bundle_dir / "digest.pdf").read_bytes()
    on_disk = {p.relative_to(bundle_dir).as_posix() for p in bundle_dir.rglob("*") if p.is_file()}
    assert names == on_disk


def test_page_explains_an_empty_database(empty_digest_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _open(monkeypatch, empty_digest_db)
    assert not at.exception, [e.value for e in at.exception]
    assert any("No digest to show" in i.value for i in at.info)
