"""The ``colorize`` command line (core/cli.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from core import hookimpl
from core.cli import build_parser, main
from core.extensions import Command


@pytest.fixture
def photo_folder(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    y, x = np.mgrid[0:30, 0:40]
    img = Image.fromarray((120 + 60 * np.sin(x / 5.0)).astype(np.uint8), "L")
    img.save(src / "a.jpg")
    img.save(src / "sub" / "b.png")
    (src / "broken.jpg").write_bytes(b"not really a jpeg")
    (src / "readme.txt").write_text("ignored: not an image extension")
    return src


def test_methods_json(registry, capsys):
    assert main(["methods", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["default"] == "toy"
    names = [m["name"] for m in payload["methods"]]
    assert names == ["toy", "toy-onnx", "toy-reference"]
    assert payload["methods"][0]["capabilities"]["diverse"] is True
    assert payload["failed_plugins"] == []


def test_methods_text(registry, capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert "toy (default)  [toy-dist 1.2.3]" in out


def test_batch_with_bad_file(registry, photo_folder, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["image", str(photo_folder), "-o", str(out), "--method", "toy", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.jpg",
        "sub/b.png",
    ]
    assert "colorized 2, skipped 0 (output exists), failed 1 of 3" in err
    assert "broken.jpg" in err
    # existing outputs are skipped, then replaced with --overwrite
    stamp = os.stat(out / "a.jpg").st_mtime_ns
    main(["image", str(photo_folder), "-o", str(out), "-q"])
    assert "colorized 0, skipped 2 (output exists), failed 1" in capsys.readouterr().err
    assert os.stat(out / "a.jpg").st_mtime_ns == stamp
    assert main(["image", str(photo_folder / "a.jpg"), "-o", str(out), "--overwrite", "-q"]) == 0
    assert "colorized 1" in capsys.readouterr().err


def test_samples_and_single_file_output(registry, photo_folder, tmp_path):
    out = tmp_path / "s"
    assert (
        main(
            [
                "image",
                str(photo_folder / "a.jpg"),
                "-o",
                str(out),
                "--samples",
                "3",
                "--seed",
                "1",
                "-q",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "a_sample0.jpg",
        "a_sample1.jpg",
        "a_sample2.jpg",
    ]
    target = tmp_path / "single.png"
    assert main(["image", str(photo_folder / "a.jpg"), "-o", str(target), "-q"]) == 0
    assert Image.open(target).size == (40, 30)


def test_unknown_method_reports_suggestion(registry, photo_folder, tmp_path, capsys):
    code = main(
        ["image", str(photo_folder / "a.jpg"), "-o", str(tmp_path / "o"), "-m", "tyo", "-q"]
    )
    assert code == 1
    assert "did you mean 'toy'" in capsys.readouterr().err


def test_output_confined_to_folder(registry, photo_folder, tmp_path, capsys):
    out = tmp_path / "conf"
    out.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, out / "sub")  # a link inside the output folder pointing out of it
    code = main(["image", str(photo_folder), "-o", str(out), "-m", "toy", "-q"])
    assert code == 1
    assert "escapes the output folder" in capsys.readouterr().err
    assert list(outside.iterdir()) == []


class _HelloCommand:
    """A plugin sub-command: ``colorize hello NAME [--fail]``."""

    @staticmethod
    def configure_parser(parser):
        parser.add_argument("name")
        parser.add_argument("--fail", action="store_true")

    @staticmethod
    def run(args):
        from core.errors import ColorizeError

        if args.fail:
            raise ColorizeError(f"{args.name}: cannot greet")
        print(f"hello {args.name}")
        return 0


class _CommandsPlugin:
    """A plugin module that registers sub-commands (hook register_commands)."""

    def __init__(self, *commands):
        self.commands = commands

    @hookimpl
    def register_commands(self, register):
        for command in self.commands:
            register(command)


def test_plugin_commands_are_registered_and_run(registry, capsys):
    plugin = _CommandsPlugin(
        Command("hello", _HelloCommand, help="say hello"),
        Command("broken", "colorize_nowhere.cli", help="cannot be imported"),
    )
    assert registry.add_plugin(plugin, name="hello-plugin", distribution="hello-dist", version="2")
    choices = build_parser()._subparsers._group_actions[0].choices
    assert {"hello", "broken", "image", "methods", "demo"} <= set(choices)
    assert main(["hello", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"
    assert main(["hello", "world", "--fail"]) == 1
    assert "colorize hello: world: cannot greet" in capsys.readouterr().err
    assert main(["broken"]) == 2
    err = capsys.readouterr().err
    assert "colorize broken: the command from plugin hello-dist 2 failed to load" in err
    assert "colorize_nowhere" in err


def test_core_command_names_cannot_be_taken_by_plugins(registry):
    registry.strict = False
    assert "image" in registry.entries("command")  # the core's load first, as in real use
    plugin = _CommandsPlugin(Command("image", _HelloCommand, help="not the core's"))
    with pytest.warns(RuntimeWarning, match="command 'image' from plugin 'thief'"):
        assert not registry.add_plugin(plugin, name="thief", distribution="thief-dist")
    assert registry.get("command", "image").target == "core.cli:image_command"


def test_registering_something_else_as_a_command_is_refused(registry):
    registry.strict = False

    class Wrong:
        @hookimpl
        def register_commands(self, register):
            register(_HelloCommand)

    with pytest.warns(RuntimeWarning, match="expects a core.extensions.Command"):
        assert not registry.add_plugin(Wrong(), name="wrong", distribution="wrong-dist")


def test_missing_dependency_of_a_command_says_what_to_install(registry, capsys):
    plugin = _CommandsPlugin(
        Command("needs", "colorize_nowhere.cli", help="x", install="pip install nowhere")
    )
    registry.add_plugin(plugin, name="needs-plugin", distribution="needs-dist", version="1")
    assert main(["needs"]) == 2
    assert "install it with `pip install nowhere`" in capsys.readouterr().err


HELLO_PLUGIN = """
import core
from core.extensions import Command


