"""``colorize eval``: scores, baselines, failures (core/evaluate.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.evaluate import BASELINES, baseline_prediction, evaluate


@pytest.fixture
def colour_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        y, x = np.mgrid[0:48, 0:64]
        img = np.stack([0.5 + 0.4 * np.sin(x / (5 + i)), 0.4 + 0.3 * np.cos(y / 7),
                        np.full(x.shape, 0.2 + 0.2 * i)], -1)
        img = np.clip(img + rng.normal(0, 0.02, img.shape), 0, 1)
        Image.fromarray((img * 255).astype(np.uint8)).save(folder / f"p{i}.png")
    (folder / "zz_broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return folder


def test_baselines_order(colour_folder):
    true = np.asarray(Image.open(colour_folder / "p0.png")).astype(np.float32) / 255
    from core import metrics

    errors = {b: metrics.rmse_alphabeta(baseline_prediction(b, true), true) for b in BASELINES}
    assert errors["true-28px"] < errors["gray"]
    assert errors["true-28px"] < errors["mean-tint"]
    with pytest.raises(ValueError, match="unknown baseline"):
        baseline_prediction("sepia", true)


def test_evaluate_reports_methods_baselines_and_failures(registry, colour_folder):
    report = evaluate(["toy"], colour_folder, samples=2, progress=False)
    agg = report.aggregate()
    assert set(agg) == {"toy", *BASELINES}
    assert agg["toy"]["images"] == 3
    assert 0 < agg["toy"]["ms_ssim_samples"] <= 1
    assert agg["gray"]["colourfulness_ratio"] < 0.05
    assert [f["image"].endswith("zz_broken.png") for f in report.failures] == [True]
    assert "| toy | 3 |" in report.table()


def test_eval_cli_writes_json(registry, colour_folder, tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["eval", "--method", "toy", "--data", str(colour_folder), "--json", str(out), "-q"])
    assert code == 1  # the broken file
    payload = json.loads(out.read_text())
    assert payload["aggregate"]["toy"]["images"] == 3
    assert "| gray |" in capsys.readouterr().out
