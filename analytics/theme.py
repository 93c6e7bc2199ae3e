"""The one Altair theme of Tablepulse: dashboard charts and the digest's exported images.

Altair only (no Streamlit). ``enable()`` registers and activates it for this process;
``export_config()`` returns the same config for tools that render a spec outside the active theme.
The dashboard passes ``theme=None`` to st.altair_chart so Streamlit does not override it.
"""

from __future__ import annotations

import copy
from typing import Any

import altair as alt

THEME_NAME = "tablepulse"

# Colour-blind-safe categorical palette (Okabe-Ito order, black dropped) and one sequential ramp.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#7F7F7F"]
SEQUENTIAL = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"]
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
FONT = "Inter, 'Source Sans Pro', 'Segoe UI', Helvetica, Arial, sans-serif"
# Fixed colours for the two time buckets so prime/off-peak read the same on every chart.
TIME_BUCKET_COLORS = {"prime": "#D55E00", "off_peak": "#0072B2"}

_CONFIG: dict[str, Any] = {
    "config": {
        "background": "#ffffff",
        "font": FONT,
        "view": {"stroke": None, "continuousWidth": 560, "continuousHeight": 260},
        "title": {"font": FONT, "fontSize": 15, "fontWeight": 600, "color": INK, "anchor": "start",
                  "subtitleColor": MUTED, "subtitleFontSize": 12},
        "axis": {"labelFont": FONT, "titleFont": FONT, "labelColor": MUTED, "titleColor": INK,
                 "labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": 500,
                 "gridColor": GRID, "domainColor": GRID, "tickColor": GRID},
        "axisX": {"grid": False},
        "axisY": {"grid": True, "domain": False, "ticks": False},
        # a band axis's grid line runs through the middle of each band: across a heatmap's cells
        "axisYBand": {"grid": False},
        "legend": {"labelFont": FONT, "titleFont": FONT, "labelColor": INK, "titleColor": INK,
                   "labelFontSize": 11, "titleFontSize": 12, "orient": "top"},
        "header": {"labelFont": FONT, "titleFont": FONT, "labelColor": INK},
        "range": {"category": PALETTE, "heatmap": SEQUENTIAL, "ramp": SEQUENTIAL},
        "bar": {"color": PALETTE[0], "cornerRadiusEnd": 2},
        "line": {"color": PALETTE[0], "strokeWidth": 2},
        "area": {"color": PALETTE[0], "opacity": 0.25},
        "point": {"color": PALETTE[0], "filled": True, "size": 40},
        "rule": {"color": MUTED},
        "rect": {"stroke": "#ffffff", "strokeWidth": 0.5},
        "text": {"font": FONT, "color": INK},
    }
}


def theme() -> dict[str, Any]:
    """The theme as Altair's registry expects it (a fresh copy per call)."""
    return copy.deepcopy(_CONFIG)


def export_config() -> dict[str, Any]:
    """The theme's ``config`` block, for rendering specs outside the active theme (vl-convert)."""
    return copy.deepcopy(_CONFIG["config"])


def _register() -> None:
    if THEME_NAME not in alt.theme.names():
        alt.theme.register(THEME_NAME, enable=False)(theme)  # type: ignore[arg-type]


def enable() -> None:
    """Register (idempotent) and activate the theme in this process."""
    _register()
    alt.theme.enable(THEME_NAME)


def spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart's Vega-Lite spec rendered under this theme (for exported PNG/SVG files)."""
    _register()
    with alt.theme.enable(THEME_NAME):
        return chart.to_dict()
