"""colorize-backbone: the shipped gray backbone, its torch definition and the sharing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from colorize_backbone import COLOUR_CLASSIFIER, GRAY_BACKBONE, MODELS_DIR

import core
from core.backbones import Backbone, get_backbone
from core.runtime import verify_model_file

GRAPH = MODELS_DIR / f"{GRAY_BACKBONE}.onnx"
EXAMPLE = Path(__file__).resolve().parents[3] / "core" / "data" / "detroit_ca1915.jpg"


def _lightness(h=128, w=160, seed=0):
    rng = np.random.default_rng(seed)
    base = np.linspace(10, 90, w, dtype=np.float32)[None].repeat(h, 0)
    return (base + rng.normal(0, 5, (h, w))).clip(0, 100).astype(np.float32)


def test_backbone_is_registered_through_its_entry_point():
    backbone = get_backbone(GRAY_BACKBONE)
    assert isinstance(backbone, Backbone)
    assert backbone.levels == ("f2", "f4", "f8", "f16", "f32", "head")
    assert backbone.strides() == {"f2": 2, "f4": 4, "f8": 8, "f16": 16, "f32": 32, "head": 32}
    entry = core.plugins.get_registry().entries("backbone")[GRAY_BACKBONE]
    assert entry.distribution == "colorize-backbone"
    verify_model_file(GRAPH)
    verify_model_file(COLOUR_CLASSIFIER)


def test_feature_shapes_and_bad_sizes():
    backbone = get_backbone(GRAY_BACKBONE)
    levels = backbone.features(_lightness(96, 160))
    assert levels["f4"].shape == (24, 24, 40)
    assert levels["head"].shape == (1280, 3, 5)
    assert all(np.isfinite(v).all() for v in levels.values())
    with pytest.raises(ValueError, match="multiples of 32, got 100x160"):
        backbone.features(np.zeros((100, 160), np.float32))
    with pytest.raises(ValueError, match=r"expected \(H, W\)"):
        backbone.features(np.zeros((1, 96, 160), np.float32))


def test_features_are_cached_per_image_and_read_only():
    backbone = get_backbone(GRAY_BACKBONE)
    backbone.clear_cache()
    x = _lightness(seed=3)
    runs = backbone.runs
    first = backbone.features(x)
    again = backbone.features(x.copy())
    assert backbone.runs == runs + 1 and again is first
    assert not first["f8"].flags.writeable
    backbone.features(_lightness(seed=4))
    assert backbone.runs == runs + 2


def test_two_methods_on_one_image_share_one_backbone_pass():
    methods = [m.name for m in core.methods() if m.name.startswith("larsson")]
    if len(methods) < 2:
        pytest.skip("needs two larsson heads installed")
    backbone = get_backbone(GRAY_BACKBONE)
    backbone.clear_cache()
    runs = backbone.runs
    for method in methods[:2]:
        core.colorize(EXAMPLE, method)
    assert backbone.runs == runs + 1


def test_shipped_colour_classifier_matches_the_torch_network():
    """The unadapted colour graph against training.backbone with the package's weights."""
    torch = pytest.importorskip("torch")
    from core.runtime import get_session
    from training.backbone import load_pretrained

    net = load_pretrained()
    rgb = (np.random.default_rng(0).random((2, 3, 96, 128)) * 255).astype(np.float32)
    with torch.no_grad():
        expected = net(net.normalise(torch.from_numpy(rgb))).numpy()
    (got,) = get_session(COLOUR_CLASSIFIER).run(None, {"rgb": rgb})
    rel = np.abs(expected - got).max() / np.abs(expected).max()
    assert rel < 1e-2, f"relative difference {rel:.2e}"
    assert (expected.argmax(1) == got.argmax(1)).all()


@pytest.mark.slow
def test_gray_backbone_export_matches_torch(tmp_path):
    """torch -> ONNX (fp16-stored weights) of the gray backbone agrees with torch."""
    torch = pytest.importorskip("torch")
    from onnx_export.backbone import _export, _parity
    from training.backbone import LEVELS, GrayBackbone, load_pretrained, to_gray

    net = GrayBackbone(to_gray(load_pretrained())).eval()
    path = tmp_path / "gray.onnx"
    _export(net, {"lightness": torch.rand(1, 1, 64, 96) * 100}, list(LEVELS), path)
    x = _lightness(64, 128, seed=2)[None, None]
    parity = _parity(net, path, [{"lightness": x}])
    assert parity["max_rel_diff"] < 1e-2, parity
    shipped = get_backbone(GRAY_BACKBONE).model.metadata_json("parity")
    assert shipped["max_rel_diff"] < 1e-2, shipped


def test_inference_imports_no_torch():
    code = (
        "import sys, core\n"
        "from core.backbones import get_backbone\n"
        f"core.colorize({str(EXAMPLE)!r})\n"
        "bad = [m for m in ('torch', 'onnx') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _imagenet_sample() -> Path:
    import os

    root = os.environ.get("COLORIZE_DATA")
    if not root:
        pytest.skip("COLORIZE_DATA is not set (the shared datasets); needed for imagenet_sample")
    folder = Path(root) / "imagenet_sample"
    if not (folder / "labels.csv").is_file():
        pytest.skip(f"{folder} not found under COLORIZE_DATA")
    return folder


@pytest.mark.data
def test_semantic_test_ranks_colour_above_gray():
    from colorize_eval.semantic import semantic_test

    from training.splits import held_out

    folder = _imagenet_sample()
    files = held_out(folder)
    assert len(files) == 487 and files[0].name < files[1].name
    report = semantic_test([core.default_method()], folder, limit=32, progress=False)
    top1 = report["top1"]
    assert report["photos"] == 32
    assert set(top1) == {"colour", "gray", "mean-tint", "true-28px", core.default_method()}
    assert top1["colour"] > top1["gray"]  # colour carries class evidence for this network
    assert top1["true-28px"] > top1["gray"]  # true chroma at 28 px keeps most of it
    assert all(0.0 <= v <= 1.0 for v in top1.values())


@pytest.mark.data
def test_colorize_eval_semantic_flag(tmp_path, capsys):
    import json

    from core.cli import main

    folder = _imagenet_sample()
    bsds = folder.parent / "bsds500" / "images" / "test"
    out = tmp_path / "report.json"
    code = main(["eval", "-m", core.default_method(), "--data", str(bsds), "--limit", "2",
                 "--semantic", str(folder), "--json", str(out), "-q"])
    assert code == 0
    assert "semantic test (2 held-out imagenet_sample photos" in capsys.readouterr().out
    assert set(json.loads(out.read_text())["semantic"]["top1"]) >= {"colour", "gray"}
