"""Tests of the semantic plugin: the logistic-mixture likelihood, causality, the loss's
void label, the samplers and seeds (shipped graphs, ONNX Runtime; torch parts skip
without torch)."""

from __future__ import annotations

import importlib.metadata as metadata
import math
import os
from pathlib import Path

import colorize_semantic
import numpy as np
import pytest
from colorize_semantic import CLASS_NAMES, LEVELS, MIXTURES, VOID_LABEL
from colorize_semantic.colorizer import SemanticColorizer
from colorize_semantic.logistic import levels, log_prob, quantize
from colorize_semantic.sampling import (
    draw_noise,
    sample_cached,
    sample_naive,
    sample_windowed,
    score,
)

import core


@pytest.fixture(scope="module")
def colorizer() -> SemanticColorizer:
    return SemanticColorizer()


def _lightness(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return (50 + 40 * np.sin(x / 5.0) * np.cos(y / 3.0)).astype(np.float32)


def _cond(colorizer: SemanticColorizer, h: int, w: int, n: int = 1) -> np.ndarray:
    """Conditioning of an (h, w) chroma grid: the encoder's on the smallest working shape
    that holds it (sides multiples of the working multiple), cropped."""
    stride = colorizer.grid_stride
    m = max(1, colorizer.size_multiple // stride)
    gh, gw = -(-h // m) * m, -(-w // m) * m
    cond, _ = colorizer.encode(_lightness(stride * gh, stride * gw))
    return np.ascontiguousarray(np.repeat(cond[:, :, :h, :w], n, axis=0))


def test_encoder_grid_is_the_working_shape_over_the_grid_stride(colorizer):
    m = colorizer.size_multiple
    cond, seg = colorizer.encode(_lightness(2 * m, 3 * m))
    s = colorizer.grid_stride
    assert cond.shape[2:] == seg.shape[2:] == (2 * m // s, 3 * m // s)


def _random_params(rng, shape=(1, 6 * MIXTURES, 1, 1)) -> np.ndarray:
    params = rng.normal(size=shape)
    m = MIXTURES
    params[:, m : 3 * m] *= 0.6  # means inside [-1, 1] mostly
    params[:, 3 * m : 5 * m] = rng.uniform(-4.5, -1.0, size=params[:, 3 * m : 5 * m].shape)
    return params


# -- the discretized logistic mixture ------------------------------------------------------


def _direct(params: np.ndarray, a: float, b: float, k: int = LEVELS) -> float:
    """p(a, b) for one pixel, written out with the logistic CDF and python floats."""
    m = MIXTURES
    p = params[0, :, 0, 0]
    weights = np.exp(p[:m] - p[:m].max())
    weights /= weights.sum()

    def cdf(v, mean, scale):
        return 1.0 / (1.0 + math.exp(-(v - mean) / scale))

    def mass(v, mean, scale):
        half = 1.0 / (k - 1)
        lo = 0.0 if v <= -1 + 1e-9 else cdf(v - half, mean, scale)
        hi = 1.0 if v >= 1 - 1e-9 else cdf(v + half, mean, scale)
        return hi - lo

    total = 0.0
    for j in range(m):
        mean_a, mean_b = p[m + j], p[2 * m + j]
        scale_a, scale_b = math.exp(max(p[3 * m + j], -7)), math.exp(max(p[4 * m + j], -7))
        coeff = math.tanh(p[5 * m + j])
        total += weights[j] * mass(a, mean_a, scale_a) * mass(b, mean_b + coeff * a, scale_b)
    return total


def test_mixture_likelihood_matches_a_direct_computation():
    rng = np.random.default_rng(0)
    grid = levels()
    for _ in range(5):
        params = _random_params(rng)
        for a, b in [(grid[0], grid[100]), (grid[128], grid[-1]), (grid[40], grid[200])]:
            got = log_prob(params, np.array([a, b]).reshape(1, 2, 1, 1))[0, 0, 0]
            assert got == pytest.approx(math.log(_direct(params, a, b)), rel=1e-6, abs=1e-9)


def test_mixture_integrates_to_one_over_the_bins():
    rng = np.random.default_rng(1)
    grid = levels()
    a, b = np.meshgrid(grid, grid, indexing="ij")
    x = np.stack([a.ravel(), b.ravel()])[None, :, :, None]  # every (a, b) bin
    for _ in range(3):
        params = np.broadcast_to(_random_params(rng), (1, 6 * MIXTURES, x.shape[2], 1))
        total = np.exp(log_prob(params, x)).sum()
        assert total == pytest.approx(1.0, abs=1e-9)


def test_torch_mixture_equals_numpy_and_generator_graph(colorizer):
    torch = pytest.importorskip("torch")
    from colorize_semantic.model import mixture_log_prob

    rng = np.random.default_rng(2)
    params = _random_params(rng, (2, 6 * MIXTURES, 3, 4))
    x = quantize(rng.uniform(-1, 1, (2, 2, 3, 4)))
    x[0, :, 0, 0] = (-1.0, 1.0)  # the two end bins
    expected = log_prob(params, x)
    got = mixture_log_prob(torch.from_numpy(params), torch.from_numpy(x.astype(np.float64)))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10, atol=1e-10)
    # the exported generator: its loglik output is the mixture likelihood of its params
    h, w = 3, 5
    cond = _cond(colorizer, h, w)
    x = quantize(rng.uniform(-0.6, 0.6, (1, 2, h, w)))
    graph = colorizer.graphs()["pixelcnn"]
    _, loglik, out_params = graph.run(
        x=x,
        cond=cond,
        gumbel=np.zeros((1, MIXTURES, h, w), np.float32),
        uniform=np.full((1, 2, h, w), 0.5, np.float32),
        temperature=np.ones(1, np.float32),
    )
    np.testing.assert_allclose(loglik, log_prob(out_params, x), rtol=1e-4, atol=1e-4)


# -- causality and samplers ----------------------------------------------------------------


def test_generator_is_causal(colorizer):
    """Changing pixel i never changes the mixture of pixel i or of any earlier pixel."""
    h, w = 6, 7
    rng = np.random.default_rng(3)
    cond = _cond(colorizer, h, w)
    x = quantize(rng.uniform(-0.5, 0.5, (1, 2, h, w)))
    graph = colorizer.graphs()["pixelcnn"]
    noise = {
        "gumbel": np.zeros((1, MIXTURES, h, w), np.float32),
        "uniform": np.full((1, 2, h, w), 0.5, np.float32),
        "temperature": np.ones(1, np.float32),
    }
    params0 = graph.run(x=x, cond=cond, **noise)[2]
    order = np.arange(h * w).reshape(h, w)
    for r, c in [(0, 0), (2, 3), (3, 0), (4, 6), (5, 6)]:
        x2 = x.copy()
        x2[:, :, r, c] = -x2[:, :, r, c] + 0.37
        params1 = graph.run(x=x2, cond=cond, **noise)[2]
        upto = order <= r * w + c
        np.testing.assert_array_equal(params0[0][:, upto], params1[0][:, upto])
        if r * w + c < h * w - 1:  # and the change does reach later pixels
            assert not np.array_equal(params0[0][:, ~upto], params1[0][:, ~upto])


@pytest.mark.parametrize(("h", "w", "n", "temperature"), [(10, 17, 1, 1.0), (3, 9, 3, 0.7)])
def test_cached_and_windowed_sampling_equal_naive(colorizer, h, w, n, temperature):
    graphs = colorizer.graphs()
    cond = _cond(colorizer, h, w, n)
    noise = draw_noise(11, n, h, w)
    naive = sample_naive(graphs["pixelcnn"], cond, noise, temperature)
    windowed = sample_windowed(graphs["pixelcnn"], cond, noise, temperature)
    cached = sample_cached(graphs["row"], graphs["pixel"], cond, noise, temperature)
    np.testing.assert_array_equal(naive, windowed)
    np.testing.assert_array_equal(naive, cached)
    _, _, params = graphs["pixelcnn"].run(
        x=cached,
        cond=cond,
        gumbel=noise.gumbel,
        uniform=noise.uniform,
        temperature=np.ones(1, np.float32),
    )
    expected = log_prob(params, cached).reshape(n, -1).sum(axis=1)
    np.testing.assert_allclose(score(graphs["pixelcnn"], cond, cached), expected, rtol=1e-4)
    steps = (cached + 1.0) * (LEVELS - 1) / 2.0  # on the level grid
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)


def test_seeds_are_reproducible_and_samples_differ(colorizer):
    y = _lightness(64, 96)
    a = colorizer.predict_samples(y, 3, seed=5)
    b = colorizer.predict_samples(y, 3, seed=5)
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p.chroma, q.chroma)
    assert not np.array_equal(a[0].extras["low_resolution"], a[1].extras["low_resolution"])
    c = colorizer.predict_samples(y, 3, seed=6)
    assert not np.array_equal(a[0].chroma, c[0].chroma)
    one = colorizer.predict(y, seed=5, average=1)  # sample i depends on (seed, i), not on n
    np.testing.assert_array_equal(one.extras["low_resolution"], a[0].extras["low_resolution"])


def test_colorize_returns_the_mean_of_the_samples_core_sample_draws(colorizer):
    """predict (core.colorize) averages DEFAULT_AVERAGE samples: those of predict_samples."""
    from colorize_semantic import DEFAULT_AVERAGE

    y = _lightness(64, 96)
    samples = colorizer.predict_samples(y, DEFAULT_AVERAGE, seed=3)
    mean = colorizer.predict(y, seed=3)
    np.testing.assert_allclose(
        mean.chroma, np.mean([p.chroma for p in samples], axis=0), atol=1e-5)
    assert mean.extras["average"] == DEFAULT_AVERAGE
    np.testing.assert_array_equal(mean.segmentation, samples[0].segmentation)
    # the mean is none of the samples (predict does not just return sample 0)
    spread = [float(np.mean((p.chroma - mean.chroma) ** 2)) for p in samples]
    assert min(spread) > 0
    two = colorizer.predict(y, seed=3, average=2)
    np.testing.assert_allclose(two.chroma, (samples[0].chroma + samples[1].chroma) / 2, atol=1e-5)
    for bad in (0, -1, 2.5, True, "8"):
        with pytest.raises(ValueError, match="average must be an integer"):
            colorizer.predict(y, seed=3, average=bad)
    with pytest.raises(ValueError, match="average applies to core.colorize"):
        colorizer.predict_samples(y, 2, seed=3, average=2)
    with pytest.raises(ValueError, match="rank applies to core.sample"):
        colorizer.predict(y, seed=3, rank="likelihood")


def test_rank_likelihood_sorts_samples(colorizer):
    ranked = colorizer.predict_samples(_lightness(64, 96), 4, seed=2, rank="likelihood")
    ll = [p.extras["loglik"] for p in ranked]
    assert ll == sorted(ll, reverse=True)


# -- the method through the core ---------------------------------------------------------


def test_entry_point_and_method_info():
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="colorize")}
    assert eps.get("semantic") == "colorize_semantic.plugin"
    info = core.get_method("semantic")
    assert info.plugin == "colorize-semantic" and info.colorspace == "lab"
    assert info.capabilities.diverse and info.capabilities.segmentation
    # the three flows of Fig. 2, four graphs each, and the shared backbone once if used
    backbones = {m.path for m in info.model_files if "colorize_backbone" in m.path}
    assert len(info.model_files) == 12 + len(backbones) and len(backbones) <= 1


