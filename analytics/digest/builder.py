"""Build the weekly digest: gather the week's data, decide the headlines, lay out the sections,
render charts and files, and write the bundle with its manifest.

`build(con, week, options)` returns a Bundle (file name -> bytes, in memory); `write_bundle`
writes it to a folder. The generation time appears only in manifest.json and the md footer;
everything else is a pure function of the database and the week.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import duckdb

import analytics.digest.charts as ch
import analytics.digest.fmt as fmt
import analytics.digest.headlines as headlines
import analytics.digest.manifest as manifest
import analytics.digest.render_csv as render_csv
import analytics.digest.render_html as render_html
import analytics.digest.render_md as render_md
import analytics.digest.render_pdf as render_pdf
import analytics.digest.tables as tables
from analytics.digest.model import Chart, Digest, Section
from analytics.digest.queries import WeekData, gather, week_rows
from analytics.digest.week import IsoWeek
from analytics.scores import SCARCITY_FORMULA, SCARCITY_NOTE

Progress = Callable[[int, int, str], None]
TITLE = "State of NYC reservations"
QUALITY_UNTRUSTED_SHARE = 0.05   # a week with at least this share of untrusted polls gets a quality note


class NoWeekData(LookupError):
    """The week has no aggregated market day (nothing to write a digest from)."""


@dataclass(frozen=True)
class BuildOptions:
    tz: str = "America/New_York"
    min_sample: int = 10
    tap_window_s: int = 1800
    book_window_s: int = 86400


@dataclass
class Bundle:
    week: IsoWeek
    files: dict[str, bytes] = field(default_factory=dict)   # relative path -> content (manifest included)
    digest: Digest | None = None

    @property
    def markdown(self) -> str:
        return self.files["digest.md"].decode("utf-8")

    def zip_bytes(self) -> bytes:
        """The bundle as a zip with fixed timestamps and order (same files -> same zip bytes)."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name in sorted(self.files):
                info = zipfile.ZipInfo(f"digest-{self.week.label}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, self.files[name])
        return buf.getvalue()


def available_weeks(con: duckdb.DuckDBPyConnection) -> list[tuple[IsoWeek, int, int]]:
    """(week, aggregated days, partial days) for every ISO week with data, newest first."""
    df = week_rows(con)
    return [(IsoWeek(int(r["iso_year"]), int(r["iso_week"])), int(r["days"]), int(r["partial_days"]))
            for r in df.to_dict("records")]


def _no_data_reason(con: duckdb.DuckDBPyConnection, week: IsoWeek) -> str:
    weeks = available_weeks(con)
    span = f"{fmt.span(week.monday, week.sunday)}"
    if not weeks:
        return f"no data for week {week.label} ({span}): the database has no aggregated day yet " \
               "(run the collector, then `tablepulse aggregate`)"
    first, last = min(w for w, _, _ in weeks), max(w for w, _, _ in weeks)
    return (f"no data for week {week.label} ({span}): no aggregated market day in that week; "
            f"weeks with data: {first.label} to {last.label}")


def _meta(w: WeekData) -> tuple[list[str], list[str], float, int]:
    polls = int(w.days["polls_trusted"].sum() + w.days["polls_untrusted"].sum())
    trusted = int(w.days["polls_trusted"].sum())
    share = trusted / polls if polls else float("nan")
    as_of = w.as_of.strftime("%Y-%m-%d %H:%M UTC") if w.as_of else "unknown"
    fresh = f"last trusted poll {as_of}; metrics aggregated through {w.last_day or 'unknown'}"
    partial = int(w.days["partial"].sum())
    lines = [f"Market days {w.d0} to {w.d1} ({w.tz}); {len(w.days)} of 7 days aggregated, {partial} not observed in full.",
             f"Data freshness: {fresh}.",
             f"Trusted polls: {fmt.pct(share)} of {polls:,} polls this week.",
             f"Minimum sample: {w.min_sample} (smaller samples are flagged thin and never ranked or headlined)."]
    csv = [f"Week: {w.week.label} (market-local days {w.d0} to {w.d1}, {w.tz})",
           f"Thresholds: min_sample = {w.min_sample}; headlines need n >= min_sample and an effect beyond "
           f"{headlines.Z:g} standard errors (or {headlines.Z:g} x the spread of the previous weeks when "
           f"{headlines.MIN_HISTORY}+ exist); movers need a {tables.MOVER_MIN_POINTS:g}-point score change",
           f"Data freshness: {fresh}",
           f"Trusted polls: {fmt.pct(share)} of {polls:,} polls in the week were trusted ({partial} day(s) not observed in full)"]
    return lines, csv, share, polls


def assemble(w: WeekData) -> Digest:
    """The digest model for a week's data (no rendering yet)."""
    hs = headlines.all_headlines(w)
    meta, csv_header, share, polls = _meta(w)
    kept = [h for h in hs if h.passed]
    left = [h for h in hs if not h.passed]

    head = Section("headlines", "Headlines")
    head.bullets = [f"**{h.text}.** {h.detail}" for h in kept]
    if not kept:
        head.paragraphs.append("No headline passed its sample and noise tests this week.")
    head.notes = [f"Left out: {h.text} ({h.reason})." for h in left] or ["Every headline candidate passed its tests."]

    sections = [head]
    partial_days = w.days[w.days["partial"].astype(bool)]
    if len(partial_days) or (polls and 1 - share >= QUALITY_UNTRUSTED_SHARE) or len(w.days) < 7:
        q = Section("quality", "Data quality note")
        for x in partial_days.to_dict("records"):
            q.bullets.append(f"{fmt.long_day(x['metric_date'])} was not observed in full (collection started or stopped "
                             f"that day, or an outage): {fmt.pct(x['trusted_share'])} of its "
                             f"{int(x['polls_trusted'] + x['polls_untrusted']):,} polls were trusted and "
                             f"{fmt.num(x['excluded_s'] / 3600)} bucket-hours of observation were excluded. "
                             "Its counts are incomplete: read them as missing data, not as a quiet day.")
        if len(w.days) < 7:
            q.bullets.append(f"Only {len(w.days)} of the week's 7 days are aggregated.")
        q.paragraphs.append(f"Across the week {fmt.pct(share)} of {polls:,} polls were trusted; only trusted polls "
                            "move state, so an upstream failure never reads as closed tables.")
        sections.append(q)

    t_hard = tables.hardest(w)
    s = Section("hardest", "Hardest tables", tables=[t_hard])
    s.charts = [c for c in [ch.hardest_chart(w, t_hard)] if c]
    if not len(t_hard.raw):
        s.notes.append(f"No venue reached the minimum sample of {w.min_sample} intervals this week.")
    sections.append(s)

    up, down = tables.movers(w)
    s = Section("movers", "Biggest movers", tables=[up, down])
    s.charts = [c for c in [ch.movers_chart(w, up, down)] if c]
    if not len(up.raw) and not len(down.raw):
        s.notes.append(f"No venue ranked in both weeks moved by {tables.MOVER_MIN_POINTS:g} points or more.")
    sections.append(s)

    t_day = tables.by_weekday(w)
    t_hour = tables.by_hour(w)
    s = Section("timing", "Drops by weekday and hour", tables=[t_day, t_hour])
    s.charts = [c for c in [ch.weekday_chart(w, t_day), ch.hour_chart(w, t_hour)] if c]
    sections.append(s)

    t_hood = tables.neighborhoods(w)
    s = Section("neighborhoods", "Neighborhoods", tables=[t_hood])
    s.charts = [c for c in [ch.hoods_chart(w, t_hood)] if c]
    sections.append(s)

    t_vol = tables.volatility(w)
    s = Section("volatility", "Prime-time volatility", tables=[t_vol])
    s.charts = [c for c in [ch.volatility_chart(w, t_vol)] if c]
    if not len(t_vol.raw):
        s.tables = []
        s.notes.append("The nightly job has not written the 7-day market metrics for this Sunday.")
    sections.append(s)

    ft = tables.funnel_tables(w)
    s = Section("funnel", "Alert funnel", tables=ft)
    if ft:
        s.charts = [c for c in [ch.funnel_chart(w, ft[0])] if c]
        late = w.funnel["too_late"] if w.funnel else None
        if late is not None and len(late):
            lt = late.iloc[0]
            acted = int(lt["n_acted"])
            s.paragraphs.append(
                f"Too late: {int(lt['n_acted_too_late']):,} of the {acted:,} alerts acted on "
                f"({fmt.pct(lt['n_acted_too_late'] / acted if acted else None)}) were opened or tapped after their "
                f"slot had certainly closed, and {int(lt['n_acted_possibly_late']):,} more possibly (between the last "
                f"poll that saw it open and the first that did not). n = {acted:,} alerts acted on.")
    elif w.funnel is None:
        s.notes.append("No funnel this week: this database has no alert_events table (the collector's tracking "
                       "endpoint creates it when clients report alerts).")
    else:
        s.notes.append("No funnel this week: no alert was sent during the week's market days, so there is nothing "
                       "to convert. Clients report alert_sent, alert_opened, tap_to_reserve and booking_confirmed "
                       "through the tracking endpoint.")
    sections.append(s)

    d = Section("definitions", "Definitions and method")
    d.bullets = [
        "A drop (NEW_DROP) is a slot that appeared between two trusted polls and was not in the bucket's baseline; "
        "time-to-close is first poll without it minus first poll with it.",
        SCARCITY_FORMULA + " " + SCARCITY_NOTE,
        f"Days are market-local ({w.tz}); a transition belongs to the day it was observed.",
        f"Headline tests: the sample must reach {w.min_sample}, and the effect must exceed {headlines.Z:g} standard "
        f"errors, widened to {headlines.Z:g} x the spread of the previous weeks' values when at least "
        f"{headlines.MIN_HISTORY} of them exist.",
        "Every figure carries its sample size (n); days not observed in full (collection started or stopped, an outage) are flagged, never read as quiet days.",
    ]
    d.tables = [tables.headlines_table(hs)]
    sections.append(d)

    sub = f"Week {w.week.label} · {fmt.span(w.d0, w.d1)}"
    pdf_date = datetime.combine(w.d1 + timedelta(days=1), time(), tzinfo=UTC)
    return Digest(w.week.label, w.d0, w.d1, TITLE, sub, meta, csv_header, hs, sections, pdf_date)


def build(con: duckdb.DuckDBPyConnection, week: IsoWeek, options: BuildOptions, *,
          generated_at: datetime, progress: Progress | None = None) -> Bundle:
    """Everything in memory. Raises NoWeekData when the week has no aggregated day."""
    def step(i: int, total: int, label: str) -> None:
        if progress:
            progress(i, total, label)

    w = gather(con, week, tz=options.tz, min_sample=options.min_sample, tap_window_s=options.tap_window_s,
               book_window_s=options.book_window_s)
    if not len(w.days):
        raise NoWeekData(_no_data_reason(con, week))
    dg = assemble(w)
    all_charts: list[Chart] = dg.charts()
    total = 2 + len(all_charts) + 4
    step(1, total, "queries")
    for i, c in enumerate(all_charts):
        ch.render(c)
        step(2 + i, total, f"chart {c.key}")
    files: dict[str, bytes] = {}
    for c in all_charts:
        files[f"charts/{c.key}.png"] = c.png
        files[f"charts/{c.key}.svg"] = c.svg.encode("utf-8")
    for t in dg.tables():
        files[f"tables/{t.key}.csv"] = render_csv.render(dg, t)
    k = 2 + len(all_charts)
    step(k, total, "csv")
    files["digest.md"] = render_md.render(dg, generated_at).encode("utf-8")
    step(k + 1, total, "markdown")
    files["digest.html"] = render_html.render(dg).encode("utf-8")
    step(k + 2, total, "html")
    files["digest.pdf"] = render_pdf.render(dg)
    step(k + 3, total, "pdf")
    files["manifest.json"] = manifest.render(dg, files, generated_at)
    step(total, total, "manifest")
    return Bundle(week, files, dg)


def write_bundle(bundle: Bundle, out: str | Path) -> list[Path]:
    """Write every file under OUT (created if needed); returns the paths written, sorted."""
    root = Path(out)
    written = []
    for name in sorted(bundle.files):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(bundle.files[name])
        written.append(p)
    return written
