"""CSV export of exactly the table on screen, with a commented header naming filters and sample."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st


def to_csv(df: pd.DataFrame, header_lines: list[str]) -> bytes:
    """The shown rows and columns as CSV, preceded by '# ' comment lines (pandas: comment='#')."""
    buf = io.StringIO()
    for line in header_lines:
        buf.write(f"# {line}\n")
    df.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def download(df: pd.DataFrame, filename: str, header_lines: list[str], key: str) -> None:
    st.download_button(f"Download CSV ({len(df):,} rows)", data=to_csv(df, header_lines),
                       file_name=filename, mime="text/csv", key=key, icon=":material/download:",
                       on_click="ignore")
