"""Named, ordered, transactional migrations recorded in a table; applying twice is a no-op.

Files are collector/store/migrations/NNNN_name.sql; each runs in one transaction together with
its row in schema_migrations, so a crash mid-migration leaves the file as it was.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from analytics.sql_loader import split_statements

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def migration_files() -> list[Path]:
    files = sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    numbers = [f.name[:4] for f in files]
    if len(set(numbers)) != len(numbers):
        raise RuntimeError(f"two migrations share a number: {numbers}")
    return files


def applied(con: duckdb.DuckDBPyConnection) -> list[str]:
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)")
    return [r[0] for r in con.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply every pending migration in order; returns the names applied now."""
    done = set(applied(con))
    ran = []
    for f in migration_files():
        if f.stem in done:
            continue
        con.execute("BEGIN")
        try:
            for stmt in split_statements(f.read_text()):
                con.execute(stmt)
            con.execute("INSERT INTO schema_migrations (name) VALUES ($name)", {"name": f.stem})
            con.execute("COMMIT")
        except Exception as e:
            con.execute("ROLLBACK")
            raise RuntimeError(f"migration {f.name} failed: {e}") from e
        ran.append(f.stem)
    return ran
