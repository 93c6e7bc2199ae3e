"""digest.html: one self-contained page (inline CSS, charts as data: URIs, no external reference).

Built from the digest model with every data value HTML-escaped (never from raw Markdown).
"""

from __future__ import annotations

import base64
import html
import re

from analytics import theme
from analytics.digest.model import Digest, Table, numeric_columns

_BOLD = re.compile(r"\*\*(.+?)\*\*")

CSS = f"""
body {{ font-family: {theme.FONT}; color: {theme.INK}; max-width: 860px; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; }}
h1 {{ margin-bottom: .2rem; }} h2 {{ margin-top: 2rem; border-bottom: 1px solid {theme.GRID}; }}
.sub {{ color: {theme.MUTED}; font-weight: 600; }} .meta, .note, .def {{ color: {theme.MUTED}; font-size: .9rem; }}
table {{ border-collapse: collapse; width: 100%; font-size: .88rem; margin: .4rem 0; }}
th, td {{ border-bottom: 1px solid {theme.GRID}; padding: 4px 6px; text-align: left; }}
.num {{ text-align: right; }} th {{ color: {theme.INK}; }}
img {{ max-width: 100%; height: auto; margin: .6rem 0; }} footer {{ color: {theme.MUTED}; font-size: .8rem; }}
""".strip()


def inline(text: str) -> str:
    """Escape, then turn **bold** (written by the digest, not by data) into <strong>."""
    return _BOLD.sub(r"<strong>\1</strong>", html.escape(text, quote=True))


def table_html(t: Table) -> list[str]:
    out = [f"<h3>{html.escape(t.title)}</h3>"]
    if t.rows:
        cls = [" class=\"num\"" if n else "" for n in numeric_columns(t)]
        out.append("<table><thead><tr>" + "".join(f"<th{k}>{html.escape(c)}</th>" for k, c in zip(cls, t.columns, strict=True))
                   + "</tr></thead>")
        out.append("<tbody>")
        out += ["<tr>" + "".join(f"<td{k}>{html.escape(c)}</td>" for k, c in zip(cls, r, strict=True)) + "</tr>"
                for r in t.rows]
        out.append("</tbody></table>")
    else:
        out.append("<p class=\"note\">No rows this week.</p>")
    out.append(f"<p class=\"def\">{html.escape(t.definition)} {html.escape(t.n_label)}. "
               f"Source: <code>{html.escape(t.source)}</code>.</p>")
    return out


def render(dg: Digest) -> str:
    out = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
           f"<title>{html.escape(dg.title)} · {html.escape(dg.week_label)}</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>{html.escape(dg.title)}</h1>", f"<p class=\"sub\">{html.escape(dg.subtitle)}</p>",
           "<ul class=\"meta\">" + "".join(f"<li>{html.escape(m)}</li>" for m in dg.meta_lines) + "</ul>"]
    for s in dg.sections:
        out.append(f"<section id=\"{html.escape(s.key)}\"><h2>{html.escape(s.title)}</h2>")
        out += [f"<p>{inline(p)}</p>" for p in s.paragraphs]
        if s.bullets:
            out.append("<ul>" + "".join(f"<li>{inline(b)}</li>" for b in s.bullets) + "</ul>")
        for t in s.tables:
            out += table_html(t)
        for c in s.charts:
            b64 = base64.b64encode(c.png).decode("ascii")
            out.append(f"<img alt=\"{html.escape(c.alt)}\" src=\"data:image/png;base64,{b64}\">")
        out += [f"<p class=\"note\"><em>{inline(n)}</em></p>" for n in s.notes]
        out.append("</section>")
    out += [f"<footer>Tablepulse weekly digest {html.escape(dg.week_label)}. Generation time and file checksums: "
            "manifest.json.</footer>", "</body></html>", ""]
    return "\n".join(out)
