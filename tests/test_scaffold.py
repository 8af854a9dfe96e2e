"""``colorize new-plugin``: the scaffold is a minimal method that passes the contract."""

import os
import subprocess
import sys

import pytest
from colorize_devkit.scaffold import TEMPLATE_DIR, render, render_files

from core.cli import main


def test_new_plugin_cli(tmp_path, capsys):
    argv = ["new-plugin", "my-method", "--dir", str(tmp_path)]
    argv += ["--description", 'Colour from "my" model', "--author", "Ada Lovelace"]
    assert main(argv) == 0
    root = tmp_path / "colorize-my-method"
    text = (root / "pyproject.toml").read_text()
    assert 'name = "colorize-my-method"' in text
    assert 'description = "Colour from \\"my\\" model"' in text
    assert 'authors = [{ name = "Ada Lovelace" }]' in text
    assert '[project.entry-points.colorize]\nmy_method = "colorize_my_method.plugin"' in text
    assert "colorize-toolkit>=0.1,<0.2" in text
    plugin = (root / "colorize_my_method" / "plugin.py").read_text()
    assert plugin.count('"my-method"') == 1
    assert 'description = "Colour from \\"my\\" model"' in plugin
    assert 'citation = "Ada Lovelace. colorize-my-method (unpublished)."' in plugin
    card = (root / "colorize_my_method" / "MODEL_CARD.md").read_text()
    assert "Ada Lovelace" in card and "manifest.json" in card
    assert (root / "tests" / "test_colorize_my_method.py").exists()
    assert "created" in capsys.readouterr().out
    assert main(["new-plugin", "my-method", "--dir", str(tmp_path)]) == 2  # never overwrites


def test_the_template_borrows_no_paper_and_leaves_nothing_to_do():
    files = render_files("my-method")
    assert len(files) == len(list(TEMPLATE_DIR.rglob("*.tmpl")))
    for rel, text in files.items():
        assert "TODO" not in text and "Welsh" not in text, rel
        assert "{{" not in text, f"{rel}: a placeholder was left unrendered"


def test_scaffolded_plugin_passes_its_own_tests_without_pip_install(tmp_path):
    """The rendered plugin, importable from its folder and discovered through its entry
    point (a dist-info written by hand, as pip would), runs its tests: the toolkit's
    contract (every check, the fresh-process ones included) and its own."""
    root = render("scaffold-probe", tmp_path)
    site = tmp_path / "site"
    info = site / "colorize_scaffold_probe-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: colorize-scaffold-probe\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[colorize]\nscaffold_probe = colorize_scaffold_probe.plugin\n"
    )
    path = [str(root), str(site), os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in path if p))
    env["COLORIZE_PLUGINS"] = "scaffold_probe"  # only the core's built-ins and this plugin
    env["COLORIZE_STRICT_PLUGINS"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "12 passed" in proc.stdout, proc.stdout[-2000:]


@pytest.mark.parametrize("bad", ["My_Method", "1abc", "a--b", "-x", ""])
def test_bad_names_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="must"):
        render(bad, tmp_path)


@pytest.mark.parametrize("field", ["description", "author"])
def test_blank_description_or_author_refused(tmp_path, field):
    with pytest.raises(ValueError, match=f"--{field} must not be empty"):
        render("my-method", tmp_path, **{field: "  \n "})
    assert not (tmp_path / "colorize-my-method").exists()