def test_segmentation_comes_back_in_the_result():
    image = (np.random.default_rng(0).random((30, 70, 3)) * 255).astype(np.uint8)
    result = core.colorize_result(image, "semantic", seed=0)
    assert result.rgb.shape == (30, 70, 3)
    assert result.segmentation.shape == (30, 70)
    assert result.segmentation.min() >= 0 and result.segmentation.max() < len(CLASS_NAMES)
    assert result.class_names == CLASS_NAMES
    assert result.metadata["variant"] == "full"


def test_cli_writes_a_segmentation_overlay(tmp_path):
    from core.cli import main
    from core.io import save_image

    source = tmp_path / "street.png"
    save_image(source, np.random.default_rng(1).random((24, 40, 3)).astype(np.float32))
    out = tmp_path / "out"
    code = main(
        [
            "image",
            str(source),
            "-o",
            str(out),
            "-m",
            "semantic",
            "--seed",
            "1",
            "--save-segmentation",
            "-q",
        ]
    )
    assert code == 0
    assert (out / "street.png").is_file() and (out / "street_segmentation.png").is_file()


def test_bad_options_and_missing_variant(colorizer):
    y = _lightness(32, 32)
    with pytest.raises(TypeError, match="unknown option"):
        colorizer.predict(y, seed=0, colour="red")
    with pytest.raises(ValueError, match="temperature"):
        colorizer.predict(y, seed=0, temperature=0)
    with pytest.raises(ValueError, match="sampler"):
        colorizer.predict(y, seed=0, sampler="fast")
    with pytest.raises(ValueError, match=f"multiple of {colorizer.size_multiple}"):
        colorizer.predict(np.zeros((10, 12), np.float32), seed=0)
    with pytest.raises(ValueError, match="variant must be one of"):
        colorizer.predict(y, seed=0, variant="semantic")


