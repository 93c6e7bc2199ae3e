"""Turns "no database yet" into an explained page instead of an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from dashboard import data


def load(name: str, *args: Any) -> Any:
    """data.call, but a missing database stops the page with an explanation."""
    try:
        return data.call(name, *args)
    except data.NoDatabase as e:
        st.info(f"No data yet. {e}", icon=":material/hourglass_empty:")
        st.stop()


def safely(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except data.NoDatabase as e:
        st.info(f"No data yet. {e}", icon=":material/hourglass_empty:")
        st.stop()
