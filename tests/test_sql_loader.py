"""SQL files by name: parameters are matched on code, not comments or longer names."""

import duckdb
import pytest

from analytics.sql_loader import _uses, run, split_statements


def test_parameter_detection_ignores_comments_and_prefixes():
    stmt = "-- uses $day in a comment\nSELECT $day_end AS x -- and $day here"
    assert not _uses(stmt, "day") and _uses(stmt, "day_end")


def test_split_respects_semicolons_in_comments_and_strings():
    text = "-- a; comment;\nSELECT ';' AS a; -- trailing;\nSELECT 2;\n"
    assert split_statements(text) == ["-- a; comment;\nSELECT ';' AS a; -- trailing;", "SELECT 2;"]


def test_unknown_file_and_unused_parameter_are_errors():
    con = duckdb.connect()
    with pytest.raises(KeyError, match="no SQL file"):
        run(con, "no_such_query")