def test_a_models_folder_without_a_variant_names_what_is_installed(tmp_path):
    import shutil

    from colorize_semantic import MODELS_DIR

    for path in MODELS_DIR.glob("semantic-full-*.onnx"):
        shutil.copy(path, tmp_path / path.name)
    shutil.copy(MODELS_DIR / "manifest.json", tmp_path / "manifest.json")
    only_full = SemanticColorizer(tmp_path)
    assert only_full.variants() == ["full"]
    with pytest.raises(ValueError, match=r"variant 'plain' are not installed.*available: full"):
        only_full.predict(_lightness(32, 32), seed=0, variant="plain")


def test_every_shipped_flow_colorizes_and_only_the_semantic_ones_segment(colorizer):
    assert sorted(colorizer.variants()) == ["embedding", "full", "plain"]
    image = (np.random.default_rng(2).random((24, 32, 3)) * 255).astype(np.uint8)
    results = {
        v: core.colorize_result(image, "semantic", seed=0, variant=v)
        for v in ("plain", "embedding", "full")
    }
    for variant, result in results.items():
        assert result.metadata["variant"] == variant and result.rgb.shape == (24, 32, 3)
    assert results["plain"].segmentation is None
    assert results["embedding"].segmentation.shape == results["full"].segmentation.shape
    assert not np.array_equal(results["plain"].rgb, results["full"].rgb)


