"""The documentation figures: the generator's cheap parts work, every referenced figure exists.

The full ``make figures`` run (sample sheets of every method) takes minutes and is not run
here; these tests render only figures that need no model and no dataset.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FIGURES = DOCS / "figures"
IMAGE_LINK = re.compile(r"!\[[^\]]*\]\(([^)\s]+)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def gen_figures():
    pytest.importorskip("matplotlib")
    return _load(ROOT / "scripts" / "gen_figures.py", "gen_figures")


def test_concept_figure_renders_a_small_deterministic_png(gen_figures, tmp_path):
    first = gen_figures.figure_hue_chroma_wheel(tmp_path / "a.png")
    second = gen_figures.figure_hue_chroma_wheel(tmp_path / "b.png")
    data = first.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert 1_000 < len(data) < 200_000
    assert data == second.read_bytes(), "same inputs must give the same bytes"


def test_bin_figure_renders(gen_figures, tmp_path):
    path = gen_figures.figure_bins(tmp_path / "bins.png")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_quality_speed_plot_renders_from_results_json(tmp_path):
    pytest.importorskip("matplotlib")
    gen_results = _load(ROOT / "scripts" / "gen_results.py", "gen_results")
    data = {
        "eval": {
            "aggregate": {
                "m1": {"images": 3, "psnr": 22.0, "rmse_ab": 0.40},
                "m2": {"images": 3, "psnr": 23.0, "rmse_ab": 0.45},
                "gray": {"images": 3, "psnr": 21.9, "rmse_ab": 0.43},
                "true-28px": {"images": 3, "psnr": 35.0, "rmse_ab": 0.09},
            }
        },
        "bench": {
            "rows": [
                {"method": "m1", "size": 512, "seconds": 0.1},
                {"method": "m2", "size": 512, "seconds": 0.3},
                {"method": "m2", "size": 256, "seconds": 0.05},
            ]
        },
    }
    out = gen_results.plot_quality_speed(data, tmp_path / "plot.png")
    # the newer colorize_bench.bench report: rows under "methods", sizes as labels with width/height
    newer = {
        "methods": [
            {"method": "m1", "size": "512x512", "width": 512, "height": 512, "seconds": 0.1},
            {"method": "m2", "size": "512x384", "width": 512, "height": 384, "seconds": 0.2},
        ]
    }
    assert gen_results.latencies_ms(newer, 512) == {"m1": 100.0}
    assert gen_results.latencies_ms({"rows": [{"method": "m", "size": "512²", "seconds": 1}]}, 512)
    assert out.read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(ValueError, match="512"):
        gen_results.plot_quality_speed({"eval": data["eval"], "bench": {"rows": []}}, out)


def test_results_json_has_what_the_plot_needs():
    gen_results = _load(ROOT / "scripts" / "gen_results.py", "gen_results")
    data = json.loads((DOCS / "results.json").read_text(encoding="utf-8"))
    aggregate = data["eval"]["aggregate"]
    latency = gen_results.latencies_ms(data["bench"], 512)  # either bench row format
    methods = [m for m in aggregate if m not in ("gray", "mean-tint", "true-28px")]
    assert methods and all(m in latency for m in methods)
    assert all(math.isfinite(aggregate[m]["rmse_ab"]) for m in methods)


def _markdown_files() -> list[Path]:
    cards = sorted((ROOT / "plugins").glob("*/*/MODEL_CARD.md"))
    return sorted(DOCS.rglob("*.md")) + cards


def test_every_image_referenced_from_the_docs_exists():
    missing = []
    for md in _markdown_files():
        for target in IMAGE_LINK.findall(md.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            if not (md.parent / target.split("#")[0]).is_file():
                missing.append(f"{md.relative_to(ROOT)}: {target}")
    assert not missing, f"missing figures: {missing}"


def test_every_sample_sheet_in_the_manifest_exists_and_names_a_plugin():
    manifest = json.loads((FIGURES / "samples" / "samples.json").read_text(encoding="utf-8"))
    plugins = {p.name for p in (ROOT / "plugins").iterdir() if p.is_dir()}
    assert manifest["methods"]
    for method, record in manifest["methods"].items():
        assert (FIGURES / "samples" / record["file"]).is_file(), method
        assert record["plugin"] in plugins, f"{method}: unknown plugin {record['plugin']}"
        assert record["columns"][0] == "gray input" and record["columns"][-1] == "ground truth"


def test_figures_stay_small():
    files = [p for p in FIGURES.rglob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg")]
    assert files
    big = [f"{p.name}: {p.stat().st_size} B" for p in files if p.stat().st_size >= 200_000]
    assert not big, f"figures over 200 KB: {big}"
    assert sum(p.stat().st_size for p in files) < 2_500_000  # 2 MB of figures + the UI shot


def test_docs_hook_appends_sample_sheets_and_publishes_card_images():
    pytest.importorskip("mkdocs")
    hooks = _load(DOCS / "_hooks.py", "docs_hooks")
    manifest = json.loads((FIGURES / "samples" / "samples.json").read_text(encoding="utf-8"))
    method, record = next(iter(sorted(manifest["methods"].items())))
    section = hooks.sample_section(record["plugin"])
    assert "## Sample sheet" in section
    assert f"](../figures/samples/{record['file']})" in section
    assert hooks.sample_section("no-such-plugin") == ""
    for name, path in hooks.card_images().items():
        assert path.name == name and (path.parent / "MODEL_CARD.md").is_file()


def test_embedding_the_plot_in_results_md_is_idempotent(tmp_path):
    gen_results = _load(ROOT / "scripts" / "gen_results.py", "gen_results")
    md = tmp_path / "results.md"
    md.write_text("# Results\n\n| table |\n\n## Speed\n\n| speed |\n", encoding="utf-8")
    assert gen_results.embed_plot(md, tmp_path / "figures" / "plot.png")
    assert not gen_results.embed_plot(md, tmp_path / "figures" / "plot.png")
    text = md.read_text(encoding="utf-8")
    assert text.count("## Quality vs speed") == 1
    assert "](figures/plot.png)" in text
    assert text.index("## Quality vs speed") < text.index("## Speed") < text.index("| speed |")


def test_performance_page_generated_section_is_replaced_in_place(tmp_path):
    gen_results = _load(ROOT / "scripts" / "gen_results.py", "gen_results")
    page = gen_results.PERFORMANCE_MD.read_text(encoding="utf-8")
    assert page.count(gen_results.GENERATED_START) == 1
    assert page.count(gen_results.GENERATED_END) == 1
    md = tmp_path / "performance.md"
    md.write_text(page, encoding="utf-8")
    assert gen_results.replace_generated(md, "| table one |")
    assert gen_results.replace_generated(md, "| table two |")
    text = md.read_text(encoding="utf-8")
    assert "| table two |" in text and "| table one |" not in text
    head, tail = (
        page.split(gen_results.GENERATED_START)[0],
        page.split(gen_results.GENERATED_END)[1],
    )
    assert text.startswith(head) and text.endswith(tail)  # hand-written parts untouched
    (tmp_path / "plain.md").write_text("no markers\n")
    assert not gen_results.replace_generated(tmp_path / "plain.md", "x")
