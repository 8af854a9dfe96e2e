"""core.backbones: the shared-feature-extractor component and its per-image cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

import core
from core.backbones import Backbone, get_backbone
from core.errors import UnknownNameError
from core.plugins import Registry, reset_registry
from core.runtime import sha256_file


def _toy_backbone_graph(folder):
    """Two 'levels': the input halved (stride 1) and 2x2-average-pooled (stride 2)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Mul", ["lightness", "half"], ["f1"]),
        helper.make_node("AveragePool", ["lightness"], ["f2"], kernel_shape=[2, 2], strides=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "toy-backbone",
        [helper.make_tensor_value_info("lightness", TensorProto.FLOAT, [1, 1, "h", "w"])],
        [
            helper.make_tensor_value_info("f1", TensorProto.FLOAT, [1, 1, "h", "w"]),
            helper.make_tensor_value_info("f2", TensorProto.FLOAT, [1, 1, "h2", "w2"]),
        ],
        [numpy_helper.from_array(np.float32(0.5), "half")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"strides": json.dumps({"f1": 1, "f2": 2})})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "toy-backbone.onnx"
    onnx.save(model, path)
    manifest = {"files": {path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return path


class _Plugin:
    def __init__(self, *objects):
        self.objects = objects

    @core.hookimpl
    def register_backbones(self, register):
        for obj in self.objects:
            register(obj)


@pytest.fixture
def toy_registry(tmp_path):
    backbone = Backbone("toy-backbone", _toy_backbone_graph(tmp_path / "m"), size_multiple=2)
    reg = Registry(load_entry_points=False, strict=True)
    reg.add_plugin(_Plugin(backbone), name="toy", distribution="toy-dist", version="1")
    old = reset_registry(reg)
    try:
        yield backbone
    finally:
        reset_registry(old)


def test_registered_backbone_runs_once_per_image(toy_registry, monkeypatch):
    backbone = get_backbone("toy-backbone")
    assert backbone is toy_registry and backbone.levels == ("f1", "f2")
    assert backbone.strides() == {"f1": 1, "f2": 2}
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    levels = backbone.features(x)
    np.testing.assert_allclose(levels["f1"][0], x / 2)
    assert levels["f2"].shape == (1, 2, 2)
    assert backbone.features(x.copy()) is levels and backbone.runs == 1
    backbone.features(x + 1)
    assert backbone.runs == 2
    monkeypatch.setenv("COLORIZE_FEATURE_CACHE", "0")
    backbone.features(x)
    backbone.features(x)
    assert backbone.runs == 4


def test_cache_is_bounded(toy_registry, monkeypatch):
    monkeypatch.setenv("COLORIZE_FEATURE_CACHE", "2")
    base = np.zeros((2, 2), np.float32)
    for i in range(3):
        toy_registry.features(base + i)
    toy_registry.features(base + 2)  # still cached
    assert toy_registry.runs == 3
    toy_registry.features(base)  # evicted
    assert toy_registry.runs == 4


def test_bad_input_and_unknown_names(toy_registry):
    with pytest.raises(ValueError, match="multiples of 2, got 3x4"):
        toy_registry.features(np.zeros((3, 4), np.float32))
    with pytest.raises(UnknownNameError, match="toy-backbone"):
        get_backbone("toy-backbon")


def test_register_refuses_other_objects():
    reg = Registry(load_entry_points=False, strict=True)
    with pytest.raises(Exception, match="core.backbones.Backbone"):
        reg.add_plugin(_Plugin(object()), name="bad", distribution="bad", version="0")