# -- training pieces (torch) ---------------------------------------------------------------


def test_void_label_is_ignored_by_the_segmentation_loss():
    torch = pytest.importorskip("torch")
    from colorize_semantic.train import segmentation_loss

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, len(CLASS_NAMES), 5, 6, generator=gen)
    labels = torch.randint(0, len(CLASS_NAMES), (2, 5, 6), generator=gen)
    labels[0, :2] = VOID_LABEL
    loss = segmentation_loss(logits, labels)
    changed = logits.clone()
    changed[0, :, :2] = torch.randn(len(CLASS_NAMES), 2, 6, generator=gen) * 10
    assert segmentation_loss(changed, labels).item() == pytest.approx(loss.item(), abs=1e-6)
    keep = labels != VOID_LABEL  # the mean runs over labelled pixels only
    flat = logits.permute(0, 2, 3, 1)[keep]
    expected = torch.nn.functional.cross_entropy(flat, labels[keep])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_variants_build_their_flows():
    torch = pytest.importorskip("torch")
    from colorize_semantic.model import SemanticModel

    y, x = torch.rand(1, 1, 32, 32), torch.zeros(1, 2, 8, 8)
    conds = {}
    for variant in ("plain", "embedding", "full"):
        model = SemanticModel(variant, widths=(4, 4, 8), width=8, embedding=6, channels=4, layers=1)
        out = model(y, x)
        assert (out["seg_logits"] is None) == (variant == "plain")
        assert out["gen_params"].shape == (1, 6 * MIXTURES, 8, 8)
        conds[variant] = model.pixelcnn.cond
    assert conds == {"plain": 6, "embedding": 6, "full": 6 + len(CLASS_NAMES)}


@pytest.mark.skipif(not os.environ.get("COLORIZE_DATA"), reason="COLORIZE_DATA not set")
def test_segmentation_head_beats_the_majority_class_on_a_camvid_test_photo(colorizer):
    from PIL import Image

    from core.colorspaces.lab import LabSpace

    root = Path(os.environ["COLORIZE_DATA"]) / "camvid"
    if not (root / "test.txt").is_file():
        pytest.skip("camvid not in COLORIZE_DATA")
    image, label = (root / "test.txt").read_text().split("\n")[0].split()
    h, w = colorizer.working_shape(360, 480)
    rgb = np.asarray(Image.open(root / image).convert("RGB").resize((w, h)), np.float32) / 255
    truth = np.asarray(Image.open(root / label).resize((w, h), Image.NEAREST))
    _, scores = colorizer.encode(LabSpace().lightness(rgb))
    predicted = colorizer.segment(scores[0], truth.shape)
    keep = truth != VOID_LABEL
    accuracy = (predicted == truth)[keep].mean()
    majority = np.bincount(truth[keep]).max() / keep.sum()
    assert accuracy > majority


