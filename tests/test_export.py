"""Tests of onnx_export/: dynamo export, checker, parity, metadata_props and manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from PIL import Image  # noqa: E402

from onnx_export.export import ParityError, export_checkpoint  # noqa: E402
from training import data as datalib  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.recipe import load_recipe  # noqa: E402
from training.trainer import Trainer  # noqa: E402

TINY = {"widths": [4, 8, 8, 8, 8, 8, 8, 8, 8]}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(6):
        img = rng.integers(0, 255, (3, 4, 3)).astype(np.uint8)
        Image.fromarray(img).resize((60, 44), Image.BILINEAR).save(folder / f"p{i}.png")
    return folder


@pytest.fixture(scope="module", params=["cnn-classification", "cnn-regression"])
def checkpoint(request, photos, tmp_path_factory) -> tuple[str, Path]:
    recipe = load_recipe(request.param)
    items, _, _ = datalib.resolve_sources([photos], val_fraction=0)
    data = datalib.load_images(items, short_side=None, progress=False)
    config = TrainConfig(
        steps=2, batch_size=2, crop=32, progress=False, threads=1, options=dict(TINY), val_every=100
    )
    out = tmp_path_factory.mktemp(request.param)
    Trainer(recipe, config, out, data, None).fit()
    return request.param, out / "last.ckpt"


def test_export_checks_parity_metadata_and_manifest(checkpoint, photos, tmp_path):
    from core.runtime import OnnxModel, clear_session_cache, sha256_file

    method, ckpt = checkpoint
    (result,) = export_checkpoint(load_recipe(method), ckpt, tmp_path, real_dir=photos)
    assert result.path == tmp_path / f"{method}.onnx"
    assert {"random", "random-resized", "real-0"} <= set(result.parity)
    assert result.max_abs_diff < 1e-3
    model = onnx.load(str(result.path))
    onnx.checker.check_model(model, full_check=True)
    meta = {p.key: json.loads(p.value) for p in model.metadata_props}
    assert meta["method"] == method and meta["colorspace"] == "lab"
    assert meta["working_size"] == 64 and meta["training"]["step"] == 2
    assert meta["parity"]["max_abs_diff"] == pytest.approx(result.max_abs_diff)
    if method == "cnn-classification":
        bins = meta["bins"]
        assert (bins["low"], bins["high"], bins["count"]) == (-100.0, 100.0, 10)
        assert [len(bins["centers"][c]) for c in "ab"] == [10, 10]  # per-bin training means
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["files"][result.path.name]["sha256"] == sha256_file(result.path)
    # the core loads it (sha256 verified) and the spatial axes are dynamic
    clear_session_cache()
    graph = OnnxModel(result.path)
    for shape in ((1, 1, 64, 96), (2, 1, 36, 20)):
        (out,) = graph.run(lightness=np.full(shape, 50, np.float32))
        assert out.shape[0] == shape[0] and out.shape[-2:] == shape[-2:]
    assert graph.metadata_json("method") == method


def test_parity_failure_is_reported(checkpoint, tmp_path):
    method, ckpt = checkpoint
    if method != "cnn-regression":
        pytest.skip("one head is enough for the failure path (each export takes seconds)")
    with pytest.raises(ParityError, match="differs from torch"):
        export_checkpoint(load_recipe(method), ckpt, tmp_path, tolerance=-1.0)


def test_export_refuses_another_methods_checkpoint(checkpoint, tmp_path):
    method, ckpt = checkpoint
    other = "cnn-smoothl1"
    with pytest.raises(ValueError, match="checkpoint is for method"):
        export_checkpoint(load_recipe(other), ckpt, tmp_path)


def test_manifest_keeps_other_files(tmp_path):
    from onnx_export.manifest import update_manifest

    (tmp_path / "a.onnx").write_bytes(b"a")
    (tmp_path / "b.onnx").write_bytes(b"bb")
    update_manifest(tmp_path, [tmp_path / "a.onnx"])
    manifest = update_manifest(tmp_path, [tmp_path / "b.onnx"], methods={"m": {"files": ["b"]}})
    assert set(manifest["files"]) == {"a.onnx", "b.onnx"}
    assert manifest["files"]["b.onnx"]["bytes"] == 2
    (tmp_path / "a.onnx").unlink()
    assert set(update_manifest(tmp_path, [])["files"]) == {"b.onnx"}
