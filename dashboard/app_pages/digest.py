"""Weekly digest: pick an ISO week, preview the editorial digest (headlines, tables, charts) and
download the whole bundle (md, html, pdf, charts, CSVs, manifest) as one zip.

The bundle is built by analytics.digest exactly as `tablepulse digest --week ... --out ...` writes it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import streamlit as st

from analytics.db import read_connection
from analytics.digest import BuildOptions, NoWeekData, available_weeks, build, last_complete_week, parse_week
from dashboard import data
from dashboard.components import guard, notes

_IMG = re.compile(r"^!\[([^\]]*)\]\((charts/[^)]+\.png)\)$")


@st.cache_data(ttl=data.TTL_S, show_spinner=False, max_entries=16)
def _weeks(snapshot_path: str, db_path: str) -> list[tuple[str, int, int]]:
    with read_connection(snapshot_path, db_path) as con:
        return [(w.label, days, partial) for w, days, partial in available_weeks(con)]


@st.cache_data(ttl=300, show_spinner=False, max_entries=8)
def _bundle(snapshot_path: str, db_path: str, week: str, tz: str, min_sample: int, tap_window_s: int,
            book_window_s: int) -> tuple[dict[str, bytes], bytes, list[str]]:
    """(files, zip, kept headlines) of the week's bundle; the generation time is when it was built."""
    opts = BuildOptions(tz=tz, min_sample=min_sample, tap_window_s=tap_window_s, book_window_s=book_window_s)
    with read_connection(snapshot_path, db_path) as con:
        b = build(con, parse_week(week), opts, generated_at=datetime.now(UTC))
    kept = [h.text for h in b.digest.headlines if h.passed] if b.digest else []
    return b.files, b.zip_bytes(), kept


st.title("Weekly digest")
st.caption("“State of NYC reservations”: headlines, rankings and charts the editorial team can publish, each "
           "number with its sample size. A headline appears only when its sample reaches the minimum and its "
           "change is larger than the week-to-week noise.")
s = data.settings()
snap, db = data.paths()
weeks = guard.safely(lambda: _weeks(snap, db))
if not weeks:
    notes.empty("digest", "no aggregated market day yet. The nightly job aggregates each finished day; "
                "a digest needs at least one day of its week.")
    st.stop()

labels = [w for w, _d, _p in weeks]
info = {w: (d, p) for w, d, p in weeks}
default = last_complete_week(datetime.now(UTC), s.timezone).label
week = st.selectbox("ISO week (market-local days, Monday to Sunday)", labels,
                    index=labels.index(default) if default in labels else 0, key="week", bind="query-params",
                    format_func=lambda w: f"{w} · {info[w][0]} of 7 days" + (f", {info[w][1]} not observed in full"
                                                                               if info[w][1] else ""))
with st.spinner(f"Building the digest for {week}…"):
    try:
        files, zipped, kept = _bundle(snap, db, week, s.timezone, int(s.min_sample), int(s.tap_window_s),
                                      int(s.book_window_s))
    except NoWeekData as e:
        notes.empty("digest", str(e))
        st.stop()

c1, c2, c3 = st.columns(3)
c1.download_button(f"Download the bundle ({len(files)} files, zip)", data=zipped, file_name=f"digest-{week}.zip",
                   mime="application/zip", icon=":material/download:", on_click="ignore", key="dl_zip")
c2.download_button("Download the PDF", data=files["digest.pdf"], file_name=f"digest-{week}.pdf",
                   mime="application/pdf", icon=":material/picture_as_pdf:", on_click="ignore", key="dl_pdf")
c3.download_button("Download the Markdown", data=files["digest.md"], file_name=f"digest-{week}.md",
                   mime="text/markdown", icon=":material/description:", on_click="ignore", key="dl_md")
st.caption(f"{len(kept)} headline(s) passed their tests this week. The preview below is digest.md as "
           "published; the zip also holds digest.html (self-contained), the charts as PNG and SVG, one CSV per "
           "table and manifest.json with checksums.")

st.divider()
chunk: list[str] = []
for line in files["digest.md"].decode("utf-8").splitlines():
    m = _IMG.match(line.strip())
    if m and m.group(2) in files:
        if chunk:
            st.markdown("\n".join(chunk))
            chunk = []
        st.image(files[m.group(2)], caption=m.group(1), width="content")   # natural size: a 2-bar chart stretched to the page is a poster
    else:
        chunk.append(line)
if chunk:
    st.markdown("\n".join(chunk))
