"""digest.pdf with fpdf2: headings, tables and the charts as PNG. Deterministic: fixed creation
date (the Monday after the week, UTC), fixed producer, core fonts only (no time-dependent data).

The core fonts are Latin-1; the few typographic characters outside it are mapped to ASCII.
"""

from __future__ import annotations

import io

from fpdf import FPDF
from fpdf.fonts import FontFace

from analytics.digest.model import Digest, Table, numeric_columns

_ASCII = {"—": "-", "–": "-", "≥": ">=", "≤": "<=", "→": "->", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...",
          "−": "-", "\u00a0": " "}
PAGE_W = 180.0   # A4 width minus 15 mm margins


def latin1(text: str) -> str:
    for k, v in _ASCII.items():
        text = text.replace(k, v)
    return text.encode("latin-1", "replace").decode("latin-1")


class _PDF(FPDF):
    week = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.set_text_color(107, 114, 128)
        self.cell(0, 5, latin1(f"Tablepulse weekly digest {self.week} - page {self.page_no()}"), align="C")


def _para(pdf: FPDF, text: str, size: float = 9.5, style: str = "", color: tuple[int, int, int] = (31, 41, 55)) -> None:
    pdf.set_font("Helvetica", style=style, size=size)
    pdf.set_text_color(*color)
    pdf.multi_cell(0, size * 0.5, latin1(text), markdown=True, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.2)


def _table(pdf: FPDF, t: Table) -> None:
    pdf.set_font("Helvetica", style="B", size=10.5)
    pdf.set_text_color(31, 41, 55)
    pdf.cell(0, 6, latin1(t.title), new_x="LMARGIN", new_y="NEXT")
    if t.rows:
        pdf.set_font("Helvetica", size=7.5)
        widths = [max(len(c), *(len(r[i]) for r in t.rows)) for i, c in enumerate(t.columns)]
        widths = [min(max(w, 4), 60) for w in widths]
        align = ["RIGHT" if n else "LEFT" for n in numeric_columns(t)]
        with pdf.table(col_widths=widths, text_align=align, line_height=4, width=PAGE_W,
                       headings_style=FontFace(emphasis="BOLD", fill_color=(243, 244, 246)),
                       borders_layout="HORIZONTAL_LINES", padding=0.8) as table:
            table.row([latin1(c) for c in t.columns])
            for r in t.rows:
                table.row([latin1(c) for c in r])
    else:
        _para(pdf, "No rows this week.", size=8, style="I")
    pdf.ln(1)
    _para(pdf, f"{t.definition} {t.n_label}. Source: {t.source}.", size=7, color=(107, 114, 128))


def render(dg: Digest) -> bytes:
    pdf = _PDF(orientation="P", unit="mm", format="A4")
    pdf.week = dg.week_label
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_creation_date(dg.pdf_date)
    pdf.set_producer("Tablepulse digest")
    pdf.set_creator("tablepulse digest")
    pdf.set_title(latin1(f"{dg.title} - {dg.week_label}"))
    pdf.set_author("Tablepulse")
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=18)
    pdf.set_text_color(31, 41, 55)
    pdf.cell(0, 10, latin1(dg.title), new_x="LMARGIN", new_y="NEXT")
    _para(pdf, dg.subtitle, size=11, style="B", color=(107, 114, 128))
    for m in dg.meta_lines:
        _para(pdf, m, size=8, color=(107, 114, 128))
    for s in dg.sections:
        pdf.ln(2)
        pdf.set_font("Helvetica", style="B", size=13)
        pdf.set_text_color(31, 41, 55)
        pdf.cell(0, 8, latin1(s.title), new_x="LMARGIN", new_y="NEXT")
        for p in s.paragraphs:
            _para(pdf, p)
        for b in s.bullets:
            _para(pdf, "- " + b)
        for t in s.tables:
            _table(pdf, t)
        for c in s.charts:
            img = io.BytesIO(c.png)
            info_w, info_h = _png_size(c.png)
            w = min(PAGE_W, info_w / 2 * 0.2646 * 1.0)   # scale-2 PNG: CSS px -> mm at 96 dpi
            h = w * info_h / info_w
            if pdf.get_y() + h > pdf.h - 18:
                pdf.add_page()
            pdf.image(img, w=w, h=h)
            pdf.ln(2)
        for n in s.notes:
            _para(pdf, n, size=8, style="I", color=(107, 114, 128))
    return bytes(pdf.output())


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk."""
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