class Hello:
    @staticmethod
    def configure_parser(parser):
        parser.add_argument("name")

    @staticmethod
    def run(args):
        print("hello", args.name)
        return 0


@core.hookimpl
def register_commands(register):
    register(Command("hello", Hello, help="greets, from a throw-away plugin"))
"""


def test_an_installed_plugin_adds_a_sub_command(tmp_path):
    """A throw-away distribution with one ``colorize`` entry point: its sub-command is in
    ``colorize --help`` and runs; the plugin filter hides it like any other extension."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "colorize_hellotest.py").write_text(HELLO_PLUGIN)
    info = site / "colorize_hellotest-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: colorize-hellotest\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text("[colorize]\nhellotest = colorize_hellotest\n")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])
    )
    env.pop("COLORIZE_PLUGINS", None)
    env.pop("COLORIZE_DISABLE_PLUGINS", None)

    def colorize(*args, **extra):
        return subprocess.run(
            [sys.executable, "-m", "core", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    listing = colorize("--help")
    assert listing.returncode == 0, listing.stderr
    assert "greets, from a throw-away plugin [colorize-hellotest]" in listing.stdout
    ran = colorize("hello", "world")
    assert (ran.returncode, ran.stdout) == (0, "hello world\n"), ran.stderr
    hidden = colorize("--help", COLORIZE_DISABLE_PLUGINS="hellotest")
    assert "hello" not in hidden.stdout.split("COMMAND", 2)[-1]
    refused = colorize("hello", "world", COLORIZE_PLUGINS="")
    assert refused.returncode == 2
    assert "invalid choice: 'hello'" in refused.stderr


def test_reference_auto_needs_a_recommending_method(registry, photo_folder, tmp_path, capsys):
    args = ["image", str(photo_folder / "a.jpg"), "-o", str(tmp_path / "o"), "-q"]
    code = main([*args, "-m", "toy-reference", "--reference", "auto", "--index", "x.index"])
    assert code == 1
    assert "cannot recommend a reference" in capsys.readouterr().err


def test_module_entry_point_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "core", "methods", "--json"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "methods" in json.loads(proc.stdout)


def test_option_values_reach_the_method(registry, photo_folder, tmp_path, monkeypatch):
    from core import api

    seen = []
    real = api.colorize_result

    def spy(image, method=None, **kwargs):
        seen.append(kwargs)
        return real(image, method)

    monkeypatch.setattr(api, "colorize_result", spy)
    args = ["image", str(photo_folder / "a.jpg"), "-o", str(tmp_path / "o.png"), "-q"]
    args += ["-O", "matcher=exemplar-nn-coarse-to-fine", "--option", "temperature=0.8"]
    assert main(args + ["-O", "flags=[1, 2]", "-O", "fast=true"]) == 0
    extra = {k: seen[0][k] for k in ("matcher", "temperature", "flags", "fast")}
    assert extra == {
        "matcher": "exemplar-nn-coarse-to-fine",
        "temperature": 0.8,
        "flags": [1, 2],
        "fast": True,
    }


@pytest.mark.parametrize(
    "item, message",
    [
        ("temperature", "expects KEY=VALUE"),
        ("2x=1", "expects KEY=VALUE"),
        ("seed=3", "own flag for 'seed'"),
        ("reference=r.jpg", "own flag for 'reference'"),
    ],
)
def test_bad_options_are_refused_before_any_file(
    registry, photo_folder, tmp_path, capsys, item, message
):
    out = tmp_path / "o"
    assert main(["image", str(photo_folder), "-o", str(out), "-q", "-O", item]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_an_option_the_method_does_not_take_fails_each_file_clearly(
    registry, photo_folder, tmp_path, capsys
):
    out = tmp_path / "o"
    assert main(["image", str(photo_folder / "a.jpg"), "-o", str(out), "-q", "-O", "x=1"]) == 1
    assert "unexpected options ['x']" in capsys.readouterr().err
    assert (
        main(["image", str(photo_folder / "a.jpg"), "-o", str(out), "-q", "-O", "x=1", "-O", "x=2"])
        == 2
    )


# -- outputs and inputs (issue #33, F4) ------------------------------------------------------


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("flags", [[], ["--overwrite"]], ids=["plain", "overwrite"])
def test_output_folder_that_is_the_input_folder_is_refused(registry, photo_folder, capsys, flags):
    before = _tree(photo_folder)
    code = main(["image", str(photo_folder), "-o", str(photo_folder), "-m", "toy", "-q", *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert f"output folder {photo_folder} is the input folder {photo_folder}" in err
    assert "skipped" not in err
    assert _tree(photo_folder) == before


@pytest.mark.parametrize("flags", [[], ["--overwrite"]], ids=["plain", "overwrite"])
def test_an_output_that_is_an_input_file_is_refused(registry, photo_folder, capsys, flags):
    before = _tree(photo_folder)
    photo = photo_folder / "a.jpg"
    # the file named as input, written to its own folder, or to itself
    for output in (photo_folder, photo):
        code = main(["image", str(photo), "-o", str(output), "-m", "toy", "-q", *flags])
        err = capsys.readouterr().err
        assert code == 2
        assert f"{photo}: the output would replace this input file" in err
    assert _tree(photo_folder) == before
    # another input of the batch would be replaced: in/sub/b.png gives other/sub/b.png,
    # an input found in the folder other/sub
    other = photo_folder.parent / "other"
    (other / "sub").mkdir(parents=True)
    theirs = other / "sub" / "b.png"
    theirs.write_bytes((photo_folder / "sub" / "b.png").read_bytes())
    args = ["image", str(photo_folder), str(other / "sub"), "-o", str(other), "-m", "toy"]
    assert main([*args, "-q", *flags]) == 2
    assert f"{theirs}: the output would replace this input file" in capsys.readouterr().err
    assert _tree(other) == {"sub/b.png": theirs.read_bytes()}


def test_an_output_folder_inside_the_input_folder_is_not_read_as_input(
    registry, photo_folder, capsys
):
    out = photo_folder / "colour"
    args = ["image", str(photo_folder), "-o", str(out), "-m", "toy", "-q"]
    assert main(args) == 1  # broken.jpg
    first = _tree(out)
    assert sorted(first) == ["a.jpg", "sub/b.png"]
    capsys.readouterr()
    assert main(args) == 1
    assert "colorized 0, skipped 2 (output exists), failed 1 of 3" in capsys.readouterr().err
    assert main([*args, "--overwrite"]) == 1
    assert "colorized 2, skipped 0 (output exists), failed 1 of 3" in capsys.readouterr().err
    assert sorted(_tree(out)) == ["a.jpg", "sub/b.png"]  # nothing nested below colour/


def test_zero_samples_is_refused(registry, photo_folder, tmp_path, capsys):
    out = tmp_path / "o"
    with pytest.raises(SystemExit) as info:
        main(["image", str(photo_folder / "a.jpg"), "-o", str(out), "--samples", "0", "-q"])
    assert info.value.code == 2
    assert "--samples: expected a number >= 1, got 0" in capsys.readouterr().err
    assert not out.exists()


def test_methods_text_prints_a_paper_once_per_group_of_variants(registry, capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("default method: toy (used when no method is given)")
    # toy-onnx and toy-reference: one distribution, one citation -> one paper paragraph
    assert out.count("paper: none (test fixture)") == 1
    assert out.count("paper: none\n") == 1
    paper = out.index("paper: none (test fixture)")
    assert paper < out.index("  toy-onnx  [toy-dist") < out.index("  toy-reference  [toy-dist")
    assert "which method" not in out  # no advice for methods it knows nothing about


def test_methods_text_marks_the_recommended_method_and_ends_with_advice(registry, toys, capsys):
    class Larsson(toys.ToyColorizer):
        name = "larsson"
        citation = "a paper"

    class LarssonLab(toys.ToyColorizer):
        name = "larsson-lab"
        citation = "a paper"

    class Cnn(toys.ToyColorizer):
        name = "cnn-regression"
        citation = "another paper"

    registry.add_plugin(
        toys.ToyPlugin(Larsson(), LarssonLab(), Cnn()), name="variants", distribution="var-dist"
    )
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("default method: larsson")
    assert "  larsson (default, recommended)  [var-dist" in out
    assert out.count("paper: a paper") == 1
    # the default's group comes first
    assert out.index("paper: a paper") < out.index("paper: another paper")
    assert out.index("paper: a paper") < out.index("paper: none")
    advice = out.split("which method:\n", 1)[1]
    assert [line.split(":")[0].strip() for line in advice.splitlines() if line[2] != " "] == [
        "larsson",
        "larsson-lab*",
        "cnn-*",
    ]


def test_vividness_flag(registry, photo_folder, tmp_path, capsys):
    import core

    photo = photo_folder / "a.jpg"
    out = tmp_path / "vivid.png"
    assert main(["image", str(photo), "-o", str(out), "-m", "toy", "--vividness", "1", "-q"]) == 0
    written = np.asarray(Image.open(out), np.float32) / 255
    expected = core.colorize_result(photo, "toy", vividness=1.0).rgb
    assert np.abs(written - expected).max() <= 1 / 255 + 1e-6
    assert np.abs(written - core.colorize_result(photo, "toy").rgb).max() > 2 / 255
    for bad in ["1.5", "-0.1", "nan", "vivid"]:
        with pytest.raises(SystemExit) as info:
            main(["image", str(photo), "-o", str(tmp_path / "x.png"), "--vividness", bad])
        assert info.value.code == 2
        assert f"--vividness: expected a number in [0, 1], got '{bad}'" in capsys.readouterr().err
    assert main(["image", str(photo), "-o", str(tmp_path / "y.png"), "-O", "vividness=1"]) == 2
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "y.png").exists()


def test_methods_json_says_what_vividness_does(registry, capsys):
    assert main(["methods", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert all("0.5 + vividness" in m["vividness"] for m in payload["methods"])