# -- the flows over the shared backbone (issue #20) ----------------------------------------


def test_backbone_bottom_puts_every_level_on_the_f8_grid():
    torch = pytest.importorskip("torch")
    from colorize_semantic.model import SemanticModel

    from training.hypercolumn import level_examples

    levels = level_examples(2, 64, 96, torch.Generator().manual_seed(0))
    for variant in ("plain", "embedding", "full"):
        model = SemanticModel(variant, bottom="backbone", channels=4, layers=1, proj=4)
        out = model(levels, torch.zeros(2, 2, 8, 12))
        assert out["gen_params"].shape == (2, 6 * MIXTURES, 8, 12)
        assert (out["seg_logits"] is None) == (variant == "plain")
        if out["seg_logits"] is not None:
            assert out["seg_logits"].shape == (2, len(CLASS_NAMES), 8, 12)
    # every level reaches the output (the hypercolumn is not cut anywhere)
    model = SemanticModel("full", bottom="backbone", channels=4, layers=1, proj=4)
    for name, level in levels.items():
        level = level.clone().requires_grad_(True)
        cond, _, _ = model.encode({**levels, name: level})
        cond.sum().backward()
        assert level.grad is not None and level.grad.abs().sum() > 0, name


def test_backbone_working_shape_matches_the_colorizer():
    from colorize_semantic import BB_WORKING_SIZE
    from colorize_semantic.features import working_shape

    class Probe(SemanticColorizer):
        pass

    probe = Probe()
    probe.working_size, probe.size_multiple = BB_WORKING_SIZE, 32
    for h, w in ((360, 480), (480, 360), (256, 256), (300, 1000)):
        assert working_shape(h, w) == probe.working_shape(h, w)


def test_mean_iou_of_a_confusion_matrix():
    pytest.importorskip("torch")
    from colorize_semantic.train_backbone import mean_iou

    confusion = np.array([[8, 2, 0], [2, 6, 0], [0, 0, 0]])  # class 2 absent: left out
    assert mean_iou(confusion) == pytest.approx((8 / 12 + 6 / 10) / 2)
    assert mean_iou(np.eye(3, dtype=int) * 5) == 1.0


def _fake_cache(folder, rows: int, labels: bool, seed: int = 0):
    import json

    from colorize_semantic import BACKBONE, BB_LEVELS
    from colorize_semantic.model import BB_CHANNELS

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    strides = {"f4": 2, "f8": 1, "f16": 0.5, "f32": 0.25, "head": 0.25}
    for name in BB_LEVELS:
        side = int(8 * strides[name])
        np.save(folder / f"level-{name}.npy",
                rng.random((rows, BB_CHANNELS[name], side, side)).astype(np.float16))
    np.save(folder / "ab.npy", rng.normal(0, 30, (rows, 2, 8, 8)).astype(np.float32))
    if labels:
        np.save(folder / "labels.npy", rng.integers(0, 12, (rows, 32, 32)).astype(np.uint8))
    meta = {"split": str(folder), "backbone": BACKBONE, "labels": labels, "rows": rows}
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def test_unlabelled_photos_add_only_the_colour_losses(tmp_path):
    """--extra-cache: every step also fits L_emb + L_gen on unlabelled photos."""
    pytest.importorskip("torch")
    import json

    from colorize_semantic.train_backbone import main

    camvid = _fake_cache(tmp_path / "camvid", 6, labels=True)
    general = _fake_cache(tmp_path / "general", 6, labels=False, seed=1)
    out = tmp_path / "run"
    args = ["fit", "--cache", str(camvid), "--extra-cache", str(general), "--out", str(out),
            "--steps", "2", "--batch-size", "2", "--variant", "full", "--no-progress",
            "--set", "log_every=1"]
    assert main(args) == 0
    record = json.loads((out / "log.jsonl").read_text().splitlines()[0])
    assert {"l_seg", "extra_l_gen", "extra_l_emb"} <= set(record)
    assert "extra_l_seg" not in record  # no labels, no segmentation loss
    again = tmp_path / "again"  # --init starts from a checkpoint's averaged weights
    assert main([*args[:6], str(again), *args[7:], "--init", str(out / "last.ckpt")]) == 0


