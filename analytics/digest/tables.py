"""The digest's tables: hardest tables, biggest movers, drops by weekday and hour, neighborhoods,
prime-time volatility, funnel summary, data quality. Each Table carries formatted rows for
readers, the raw frame for CSV, its definition, its sample size and the query it came from.
"""

from __future__ import annotations

import pandas as pd

from analytics.digest import fmt
from analytics.digest.model import Headline, Table
from analytics.digest.queries import WeekData
from analytics.scores import SCARCITY_FORMULA

TOP_N = 10                 # rows in the hardest-tables ranking
MOVERS_N = 5               # rows per movers table
MOVER_MIN_POINTS = 10.0    # a mover's score must change by at least this many points
HOODS_N = 12               # neighborhoods listed in the md/PDF table (the CSV has all)


def _raw(df: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return df[cols].reset_index(drop=True) if len(df) else pd.DataFrame(columns=cols)


def hardest(w: WeekData) -> Table:
    r = w.ranking
    r = r[r["scarcity_score"].notna()] if len(r) else r
    if len(r):
        r = r.sort_values(["scarcity_score", "venue_id"], ascending=[False, True], kind="mergesort").head(TOP_N)
        r = r.assign(rank=range(1, len(r) + 1))
    cols = ["rank", "venue_id", "venue", "neighborhood", "scarcity_score", "fully_booked_share", "drops",
            "drops_per_day", "km_median_s", "km_median_bound_s", "mean_close_s", "closed_timed", "censored", "n",
            "n_days"]
    raw = _raw(r, cols)
    rows = [[fmt.n(x["rank"]), str(x["venue"]), str(x["neighborhood"]), fmt.num(x["scarcity_score"]),
             fmt.pct(x["fully_booked_share"]), fmt.num(x["drops_per_day"]),
             fmt.duration_or_bound(x["km_median_s"], x["km_median_bound_s"]),
             fmt.n(x["n"])] for x in raw.to_dict("records")]
    total = int(w.ranking["n"].sum()) if len(w.ranking) else 0
    ranked = int(w.ranking["scarcity_score"].notna().sum()) if len(w.ranking) else 0
    return Table("hardest_tables", "Hardest tables this week",
                 ["#", "Venue", "Neighborhood", "Scarcity", "Fully booked", "Drops/day", "Median time-to-close", "n"],
                 rows, raw,
                 f"{SCARCITY_FORMULA} Computed over the week's market days, all time buckets and party sizes; "
                 f"median time-to-close is estimated from each slot's bounds between polls (Turnbull's estimator, "
                 f"expired slots censored), \"under\" a bound where the polls cannot place it; n = closed + "
                 f"censored intervals behind it. Venues with n < {w.min_sample} are thin and not ranked.",
                 f"n = {ranked:,} ranked venues, {total:,} intervals", "dash_ranking.sql")


def movers(w: WeekData) -> tuple[Table, Table]:
    a, b = w.ranking, w.prev_ranking
    cols = ["venue_id", "venue", "neighborhood", "scarcity_score", "prev_scarcity_score", "change_points",
            "drops_per_day", "prev_drops_per_day", "n", "prev_n"]
    if len(a) and len(b):
        a = a[a["scarcity_score"].notna()]
        b = b[b["scarcity_score"].notna()][["venue_id", "scarcity_score", "drops_per_day", "n"]]
        j = a.merge(b.rename(columns={"scarcity_score": "prev_scarcity_score", "drops_per_day": "prev_drops_per_day",
                                      "n": "prev_n"}), on="venue_id", how="inner")
        j["change_points"] = j["scarcity_score"] - j["prev_scarcity_score"]
    else:
        j = pd.DataFrame(columns=cols)

    def pick(up: bool) -> pd.DataFrame:
        if not len(j):
            return pd.DataFrame(columns=cols)
        m = j[j["change_points"] >= MOVER_MIN_POINTS] if up else j[j["change_points"] <= -MOVER_MIN_POINTS]
        return m.sort_values(["change_points", "venue_id"], ascending=[not up, True], kind="mergesort").head(MOVERS_N)

    out = []
    for up, key, title in ((True, "movers_harder", "Getting harder"), (False, "movers_easier", "Getting easier")):
        m = _raw(pick(up), cols)
        rows = [[str(x["venue"]), str(x["neighborhood"]), fmt.num(x["scarcity_score"]),
                 fmt.num(x["prev_scarcity_score"]), fmt.signed(x["change_points"]), fmt.num(x["drops_per_day"]),
                 fmt.num(x["prev_drops_per_day"]), fmt.n(x["n"]), fmt.n(x["prev_n"])] for x in m.to_dict("records")]
        out.append(Table(key, title,
                         ["Venue", "Neighborhood", "Scarcity", "Last week", "Change", "Drops/day", "Last week",
                          "n", "n last week"], rows, m,
                         f"Scarcity score this week vs the week before (both computed the same way, each among that "
                         f"week's ranked venues); only venues ranked in both weeks (n ≥ {w.min_sample} each) whose "
                         f"score moved by at least {MOVER_MIN_POINTS:g} points. "
                         + ("Higher = harder to book." if up else "Lower = easier to book."),
                         f"n = {len(j):,} venues ranked in both weeks", "dash_ranking.sql (both weeks)"))
    return out[0], out[1]


def by_weekday(w: WeekData) -> Table:
    d = w.days
    cols = ["metric_date", "weekday", "drops", "prime_drops", "off_peak_drops", "release_drops",
            "polls_trusted", "polls_untrusted", "trusted_share", "partial"]
    raw = _raw(d, cols)
    rows = [[fmt.day(x["metric_date"]), fmt.n(x["drops"]), fmt.n(x["prime_drops"]), fmt.n(x["off_peak_drops"]),
             fmt.n(x["release_drops"]), fmt.pct(x["trusted_share"]), fmt.n(x["polls_trusted"]),
             "partial" if x["partial"] else ""] for x in raw.to_dict("records")]
    return Table("drops_by_weekday", "Drops by day",
                 ["Day", "Drops", "Prime", "Off-peak", "Releases", "Trusted polls", "Polls (n)", "Partial"],
                 rows, raw,
                 "NEW_DROPs (a slot that opened and was not in the bucket's baseline) observed per market-local day; "
                 "prime = the 19:00 bucket, off-peak = 15:00; releases = drops on a date that had just entered the "
                 "booking window. Trusted polls = share of the day's polls that validated; a partial day (collection started or stopped, or an outage) "
                 "is incomplete, not quiet.",
                 f"n = {int(raw['drops'].sum()) if len(raw) else 0:,} drops over {len(raw)} days",
                 "digest_days.sql")


def by_hour(w: WeekData) -> Table:
    c = w.cells
    hours = pd.DataFrame({"hour_local": range(24)})
    if len(c):
        g = c.groupby("hour_local", as_index=False).agg(drops=("drops", "sum"))
        p = c[c["time_bucket"] == "prime"].groupby("hour_local", as_index=False).agg(prime_drops=("drops", "sum"))
        g = hours.merge(g, on="hour_local", how="left").merge(p, on="hour_local", how="left").fillna(0)
    else:
        g = hours.assign(drops=0, prime_drops=0)
    g["drops"] = g["drops"].astype("int64")
    g["prime_drops"] = g["prime_drops"].astype("int64")
    total = int(g["drops"].sum())
    g["share"] = g["drops"] / total if total else float("nan")
    raw = g[["hour_local", "drops", "prime_drops", "share"]]
    rows = [[f"{int(x['hour_local']):02d}:00", fmt.n(x["drops"]), fmt.n(x["prime_drops"]), fmt.pct(x["share"])]
            for x in raw.to_dict("records")]
    return Table("drops_by_hour", "Drops by hour of day",
                 ["Hour", "Drops", "Prime", "Share of week"], rows, raw,
                 "NEW_DROPs by the market-local hour in which the poll saw the slot open, summed over the week "
                 "(all days, partial days included); share = the hour's part of the week's drops.",
                 f"n = {total:,} drops", "dash_market_cells.sql")


def neighborhoods(w: WeekData) -> Table:
    h = w.hoods.copy()
    if len(h):
        h["change_pct"] = [((a / b - 1) * 100) if b >= w.min_sample else float("nan")
                           for a, b in zip(h["drops"], h["prev_drops"], strict=True)]
        h = h[(h["drops"] > 0) | (h["prev_drops"] > 0)]
    cols = ["neighborhood", "venues", "drops", "prev_drops", "change_pct", "mean_close_s", "closed_timed"]
    raw = _raw(h, cols)
    rows = [[str(x["neighborhood"]), fmt.n(x["venues"]), fmt.n(x["drops"]), fmt.n(x["prev_drops"]),
             fmt.signed_pct(x["change_pct"]), fmt.duration(x["mean_close_s"]) if x["closed_timed"] >= w.min_sample
             else fmt.DASH, fmt.n(x["closed_timed"])] for x in raw.head(HOODS_N).to_dict("records")]
    return Table("neighborhoods", "Neighborhoods",
                 ["Neighborhood", "Venues", "Drops", "Last week", "Change", "Mean time-to-close", "n closed"],
                 rows, raw,
                 f"NEW_DROPs per neighborhood this week and the week before (all venues of the neighborhood); "
                 f"change only when last week had at least {w.min_sample} drops; mean time-to-close of the slots "
                 f"that closed this week (shown when n closed ≥ {w.min_sample}). The {HOODS_N} busiest are listed; "
                 f"the CSV has every neighborhood.",
                 f"n = {int(raw['drops'].sum()) if len(raw) else 0:,} drops in {len(raw)} neighborhoods",
                 "digest_neighborhoods.sql")


def volatility(w: WeekData) -> Table:
    r = w.rolling
    cols = ["time_bucket", "volatility_index", "prev_volatility_index", "market_cv", "drops_per_day",
            "venues_ranked", "days_observed"]
    rows_raw = []
    for tb in ("prime", "off_peak", "all"):
        x = r[(r["as_of"] == w.d1) & (r["time_bucket"] == tb)] if len(r) else r
        p = r[(r["as_of"] == w.d0 - pd.Timedelta(days=1)) & (r["time_bucket"] == tb)] if len(r) else r
        if not len(x):
            continue
        rows_raw.append({"time_bucket": tb, "volatility_index": x["volatility_index"].iloc[0],
                         "prev_volatility_index": p["volatility_index"].iloc[0] if len(p) else float("nan"),
                         "market_cv": x["market_cv"].iloc[0], "drops_per_day": x["drops_per_day"].iloc[0],
                         "venues_ranked": int(x["venues_ranked"].iloc[0]),
                         "days_observed": int(x["days_observed"].iloc[0])})
    raw = pd.DataFrame(rows_raw, columns=cols)
    label = {"prime": "Prime (19:00)", "off_peak": "Off-peak (15:00)", "all": "All"}
    rows = [[label[x["time_bucket"]], fmt.num(x["volatility_index"]), fmt.num(x["prev_volatility_index"]),
             fmt.num(x["market_cv"], 3), fmt.num(x["drops_per_day"]), fmt.n(x["venues_ranked"])]
            for x in raw.to_dict("records")]
    return Table("prime_time_volatility", "Prime-time volatility",
                 ["Time bucket", "Volatility index", "Last week", "Market CV", "Drops/day", "n venues"], rows, raw,
                 "Volatility index = 100 x the mean, over non-thin venues, of each venue's coefficient of variation "
                 "of daily drops (std / mean) over the 7 days ending Sunday; market CV = std / mean of the market's "
                 "daily totals. Higher = less predictable day to day.",
                 f"n = {int(raw['venues_ranked'].max()) if len(raw) else 0:,} ranked venues", "dash_market_rolling.sql")


def funnel_tables(w: WeekData) -> list[Table]:
    rep = w.funnel
    if not rep or not w.funnel_sent:
        return []
    steps = rep["steps"]
    raw = _raw(steps, ["step_index", "step", "n", "conversion_from_prev", "conversion_from_sent", "drop_off"])
    rows = [[str(x["step"]), fmt.n(x["n"]), fmt.pct(x["conversion_from_prev"]), fmt.pct(x["conversion_from_sent"])]
            for x in raw.to_dict("records")]
    t1 = Table("funnel_steps", "Alert funnel", ["Step", "Alerts", "From previous step", "From alert sent"], rows, raw,
               f"One alert = one unit; steps in order alert_sent → alert_opened → tap_to_reserve → booking_confirmed, "
               f"tap within {w.tap_window_s // 60} min and booking within {w.book_window_s // 3600} h of alert_sent; "
               f"alerts first sent during the week's market days.",
               f"n = {w.funnel_sent:,} alerts sent", "analytics.funnels (funnel_alerts.sql, funnel_steps.sql)")
    times = rep["times"]
    traw = _raw(times, ["span_index", "span", "n", "median_s", "p90_s", "mean_s"])
    trows = [[str(x["span"]), fmt.n(x["n"]), fmt.duration(x["median_s"]), fmt.duration(x["p90_s"])]
             for x in traw.to_dict("records")]
    t2 = Table("funnel_times", "Time to act", ["Span", "n", "Median", "p90"], trows, traw,
               "Time from alert_sent to each later step among alerts that reached it.",
               f"n = {int(traw['n'].max()) if len(traw) else 0:,} alerts", "analytics.funnels (funnel_times.sql)")
    return [t1, t2]


def headlines_table(hs: list[Headline]) -> Table:
    raw = pd.DataFrame([{"key": h.key, "kept": h.passed, "headline": h.text, "n": h.n, "n_min": h.n_min,
                         "change": h.change, "noise_band": h.noise, "noise_rule": h.rule, "reason": h.reason}
                        for h in hs])
    rows = [[h.key, "kept" if h.passed else "left out", fmt.n(h.n), h.reason] for h in hs]
    return Table("headlines", "Every headline candidate and its tests", ["Candidate", "Verdict", "n", "Why"], rows, raw,
                 "Each candidate headline with its sample size, effect and noise band; kept only when n reaches the "
                 "minimum and the effect exceeds the noise band.", f"n = {len(hs)} candidates", "analytics.digest.headlines")
