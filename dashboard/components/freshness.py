"""Data freshness at the top of every page: the last trusted poll, overall and per bucket."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from dashboard import data

from . import display
from .notes import fmt_duration

STALE_AFTER_S = 15 * 60  # no trusted poll for 15 min while the service should poll every ~30 s


def banner() -> None:
    try:
        as_of = data.as_of()
        fr = data.freshness()
    except data.NoDatabase:
        st.info("No database yet: start the collector (`make run`); this page fills in as polls arrive.",
                icon=":material/hourglass_empty:")
        return
    if as_of is None:
        st.info("No trusted poll yet: every figure below is empty until the collector's first "
                "trusted poll lands.", icon=":material/hourglass_empty:")
        return
    local = data.local_now(as_of)
    age = (datetime.now(UTC).replace(tzinfo=None) - as_of).total_seconds()
    n_buckets = len(fr)
    stale = fr["last_trusted_at"].isna() | (
        (as_of - pd.to_datetime(fr["oldest_party_trusted_at"])).dt.total_seconds() > STALE_AFTER_S)
    msg = (f"Data as of {local:%a %Y-%m-%d %H:%M} {data.settings().timezone} (last trusted poll, "
           f"{fmt_duration(max(age, 0))} ago). {n_buckets} buckets watched; "
           f"{int(stale.sum())} without a trusted poll in the 15 min before that.")
    if age > STALE_AFTER_S:
        st.warning(msg + " The collector may be stopped: figures are as of that time.",
                   icon=":material/schedule:")
    else:
        st.success(msg, icon=":material/check_circle:")
    with st.expander("Last trusted poll per bucket"):
        C = display.Col
        display.table(fr, {"bucket_id": C("Bucket (date_time)"), "time_bucket": C("Time bucket", "bucket"),
                           "party_sizes": C("Party sizes"), "last_trusted_at": C("Last trusted poll", "datetime"),
                           "oldest_party_trusted_at": C("Stalest party size's last trusted poll", "datetime"),
                           "last_poll_at": C("Last poll", "datetime"), "baseline_ready": C("Baseline ready", "flag"),
                           "pending_collapse": C("Collapse pending", "flag",
                                                 "Most slots vanished at once; held untrusted until confirmed")},
                      key="freshness_table")
        st.caption("Times are UTC. A bucket is as fresh as its stalest party size · "
                   f"n = {n_buckets:,} buckets")
