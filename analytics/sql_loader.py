"""Loads the named SQL files in analytics/sql and runs them with named parameters only.

Values never enter SQL by string formatting; a query is called by its file stem, e.g.
``run(con, "venue_daily", day=date(2026, 11, 20))`` with ``$day`` inside the file.

The shared measures (time-to-close, scarcity, the rates) are DuckDB macros defined once in
analytics/sql/measure_*.sql. A statement that calls one gets its file's macros defined on the
connection first (TEMP macros: they work on read-only connections and vanish with the connection).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

SQL_DIR = Path(__file__).with_name("sql")


@cache
def sql(name: str) -> str:
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file() or path.parent != SQL_DIR:
        raise KeyError(f"no SQL file named {name!r} in {SQL_DIR}")
    return path.read_text()


@cache
def measures() -> dict[str, tuple[str, ...]]:
    """measure file stem -> the macros it defines (CREATE OR REPLACE TEMP MACRO name)."""
    return {p.stem: tuple(re.findall(r"CREATE OR REPLACE TEMP MACRO (\w+)", p.read_text()))
            for p in sorted(SQL_DIR.glob("measure_*.sql"))}


def _define_measures(con: duckdb.DuckDBPyConnection, stmt: str) -> None:
    """Define the macros of every measure file a statement calls (before running it), once per
    connection: the DuckDB variable tablepulse_measures lists the files done (defining the time-to-close
    macros again cost ~7 ms a statement, twice per Venue detail page)."""
    code = "\n".join(_code_part(ln) for ln in stmt.splitlines())
    if "(" not in code or code.lstrip().upper().startswith("CREATE OR REPLACE TEMP MACRO"):
        return
    for stem, names in measures().items():
        if not any(re.search(rf"\b{n}\(", code) for n in names):
            continue
        if con.execute("SELECT coalesce(list_contains(getvariable('tablepulse_measures'), $stem), FALSE)",
                       {"stem": stem}).fetchall()[0][0]:
            continue
        for part in split_statements(sql(stem)):
            con.execute(part)
        con.execute("SET VARIABLE tablepulse_measures = "
                    "list_append(coalesce(getvariable('tablepulse_measures'), []::VARCHAR[]), $stem)", {"stem": stem})


def _uses(stmt: str, name: str) -> bool:
    """Whether the SQL code (comments aside) references $name."""
    code = "\n".join(_code_part(ln) for ln in stmt.splitlines())
    i = code.find(f"${name}")
    while i >= 0:
        end = i + len(name) + 1
        if end >= len(code) or not (code[end].isalnum() or code[end] == "_"):
            return True
        i = code.find(f"${name}", end)
    return False


def run(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> duckdb.DuckDBPyConnection:
    """Execute analytics/sql/NAME.sql with $named parameters; returns the connection for fetching."""
    text = sql(name)
    used = {k: v for k, v in params.items() if _uses(text, k)}
    missing = set(params) - set(used)
    if missing:
        raise TypeError(f"{name}.sql has no parameter(s) {sorted(missing)}")
    _define_measures(con, text)
    return con.execute(text, used) if used else con.execute(text)


def run_script(con: duckdb.DuckDBPyConnection, name: str, **params: Any) -> None:
    """Run a multi-statement SQL file (statements separated by ';' at line end), same parameters."""
    text = sql(name)
    for stmt in split_statements(text):
        used = {k: v for k, v in params.items() if _uses(stmt, k)}
        _define_measures(con, stmt)
        con.execute(stmt, used) if used else con.execute(stmt)


def _code_part(line: str) -> str:
    """The line without a trailing `-- comment` (quotes respected)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif line.startswith("--", i):
            return line[:i]
    return line


def split_statements(text: str) -> list[str]:
    """Statements of a SQL script: a statement ends at a line whose code (comments aside) ends with ';'."""
    out: list[str] = []
    cur: list[str] = []
    for line in text.splitlines():
        cur.append(line)
        if _code_part(line).rstrip().endswith(";"):
            if any(_code_part(ln).strip() for ln in cur):
                out.append("\n".join(cur).strip())
            cur = []
    if any(_code_part(ln).strip() for ln in cur):
        out.append("\n".join(cur).strip())
    return out
