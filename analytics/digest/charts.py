"""The digest's charts: Altair specs in the dashboard theme (analytics.theme), rendered to PNG and
SVG by vl-convert without a browser. Data goes in as plain strings and numbers (no temporal
fields), so rendering does not depend on the machine's time zone and is byte-for-byte repeatable.
"""

from __future__ import annotations

import re
from typing import Any

import altair as alt
import pandas as pd
import vl_convert as vlc

from analytics import theme
from analytics.digest import fmt
from analytics.digest.model import Chart, Table
from analytics.digest.queries import WeekData

WIDTH = 560
PNG_SCALE = 2


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    return theme.spec(chart)


def weekday_chart(w: WeekData, t: Table) -> Chart | None:
    d = t.raw
    if not len(d):
        return None
    rows = []
    for x in d.to_dict("records"):
        label = fmt.day(x["metric_date"]) + (" (partial)" if x["partial"] else "")
        rows.append({"day": label, "order": str(x["metric_date"]), "bucket": "prime", "drops": int(x["prime_drops"])})
        rows.append({"day": label, "order": str(x["metric_date"]), "bucket": "off_peak",
                     "drops": int(x["off_peak_drops"])})
    df = pd.DataFrame(rows)
    order = list(dict.fromkeys(df.sort_values("order")["day"]))
    c = alt.Chart(df, width=WIDTH, title=alt.Title("NEW_DROPs by day", subtitle=t.n_label)).mark_bar().encode(
        x=alt.X("day:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("drops:Q", title="NEW_DROPs", stack=True),
        color=alt.Color("bucket:N", title=None, scale=alt.Scale(domain=list(theme.TIME_BUCKET_COLORS),
                                                               range=list(theme.TIME_BUCKET_COLORS.values()))),
        order=alt.Order("bucket:N"))
    return Chart("drops_by_weekday", "NEW_DROPs by day", _spec(c), "Stacked bars of prime and off-peak drops per day")


def hour_chart(w: WeekData, t: Table) -> Chart | None:
    d = t.raw
    if not len(d) or not int(d["drops"].sum()):
        return None
    df = pd.DataFrame({"hour": [f"{int(h):02d}" for h in d["hour_local"]], "drops": [int(x) for x in d["drops"]]})
    c = alt.Chart(df, width=WIDTH, title=alt.Title("NEW_DROPs by hour of day", subtitle=t.n_label)).mark_bar().encode(
        x=alt.X("hour:N", title="hour (market time)", sort=None, axis=alt.Axis(labelAngle=0)),
        y=alt.Y("drops:Q", title="NEW_DROPs"))
    return Chart("drops_by_hour", "NEW_DROPs by hour of day", _spec(c), "Bars of drops per hour of the day")


def hardest_chart(w: WeekData, t: Table) -> Chart | None:
    d = t.raw
    if not len(d):
        return None
    df = pd.DataFrame({"venue": [f"{x['rank']}. {x['venue']}" for x in d.to_dict("records")],
                       "score": [round(float(s), 1) for s in d["scarcity_score"]]})
    c = alt.Chart(df, width=WIDTH, title=alt.Title("Hardest tables: scarcity score", subtitle=t.n_label)).mark_bar(
    ).encode(x=alt.X("score:Q", title="scarcity (0-100)", scale=alt.Scale(domain=[0, 100])),
             y=alt.Y("venue:N", sort=None, title=None))
    return Chart("hardest_tables", "Hardest tables", _spec(c), "Horizontal bars of the top scarcity scores")


def movers_chart(w: WeekData, up: Table, down: Table) -> Chart | None:
    d = pd.concat([x for x in (up.raw, down.raw) if len(x)], ignore_index=True) if len(up.raw) or len(down.raw) else None
    if d is None or not len(d):
        return None
    df = pd.DataFrame({"venue": [str(v) for v in d["venue"]], "change": [round(float(c), 1) for c in d["change_points"]]})
    df["direction"] = ["harder" if c > 0 else "easier" for c in df["change"]]
    c = alt.Chart(df, width=WIDTH, title=alt.Title("Biggest movers: scarcity change vs last week",
                                                   subtitle=up.n_label)).mark_bar().encode(
        x=alt.X("change:Q", title="change in scarcity score (points)"),
        y=alt.Y("venue:N", sort=alt.EncodingSortField("change", order="descending"), title=None),
        color=alt.Color("direction:N", title=None, scale=alt.Scale(domain=["harder", "easier"],
                                                                  range=[theme.PALETTE[3], theme.PALETTE[0]])))
    return Chart("movers", "Biggest movers", _spec(c), "Diverging bars of scarcity score changes")


def hoods_chart(w: WeekData, t: Table) -> Chart | None:
    d = t.raw.head(12)
    if not len(d):
        return None
    rows = []
    for x in d.to_dict("records"):
        rows.append({"neighborhood": str(x["neighborhood"]), "week": "this week", "drops": int(x["drops"])})
        rows.append({"neighborhood": str(x["neighborhood"]), "week": "last week", "drops": int(x["prev_drops"])})
    df = pd.DataFrame(rows)
    c = alt.Chart(df, width=WIDTH, title=alt.Title("NEW_DROPs by neighborhood", subtitle=t.n_label)).mark_bar().encode(
        x=alt.X("drops:Q", title="NEW_DROPs"),
        y=alt.Y("neighborhood:N", sort=list(dict.fromkeys(df["neighborhood"])), title=None),
        yOffset=alt.YOffset("week:N", sort=["this week", "last week"]),
        color=alt.Color("week:N", title=None, sort=["this week", "last week"],
                        scale=alt.Scale(range=[theme.PALETTE[0], theme.GRID])))
    return Chart("neighborhoods", "NEW_DROPs by neighborhood", _spec(c), "Grouped bars of drops per neighborhood")


def volatility_chart(w: WeekData, t: Table) -> Chart | None:
    d = t.raw[t.raw["time_bucket"] != "all"] if len(t.raw) else t.raw
    if not len(d):
        return None
    rows = []
    for x in d.to_dict("records"):
        for wk, col in (("this week", "volatility_index"), ("last week", "prev_volatility_index")):
            if pd.notna(x[col]):
                rows.append({"bucket": str(x["time_bucket"]), "week": wk, "index": round(float(x[col]), 1)})
    df = pd.DataFrame(rows)
    c = alt.Chart(df, width=WIDTH // 2, title=alt.Title("Volatility index", subtitle=t.n_label)).mark_bar().encode(
        x=alt.X("bucket:N", title=None, sort=["prime", "off_peak"], axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("week:N", sort=["this week", "last week"]),
        y=alt.Y("index:Q", title="volatility index"),
        color=alt.Color("week:N", title=None, sort=["this week", "last week"],
                        scale=alt.Scale(range=[theme.TIME_BUCKET_COLORS["prime"], theme.GRID])))
    return Chart("prime_time_volatility", "Volatility index", _spec(c), "Bars of the volatility index by time bucket")


def funnel_chart(w: WeekData, t: Table | None) -> Chart | None:
    if t is None or not len(t.raw):
        return None
    df = pd.DataFrame({"step": [str(s) for s in t.raw["step"]], "alerts": [int(n) for n in t.raw["n"]]})
    c = alt.Chart(df, width=WIDTH, title=alt.Title("Alert funnel", subtitle=t.n_label)).mark_bar().encode(
        x=alt.X("alerts:Q", title="alerts reaching the step"), y=alt.Y("step:N", sort=list(df["step"]), title=None))
    return Chart("funnel", "Alert funnel", _spec(c), "Bars of alerts reaching each funnel step")


_CLIP = re.compile(r"\bclip(\d+)\b")


def stable_ids(svg: str) -> str:
    """Vega numbers clip paths with a per-process counter (clip22 in one run, clip154 in the next);
    renumber them by first appearance so the same chart gives the same SVG bytes."""
    ids: dict[str, str] = {}

    def sub(m: re.Match[str]) -> str:
        return "clip" + ids.setdefault(m.group(1), str(len(ids) + 1))
    return _CLIP.sub(sub, svg)


def render(chart: Chart) -> Chart:
    """Fill chart.png (scale 2) and chart.svg from its spec with vl-convert."""
    chart.png = bytes(vlc.vegalite_to_png(chart.spec, scale=PNG_SCALE))
    chart.svg = stable_ids(str(vlc.vegalite_to_svg(chart.spec)))
    return chart
