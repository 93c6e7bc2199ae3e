"""Every page renders without an exception on the demo database and on an empty one."""

from __future__ import annotations

from pathlib import Path

import pytest
from dash_app import PAGES, app, use_db


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_demo_db(page: str, demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_db(monkeypatch, demo_db)
    at = app(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value
    assert not at.error


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_empty_db(page: str, empty_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_db(monkeypatch, empty_db)
    at = app(page)
    assert not at.exception, [e.value for e in at.exception]
    # every empty page says why instead of drawing empty charts
    assert at.info, f"{page}: no explained empty state"
