"""Tests of the colorize-cnn plugin: discovery, shipped models, inference without torch."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import colorize_cnn
import numpy as np
import pytest
from colorize_cnn.colorizer import COLORIZERS, CNNClassification
from colorize_devkit.testing import method_contract_tests

from core.runtime import MANIFEST_NAME, sha256_file

MODELS = colorize_cnn.MODELS_DIR
SHIPPED = [cls.name for cls in COLORIZERS if cls.shipped()]

test_contract = method_contract_tests(distribution="colorize-cnn")


def test_discovered_through_its_entry_point():
    (ep,) = [e for e in metadata.entry_points(group="colorize") if e.name == "cnn"]
    assert ep.value == "colorize_cnn.plugin"
    from core.plugins import Registry

    registry = Registry()
    for name in SHIPPED:
        assert registry.method_info(name).plugin == "colorize-cnn"
    recipes = set(registry.entries("recipe"))
    assert {"cnn-classification", "cnn-regression", "cnn-smoothl1"} <= recipes


def test_classification_and_regression_are_shipped():
    assert {"cnn-classification", "cnn-regression"} <= set(SHIPPED)


def test_shipped_models_match_the_manifest_and_stay_small():
    manifest = json.loads((MODELS / MANIFEST_NAME).read_text())
    onnx_files = sorted(p.name for p in MODELS.glob("*.onnx"))
    assert onnx_files and sorted(manifest["files"]) == onnx_files
    for name, entry in manifest["files"].items():
        assert sha256_file(MODELS / name) == entry["sha256"], name
        assert (MODELS / name).stat().st_size == entry["bytes"]
    assert sum((MODELS / n).stat().st_size for n in onnx_files) < 20 * 2**20
    assert (MODELS.parent / "MODEL_CARD.md").is_file()


def test_classification_returns_distributions_and_every_decoder_works():
    from core.decoders import decoder_names

    method = CNNClassification()
    lightness = np.linspace(0, 100, 61 * 47, dtype=np.float32).reshape(61, 47)  # not /4
    pred = method.predict(lightness)
    assert pred.chroma.shape == (61, 47, 2) and pred.chroma.dtype == np.float32
    assert set(pred.distributions) == {"a", "b"}
    assert pred.distributions["a"].probs.shape == (61, 47, 10)
    assert pred.uncertainty.shape == (61, 47) and np.all(pred.uncertainty >= 0)
    assert set(method.decoders) == set(decoder_names())
    for i, channel in enumerate("ab"):  # mode decoding picks the channel's bin centres
        assert np.isin(pred.chroma[..., i], method.bins(channel).centers.astype(np.float32)).all()
    for name in method.decoders:
        out = method.predict(lightness, decoder=name, seed=1)
        assert out.chroma.shape == (61, 47, 2) and np.isfinite(out.chroma).all()
    with pytest.raises(TypeError, match="unknown option.*accepted: temperature"):
        method.predict(lightness, rebalance=0.3)
    # temperature: the annealed mean's, in place of the default mode
    annealed = method.predict(lightness, decoder="annealed-mean", temperature=0.3).chroma
    np.testing.assert_array_equal(method.predict(lightness, temperature=0.3).chroma, annealed)
    with pytest.raises(ValueError, match="temperature is the annealed mean's"):
        method.predict(lightness, decoder="median", temperature=0.3)


@pytest.mark.parametrize("name", [n for n in SHIPPED if n != "cnn-classification"])
def test_regression_variants_predict_chroma(name):
    method = {cls.name: cls for cls in COLORIZERS}[name]()
    pred = method.predict(np.full((64, 96), 60, np.float32))
    assert pred.chroma.shape == (64, 96, 2) and np.isfinite(pred.chroma).all()
    with pytest.raises(ValueError, match="no decoder"):
        method.predict(np.full((8, 8), 60, np.float32), decoder="mode")


def test_inference_imports_no_torch(tmp_path):
    code = (
        "import sys, numpy as np, core\n"
        "from colorize_cnn import plugin\n"
        f"for name in {SHIPPED!r}:\n"
        "    out = core.colorize(np.full((40, 70), 120, np.uint8), method=name)\n"
        "    assert out.shape == (40, 70, 3), out.shape\n"
        "bad = [m for m in ('torch', 'onnx', 'onnxscript') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def _test_images(count: int) -> list[Path]:
    root = os.environ.get("COLORIZE_DATA")
    if not root:
        pytest.skip(
            "COLORIZE_DATA is not set (folder of the shared datasets, e.g. "
            "shared/datasets); needed for the BSDS500 test photos"
        )
    folder = Path(root) / "bsds500" / "images" / "test"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found under COLORIZE_DATA")
    return sorted(folder.glob("*.jpg"))[:count]


def _scores(method: str, count: int = 8, **kwargs) -> dict[str, tuple[float, float]]:
    """Mean (method, gray baseline) of each metric over the first BSDS500 test photos."""
    from colorize_eval.evaluate import baseline_prediction

    import core
    from core import metrics
    from core.io import load_image

    pairs: dict[str, list[tuple[float, float]]] = {}
    for path in _test_images(count):
        true = load_image(path).rgb()
        pred = core.colorize_result(true, method=method, **kwargs).rgb
        gray = baseline_prediction("gray", true)
        for name, metric in (("psnr", metrics.psnr), ("rmse_ab", metrics.rmse_alphabeta)):
            pairs.setdefault(name, []).append((metric(pred, true), metric(gray, true)))
    return {k: tuple(np.mean(v, axis=0)) for k, v in pairs.items()}


@pytest.mark.data
def test_classification_beats_the_gray_baseline_in_psnr():
    scores = _scores("cnn-classification")
    assert scores["psnr"][0] > scores["psnr"][1], scores


@pytest.mark.data
def test_classification_beats_the_gray_baseline_in_rmse_alphabeta():
    # Mode decoding (the default). With the report's bin edges this failed (a neutral pixel
    # could only decode to about +-5); the shipped graph centres a bin on a = b = 0.
    scores = _scores("cnn-classification")
    assert scores["rmse_ab"][0] < scores["rmse_ab"][1], scores
