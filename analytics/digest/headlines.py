"""Headlines written from the data, each kept only when it passes two explicit tests.

1. Sample: the sample behind it reaches ``min_sample`` (Settings.min_sample).
2. Noise: its effect is larger than the week-to-week noise, defined per headline below as
   2 standard errors of the effect, widened to 2 standard deviations of the same comparison over
   the previous weeks when at least MIN_HISTORY of them exist (a week that moves less than weeks
   usually do is not news). A headline that fails either test is left out and listed with why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta

import pandas as pd

from analytics.digest import fmt
from analytics.digest.model import Headline
from analytics.digest.queries import HISTORY_WEEKS, WeekData

MIN_HISTORY = 3            # earlier weekly values needed before their spread widens the noise band
MIN_COMPLETE_DAYS = 3      # complete (non-partial) days needed for day-level comparisons
Z = 2.0                    # "larger than noise" = more than Z standard errors / deviations


def _sd(values: Sequence[float]) -> float | None:
    v = [x for x in values if x is not None and not math.isnan(x)]
    if len(v) < 2:
        return None
    m = sum(v) / len(v)
    return math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1))


def _noise(se: float | None, history: Sequence[float]) -> tuple[float | None, str]:
    """The noise band: Z x SE, widened to Z x sd(history) when enough earlier weeks exist."""
    band = None if se is None else Z * se
    sd = _sd(history) if len([h for h in history if h is not None]) >= MIN_HISTORY else None
    if sd is not None and (band is None or Z * sd > band):
        return Z * sd, f"{Z:g} x the spread of the previous {len(history)} weeks"
    return band, f"{Z:g} standard errors"


def _headline(key: str, text: str, detail: str, n: int, n_min: int, change: float | None,
              noise: float | None, rule: str, extra_fail: str | None = None) -> Headline:
    if extra_fail:
        return Headline(key, text, detail, n, n_min, change, noise, rule, False, extra_fail)
    if n < n_min:
        return Headline(key, text, detail, n, n_min, change, noise, rule, False,
                        f"sample n = {n:,} is below the minimum of {n_min:,}")
    if change is None or noise is None:
        return Headline(key, text, detail, n, n_min, change, noise, rule, False, "the noise could not be measured")
    if abs(change) <= noise:
        return Headline(key, text, detail, n, n_min, change, noise, rule, False,
                        f"the change ({change:+.1f}) is within the noise band (±{noise:.1f}, {rule})")
    return Headline(key, text, detail, n, n_min, change, noise, rule, True,
                    f"n = {n:,} ≥ {n_min:,} and |{change:+.1f}| > {noise:.1f} ({rule})")


# --- supply this weekend vs last -------------------------------------------------------------

def supply_change(pairs: pd.DataFrame) -> tuple[float | None, float | None, int, int, int]:
    """(change %, standard error in % points, pairs, open slots, reference slots).

    change = sum(open) / sum(ref) - 1 over the paired (as_of, bucket_date, time_bucket) rows;
    SE by the delta method for a ratio of sums: sqrt(sum((o - r * ref)^2) / (k (k - 1))) / mean(ref).
    """
    k = len(pairs)
    o = float(pairs["open_slots"].sum()) if k else 0.0
    ref = float(pairs["ref_open_slots"].sum()) if k else 0.0
    if k == 0 or ref <= 0:
        return None, None, k, int(o), int(ref)
    r = o / ref
    se = None
    if k >= 2:
        resid = ((pairs["open_slots"] - r * pairs["ref_open_slots"]) ** 2).sum()
        se = math.sqrt(float(resid) / (k * (k - 1))) / (ref / k) * 100
    return (r - 1) * 100, se, k, int(o), int(ref)


def supply_weekend(w: WeekData) -> Headline:
    change, se, k, o, ref = supply_change(w.supply[0])
    hist = [supply_change(w.supply[i])[0] for i in range(1, HISTORY_WEEKS + 1)]
    hist_v = [h for h in hist if h is not None]
    noise, rule = _noise(se, hist_v)
    sat, sun = w.d1 - timedelta(days=1), w.d1
    verb = "tightened" if (change or 0) < 0 else "loosened"
    text = f"Supply {verb} {abs(change or 0):.0f}% this weekend vs last"
    detail = (f"Open slots for {fmt.day(sat)} – {fmt.day(sun)} seen during the week: {fmt.n(o)}, vs {fmt.n(ref)} "
              f"for the weekend before at the same lead times ({fmt.signed_pct(change)}; n = {k:,} paired "
              f"snapshots, noise band ±{fmt.num(noise)} points).")
    return _headline("supply_weekend", text, detail, k, w.min_sample, change, noise, rule)


# --- quietest / busiest day ------------------------------------------------------------------

def _complete(days: pd.DataFrame) -> pd.DataFrame:
    return days[~days["partial"].astype(bool)] if len(days) else days


def day_extreme(w: WeekData, which: str) -> Headline:
    """which = 'quietest' | 'busiest': the complete day with the fewest / most NEW_DROPs.

    Noise: drop counts are Poisson-like, so the gap to the runner-up must exceed Z x sqrt(a + b)."""
    c = _complete(w.days)
    total = int(c["drops"].sum()) if len(c) else 0
    key = f"{which}_day"
    if len(c) < 2:
        return _headline(key, f"No {which} day", "", total, w.min_sample, None, None, "Poisson, 2 standard errors",
                         f"only {len(c)} complete day(s) this week")
    asc = which == "quietest"
    s = c.sort_values(["drops", "metric_date"], ascending=[asc, True], kind="mergesort")
    top, nxt = s.iloc[0], s.iloc[1]
    a, b = int(top["drops"]), int(nxt["drops"])
    name = fmt.WEEKDAYS[top["metric_date"].weekday()]
    other = fmt.WEEKDAYS[nxt["metric_date"].weekday()]
    gap = float(abs(b - a))
    se = math.sqrt(a + b) if a + b > 0 else None
    text = f"{name} was the {which} day"
    detail = (f"{fmt.n(a)} drops on {fmt.day(top['metric_date'])} vs {fmt.n(b)} on the next {which} day "
              f"({other}); {len(c)} complete days, n = {total:,} drops, partial days left out.")
    fail = None if len(c) >= MIN_COMPLETE_DAYS else f"only {len(c)} complete days (need {MIN_COMPLETE_DAYS})"
    return _headline(key, text, detail, total, w.min_sample, gap, None if se is None else Z * se,
                     f"{Z:g} Poisson standard errors of the gap", fail)


# --- drops this week vs last -----------------------------------------------------------------

def _weekly_means(days: pd.DataFrame, d0, d1) -> list[float]:  # type: ignore[no-untyped-def]
    c = _complete(days)
    if not len(c):
        return []
    m = c[(c["metric_date"] >= d0) & (c["metric_date"] <= d1)]
    return [float(x) for x in m["drops"]]


def _wow(this: list[float], prev: list[float]) -> tuple[float | None, float | None]:
    """(change % of the mean complete-day drops, SE in % points by Welch's difference of means)."""
    if len(this) < MIN_COMPLETE_DAYS or len(prev) < MIN_COMPLETE_DAYS:
        return None, None
    m1, m0 = sum(this) / len(this), sum(prev) / len(prev)
    if m0 <= 0:
        return None, None
    s1, s0 = _sd(this) or 0.0, _sd(prev) or 0.0
    se = math.sqrt(s1 ** 2 / len(this) + s0 ** 2 / len(prev)) / m0 * 100
    return (m1 / m0 - 1) * 100, se


def drops_week_over_week(w: WeekData) -> Headline:
    allp = pd.concat([w.history_days, w.days], ignore_index=True) if len(w.history_days) else w.days
    weeks = [(w.d0 - timedelta(days=7 * k), w.d1 - timedelta(days=7 * k)) for k in range(HISTORY_WEEKS + 2)]
    series = [_weekly_means(allp, a, b) for a, b in weeks]
    change, se = _wow(series[0], series[1])
    hist = [c for c in (_wow(series[k], series[k + 1])[0] for k in range(1, HISTORY_WEEKS + 1)) if c is not None]
    noise, rule = _noise(se, hist)
    n = int(sum(series[0]) + sum(series[1]))
    verb = "rose" if (change or 0) > 0 else "fell"
    text = f"Drops {verb} {abs(change or 0):.0f}% vs last week"
    m1 = sum(series[0]) / len(series[0]) if series[0] else None
    m0 = sum(series[1]) / len(series[1]) if series[1] else None
    detail = (f"{fmt.num(m1)} NEW_DROPs per complete day this week vs {fmt.num(m0)} the week before "
              f"({len(series[0])} and {len(series[1])} complete days; n = {n:,} drops).")
    fail = None
    if len(series[0]) < MIN_COMPLETE_DAYS or len(series[1]) < MIN_COMPLETE_DAYS:
        fail = f"needs {MIN_COMPLETE_DAYS} complete days in both weeks (has {len(series[0])} and {len(series[1])})"
    return _headline("drops_wow", text, detail, n, w.min_sample, change, noise, rule, fail)


# --- the hardest prime-time table's speed ----------------------------------------------------

def _unresolved(who: str, median: float | None, bound: float | None) -> str:
    if fmt.missing(median):
        return f"{who} has no median time-to-close (most of its tables were still open or expired)"
    return f"the polls were too far apart to place {who}'s median time-to-close, only known to be under {fmt.duration(bound)}"


def prime_speed(w: WeekData) -> Headline:
    """The top-ranked prime-time venue's median time-to-close vs the market's prime-time median, both
    from the one definition (measure_time_to_close: the venue's from its ranking row, the market's
    from the merged market histogram).

    Only a median the polls resolve is quoted: where either reads as a bound ("under 2 h 12 min",
    polls too far apart to place it) the headline is left out, since a bound says nothing about which
    is faster. Noise: the venue's and the market's 95% intervals of the median must not overlap
    (change = the gap between the medians; noise = the two half-intervals on the facing sides)."""
    market = w.prime_market
    ranked = w.prime_ranking[w.prime_ranking["scarcity_score"].notna()] if len(w.prime_ranking) else w.prime_ranking
    rule = "the venue's and the market's 95% intervals of the median do not overlap"
    if not len(ranked) or not len(market) or pd.isna(market["km_median_s"].iloc[0]):
        return _headline("prime_speed", "Prime-time speed", "", 0, w.min_sample, None, None, rule,
                         "no ranked prime-time venue this week")
    top = ranked.sort_values(["scarcity_score", "venue_id"], ascending=[False, True], kind="mergesort").iloc[0]
    mk = market.iloc[0]
    n, mkt_n = int(top["n"]), int(mk["n"])
    med, mkt = top["km_median_s"], float(mk["km_median_s"])
    text = f"Prime-time tables at {top['venue']} were gone within a median {fmt.duration(med)}"
    detail = (f"{top['venue']} ({top['neighborhood']}) is this week's hardest prime-time table "
              f"(scarcity {fmt.num(top['scarcity_score'])}): half of its {n:,} prime-time tables were gone within "
              f"{fmt.duration(med)} (95% interval {fmt.duration(top['km_median_lo_s'])} – "
              f"{fmt.duration(top['km_median_hi_s'])}) vs {fmt.duration(mkt)} across the market (n = {mkt_n:,}).")
    unresolved = [_unresolved(who, m, b) for who, m, b in ((top["venue"], med, top["km_median_bound_s"]),
                                                         ("the market", mkt, mk["km_median_bound_s"]))
                  if fmt.missing(m) or not fmt.missing(b)]
    if unresolved:
        return _headline("prime_speed", "Prime-time speed", "", n, w.min_sample, None, None, rule,
                         "; ".join(unresolved) + ": no speed claim")
    gap = mkt - float(med)
    facing = ((top["km_median_hi_s"] - med) + (mkt - mk["km_median_lo_s"]) if gap >= 0
              else (med - top["km_median_lo_s"]) + (mk["km_median_hi_s"] - mkt))
    noise = None if fmt.missing(facing) else float(facing)
    return _headline("prime_speed", text, detail, n, w.min_sample, gap, noise, rule)


# --- prime time vs off-peak volatility -------------------------------------------------------

def prime_volatility(w: WeekData) -> Headline:
    """Prime-time volatility index / off-peak index (market_rolling, 7 days ending Sunday).

    Noise: the ratio's week-to-week spread; needs MIN_HISTORY earlier weeks, else left out."""
    r = w.rolling
    if not len(r):
        return _headline("prime_volatility", "Prime-time volatility", "", 0, w.min_sample, None, None,
                         "week-to-week spread", "no rolling market metrics for this week")

    def ratio(as_of) -> tuple[float | None, int]:  # type: ignore[no-untyped-def]
        x = r[r["as_of"] == as_of]
        p, o = x[x["time_bucket"] == "prime"], x[x["time_bucket"] == "off_peak"]
        if not len(p) or not len(o) or pd.isna(p["volatility_index"].iloc[0]) or not o["volatility_index"].iloc[0]:
            return None, 0
        n = int(min(p["venues_ranked"].iloc[0], o["venues_ranked"].iloc[0]))
        return float(p["volatility_index"].iloc[0]) / float(o["volatility_index"].iloc[0]), n

    now, n = ratio(w.d1)
    hist = [x for x in (ratio(w.d1 - timedelta(days=7 * k))[0] for k in range(1, HISTORY_WEEKS + 1)) if x is not None]
    effect = None if now is None else now - 1.0
    sd = _sd(hist) if len(hist) >= MIN_HISTORY else None
    noise = None if sd is None else Z * sd
    if now is not None and now < 1:
        text = f"Prime time was {fmt.num(1 / now)}x less volatile than off-peak"
    else:
        text = f"Prime time was {fmt.num(now)}x more volatile than off-peak"
    detail = (f"Volatility index (100 x mean coefficient of variation of each venue's daily drops) over the "
              f"7 days to {fmt.day(w.d1)}: prime vs off-peak ratio {fmt.num(now, 2)} (n = {n:,} ranked venues).")
    fail = None if len(hist) >= MIN_HISTORY else (
        f"only {len(hist)} earlier week(s) to measure the week-to-week noise (need {MIN_HISTORY})")
    return _headline("prime_volatility", text, detail, n, w.min_sample, effect, noise,
                     f"{Z:g} x the spread of the ratio over earlier weeks", fail)


def all_headlines(w: WeekData) -> list[Headline]:
    """Every candidate, in a fixed order; callers show the passed ones and list the rest."""
    return [supply_weekend(w), day_extreme(w, "quietest"), day_extreme(w, "busiest"),
            drops_week_over_week(w), prime_speed(w), prime_volatility(w)]
