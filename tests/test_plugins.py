"""Plugin discovery, registration and the registry API."""

from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path

import pytest

import core
from core import hookspecs
from core.colorizer import Capabilities, MethodInfo
from core.errors import DuplicateNameError, PluginError, UnknownMethodError, UnknownNameError
from core.plugins import Registry


def _make_dist(root: Path, dist: str, module: str, body: str, version: str = "0.1") -> None:
    """A real installed distribution (dist-info + module) on a sys.path folder."""
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[colorize]\n{module} = {module}\n")


GOOD = """
    import numpy as np
    import core

    class Good(core.Colorizer):
        name = "ep-good"
        description = "entry-point test method"
        citation = "Test et al."
        capabilities = core.Capabilities(automatic=True, distribution=True)
        def predict(self, lightness, **kw):
            return core.Prediction(np.zeros((*lightness.shape, 2), np.float32))

    @core.hookimpl
    def register_methods(register):
        register(Good())
"""


@pytest.fixture
def entry_point_dists(tmp_path, monkeypatch):
    _make_dist(tmp_path, "colorize-epgood", "colorize_epgood", GOOD, "2.0")
    _make_dist(tmp_path, "colorize-epbroken", "colorize_epbroken", "raise ImportError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("colorize_epgood", "colorize_epbroken"):
        sys.modules.pop(name, None)


def test_entry_point_discovery_and_broken_plugin(entry_point_dists, monkeypatch):
    monkeypatch.setenv("COLORIZE_PLUGINS", "colorize_epgood,colorize_epbroken")
    reg = Registry(strict=False)
    with pytest.warns(RuntimeWarning, match="colorize_epbroken"):
        names = reg.names("method")
    assert "ep-good" in names
    info = reg.method_info("ep-good")
    assert (info.plugin, info.version) == ("colorize-epgood", "2.0")
    assert info.capabilities.distribution and not info.capabilities.diverse
    (failure,) = reg.failures
    assert failure.name == "colorize_epbroken"
    assert failure.distribution == "colorize-epbroken" and failure.version == "0.1"
    assert "boom" in failure.error and failure.stage == "import"
    # the built-ins registered through the same hooks
    assert "lab" in reg.names("colorspace")


def test_strict_mode_raises_on_broken_plugin(entry_point_dists, monkeypatch):
    monkeypatch.setenv("COLORIZE_PLUGINS", "colorize_epbroken")
    with pytest.raises(PluginError, match="colorize_epbroken.*boom"):
        Registry(strict=True).names("method")


def test_allow_and_block_lists(entry_point_dists, monkeypatch):
    monkeypatch.setenv("COLORIZE_PLUGINS", "colorize_epgood,colorize_epbroken")
    monkeypatch.setenv("COLORIZE_DISABLE_PLUGINS", "colorize_epbroken")
    reg = Registry(strict=True)
    assert "ep-good" in reg.names("method") and not reg.failures
    monkeypatch.setenv("COLORIZE_PLUGINS", "")
    assert Registry(strict=True).names("method") == []


def test_duplicate_method_names_refused_and_rolled_back(toys):
    ToyColorizer, ToyPlugin = toys.ToyColorizer, toys.ToyPlugin
    reg = Registry(load_entry_points=False, strict=False)
    reg.add_plugin(ToyPlugin(ToyColorizer()), name="first")

    class Other(ToyColorizer):
        description = "another"

    with pytest.warns(RuntimeWarning, match="already registered by plugin 'first'"):
        assert not reg.add_plugin(ToyPlugin(Other()), name="second")
    assert reg.get("method", "toy").description == "test-only: chroma from lightness"
    strict = Registry(load_entry_points=False, strict=True)
    strict.add_plugin(ToyPlugin(ToyColorizer()), name="first")
    with pytest.raises(PluginError, match="DuplicateNameError"):
        strict.add_plugin(ToyPlugin(ToyColorizer()), name="second")
    with pytest.raises(DuplicateNameError):
        strict.add_plugin(ToyPlugin(), name="first")


def test_register_checks_types():
    class Bad:
        @core.hookimpl
        def register_methods(self, register):
            register("not a colorizer")

    reg = Registry(load_entry_points=False, strict=True)
    with pytest.raises(PluginError, match="Colorizer instance"):
        reg.add_plugin(Bad(), name="bad")


def test_unknown_method_suggests_close_match(registry):
    with pytest.raises(UnknownMethodError) as info:
        core.get_method("toy-onx")
    message = str(info.value)
    assert "unknown method 'toy-onx'" in message
    assert "installed: toy, toy-onnx, toy-reference" in message
    assert "did you mean 'toy-onnx'?" in message
    assert isinstance(info.value, KeyError)
    with pytest.raises(UnknownNameError, match="unknown colorspace 'labb'.*did you mean 'lab'"):
        registry.get("colorspace", "labb")


def test_methods_returns_frozen_infos(registry):
    infos = core.methods()
    assert [m.name for m in infos] == ["toy", "toy-onnx", "toy-reference"]
    info = core.get_method("toy-onnx")
    assert isinstance(info, MethodInfo)
    assert info.plugin == "toy-dist" and info.version == "1.2.3"
    assert isinstance(info.capabilities, Capabilities) and info.capabilities.automatic
    assert len(info.model_files) == 1 and len(info.model_files[0].sha256) == 64
    with pytest.raises(AttributeError):
        info.name = "x"  # frozen
    with pytest.raises(AttributeError):
        info.capabilities.diverse = True
    assert info.to_dict()["capabilities"]["automatic"] is True


def test_remove_plugin_unregisters_everything(registry):
    registry.remove_plugin("toy-plugin")
    assert registry.names("method") == []


def test_every_hookspec_is_documented():
    docs = (Path(__file__).resolve().parent.parent / "docs" / "plugins.md").read_text()
    specs = [
        name
        for name, obj in inspect.getmembers(hookspecs, inspect.isfunction)
        if name.startswith("register_")
    ]
    assert len(specs) == 5  # methods, colour spaces, decoders, transfers, backbones
    for name in specs:
        assert getattr(hookspecs, name).__doc__.strip()
        assert f"`{name}" in docs, f"hookspec {name} is not documented in docs/plugins.md"
