"""digest.md: the digest as GitHub-flavoured Markdown (tables, images under charts/)."""

from __future__ import annotations

from datetime import UTC, datetime

from analytics.digest.model import Digest, Table, numeric_columns


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table_md(t: Table) -> list[str]:
    out = [f"### {t.title}", ""]
    if t.rows:
        out.append("| " + " | ".join(cell(c) for c in t.columns) + " |")
        out.append("|" + "|".join("---:" if num else "---" for num in numeric_columns(t)) + "|")
        out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in t.rows]
    else:
        out.append("_No rows this week._")
    out += ["", f"_{t.definition}_ {t.n_label}. Source: `{t.source}`; full table: `tables/{t.key}.csv`.", ""]
    return out


def stamp(generated_at: datetime) -> str:
    g = generated_at.astimezone(UTC) if generated_at.tzinfo else generated_at.replace(tzinfo=UTC)
    return g.strftime("%Y-%m-%dT%H:%M:%SZ")


def render(dg: Digest, generated_at: datetime) -> str:
    out = [f"# {dg.title}", "", f"**{dg.subtitle}**", ""]
    out += [f"- {line}" for line in dg.meta_lines] + [""]
    for s in dg.sections:
        out += [f"## {s.title}", ""]
        for p in s.paragraphs:
            out += [p, ""]
        if s.bullets:
            out += [f"- {b}" for b in s.bullets] + [""]
        for t in s.tables:
            out += table_md(t)
        for c in s.charts:
            out += [f"![{c.alt}](charts/{c.key}.png)", ""]
        for n in s.notes:
            out += [f"_{n}_", ""]
    out += ["---", "", f"Generated {stamp(generated_at)} by `tablepulse digest --week {dg.week_label}`. "
            "The same database and week give the same bundle apart from this time (also in manifest.json).", ""]
    return "\n".join(out)
