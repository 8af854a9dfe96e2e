"""``colorize bench``: rows, comparisons, plugin benchmarks, JSON schema (no timing asserts)."""

from __future__ import annotations

import json
import math
import shutil

import pytest
from colorize_bench.bench import (
    SCHEMA_VERSION,
    comparison,
    comparisons_table,
    int8_comparisons,
    machine_description,
    parse_sizes,
    run_benchmarks,
    run_plugin_benchmarks,
    skipped,
    table,
)

from core.cli import main
from core.plugins import Registry, reset_registry

# Keys of `colorize bench --json` at every level (docs/cli.md documents them). A rename
# must be deliberate: bump colorize_bench.bench.SCHEMA_VERSION, update docs/cli.md and this test.
TOP_KEYS = {"schema", "machine", "settings", "methods", "failures", "core", "plugins"}
MACHINE_KEYS = {"cpu", "cores", "python", "platform", "threads", "load_average", "versions"}
SETTINGS_KEYS = {"quick", "sizes", "repeats", "memory", "methods"}
ROW_KEYS = {
    "method", "size", "width", "height", "seconds", "predict_seconds", "core_share",
    "megapixels_per_s", "peak_mib", "peak_mib_error", "ratio_vs_512",
}  # fmt: skip
CORE_KEYS = {"conversions", "decoders", "comparisons", "skipped"}
THROUGHPUT_KEYS = {"name", "megapixels", "mp_s"}
COMPARISON_KEYS = {"a", "b", "unit", "lower_is_better", "ratio", "note"}
SIDE_KEYS = {"label", "value"}
PLUGIN_KEYS = {
    "distribution", "version", "status", "seconds", "comparisons", "skipped", "notes", "error",
}  # fmt: skip


def _strict_json(text: str):
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


def test_bench_rows(registry):
    report = run_benchmarks(["toy"], sizes=(64, (96, 48)), repeats=1, memory=False)
    assert [(r["method"], r["size"]) for r in report["rows"]] == [
        ("toy", "64x64"),
        ("toy", "96x48"),
    ]
    for row in report["rows"]:
        assert set(row) == ROW_KEYS
        assert row["seconds"] >= row["predict_seconds"] > 0
        assert 0 <= row["core_share"] <= 1
        assert row["peak_mib"] is None and row["ratio_vs_512"] is None
    text = table(report)
    assert "| toy | 64² |" in text and "| toy | 96x48 |" in text
    machine = machine_description()
    assert machine["cores"] >= 1 and "numpy" in machine["versions"]


def test_reference_methods_get_a_reference(registry):
    """A method that needs a reference is benchmarked with a ground-truth-like one."""
    report = run_benchmarks(["toy-reference"], sizes=(40,), repeats=1, memory=False)
    assert report["rows"][0]["method"] == "toy-reference" and report["failures"] == []


def test_failing_method_reported_and_suite_goes_on(registry):
    report = run_benchmarks(["no-such-method", "toy"], sizes=(32,), repeats=1, memory=False)
    assert [r["method"] for r in report["rows"]] == ["toy"]
    (failure,) = report["failures"]
    assert failure["method"] == "no-such-method" and "UnknownMethodError" in failure["error"]


def test_parse_sizes():
    assert parse_sizes("256,512, 4000x3000") == [(256, 256), (512, 512), (4000, 3000)]
    assert parse_sizes(["64", "32X16"]) == [(64, 64), (32, 16)]
    for bad in ("", "0", "12x", "axb", "1x2x3", "-5"):
        with pytest.raises(ValueError):
            parse_sizes(bad)


def test_comparison_ratio_means_candidate_better():
    faster = comparison("cached", 0.5, "naive", 10.0, "s", note="same noise")
    assert set(faster) == COMPARISON_KEYS and set(faster["a"]) == SIDE_KEYS
    assert faster["ratio"] == pytest.approx(20.0) and faster["lower_is_better"]
    rate = comparison("core", 30.0, "scikit-image", 5.0, "MP/s")
    assert rate["ratio"] == pytest.approx(6.0) and not rate["lower_is_better"]
    slower = comparison("int8", 9.0, "float32", 1.0, "ms")
    assert slower["ratio"] == pytest.approx(1 / 9)
    assert math.isnan(comparison("a", 0.0, "b", 1.0, "s")["ratio"])


