"""``colorize bench`` runs and reports a row per method and size (no timing asserts)."""

from core.bench import machine_description, run_benchmarks, table


def test_bench_rows(registry):
    report = run_benchmarks(["toy"], sizes=(64, 96), repeats=1, memory=False)
    assert [(r["method"], r["size"]) for r in report["rows"]] == [("toy", 64), ("toy", 96)]
    for row in report["rows"]:
        assert row["seconds"] >= row["predict_seconds"] > 0
        assert 0 <= row["core_share"] <= 1
    assert "| toy | 64² |" in table(report)
    machine = machine_description()
    assert machine["cores"] >= 1 and "numpy" in machine["versions"]
