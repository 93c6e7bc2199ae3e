"""Chart helpers: every chart uses the one Altair theme (analytics.theme) and carries a caption."""

from __future__ import annotations

from typing import Any

import streamlit as st

from analytics import theme

from . import notes

theme.enable()

# SVG, not canvas: the charts are small (at most a few hundred marks), and an SVG keeps each mark in
# the page, where the browser test counts and measures them.
_SVG = {"embedOptions": {"renderer": "svg"}}


def show(chart: Any, definition: str, n: int | float | None, key: str | None = None) -> None:
    """Render with the Tablepulse theme (Streamlit's own theme off) and the caption line."""
    st.altair_chart(chart.properties(usermeta=_SVG), theme=None, width="stretch", key=key, alt=definition)
    notes.caption(definition, n)