def test_plugin_benchmark_that_raises_is_reported_not_fatal():
    def good(quick):
        assert quick is True
        return {"comparisons": {"x vs y": comparison("x", 1.0, "y", 3.0, "ms")}}

    def broken(quick):
        raise RuntimeError("model file missing")

    def wrong(quick):
        return [1, 2, 3]

    def bare(quick):
        return {"comparisons": {"x vs y": {"a": 1}}}

    def nothing(quick):
        return {"skipped": [skipped("a vs b", "torch not installed")]}

    out = run_plugin_benchmarks(
        True, {"good": good, "broken": broken, "wrong": wrong, "bare": bare, "nothing": nothing}
    )
    assert list(out) == ["good", "broken", "wrong", "bare", "nothing"]
    assert all(set(entry) == PLUGIN_KEYS for entry in out.values())
    assert out["good"]["status"] == "ok" and out["good"]["error"] is None
    assert out["good"]["comparisons"]["x vs y"]["ratio"] == pytest.approx(3.0)
    assert out["broken"]["status"] == "error"
    assert out["broken"]["error"] == "RuntimeError: model file missing"
    assert out["wrong"]["status"] == "error" and "expected a dict" in out["wrong"]["error"]
    assert out["bare"]["status"] == "error" and "use comparison()" in out["bare"]["error"]
    assert out["nothing"]["status"] == "skipped"
    text = comparisons_table({"plugins": out})
    assert "| plugin good | x vs y | x 1 ms | y 3 ms | 3.00× |" in text
    assert "plugin broken: FAILED: RuntimeError: model file missing" in text
    assert "plugin nothing: a vs b not measured: torch not installed" in text


def test_int8_comparisons_only_when_shipped(onnx_model_path):
    import numpy as np

    from core.runtime import sha256_file

    folder = onnx_model_path.parent
    feeds = lambda session: {"L": np.zeros((1, 1, 8, 8), np.float32)}  # noqa: E731
    found, missing = int8_comparisons(folder, feeds, repeats=1)
    assert found == {} and missing[0]["name"] == "int8 vs float32"
    assert "no int8 graph is shipped" in missing[0]["reason"]
    # A stand-in "int8" graph (a copy) next to the float32 one is compared with it.
    quantized = folder / "toy.int8.onnx"
    shutil.copy(onnx_model_path, quantized)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][quantized.name] = {"sha256": sha256_file(quantized)}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    found, missing = int8_comparisons(folder, feeds, repeats=1)
    assert missing == [] and list(found) == ["int8 vs float32: toy.onnx"]
    assert found["int8 vs float32: toy.onnx"]["a"]["label"] == "int8"


def test_zero_feeds_fill_every_input_with_named_dimensions_set_to_one(onnx_model_path):
    import numpy as np
    from colorize_bench.bench import zero_feeds

    from core.runtime import get_session

    session = get_session(onnx_model_path)
    feeds = zero_feeds(session)
    assert list(feeds) == [i.name for i in session.get_inputs()]
    for spec in session.get_inputs():
        value = feeds[spec.name]
        assert value.dtype == np.float32 and not value.any()
        expected = [d if isinstance(d, int) else 1 for d in spec.shape]
        assert list(value.shape) == expected
    session.run(None, feeds)  # the smallest feed the graph accepts


def test_memory_probe_with_reference():
    """The fresh-process probe runs a reference method (real entry points) at a tiny size."""
    from colorize_bench.bench import _peak_memory_mib

    import core

    if "welsh" not in [m.name for m in core.methods()]:
        pytest.skip("colorize-plugin-example (welsh) not installed")
    assert _peak_memory_mib("welsh", 48, 32, True) >= 0


