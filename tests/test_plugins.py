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


def _make_dist(
    root: Path,
    dist: str,
    module: str,
    body: str,
    version: str = "0.1",
    entry_point: str | None = None,
) -> None:
    """A real installed distribution (dist-info + module) on a sys.path folder; its entry
    point is named ``entry_point`` (default: the module's name)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(textwrap.dedent(body))
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[colorize]\n{entry_point or module} = {module}\n")


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
    # methods, colour spaces, decoders, transfers, backbones; commands, benchmarks,
    # explainers, training recipes
    assert len(specs) == 9
    for name in specs:
        assert getattr(hookspecs, name).__doc__.strip()
        assert f"`{name}" in docs, f"hookspec {name} is not documented in docs/plugins.md"


# -- plugins that take shipped names, or exit (issue #33, F7 and F8) ---------------------------

METHODS = """
    import numpy as np
    import core

    class Method(core.Colorizer):
        citation = "Test et al."
        capabilities = core.Capabilities(automatic=True)

        def __init__(self, name):
            self.name = name
            self.description = "{description}"

        def predict(self, lightness, **kw):
            return core.Prediction(np.zeros((*lightness.shape, 2), np.float32))

    @core.hookimpl
    def register_methods(register):
        for name in {names!r}:
            register(Method(name))
"""


@pytest.fixture
def shipped_and_impostor(tmp_path, monkeypatch):
    """A first-party distribution ``colorize-epshipped`` (methods ep-shipped, ep-shipped-lab)
    and a third-party ``colorize-impostor`` that registers ep-shipped too, found first on
    sys.path; returns a function that installs the impostor under an entry-point name."""
    import core.plugins

    genuine = METHODS.format(description="genuine", names=("ep-shipped", "ep-shipped-lab"))
    _make_dist(
        tmp_path / "genuine",
        "colorize-epshipped",
        "colorize_epshipped",
        genuine,
        entry_point="shipped",
    )
    monkeypatch.syspath_prepend(str(tmp_path / "genuine"))
    monkeypatch.setattr(
        core.plugins, "FIRST_PARTY", core.plugins.FIRST_PARTY | {"colorize-epshipped"}
    )

    def install(entry_point):
        impostor = METHODS.format(description="impostor", names=("ep-shipped",))
        _make_dist(
            tmp_path / "impostor",
            "colorize-impostor",
            "colorize_impostor",
            impostor,
            entry_point=entry_point,
        )
        monkeypatch.syspath_prepend(str(tmp_path / "impostor"))
        monkeypatch.setenv("COLORIZE_PLUGINS", f"shipped,{entry_point}")

    yield install
    for name in ("colorize_epshipped", "colorize_impostor"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize(
    "entry_point", ["aaa", "shipped"], ids=["sorts-first", "same-entry-point-name"]
)
def test_a_third_party_plugin_cannot_take_a_shipped_name(shipped_and_impostor, entry_point):
    shipped_and_impostor(entry_point)
    reg = Registry(strict=False)
    with pytest.warns(RuntimeWarning) as record:
        names = reg.names("method")
    assert {"ep-shipped", "ep-shipped-lab"} <= set(names)
    assert reg.get("method", "ep-shipped").description == "genuine"
    assert reg.method_info("ep-shipped").plugin == "colorize-epshipped"
    messages = [str(w.message) for w in record]
    assert len(messages) == 1, messages
    (message,) = messages
    assert "colorize-impostor 0.1" in message and "colorize-epshipped 0.1" in message
    assert message.index("colorize-impostor") < message.index("colorize-epshipped")
    assert "skipped" in message
    (failure,) = reg.failures
    assert failure.distribution == "colorize-impostor"


def test_first_party_list_names_the_shipped_distributions():
    import tomllib

    from core.plugins import FIRST_PARTY

    root = Path(__file__).resolve().parent.parent
    shipped = {
        tomllib.loads(p.read_text())["project"]["name"]
        for p in root.glob("plugins/*/pyproject.toml")
    }
    assert FIRST_PARTY == shipped | {"colorize-toolkit"}


EXITING = """
    import sys
    sys.exit("{message}")
"""


@pytest.fixture
def exiting_dist(tmp_path, monkeypatch):
    _make_dist(tmp_path, "colorize-epgood", "colorize_epgood", GOOD, "2.0")
    _make_dist(tmp_path, "colorize-epexit", "colorize_epexit", EXITING.format(message="bye"))
    _make_dist(
        tmp_path,
        "colorize-epinterrupt",
        "colorize_epinterrupt",
        "raise KeyboardInterrupt\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("COLORIZE_PLUGINS", "colorize_epgood,colorize_epexit")
    monkeypatch.delenv("COLORIZE_STRICT_PLUGINS", raising=False)
    yield tmp_path
    for name in ("colorize_epgood", "colorize_epexit", "colorize_epinterrupt"):
        sys.modules.pop(name, None)


def test_a_plugin_calling_sys_exit_at_import_is_skipped_and_named(exiting_dist):
    reg = Registry(strict=False)
    with pytest.warns(RuntimeWarning, match=r"'colorize_epexit' \(colorize-epexit 0.1\).*Exit"):
        assert "ep-good" in reg.names("method")
    (failure,) = reg.failures
    assert (failure.name, failure.stage) == ("colorize_epexit", "import")
    assert failure.error == "SystemExit: bye"
    with pytest.raises(PluginError, match="colorize_epexit.*SystemExit: bye"):
        Registry(strict=True).names("method")


def test_commands_and_colorize_survive_a_plugin_calling_sys_exit(exiting_dist, capsys):
    import json

    import numpy as np

    from core.cli import main
    from core.plugins import reset_registry

    old = reset_registry(None)
    try:
        with pytest.warns(RuntimeWarning, match="colorize_epexit"):
            assert main(["methods", "--json"]) == 0
        payload = json.loads(capsys.readouterr().out)
        assert [m["name"] for m in payload["methods"]] == ["ep-good"]
        assert payload["failed_plugins"][0]["name"] == "colorize_epexit"
        assert core.colorize(np.zeros((8, 8), np.uint8), "ep-good").shape == (8, 8, 3)
    finally:
        reset_registry(old)


def test_sys_exit_while_registering_is_contained_but_ctrl_c_is_not(exiting_dist, monkeypatch):
    class Exiting:
        @core.hookimpl
        def register_methods(self, register):
            raise SystemExit(4)

    reg = Registry(load_entry_points=False, strict=False)
    with pytest.warns(RuntimeWarning, match="plugin 'exiting'.*register: SystemExit: 4"):
        assert not reg.add_plugin(Exiting(), name="exiting", distribution="colorize-exiting")
    monkeypatch.setenv("COLORIZE_PLUGINS", "colorize_epinterrupt")
    with pytest.raises(KeyboardInterrupt):
        Registry(strict=False).names("method")
