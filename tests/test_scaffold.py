"""``colorize new-plugin`` and the example plugin it doubles as."""

from pathlib import Path

import pytest
from colorize_devkit.scaffold import render, render_files

from core.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "plugins" / "colorize-plugin-example"


def test_example_plugin_is_the_rendered_template():
    files = render_files("plugin-example", "welsh")
    for rel, text in files.items():
        assert (EXAMPLE / rel).read_text() == text, f"{rel} differs from the template"
    # Build products (pip wheel / setuptools: build/, dist/, *.egg-info) and caches are not
    # part of the plugin's sources.
    generated = ("build", "dist", "__pycache__", ".pytest_cache")
    on_disk = {
        rel.as_posix()
        for rel in (p.relative_to(EXAMPLE) for p in EXAMPLE.rglob("*") if p.is_file())
        if rel.parts[0] not in generated
        and not any(part.endswith(".egg-info") or part in generated for part in rel.parts)
    }
    assert on_disk == set(files)


def test_new_plugin_cli(tmp_path, capsys):
    assert main(["new-plugin", "my-method", "--dir", str(tmp_path)]) == 0
    root = tmp_path / "colorize-my-method"
    text = (root / "pyproject.toml").read_text()
    assert 'name = "colorize-my-method"' in text
    assert 'my_method = "colorize_my_method.plugin"' in text
    assert "colorize-toolkit>=0.1,<0.2" in text
    assert (root / "colorize_my_method" / "plugin.py").read_text().count('"my-method"') == 1
    assert (root / "colorize_my_method" / "MODEL_CARD.md").exists()
    assert (root / "tests" / "test_colorize_my_method.py").exists()
    assert "created" in capsys.readouterr().out
    assert main(["new-plugin", "my-method", "--dir", str(tmp_path)]) == 2  # never overwrites


@pytest.mark.parametrize("bad", ["My_Method", "1abc", "a--b", "-x", ""])
def test_bad_names_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="must"):
        render(bad, tmp_path)