def test_bench_quick_json_schema_and_plugin_section(registry, toys, tmp_path, capsys):
    """Smoke test of `colorize bench --quick --json` (toy method, real plugin benchmarks).

    Pins the keys at every level of the JSON and checks that every benchmark the installed
    plugins register reported comparisons or said why it skipped them.
    """
    from core.plugins import get_registry

    # the installed plugins' benchmarks run the shipped graphs: load them as an install
    # would, beside the toy methods
    full = Registry(strict=True)
    full.add_plugin(toys.ToyPlugin(toys.ToyColorizer()), name="toy-plugin", distribution="toy")
    reset_registry(full)
    installed = set(get_registry().entries("benchmark"))
    out = tmp_path / "bench.json"
    code = main(["bench", "--quick", "--no-memory", "-m", "toy", "--json", str(out)])
    payload = _strict_json(out.read_text())
    assert set(payload) == TOP_KEYS and payload["schema"] == SCHEMA_VERSION
    assert set(payload["machine"]) == MACHINE_KEYS
    assert set(payload["settings"]) == SETTINGS_KEYS and payload["settings"]["quick"] is True
    assert [(r["method"], r["size"]) for r in payload["methods"]] == [
        ("toy", "256x256"),
        ("toy", "512x512"),
    ]
    assert all(set(r) == ROW_KEYS for r in payload["methods"]) and payload["failures"] == []
    core_part = payload["core"]
    assert set(core_part) == CORE_KEYS
    assert all(set(r) == THROUGHPUT_KEYS for r in core_part["conversions"] + core_part["decoders"])
    assert "rgb -> lab" in [r["name"] for r in core_part["conversions"]]
    assert "median" in [r["name"] for r in core_part["decoders"]]
    assert "decoder median: ours vs naive numpy" in core_part["comparisons"]
    assert installed >= {"larsson", "cnn", "pixcolor", "semantic"}
    assert set(payload["plugins"]) == installed
    for name, entry in payload["plugins"].items():
        assert set(entry) == PLUGIN_KEYS
        assert entry["status"] in ("ok", "skipped"), (name, entry["error"])
        assert entry["comparisons"] or entry["skipped"]
        for c in entry["comparisons"].values():
            assert set(c) == COMPARISON_KEYS and set(c["a"]) == set(c["b"]) == SIDE_KEYS
    if "pixcolor" in installed:
        (name,) = payload["plugins"]["pixcolor"]["comparisons"]
        assert "cached vs naive" in name
    assert code == 0
    printed = capsys.readouterr().out
    assert "| toy | 256² |" in printed and "ratio (>1: a better)" in printed


def test_plugin_benchmarks_follow_the_plugin_allow_and_block_lists(monkeypatch):
    def registered():
        return set(Registry(strict=True).entries("benchmark"))

    installed = registered()
    if not installed:
        pytest.skip("no installed plugin registers a benchmark")
    name = sorted(installed)[0]  # benchmarks are named after their plugin's entry point
    monkeypatch.setenv("COLORIZE_DISABLE_PLUGINS", name)
    assert registered() == installed - {name}
    monkeypatch.delenv("COLORIZE_DISABLE_PLUGINS")
    monkeypatch.setenv("COLORIZE_PLUGINS", name)
    assert registered() == {name}


@pytest.mark.parametrize("module", ["colorize_cnn.bench", "colorize_larsson.bench"])
def test_torch_comparisons_skipped_with_a_reason_without_torch(module, monkeypatch):
    """Without torch the plugins' ORT-vs-torch comparison says why it did not run."""
    import importlib
    import importlib.util

    bench = pytest.importorskip(module)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a)
    )
    result = bench.benchmark(True)
    reasons = {s["name"]: s["reason"] for s in result["skipped"]}
    assert "torch not installed" in reasons["onnxruntime vs torch eager"]
    assert "no int8 graph is shipped" in reasons["int8 vs float32"]
    assert result["comparisons"] == {}
    normalised = importlib.import_module("colorize_bench.bench")._normalise(result)
    assert normalised["skipped"] == result["skipped"]
