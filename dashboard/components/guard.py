"""Turns "no database yet" into an explained page instead of an error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec

import streamlit as st

from dashboard import data

P = ParamSpec("P")


def load(loader: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> Any:
    """loader(*args) (a dashboard.data loader, its arguments checked), but a missing database stops
    the page with an explanation."""
    try:
        return loader(*args, **kwargs)
    except data.NoDatabase as e:
        st.info(f"No data yet. {e}", icon=":material/hourglass_empty:")
        st.stop()


def safely(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except data.NoDatabase as e:
        st.info(f"No data yet. {e}", icon=":material/hourglass_empty:")
        st.stop()