def test_feature_cache_batches_are_a_function_of_the_step(tmp_path):
    pytest.importorskip("torch")
    import json

    from colorize_semantic import BB_LEVELS
    from colorize_semantic.train_backbone import CachedBatches

    _fake_cache(tmp_path, 5, labels=False)
    meta = json.loads((tmp_path / "meta.json").read_text())
    data = CachedBatches(tmp_path, seed=3)
    a, b, c = data.batch(7, 3), data.batch(7, 3), data.batch(8, 3)
    assert all(a["inputs"][k].equal(b["inputs"][k]) for k in BB_LEVELS)
    assert not all(a["inputs"][k].equal(c["inputs"][k]) for k in BB_LEVELS)
    assert a["x"].shape == (3, 2, 8, 8) and float(a["x"].abs().max()) <= 1.0
    meta["backbone"] = "another-net"
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="another-net"):
        CachedBatches(tmp_path)


def test_general_split_leaves_out_held_out_imagenet_and_portrait_photos(tmp_path):
    """scripts/general_split.py: the semantic test's photos and BSDS500 test never train."""
    import importlib.util

    import cv2

    def photo(path, h, w):
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.full((h, w, 3), 128, np.uint8))

    data = tmp_path / "data"
    photo(data / "bsds500/images/train/1.jpg", 32, 48)
    photo(data / "bsds500/images/train/2.jpg", 48, 32)  # portrait: left out
    photo(data / "bsds500/images/val/3.jpg", 32, 48)
    photo(data / "bsds500/images/test/4.jpg", 32, 48)  # the evaluation set: never listed
    photo(data / "houses/images/5.jpg", 40, 40)
    for name in ("a", "b", "c", "d"):
        photo(data / f"imagenet_sample/images/{name}.jpg", 32, 32)
    for scene in ("forest", "sea"):
        for k in range(3):
            photo(data / f"intel_scenes/{scene}/{k}.jpg", 24, 24)
    spec = importlib.util.spec_from_file_location(
        "general_split", Path(__file__).parents[1] / "scripts" / "general_split.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "general.txt"
    assert module.main(["--data", str(data), "--out", str(out), "--intel-per-class", "2"]) == 0
    names = [Path(line).relative_to(data).as_posix() for line in out.read_text().splitlines()]
    assert names == [
        "bsds500/images/train/1.jpg", "bsds500/images/val/3.jpg", "houses/images/5.jpg",
        "imagenet_sample/images/a.jpg", "imagenet_sample/images/c.jpg",  # b, d held out
        "intel_scenes/forest/0.jpg", "intel_scenes/forest/1.jpg",
        "intel_scenes/sea/0.jpg", "intel_scenes/sea/1.jpg",
    ]


def test_init_from_the_shipped_graphs_reproduces_their_outputs():
    """fit --init DIR: the model rebuilt from the shipped graphs computes what they compute."""
    pytest.importorskip("torch")
    from colorize_semantic import BACKBONE, BB_GRID_STRIDE, BB_LEVELS, BB_WORKING_SIZE
    from colorize_semantic.model import BackboneEncoderGraph
    from colorize_semantic.train import export_graphs
    from colorize_semantic.train_backbone import model_from_onnx

    from training.hypercolumn import over_backbone
    from training.onnx_init import graph_differences

    folder = Path(colorize_semantic.__file__).parent / "models"
    model = model_from_onnx(folder / "semantic-full-encoder.onnx").eval()
    graphs = over_backbone(export_graphs(model, {}), BackboneEncoderGraph(model),
                           backbone=BACKBONE, levels=BB_LEVELS,
                           working_size=BB_WORKING_SIZE, grid_stride=BB_GRID_STRIDE)
    assert len(graphs) == 4
    differences = graph_differences(graphs, folder)
    assert max(differences.values()) < 2e-3, differences


def test_init_from_graphs_of_another_architecture_is_refused(tmp_path):
    pytest.importorskip("torch")
    from colorize_semantic.train_backbone import model_from_onnx

    with pytest.raises(FileNotFoundError, match="semantic-full-encoder.onnx"):
        model_from_onnx(tmp_path)
    folder = Path(colorize_semantic.__file__).parent / "models"
    with pytest.raises(ValueError, match="shape"):
        model_from_onnx(folder, "full", {"widths": [16, 32, 48], "width": 48,
                                         "embedding": 32, "channels": 16, "layers": 4,
                                         "bottom": "backbone", "proj": 32})
