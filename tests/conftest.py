"""Shared fixtures: test-only colorizers registered in an isolated registry."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import core
from core.colorizer import Capabilities, Colorizer, Prediction
from core.plugins import Registry, reset_registry
from core.runtime import OnnxModel, clear_session_cache, sha256_file


class ToyColorizer(Colorizer):
    """Deterministic numpy method: chroma is a smooth function of lightness."""

    name = "toy"
    description = "test-only: chroma from lightness"
    citation = "none"
    capabilities = Capabilities(automatic=True, diverse=True)
    colorspace = "lab"
    working_size = 32

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        if options:
            raise TypeError(f"unexpected options {sorted(options)}")
        a = 20.0 * np.sin(lightness / 15.0)
        b = 30.0 - 0.4 * lightness
        if seed is not None:
            rng = np.random.default_rng(seed)
            a = a + rng.uniform(-10, 10)
        return Prediction(np.stack([a, b], -1).astype(np.float32))


class ReferenceColorizer(Colorizer):
    """Test-only exemplar method: the reference's mean chroma everywhere."""

    name = "toy-reference"
    description = "test-only: mean chroma of the reference"
    citation = "none (test fixture)"
    capabilities = Capabilities(automatic=False, reference=True)
    colorspace = "lab"
    working_size = 16

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        lab = core.colorspaces.rgb_to_lab(reference)
        ab = lab[..., 1:].reshape(-1, 2).mean(0)
        return Prediction(np.broadcast_to(ab, (*lightness.shape, 2)).astype(np.float32).copy())


def make_onnx_model(folder: Path, name: str = "toy.onnx") -> Path:
    """Write a tiny conv net (L -> ab) and its manifest; returns the model path."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = rng.normal(0, 0.05, size=(2, 1, 3, 3)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["L", "W"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Tanh", ["c"], ["t"]),
        helper.make_node("Mul", ["t", "s"], ["ab"]),
    ]
    graph = helper.make_graph(
        nodes,
        "toy",
        [helper.make_tensor_value_info("L", TensorProto.FLOAT, [1, 1, "h", "w"])],
        [helper.make_tensor_value_info("ab", TensorProto.FLOAT, [1, 2, "h", "w"])],
        [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(np.float32(60.0), "s")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"colorspace": "lab", "working_size": "32"})
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    onnx.save(model, path)
    manifest = {"files": {name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return path


class OnnxToyColorizer(Colorizer):
    """Test-only method backed by a real ONNX graph and a shared session."""

    name = "toy-onnx"
    description = "test-only: tiny ONNX conv net"
    citation = "none (test fixture)"
    capabilities = Capabilities(automatic=True)
    colorspace = "lab"
    working_size = 32

    def __init__(self, path: Path):
        self.model = OnnxModel(path)

    def model_files(self):
        return (self.model.model_file(),)

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        x = (lightness / 100.0 - 0.5)[None, None].astype(np.float32)
        (ab,) = self.model.run(L=x)
        return Prediction(np.transpose(ab[0], (1, 2, 0)))


class ToyPlugin:
    def __init__(self, *colorizers):
        self.colorizers = colorizers

    @core.hookimpl
    def register_methods(self, register):
        for c in self.colorizers:
            register(c)


@pytest.fixture
def toys() -> SimpleNamespace:
    """The test-only classes, for tests that build their own registries."""
    return SimpleNamespace(
        ToyColorizer=ToyColorizer,
        ReferenceColorizer=ReferenceColorizer,
        OnnxToyColorizer=OnnxToyColorizer,
        ToyPlugin=ToyPlugin,
        make_onnx_model=make_onnx_model,
    )


#: First-party plugins that add only applications (sub-commands), no methods: isolated
#: registries load them so that `main(["eval", ...])` and the like find their commands.
APPLICATION_PLUGINS = (
    "colorize_bench.plugin",
    "colorize_devkit.plugin",
    "colorize_eval.plugin",
    "colorize_ui.plugin",
    "colorize_video.plugin",
    "training.plugin",
)


def add_applications(reg: Registry) -> Registry:
    """Register :data:`APPLICATION_PLUGINS` (those installed) in ``reg``."""
    import importlib

    for module_name in APPLICATION_PLUGINS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        reg.add_plugin(module, name=module_name.split(".")[0], distribution="first-party")
    return reg


@pytest.fixture(scope="module")
def builtins_only_registry():
    """A registry with only the core's built-ins and applications (no methods), for a
    whole module."""
    reg = add_applications(Registry(load_entry_points=False, strict=True))
    old = reset_registry(reg)
    try:
        yield reg
    finally:
        reset_registry(old)


@pytest.fixture
def onnx_model_path(tmp_path) -> Path:
    path = make_onnx_model(tmp_path / "models")
    yield path
    clear_session_cache()


@pytest.fixture
def registry(tmp_path):
    """An isolated registry with the built-ins and the toy methods (no entry points)."""
    model = make_onnx_model(tmp_path / "toy-models")
    reg = add_applications(Registry(load_entry_points=False, strict=True))
    reg.add_plugin(
        ToyPlugin(ToyColorizer(), ReferenceColorizer(), OnnxToyColorizer(model)),
        name="toy-plugin",
        distribution="toy-dist",
        version="1.2.3",
    )
    old = reset_registry(reg)
    core.set_default_method(None)
    saved = os.environ.pop("COLORIZE_DEFAULT_METHOD", None)
    try:
        yield reg
    finally:
        reset_registry(old)
        core.set_default_method(None)
        clear_session_cache()
        if saved is not None:
            os.environ["COLORIZE_DEFAULT_METHOD"] = saved


@pytest.fixture
def gray_image(tmp_path) -> Path:
    """A 60x40 grayscale JPEG with some structure."""
    from PIL import Image

    y, x = np.mgrid[0:40, 0:60]
    data = (127 + 100 * np.sin(x / 7.0) * np.cos(y / 5.0)).astype(np.uint8)
    path = tmp_path / "gray.jpg"
    Image.fromarray(data, "L").save(path, quality=95)
    return path
