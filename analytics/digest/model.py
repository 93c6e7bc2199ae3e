"""The digest as data: sections of paragraphs, tables and charts that every renderer walks.

One model, four renderers (md, HTML, PDF, CSV), so the same number reads the same everywhere.
Table.rows hold the formatted cells shown to readers; Table.raw holds the unformatted values
exported to CSV.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd


@dataclass
class Table:
    key: str                    # file stem of the CSV (tables/KEY.csv)
    title: str
    columns: list[str]
    rows: list[list[str]]
    raw: pd.DataFrame
    definition: str
    n_label: str                # "n = ..." line: the sample behind the table
    source: str                 # the analytics query (SQL file) the numbers come from


_NUMERIC = re.compile(r"^(—|[-+]?[\d,]+(\.\d+)?%?|(\d+ h )?(\d+ min)?( ?\d+ s)?)$")


def numeric_columns(t: Table) -> list[bool]:
    """Per column: True when every cell is a number, percentage, duration or dash (right-aligned)."""
    return [bool(t.rows) and all(_NUMERIC.match(r[i].strip()) is not None and r[i].strip() != "" for r in t.rows)
            for i in range(len(t.columns))]


@dataclass
class Chart:
    key: str                    # file stem (charts/KEY.png, charts/KEY.svg)
    title: str
    spec: dict[str, Any]        # Vega-Lite spec with the Tablepulse theme applied
    alt: str
    png: bytes = b""
    svg: str = ""


@dataclass
class Headline:
    key: str
    text: str                   # "Supply tightened 34% this weekend vs last"
    detail: str                 # the numbers behind it, with sample sizes
    n: int                      # sample size behind the headline
    n_min: int                  # the minimum it had to reach
    change: float | None        # the effect, in the unit of `noise`
    noise: float | None         # the week-to-week noise threshold it had to exceed
    rule: str                   # the noise test in words
    passed: bool
    reason: str                 # why it was kept or left out


@dataclass
class Section:
    key: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)   # shown after the tables, e.g. empty states


@dataclass
class Digest:
    week_label: str
    d0: date
    d1: date
    title: str
    subtitle: str
    meta_lines: list[str]              # freshness, trusted share, thresholds
    csv_header: list[str]              # the header block every CSV carries (before its own lines)
    headlines: list[Headline]
    sections: list[Section]
    pdf_date: datetime                 # fixed PDF creation date (derived from the week, not the clock)

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    def charts(self) -> list[Chart]:
        return [c for s in self.sections for c in s.charts]
