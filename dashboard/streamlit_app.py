"""Tablepulse dashboard entrypoint: navigation, the freshness banner and the shared filters only.

Run: `streamlit run dashboard/streamlit_app.py` (the app reads the collector's published snapshot,
or the live file when no service runs; paths from Tablepulse settings / TABLEPULSE_* env vars).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/streamlit_app.py` puts dashboard/ on sys.path, not the repo root.
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from dashboard import data  # noqa: E402
from dashboard.components import filters, freshness  # noqa: E402

HERE = Path(__file__).resolve().parent
PAGES = HERE / "app_pages"

st.set_page_config(page_title="Tablepulse", page_icon=":material/restaurant:", layout="wide")

home = st.Page(PAGES / "pulse.py", title="Market pulse", icon=":material/bolt:", url_path="home", default=True)

market = [
    home,
    st.Page(PAGES / "hardest.py", title="Hardest tables", icon=":material/trophy:", url_path="hardest"),
    st.Page(PAGES / "venue.py", title="Venue detail", icon=":material/storefront:", url_path="venue"),
]
analysis = [
    st.Page(PAGES / "durations.py", title="Drop durations", icon=":material/timer:", url_path="durations"),
    st.Page(PAGES / "timing.py", title="Timing and volatility", icon=":material/calendar_month:", url_path="timing"),
    st.Page(PAGES / "trends.py", title="Market trends", icon=":material/trending_up:", url_path="trends"),
    st.Page(PAGES / "funnels.py", title="Conversion funnels", icon=":material/filter_alt:", url_path="funnels"),
]
if (PAGES / "digest.py").exists():  # added by the digest work; nothing to wire here
    analysis.append(st.Page(PAGES / "digest.py", title="Weekly digest", icon=":material/newspaper:", url_path="digest"))
ops = [st.Page(PAGES / "health.py", title="Data health", icon=":material/monitor_heart:", url_path="health"),
       # /pulse is the home page's own name: a shared link to it opens the same page, filters kept.
       # A second, hidden page (not a redirect: switching pages would clear the link's filters)
       st.Page(PAGES / "pulse.py", title="Market pulse", url_path="pulse", visibility="hidden")]

page = st.navigation({"Market": market, "Analysis": analysis, "Operations": ops})
with data.run_scope():          # one reader connection for the whole run (see dashboard/data.py)
    freshness.banner()
    filters.render()
    page.run()
