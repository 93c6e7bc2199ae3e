"""Every number in digest.md equals the analytics query it came from: the md is parsed back and
compared with direct SQL on the same database (mostly on other tables than the digest read)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from demo import TZ

from analytics.digest import BuildOptions, fmt, headlines, parse_week
from analytics.digest.builder import assemble
from analytics.digest.queries import gather
from analytics.sql_loader import run

D0, D1 = date(2026, 11, 16), date(2026, 11, 22)
P0, P1 = D0 - timedelta(days=7), D1 - timedelta(days=7)


def md_tables(md: str) -> dict[str, list[dict[str, str]]]:
    """'### Title' -> rows (dicts by column header) of the pipe table that follows it."""
    out: dict[str, list[dict[str, str]]] = {}
    lines = md.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith("### ") and i + 2 < len(lines) and lines[i + 2].startswith("|"):
            head = [c.strip() for c in lines[i + 2].strip("|").split(" | ")]
            rows, j = [], i + 4
            while j < len(lines) and lines[j].startswith("|"):
                cells = [c.strip() for c in re.split(r"(?<!\\) \| ", lines[j].strip()[2:-2])]
                # duplicate headers ("Last week") are told apart by position
                rows.append({(h if head.count(h) == 1 else f"{h}#{k}"): c
                             for k, (h, c) in enumerate(zip(head, cells, strict=True))})
                j += 1
            out[ln[4:]] = rows
    return out


def num(s: str) -> float:
    return float(s.replace(",", "").replace("%", "").replace("+", ""))


def secs(s: str) -> float:
    """Inverse of fmt.duration: '45 s', '1 min 50 s', '5 min', '2 h 05 min'."""
    m = re.fullmatch(r"(?:(\d+) h )?(?:(\d+) min)?(?: ?(\d+) s)?", s.strip())
    assert m, s
    h, mi, se = (int(x) if x else 0 for x in m.groups())
    return h * 3600 + mi * 60 + se


def close(shown: str, value: float, digits: int) -> bool:
    return abs(num(shown) - round(value, digits)) <= 10 ** -digits * 0.51


@pytest.fixture(scope="module")
def md(bundle_dir: Path) -> str:
    return (bundle_dir / "digest.md").read_text()


def test_drops_by_day_equal_market_daily_and_day_quality(md: str, sql: duckdb.DuckDBPyConnection) -> None:
    rows = md_tables(md)["Drops by day"]
    want = sql.execute("""
        SELECT dq.metric_date, coalesce(sum(m.drops), 0), coalesce(sum(m.drops) FILTER (WHERE m.time_bucket = 'prime'), 0),
               coalesce(sum(m.drops) FILTER (WHERE m.time_bucket = 'off_peak'), 0), coalesce(sum(m.release_drops), 0),
               any_value(dq.polls_trusted), any_value(dq.polls_trusted) / any_value(dq.polls_trusted + dq.polls_untrusted),
               any_value(dq.partial)
        FROM day_quality dq LEFT JOIN market_daily m USING (metric_date)
        WHERE dq.metric_date BETWEEN ? AND ? GROUP BY dq.metric_date ORDER BY 1""", [D0, D1]).fetchall()
    assert len(rows) == len(want) == 7
    for r, (d, drops, prime, off, rel, trusted, share, partial) in zip(rows, want, strict=True):
        assert r["Day"] == f"{d.strftime('%a %b')} {d.day}"
        assert (num(r["Drops"]), num(r["Prime"]), num(r["Off-peak"]), num(r["Releases"])) == (drops, prime, off, rel)
        assert num(r["Polls (n)"]) == trusted and close(r["Trusted polls"], 100 * share, 1)
        assert (r["Partial"] == "partial") == partial
    assert any(r["Partial"] == "partial" for r in rows)   # the synthetic outage day is flagged


def test_drops_by_hour_equal_market_daily(md: str, sql: duckdb.DuckDBPyConnection) -> None:
    rows = md_tables(md)["Drops by hour of day"]
    want = dict(sql.execute("SELECT hour_local, sum(drops) FROM market_daily WHERE metric_date BETWEEN ? AND ? "
                            "GROUP BY 1", [D0, D1]).fetchall())
    total = sum(want.values())
    assert len(rows) == 24
    for r in rows:
        h = int(r["Hour"][:2])
        assert num(r["Drops"]) == want.get(h, 0)
        assert close(r["Share of week"], 100 * want.get(h, 0) / total, 1)


def test_neighborhoods_equal_market_daily_and_venue_daily(md: str, sql: duckdb.DuckDBPyConnection) -> None:
    rows = md_tables(md)["Neighborhoods"]
    drops = dict(sql.execute("SELECT neighborhood, sum(drops) FROM market_daily WHERE metric_date BETWEEN ? AND ? "
                             "GROUP BY 1", [D0, D1]).fetchall())
    prev = dict(sql.execute("SELECT neighborhood, sum(drops) FROM market_daily WHERE metric_date BETWEEN ? AND ? "
                            "GROUP BY 1", [P0, P1]).fetchall())
    close_t = {h: (n, s) for h, n, s in sql.execute(
        "SELECT coalesce(v.neighborhood, '(unknown)'), sum(closed_timed), sum(sum_close_s) FROM venue_daily vd "
        "JOIN venues v USING (provider, venue_id) WHERE metric_date BETWEEN ? AND ? GROUP BY 1", [D0, D1]).fetchall()}
    assert len(rows) == 12
    assert [num(r["Drops"]) for r in rows] == sorted((num(r["Drops"]) for r in rows), reverse=True)
    for r in rows:
        h = r["Neighborhood"]
        assert num(r["Drops"]) == drops[h] and num(r["Last week"]) == prev.get(h, 0)
        assert close(r["Change"], (drops[h] / prev[h] - 1) * 100, 1)
        n, s = close_t[h]
        assert num(r["n closed"]) == n
        assert abs(secs(r["Mean time-to-close"]) - s / n) <= (0.5 if s / n < 3600 else 30)


def test_hardest_tables_equal_the_ranking_query(md: str, sql: duckdb.DuckDBPyConnection) -> None:
    rows = md_tables(md)["Hardest tables this week"]
    rk = run(sql, "dash_ranking", d0=D0, d1=D1, hoods=None, prices=None, time_bucket=None, parties=None, dows=None,
             min_n=10).fetchall()
    cols = [d[0] for d in sql.description]  # type: ignore[union-attr]
    ranked = [dict(zip(cols, r, strict=True)) for r in rk if r[cols.index("scarcity_score")] is not None]
    ranked.sort(key=lambda x: (-x["scarcity_score"], x["venue_id"]))
    assert len(rows) == 10
    for i, (r, x) in enumerate(zip(rows, ranked, strict=False), start=1):
        assert num(r["#"]) == i and r["Venue"] == x["venue"] and r["Neighborhood"] == x["neighborhood"]
        assert close(r["Scarcity"], x["scarcity_score"], 1)
        assert close(r["Fully booked"], 100 * x["fully_booked_share"], 1)
        assert close(r["Drops/day"], x["drops_per_day"], 1)
        assert num(r["n"]) == x["n"] >= 10
        if x["km_median_bound_s"] is not None:          # the polls cannot resolve it: a bound
            assert r["Median time-to-close"] == "under " + fmt.duration(x["km_median_bound_s"])
        else:
            assert abs(secs(r["Median time-to-close"]) - x["km_median_s"]) <= 0.5
    # independent cross-check of the sample: closed + censored intervals in venue_daily
    top = ranked[0]
    n = sql.execute("SELECT sum(closed_timed + censored) FROM venue_daily WHERE venue_id = ? AND metric_date "
                    "BETWEEN ? AND ?", [top["venue_id"], D0, D1]).fetchall()[0][0]
    assert n == top["n"]


def test_volatility_equals_market_rolling(md: str, sql: duckdb.DuckDBPyConnection) -> None:
    rows = md_tables(md)["Prime-time volatility"]
    want = {tb: (vi, cv, dpd, vr) for tb, vi, cv, dpd, vr in sql.execute(
        "SELECT time_bucket, volatility_index, market_cv, drops_per_day, venues_ranked FROM market_rolling "
        "WHERE as_of = ? AND window_days = 7", [D1]).fetchall()}
    prev = dict(sql.execute("SELECT time_bucket, volatility_index FROM market_rolling WHERE as_of = ? AND "
                            "window_days = 7", [P1]).fetchall())
    labels = {"Prime (19:00)": "prime", "Off-peak (15:00)": "off_peak", "All": "all"}
    assert [r["Time bucket"] for r in rows] == list(labels)
    for r in rows:
        tb = labels[r["Time bucket"]]
        vi, cv, dpd, vr = want[tb]
        assert close(r["Volatility index"], vi, 1) and close(r["Market CV"], cv, 3)
        assert close(r["Drops/day"], dpd, 1) and num(r["n venues"]) == vr
        assert close(r["Last week"], prev[tb], 1)


def test_header_and_headline_numbers_equal_sql(md: str, sql: duckdb.DuckDBPyConnection) -> None:
    trusted, polls = sql.execute("SELECT sum(polls_trusted), sum(polls_trusted + polls_untrusted) FROM day_quality "
                                 "WHERE metric_date BETWEEN ? AND ?", [D0, D1]).fetchall()[0]
    assert f"Trusted polls: {100 * trusted / polls:.1f}% of {polls:,} polls this week." in md
    # supply headline: paired weekend inventory straight from supply_compression
    o, ref, k = sql.execute("""SELECT sum(open_slots), sum(ref_open_slots), count(*) FROM supply_compression
        WHERE bucket_date BETWEEN ? AND ? AND as_of BETWEEN ? AND ? AND as_of <= bucket_date AND party_size = 0
          AND time_bucket IN ('prime', 'off_peak') AND ref_open_slots IS NOT NULL""",
                            [D1 - timedelta(days=1), D1, D0, D1]).fetchall()[0]
    pct = (o / ref - 1) * 100
    m = re.search(r"\*\*Supply (tightened|loosened) (\d+)% this weekend vs last\.\*\* .*?: ([\d,]+), vs ([\d,]+) "
                  r"for the weekend before .*?\(([-+\d.]+)%; n = (\d+) paired", md)
    assert m, "supply headline missing"
    assert (m.group(1) == "tightened") == (pct < 0) and int(m.group(2)) == round(abs(pct))
    assert (num(m.group(3)), num(m.group(4)), int(m.group(6))) == (o, ref, k) and close(m.group(5), pct, 1)
    # prime speed: this fixture polls every 5 minutes and its hardest prime-time venues close within
    # minutes, so the top venue's median is only a bound: the headline is left out, saying so with
    # the bound the ranking shows (dash_ranking, the one definition), and no duration is claimed
    top = sql.execute("""SELECT v.name, sum(vd.closed_timed + vd.censored) FROM venue_daily vd JOIN venues v
        USING (provider, venue_id) WHERE vd.time_bucket = 'prime' AND vd.metric_date BETWEEN ? AND ?
        GROUP BY ALL""", [D0, D1]).fetchall()
    assert "Prime-time tables at" not in md
    m = re.search(r"Left out: Prime-time speed \(the polls were too far apart to place (.+?)'s median time-to-close, "
                  r"only known to be under (.+?)[;:]", md)
    assert m, "prime speed left-out note missing"
    assert m.group(1) in {name for name, n in top if n >= 10}
    w = _week_data(sql, 10)
    hs = {h.key: h for h in headlines.all_headlines(w)}
    ranked = w.prime_ranking.dropna(subset=["scarcity_score"])
    first = ranked.sort_values(["scarcity_score", "venue_id"], ascending=[False, True]).iloc[0]
    assert m.group(1) == first["venue"] and secs(m.group(2)) == pytest.approx(first["km_median_bound_s"], abs=0.5)
    assert not hs["prime_speed"].passed and hs["prime_speed"].change is None


def test_prime_speed_quotes_resolved_medians_only_and_needs_their_intervals_apart(sql: duckdb.DuckDBPyConnection) -> None:
    """The same week's frames with the top venue's and the market's medians set: resolved and apart ->
    passed, quoting both; intervals overlapping -> left out as noise; either one a bound -> left out."""
    w = _week_data(sql, 10)
    ranked = w.prime_ranking.dropna(subset=["scarcity_score"])
    top_id = ranked.sort_values(["scarcity_score", "venue_id"], ascending=[False, True]).iloc[0]["venue_id"]
    name = ranked.loc[ranked["venue_id"] == top_id, "venue"].iloc[0]

    def week(venue: tuple[float, float, float, float | None], market: tuple[float, float, float, float | None]):  # type: ignore[no-untyped-def]
        cols = ["km_median_s", "km_median_lo_s", "km_median_hi_s", "km_median_bound_s"]
        pr = w.prime_ranking.copy()
        pr.loc[pr["venue_id"] == top_id, cols] = [float("nan") if v is None else v for v in venue]
        pm = w.prime_market.copy()
        pm.loc[:, cols] = [float("nan") if v is None else v for v in market]
        return replace(w, prime_ranking=pr, prime_market=pm)

    h = headlines.prime_speed(week((120.0, 100.0, 150.0, None), (900.0, 850.0, 950.0, None)))
    assert h.passed and h.change == pytest.approx(780.0) and h.noise == pytest.approx(30.0 + 50.0)
    assert h.text == f"Prime-time tables at {name} were gone within a median 2 min"
    assert "(95% interval 1 min 40 s – 2 min 30 s) vs 15 min across the market" in h.detail
    h = headlines.prime_speed(week((120.0, 100.0, 600.0, None), (500.0, 400.0, 950.0, None)))
    assert not h.passed and "within the noise band" in h.reason
    h = headlines.prime_speed(week((120.0, 100.0, 150.0, 180.0), (900.0, 850.0, 950.0, None)))
    assert not h.passed and f"place {name}'s median time-to-close, only known to be under 3 min" in h.reason
    h = headlines.prime_speed(week((120.0, 100.0, 150.0, None), (900.0, 850.0, 950.0, 1200.0)))
    assert not h.passed and "place the market's median time-to-close, only known to be under 20 min" in h.reason


def _week_data(con: duckdb.DuckDBPyConnection, min_sample: int):  # type: ignore[no-untyped-def]
    o = BuildOptions(tz=TZ, min_sample=min_sample)
    return gather(con, parse_week("2026-W47"), tz=o.tz, min_sample=o.min_sample, tap_window_s=o.tap_window_s,
                  book_window_s=o.book_window_s)


def test_headline_is_dropped_when_its_sample_is_below_the_minimum(sql: duckdb.DuckDBPyConnection) -> None:
    base = {h.key: h for h in headlines.all_headlines(_week_data(sql, 10))}
    sw = base["supply_weekend"]
    assert sw.passed and sw.n >= 10
    # raise the minimum just above the headline's own sample: same data, same effect, now left out
    w = _week_data(sql, sw.n + 1)
    again = {h.key: h for h in headlines.all_headlines(w)}["supply_weekend"]
    assert again.change == pytest.approx(sw.change) and again.noise == pytest.approx(sw.noise)
    assert not again.passed and "below the minimum" in again.reason
    dg = assemble(w)
    kept = dg.sections[0].bullets
    assert not any("this weekend vs last" in b for b in kept)
    assert any("this weekend vs last" in n and "below the minimum" in n for n in dg.sections[0].notes)


def test_headline_is_dropped_when_its_change_is_within_the_noise(sql: duckdb.DuckDBPyConnection) -> None:
    hs = {h.key: h for h in headlines.all_headlines(_week_data(sql, 10))}
    for h in hs.values():
        if h.change is not None and h.noise is not None and h.n >= h.n_min and "complete day" not in h.reason:
            assert h.passed == (abs(h.change) > h.noise), h
    wow = hs["drops_wow"]       # the synthetic market has no trend: week over week is noise
    assert not wow.passed and "within the noise band" in wow.reason
    # the noise band widens to the spread of earlier weeks when enough of them exist
    band, rule = headlines._noise(1.0, [10.0, -10.0, 12.0])
    assert band is not None and band > 2.0 and "spread" in rule
    assert headlines._noise(1.0, [10.0, -10.0]) == (2.0, "2 standard errors")


def test_funnel_equals_alert_events(md: str, sql: duckdb.DuckDBPyConnection) -> None:
    rows = md_tables(md)["Alert funnel"]
    t0, t1 = (sql.execute("SELECT timezone('UTC', timezone(?, ?::TIMESTAMP))", [TZ, d]).fetchall()[0][0]
              for d in (D0, D1 + timedelta(days=1)))
    sent = sql.execute("SELECT count(DISTINCT alert_id) FROM alert_events WHERE event_type = 'alert_sent' "
                       "AND corrected_at >= ? AND corrected_at < ?", [t0, t1]).fetchall()[0][0]
    booked = sql.execute("""SELECT count(DISTINCT b.alert_id) FROM alert_events s JOIN alert_events b USING (alert_id)
        WHERE s.event_type = 'alert_sent' AND s.corrected_at >= ? AND s.corrected_at < ?
          AND b.event_type = 'booking_confirmed' AND b.corrected_at <= s.corrected_at + INTERVAL 86400 SECOND""",
                         [t0, t1]).fetchall()[0][0]
    assert sent > 100 and [r["Step"] for r in rows] == ["alert_sent", "alert_opened", "tap_to_reserve",
                                                         "booking_confirmed"]
    assert num(rows[0]["Alerts"]) == sent and num(rows[-1]["Alerts"]) == booked
    assert close(rows[-1]["From alert sent"], 100 * booked / sent, 1)
    for a, b in zip(rows, rows[1:], strict=False):
        assert close(b["From previous step"], 100 * num(b["Alerts"]) / num(a["Alerts"]), 1)
