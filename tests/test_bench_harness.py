"""The bench harness finds workloads and prints the agreed JSON row format."""

from bench.common import result


def test_result_row_fields_and_ratio():
    row = result("w", "m", 0.5, "s", target=1.0, baseline=2.0)
    assert set(row) == {"workload", "metric", "value", "unit", "baseline", "ratio", "target", "ok"}
    assert row["ratio"] == 4.0 and row["ok"] is True
    rate = result("w", "r", 10.0, "rows/s", target=20.0, baseline=5.0, higher_is_better=True)
    assert rate["ratio"] == 2.0 and rate["ok"] is False


def test_ratio_target_judges_the_ratio():
    row = result("w", "m", 1000.0, "rows/s", baseline=2.0, higher_is_better=True, ratio_target=300)
    assert (row["ratio"], row["target"], row["ok"]) == (500.0, 300, True)
