"""``colorize explain`` dispatches to the plugin that explains a method."""

import numpy as np
import pytest
from colorize_eval.explain import explain, explainers
from PIL import Image

from core.cli import main
from core.errors import CapabilityError


def test_unknown_method_is_refused_with_the_list(tmp_path):
    with pytest.raises(CapabilityError, match="no explain figure; methods that do: .*larsson"):
        explain(np.zeros((8, 8), np.uint8), tmp_path / "f.png", "no-such-method")


def test_cli_writes_the_figure(tmp_path, capsys):
    assert "larsson" in explainers()
    photo = tmp_path / "p.png"
    y, x = np.mgrid[0:48, 0:64]
    Image.fromarray((120 + 80 * np.sin(x / 5.0)).astype(np.uint8)).save(photo)
    out = tmp_path / "fig.png"
    assert main(["explain", str(photo), "-m", "larsson", "-o", str(out), "--pixels", "2"]) == 0
    assert Image.open(out).size[0] > 200
    assert main(["explain", str(photo), "-m", "cnn-regression", "-o", str(out)]) == 1
    assert "no explain figure" in capsys.readouterr().err
