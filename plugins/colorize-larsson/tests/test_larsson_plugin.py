"""Tests of colorize-larsson: hypercolumns, Eq. 3, decoders, transfer, explain, discovery."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import subprocess
import sys

import colorize_larsson
import numpy as np
import pytest
from colorize_devkit.testing import method_contract_tests
from colorize_larsson.colorizer import (
    COLORIZERS,
    TABLE5_DECODERS,
    LarssonHueChroma,
    LarssonLab,
    LarssonLabJoint,
    LarssonLabL2,
    huechroma_to_ab,
)

from core.runtime import MANIFEST_NAME, sha256_file

MODELS = colorize_larsson.MODELS_DIR
SHIPPED = [cls.name for cls in COLORIZERS if cls.shipped()]

test_contract = method_contract_tests(distribution="colorize-larsson")


def _lightness(h: int = 48, w: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return (50 + 35 * np.sin(x / 5.0) * np.cos(y / 7.0)).astype(np.float32)


def _chi2(h: np.ndarray, t: np.ndarray) -> float:
    h, t = np.asarray(h, float).ravel(), np.asarray(t, float).ravel()
    h, t = h / h.sum(), t / t.sum()
    s = h + t
    return float(np.sum(np.where(s > 0, (h - t) ** 2 / np.where(s > 0, s, 1), 0)))


# -- discovery and shipped files -------------------------------------------------------


def test_discovered_through_its_entry_point():
    (ep,) = [e for e in metadata.entry_points(group="colorize") if e.name == "larsson"]
    assert ep.value == "colorize_larsson.plugin"
    from core.plugins import Registry

    registry = Registry()
    assert {"larsson", "larsson-lab"} <= set(SHIPPED)
    for name in SHIPPED:
        assert registry.method_info(name).plugin == "colorize-larsson"
    recipes = set(registry.entries("recipe"))
    assert {"larsson", "larsson-lab", "larsson-lab-joint", "larsson-lab-l2"} <= recipes


def test_shipped_models_match_the_manifest_and_stay_small():
    manifest = json.loads((MODELS / MANIFEST_NAME).read_text())
    onnx_files = sorted(p.name for p in MODELS.glob("*.onnx"))
    assert onnx_files and sorted(manifest["files"]) == onnx_files
    for name, entry in manifest["files"].items():
        assert sha256_file(MODELS / name) == entry["sha256"], name
    assert sum((MODELS / n).stat().st_size for n in onnx_files) < 20 * 2**20
    assert (MODELS.parent / "MODEL_CARD.md").is_file()


# -- the network (torch) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def net():
    torch = pytest.importorskip("torch")
    from colorize_larsson.model import HypercolumnNet

    torch.manual_seed(0)
    model = HypercolumnNet(64, widths=(4, 8, 8, 8), fc_width=8, hidden=16, samples=20)
    model.train()
    model(torch.rand(2, 1, 48, 64) * 100)  # first training batch sets the A.1 scales
    return model.eval()


@pytest.mark.parametrize("size", [(48, 64), (40, 56)])  # multiple of 16, and not
def test_sparse_and_dense_hypercolumns_agree_at_sampled_pixels(net, size):
    import torch

    h, w = size
    light = torch.rand(2, 1, h, w, generator=torch.Generator().manual_seed(1)) * 100
    positions = net.random_positions(2, h, w, "cpu")
    with torch.no_grad():
        sparse = net.predict_sparse(light, positions)  # (N, C, S)
        for mode in ("concat", "factorized"):
            dense = net.predict_dense(light, mode)  # (N, C, H, W)
            picked = torch.stack(
                [dense[i][:, positions[i, :, 0], positions[i, :, 1]] for i in range(2)]
            )
            torch.testing.assert_close(picked, sparse, atol=1e-4, rtol=1e-4)
        layers = net.features(light)
        hyper = net.dense_hypercolumns(layers, (h, w))
        col = net.sparse_hypercolumns(layers, positions, (h, w))[:, :, 0]
        torch.testing.assert_close(
            torch.stack([hyper[i][:, positions[i, :, 0], positions[i, :, 1]] for i in range(2)]),
            col,
            atol=1e-5,
            rtol=1e-5,
        )


def test_rebalancing_gives_unit_second_moment(net):
    import torch

    light = torch.rand(2, 1, 48, 64) * 100
    net.train()
    try:
        net.hc_ready.fill_(False)
        net(light)
        with torch.no_grad():
            layers = net.features(light)
        for scale, layer in zip(net.hc_scale, layers, strict=True):
            assert abs(float((layer * scale).pow(2).mean()) - 1.0) < 1e-3
    finally:
        net.eval()


def test_eq3_loss_matches_a_hand_computation():
    torch = pytest.importorskip("torch")
    from colorize_larsson.train import hue_chroma_loss

    hue = torch.tensor([[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]])
    chroma = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 3.0]])
    hue_idx, chroma_idx = torch.tensor([2, 1]), torch.tensor([0, 2])
    y_c = torch.tensor([0.5, 0.1])

    def nll(logits, k):
        return float(np.log(np.exp(logits).sum()) - logits[k])

    expected = np.mean(
        [
            nll(np.array([2.0, 0, 0]), 0) + 5 * 0.5 * nll(np.array([0.0, 1, 2]), 2),
            nll(np.array([0.0, 0, 3]), 2) + 5 * 0.1 * nll(np.array([1.0, 0, 0]), 1),
        ]
    )
    got = hue_chroma_loss(hue, chroma, hue_idx, chroma_idx, y_c, lambda_hue=5.0)
    assert float(got) == pytest.approx(expected, rel=1e-6)
    # gray pixels (y_C = 0) do not train the hue
    zero = hue_chroma_loss(hue, chroma, hue_idx, chroma_idx, torch.zeros(2))
    assert float(zero) == pytest.approx(
        np.mean([nll(np.array([2.0, 0, 0]), 0), nll(np.array([0.0, 0, 3]), 2)]), rel=1e-6
    )


def test_training_targets_match_the_core_bins_and_bicone():
    torch = pytest.importorskip("torch")
    from colorize_larsson.train import encode, rgb_to_hue_chroma

    from core.binning import CHROMA_BINS, HUE_BINS, LAB_AB_BINS
    from core.colorspaces.huechroma import rgb_to_huechroma

    rgb = np.random.default_rng(0).random((500, 3)).astype(np.float32)
    rgb[:5] = [[0.2, 0.2, 0.2], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1]]
    hue, chroma = rgb_to_hue_chroma(torch.from_numpy(rgb))
    ref = rgb_to_huechroma(rgb)
    np.testing.assert_allclose(hue.numpy(), ref[:, 1], atol=1e-6)
    np.testing.assert_allclose(chroma.numpy(), ref[:, 2], atol=1e-6)
    np.testing.assert_array_equal(encode(hue, HUE_BINS).numpy(), HUE_BINS.encode(ref[:, 1]))
    np.testing.assert_array_equal(
        encode(chroma, CHROMA_BINS).numpy(), CHROMA_BINS.encode(ref[:, 2])
    )
    ab = np.linspace(-120, 120, 999).astype(np.float32)
    np.testing.assert_array_equal(
        encode(torch.from_numpy(ab), LAB_AB_BINS).numpy(), LAB_AB_BINS.encode(ab)
    )


# -- inference: decoders, transfer, rotation ---------------------------------------------


def test_default_decoding_is_fading_expectation_hue_and_median_chroma():
    from core.decoders import chromatic_fading, expectation, median

    method = LarssonHueChroma()
    light = _lightness()
    dists = method.distributions(light)
    assert set(dists) == {"hue", "chroma"} and dists["hue"].probs.shape == (48, 64, 32)
    assert dists["hue"].circular and dists["chroma"].colorspace == "huechroma"
    def paper_decoder(d):
        hue = expectation(d["hue"])
        return huechroma_to_ab(light, hue, chroma_fading(d))

    def chroma_fading(d):
        return chromatic_fading(d["hue"], median(d["chroma"]))

    # the shipped default: the paper's decoder on prior-corrected histograms
    assert method.default_rebalance == 0.4
    pred = method.predict(light)
    expected = paper_decoder(method.rebalance(dists, method.default_rebalance))
    np.testing.assert_allclose(pred.chroma, expected, atol=1e-3)
    assert pred.extras["rebalance"] == 0.4
    plain = method.predict(light, rebalance=0)
    np.testing.assert_allclose(plain.chroma, paper_decoder(dists), atol=1e-3)
    assert method.default_decoder == "hue=expectation+fading,chroma=median"
    # median on the chroma histogram the model emits, not on hue
    pred_median = method.predict(light, decoder="hue=mode,chroma=median")
    from core.decoders import mode

    np.testing.assert_allclose(
        pred_median.chroma,
        huechroma_to_ab(light, mode(dists["hue"]), median(dists["chroma"])),
        atol=1e-3,
    )
    for spec in TABLE5_DECODERS:
        out = method.predict(light, decoder=spec, seed=3)
        assert out.chroma.shape == (48, 64, 2) and np.isfinite(out.chroma).all()
    with pytest.raises(TypeError, match="unknown option"):
        method.predict(light, temprature=0.3)


def test_lab_variant_decodes_expectation_by_default():
    from core.decoders import expectation

    method = LarssonLab()
    light = _lightness()
    pred = method.predict(light)
    dists = pred.distributions
    assert set(dists) == {"a", "b"} and dists["a"].k == 32
    np.testing.assert_allclose(pred.chroma[..., 0], expectation(dists["a"]), atol=1e-4)
    np.testing.assert_allclose(pred.chroma[..., 1], expectation(dists["b"]), atol=1e-4)


def test_colorize_result_returns_histograms_and_uncertainty():
    import core
    from core.distributions import uncertainty_map

    result = core.colorize_result(_lightness(50, 75).astype(np.uint8), method="larsson")
    assert set(result.distributions) == {"hue", "chroma"}
    assert result.uncertainty.shape == (50, 75) and np.all(result.uncertainty >= 0)
    u = uncertainty_map(result.distributions)  # hue entropy x chroma (Fig. 10)
    expected = result.distributions["hue"].entropy() * (
        result.distributions["chroma"].probs * result.distributions["chroma"].bins.centers
    ).sum(-1)
    np.testing.assert_allclose(u, expected, rtol=1e-4, atol=1e-6)


def _reference_rgb() -> np.ndarray:
    rgb = np.zeros((32, 32, 3), np.float32)
    rgb[:16] = (0.15, 0.35, 0.85)  # blue
    rgb[16:] = (0.9, 0.75, 0.1)  # yellow
    return rgb


def test_energy_transfer_moves_the_histograms_toward_the_target():
    from core.transfer import reference_histogram

    method = LarssonHueChroma()
    light = _lightness()
    before = method.predict(light)
    after = method.predict(light, reference=_reference_rgb(), transfer="energy")
    assert after.extras["transfer"] == "energy"
    for channel in ("hue", "chroma"):
        target = reference_histogram(_reference_rgb(), before.distributions[channel])
        chi_before = _chi2(before.distributions[channel].probs.mean((0, 1)), target)
        chi_after = _chi2(after.distributions[channel].probs.mean((0, 1)), target)
        assert chi_after < chi_before, (channel, chi_before, chi_after)
    # a target histogram given directly works the same way
    hist = {
        c: reference_histogram(_reference_rgb(), before.distributions[c]) for c in ("hue", "chroma")
    }
    direct = method.predict(light, target_histogram=hist)
    np.testing.assert_allclose(direct.chroma, after.chroma, atol=1e-3)


def test_quantile_transfer_moves_the_output_histogram_toward_the_reference():
    from core.colorspaces.lab import lab_to_rgb, rgb_to_lab

    method = LarssonLab()
    light = _lightness()
    ref_ab = rgb_to_lab(_reference_rgb())[..., 1:]
    edges = np.linspace(-100, 100, 21)

    def hist(ab):
        return np.histogram2d(ab[..., 0].ravel(), ab[..., 1].ravel(), bins=[edges, edges])[0]

    def out_ab(chroma):  # what the output image holds after clipping to sRGB
        rgb = np.clip(lab_to_rgb(np.concatenate([light[..., None], chroma], -1)), 0, 1)
        return rgb_to_lab(rgb.astype(np.float32))[..., 1:]

    before = method.predict(light).chroma
    after = method.predict(light, reference=_reference_rgb(), transfer="quantile").chroma
    assert _chi2(hist(out_ab(after)), hist(ref_ab)) < _chi2(hist(out_ab(before)), hist(ref_ab))
    with pytest.raises(ValueError, match="needs reference"):
        method.predict(light, transfer="energy")
    with pytest.raises(ValueError, match="reference image"):
        method.predict(
            light, target_histogram={"a": np.ones(32), "b": np.ones(32)}, transfer="quantile"
        )


def test_rotated_bias_changes_uncertain_pixels_only_a_little_for_confident_ones():
    method = LarssonHueChroma()
    light = _lightness()
    base = method.predict(light)
    outs = [
        method.predict(light, rotate=angle, rotate_strength=2.0).chroma for angle in (0, 120, 240)
    ]
    assert all(not np.allclose(o, base.chroma) for o in outs)
    assert not np.allclose(outs[0], outs[1])


# -- explain and torch-free inference -----------------------------------------------------


def test_explain_writes_a_figure(tmp_path):
    pytest.importorskip("matplotlib")
    from colorize_larsson.explain import explain, main, pick_pixels

    out = explain(
        _lightness(60, 80).astype(np.uint8),
        tmp_path / "fig.png",
        method="larsson",
        pixels=2,
        dpi=60,
    )
    assert out.is_file() and out.stat().st_size > 5_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pick_pixels(np.random.default_rng(0).random((20, 30)), 4)) == 4
    from PIL import Image

    image = tmp_path / "in.png"
    Image.fromarray(_lightness(60, 80).astype(np.uint8)).save(image)
    assert (
        main(
            [
                str(image),
                "--method",
                "larsson-lab",
                "--pixels",
                "2",
                "-o",
                str(tmp_path / "lab.png"),
            ]
        )
        == 0
    )
    assert (tmp_path / "lab.png").is_file()


def test_inference_imports_no_torch_or_matplotlib():
    code = (
        "import sys, numpy as np, core\n"
        "from colorize_larsson import plugin, explain\n"
        f"for name in {SHIPPED!r}:\n"
        "    out = core.colorize(np.full((40, 70), 120, np.uint8), method=name)\n"
        "    assert out.shape == (40, 70, 3), out.shape\n"
        "bad = [m for m in ('torch', 'onnx', 'onnxscript', 'matplotlib') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def test_prior_correction_favours_rarer_saturated_colours():
    method = LarssonLabJoint()
    light = _lightness()
    plain = method.predict(light, decoder="expectation", rebalance=0)
    strong = method.predict(light, decoder="expectation", rebalance=0.5)
    assert plain.extras["rebalance"] == 0 and strong.extras["rebalance"] == 0.5
    saturation = [np.hypot(*p.chroma.transpose(2, 0, 1)).mean() for p in (plain, strong)]
    assert saturation[1] > saturation[0]
    dist = strong.distributions["ab"].probs
    np.testing.assert_allclose(dist.sum((-2, -1)), 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="no histograms to rebalance"):
        LarssonLabL2().predict(light, rebalance=0.3)


def test_eta_option_sets_the_fading_threshold():
    """``eta=``: larger thresholds fade more of the uncertain chroma (Eq. 5), default 0.03."""
    from core.plugins import get_registry

    method = get_registry().get("method", "larsson")
    light = np.tile(np.linspace(20, 90, 96, dtype=np.float32), (64, 1))
    default = method.predict(light)
    same = method.predict(light, eta=0.03)
    np.testing.assert_allclose(default.chroma, same.chroma)
    faded = method.predict(light, eta=0.3)
    assert np.abs(faded.chroma).mean() < np.abs(default.chroma).mean()
    with pytest.raises(ValueError, match="eta must be positive"):
        method.predict(light, eta=0)
    with pytest.raises(TypeError, match="eta"):
        method.predict(light, colour="red")
