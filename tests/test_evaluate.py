"""``colorize eval``: scores, baselines, failures (colorize_eval.evaluate)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from colorize_eval.evaluate import BASELINES, baseline_prediction, evaluate
from PIL import Image

from core.cli import main


@pytest.fixture
def colour_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        y, x = np.mgrid[0:48, 0:64]
        img = np.stack(
            [
                0.5 + 0.4 * np.sin(x / (5 + i)),
                0.4 + 0.3 * np.cos(y / 7),
                np.full(x.shape, 0.2 + 0.2 * i),
            ],
            -1,
        )
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


# Keys of `colorize eval --json` at every level. A rename breaks scripts/gen_results.py and
# anyone reading the JSON, so it must be deliberate: update docs/cli.md with this set.
EVAL_TOP_KEYS = {"data", "settings", "aggregate", "folders", "per_image", "failures"}
EVAL_SETTINGS_KEYS = {"samples", "seed", "limit", "reference_mode", "tint_ab", "decoder",
                      "half", "options"}
EVAL_METRIC_KEYS = {"psnr", "rmse_ab", "ssim", "colourfulness_ratio", "hist_intersection",
                    "cast_a", "cast_b", "abs_cast_a", "abs_cast_b"}
EVAL_AGGREGATE_KEYS = EVAL_METRIC_KEYS | {"images", "non_finite"}
EVAL_FAILURE_KEYS = {"image", "row", "error"}


def test_eval_json_schema_is_stable(registry, colour_folder, tmp_path):
    out = tmp_path / "r.json"
    main(
        [
            "eval",
            "-m",
            "toy",
            "--data",
            str(colour_folder),
            "--samples",
            "2",
            "--json",
            str(out),
            "-q",
        ]
    )
    payload = json.loads(out.read_text())
    assert set(payload) == EVAL_TOP_KEYS
    assert EVAL_SETTINGS_KEYS <= set(payload["settings"])  # options may add settings
    assert set(payload["aggregate"]) == {"toy", *BASELINES}
    method_extra = {"seconds", "ms_ssim_samples"}  # methods only, not baselines
    assert set(payload["aggregate"]["toy"]) == EVAL_AGGREGATE_KEYS | method_extra
    for baseline in BASELINES:
        assert set(payload["aggregate"][baseline]) == EVAL_AGGREGATE_KEYS
        assert set(payload["per_image"][baseline][0]) == EVAL_METRIC_KEYS | {"image", "folder"}
    assert set(payload["per_image"]["toy"][0]) == (
        EVAL_METRIC_KEYS | {"image", "folder"} | method_extra
    )
    assert [set(f) for f in payload["failures"]] == [EVAL_FAILURE_KEYS]


def test_perfect_prediction_inf_psnr_in_aggregate_and_json(colour_folder, tmp_path):
    """A perfect prediction scores PSNR = inf: the row's mean stays finite over the other
    images, the count is reported, the table says so and the JSON stays strict."""
    import math

    from colorize_eval.evaluate import EvalReport, score

    true = np.asarray(Image.open(colour_folder / "p0.png")).astype(np.float32) / 255
    other = np.asarray(Image.open(colour_folder / "p1.png")).astype(np.float32) / 255
    perfect = score(true, true)
    assert perfect["psnr"] == math.inf and perfect["rmse_ab"] == 0.0
    assert perfect["ssim"] == pytest.approx(1.0) and perfect["hist_intersection"] == 1.0
    gray = score(baseline_prediction("gray", other), other)
    report = EvalReport(
        "photos",
        ["oracle"],
        {"oracle": [{"image": "p0.png", **perfect}, {"image": "p1.png", **gray}]},
    )
    agg = report.aggregate()["oracle"]
    assert agg["psnr"] == pytest.approx(gray["psnr"])  # the finite one, not inf
    assert agg["rmse_ab"] == pytest.approx(gray["rmse_ab"] / 2)
    assert agg["non_finite"] == {"psnr": 1} and agg["images"] == 2
    assert "(+1 ∞)" in report.table()
    text = json.dumps(report.to_dict(), allow_nan=False)  # raises on inf/NaN
    payload = json.loads(text)
    assert payload["per_image"]["oracle"][0]["psnr"] == "inf"
    assert float(payload["per_image"]["oracle"][0]["psnr"]) == math.inf
    # Every image perfect: the mean is inf itself, written as "inf".
    all_perfect = EvalReport("photos", ["oracle"], {"oracle": [{"image": "a", **perfect}] * 2})
    assert all_perfect.aggregate()["oracle"]["psnr"] == math.inf
    assert all_perfect.to_dict()["aggregate"]["oracle"]["psnr"] == "inf"


def test_cast_metric_against_a_hand_computed_case():
    """Two known colour fields: the cast is the difference of their mean a*, b*."""
    from colorize_eval.evaluate import score
    from colorize_eval.metrics import colour_cast

    from core.colorspaces.lab import lab_to_rgb, rgb_to_lab

    lab_true = np.zeros((16, 24, 3), np.float32)
    lab_true[..., 0] = 55.0
    lab_true[:, :12, 1:] = (10.0, 30.0)  # left half warm
    lab_true[:, 12:, 1:] = (-6.0, -14.0)  # right half cool: mean (2, 8)
    lab_pred = lab_true.copy()
    lab_pred[..., 1:] = (0.0, -4.0)  # flat and bluish: (0 - 2, -4 - 8) = (-2, -12)
    true = lab_to_rgb(lab_true)
    pred = lab_to_rgb(lab_pred)
    # the expected value from the Lab the RGB images really hold (round trip ~1e-3)
    t, p = rgb_to_lab(true), rgb_to_lab(pred)
    expected = (p[..., 1].mean() - t[..., 1].mean(), p[..., 2].mean() - t[..., 2].mean())
    assert expected == pytest.approx((-2.0, -12.0), abs=0.05)
    da, db = colour_cast(pred, true)
    assert (da, db) == pytest.approx(expected, abs=1e-4)
    scores = score(pred, true)
    assert scores["cast_b"] == pytest.approx(db) and scores["abs_cast_b"] == pytest.approx(-db)
    assert colour_cast(true, true) == (0.0, 0.0)


def test_cast_aggregates_signed_and_absolute(colour_folder):
    from colorize_eval.evaluate import EvalReport

    rows = [{"image": "a", "cast_a": 3.0, "cast_b": -4.0, "abs_cast_a": 3.0, "abs_cast_b": 4.0},
            {"image": "b", "cast_a": -1.0, "cast_b": 2.0, "abs_cast_a": 1.0, "abs_cast_b": 2.0}]
    agg = EvalReport("x", ["m"], {"m": rows}).aggregate()["m"]
    assert (agg["cast_a"], agg["cast_b"]) == (1.0, -1.0)  # signed: a systematic tint
    assert (agg["abs_cast_a"], agg["abs_cast_b"]) == (2.0, 3.0)  # typical error of the tone
    assert "| -1.00 | 2.00 | 3.00 |" in EvalReport("x", ["m"], {"m": rows}).table()


def test_halves_are_fixed_disjoint_and_reported_per_folder(registry, tmp_path):
    from colorize_eval.evaluate import list_images, split_half

    root = tmp_path / "everyday"
    rng = np.random.default_rng(0)
    for folder in ("people", "scenes"):
        (root / folder).mkdir(parents=True)
        for i in range(10):
            rgb = (rng.random((40, 48, 3)) * 255).astype(np.uint8)
            Image.fromarray(rgb).save(root / folder / f"{i}.png")
    files = list_images(root)
    select, report = split_half(files, root, "select"), split_half(files, root, "report")
    assert sorted(select + report) == files and not set(select) & set(report)
    assert 0 < len(select) < len(files)
    assert split_half(files[::-1], root, "select") == select[::-1]  # order-independent
    with pytest.raises(ValueError, match="unknown half"):
        split_half(files, root, "train")
    result = evaluate(["toy"], f"{root}@report", progress=False)
    assert result.settings["half"] == "report"
    assert sum(len(v) for v in [result.per_image["toy"]]) == len(report)
    assert result.folders() == ["people", "scenes"]
    by_folder = {f: result.aggregate(f)["toy"]["images"] for f in result.folders()}
    assert sum(by_folder.values()) == len(report)
    text = result.tables()
    assert "people" in text and "scenes" in text and text.count("| toy |") == 3
    assert set(result.to_dict()["folders"]) == {"people", "scenes"}


def test_eval_cli_several_data_sets_and_options(registry, colour_folder, tmp_path, capsys):
    out = tmp_path / "r.json"
    other = tmp_path / "other"
    other.mkdir()
    Image.open(colour_folder / "p0.png").save(other / "q.png")
    code = main(["eval", "-m", "toy", "--data", str(colour_folder), "--data", str(other),
                 "--json", str(out), "-q"])
    assert code == 1  # the broken file of the first set
    payload = json.loads(out.read_text())
    assert [s["aggregate"]["toy"]["images"] for s in payload["sets"]] == [3, 1]
    printed = capsys.readouterr().out
    assert f"## {other}" in printed
    assert main(["eval", "-m", "toy", "--data", str(other), "-O", "bad", "-q"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
