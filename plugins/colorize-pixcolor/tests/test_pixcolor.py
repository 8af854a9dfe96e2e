"""Tests of the pixcolor plugin on its shipped graphs (ONNX Runtime only, small grids)."""

from __future__ import annotations

import importlib.metadata as metadata
import subprocess
import sys

import numpy as np
import pytest
from colorize_pixcolor.colorizer import PixColor
from colorize_pixcolor.sampling import Graphs, gumbel_noise, sample_cached, sample_naive, score

import core


@pytest.fixture(scope="module")
def colorizer() -> PixColor:
    return PixColor()


def _lightness(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return (0.5 + 0.4 * np.sin(x / 5.0) * np.cos(y / 3.0)).astype(np.float32)


def _cond(colorizer: PixColor, h: int, w: int, n: int = 1) -> np.ndarray:
    """Conditioning of an (h, w) grid: the colorizer's on the smallest working shape that
    holds it (sides multiples of the working multiple), cropped."""
    stride = colorizer.grid_stride
    m = max(1, colorizer.size_multiple // stride)
    gh, gw = -(-h // m) * m, -(-w // m) * m
    cond = colorizer.condition(_lightness(stride * gh, stride * gw))
    return np.ascontiguousarray(np.repeat(cond[:, :, :h, :w], n, axis=0))


def test_entry_points_discover_the_plugin():
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="colorize")}
    assert eps.get("pixcolor") == "colorize_pixcolor.plugin"
    from core.plugins import Registry

    recipes = set(Registry().entries("recipe"))
    assert {"pixcolor-pixelcnn", "pixcolor-refine"} <= recipes
    info = core.get_method("pixcolor")
    assert info.plugin == "colorize-pixcolor"
    assert info.colorspace == "ycbcr" and info.capabilities.diverse


def test_full_graph_is_causal(colorizer):
    """Changing a pixel never changes the Cr logits of it or of any earlier pixel."""
    h, w, k = 6, 7, 32
    rng = np.random.default_rng(0)
    cond = _cond(colorizer, h, w)
    x = ((rng.integers(0, k, (1, 2, h, w)) + 0.5) / k - 0.5).astype(np.float32) * 2
    gumbel = rng.gumbel(size=(1, 2 * k, h, w)).astype(np.float32)
    inv_t = np.ones(1, np.float32)
    cr0, cb0, _, logits0 = colorizer.graphs.full.run(x=x, cond=cond, gumbel=gumbel,
                                                     inv_temperature=inv_t)
    for r, c in [(0, 0), (2, 3), (3, 0), (5, 6), (4, 6)]:
        x2 = x.copy()
        x2[:, :, r, c] = -x2[:, :, r, c] + 0.37
        cr1, cb1, _, logits1 = colorizer.graphs.full.run(x=x2, cond=cond, gumbel=gumbel,
                                                         inv_temperature=inv_t)
        order = np.arange(h * w).reshape(h, w)
        upto = order <= r * w + c
        np.testing.assert_array_equal(logits0[0][:, upto], logits1[0][:, upto])
        np.testing.assert_array_equal(cr0[0][upto], cr1[0][upto])
        np.testing.assert_array_equal(cb0[0][upto], cb1[0][upto])
        if r * w + c < h * w - 1:  # and the change does reach later pixels
            assert not np.array_equal(logits0[0][:, ~upto], logits1[0][:, ~upto])


def test_cb_sees_the_same_pixels_cr_and_cr_does_not_see_cb(colorizer):
    h, w, k = 3, 4, 32
    cond = _cond(colorizer, h, w)
    x = np.zeros((1, 2, h, w), np.float32)
    gumbel = np.zeros((1, 2 * k, h, w), np.float32)
    inv_t = np.ones(1, np.float32)
    _, _, ll0, logits0 = colorizer.graphs.full.run(x=x, cond=cond, gumbel=gumbel,
                                                   inv_temperature=inv_t)
    x[0, 0, 1, 1] = 0.9  # the Cr of pixel (1, 1)
    _, _, ll1, logits1 = colorizer.graphs.full.run(x=x, cond=cond, gumbel=gumbel,
                                                   inv_temperature=inv_t)
    np.testing.assert_array_equal(logits0[..., 1, 1], logits1[..., 1, 1])
    assert ll0[0, 1, 1] != ll1[0, 1, 1]  # the Cb term of the pixel depends on its Cr


@pytest.mark.parametrize(("h", "w", "n", "temperature"), [(4, 5, 1, 1.0), (3, 6, 3, 0.7)])
def test_cached_sampling_equals_naive(colorizer, h, w, n, temperature):
    graphs: Graphs = colorizer.graphs
    cond = _cond(colorizer, h, w, n)
    noise = gumbel_noise(11, n, h, w)
    naive = sample_naive(graphs, cond, noise, temperature)
    cached = sample_cached(graphs, cond, noise, temperature)
    np.testing.assert_array_equal(naive.cr, cached.cr)
    np.testing.assert_array_equal(naive.cb, cached.cb)
    np.testing.assert_allclose(naive.loglik, cached.loglik, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(score(graphs, cond, cached.cr, cached.cb), cached.loglik,
                               rtol=1e-4, atol=1e-3)


def test_naive_and_cached_colorize_agree(colorizer):
    y = _lightness(32, 64)
    a = colorizer.predict(y, seed=3, sampler="naive")
    b = colorizer.predict(y, seed=3, sampler="cached")
    np.testing.assert_array_equal(a.extras["low_resolution"], b.extras["low_resolution"])


def test_seeds_are_reproducible_and_samples_differ(colorizer):
    y = _lightness(32, 64)
    a = colorizer.predict_samples(y, 3, seed=5)
    b = colorizer.predict_samples(y, 3, seed=5)
    for p, q in zip(a, b, strict=True):
        np.testing.assert_array_equal(p.chroma, q.chroma)
    assert not np.array_equal(a[0].extras["low_resolution"], a[1].extras["low_resolution"])
    c = colorizer.predict_samples(y, 3, seed=6)
    assert not np.array_equal(a[0].chroma, c[0].chroma)
    # sample i of a batch is a pure function of (seed, i): it does not depend on n
    one = colorizer.predict_samples(y, 1, seed=5)
    np.testing.assert_array_equal(one[0].extras["low_resolution"], a[0].extras["low_resolution"])


def test_rank_likelihood_sorts_samples(colorizer):
    y = _lightness(32, 64)
    ranked = colorizer.predict_samples(y, 4, seed=2, rank="likelihood")
    ll = [p.extras["loglik"] for p in ranked]
    assert ll == sorted(ll, reverse=True)
    best = colorizer.predict(y, seed=2, candidates=4)
    assert best.extras["loglik"] == pytest.approx(ll[0])


def test_non_square_inputs(colorizer):
    s = colorizer.grid_stride
    assert colorizer.working_shape(321, 481) == ((112, 168) if s == 4 else (224, 352))
    samples = colorizer.low_resolution(_lightness(4 * s, 8 * s), 2, seed=0)
    assert samples.cr.shape == (2, 4, 8) and samples.chroma().shape == (2, 4, 8, 2)
    image = (np.random.default_rng(0).random((30, 70, 3)) * 255).astype(np.uint8)
    assert core.colorize(image, method="pixcolor", seed=0).shape == (30, 70, 3)


def test_refinement_output_matches_input_size(colorizer):
    y = _lightness(20, 36)
    low = np.zeros((2, 5, 9, 2), np.float32)
    assert colorizer.refine(y, low).shape == (2, 20, 36, 2)
    unrefined = colorizer.predict(_lightness(32, 64), seed=0, refine=False)
    assert unrefined.chroma.shape == (32, 64, 2)
    refined = colorizer.predict(_lightness(32, 64), seed=0)
    assert refined.chroma.shape == (32, 64, 2)


def test_bad_options(colorizer):
    y = _lightness(32, 32)
    with pytest.raises(TypeError, match="unknown option"):
        colorizer.predict(y, seed=0, colour="red")
    with pytest.raises(ValueError, match="temperature"):
        colorizer.predict(y, seed=0, temperature=0)
    with pytest.raises(ValueError, match=f"sides multiple of {colorizer.size_multiple}"):
        colorizer.low_resolution(np.zeros((10, 12), np.float32), 1)


def test_inference_modules_import_no_torch():
    code = (
        "import sys, numpy as np\n"
        "from colorize_pixcolor.colorizer import PixColor\n"
        "PixColor().predict_samples(np.full((32, 64), 0.5, np.float32), 2, seed=0)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx')]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


# -- PixColor over the shared backbone (issue #20) -------------------------------------


def test_backbone_conditioning_reads_every_level_onto_the_grid():
    torch = pytest.importorskip("torch")
    from colorize_pixcolor.model import PixColorModel

    from training.hypercolumn import level_examples

    model = PixColorModel(channels=4, layers=1, cond=6, conditioning="backbone", proj=4, adapt=8)
    levels = level_examples(2, 64, 96, torch.Generator().manual_seed(0))
    cr = torch.zeros(2, 8, 12, dtype=torch.long)
    cr_logits, cb_logits = model(levels, cr, cr)
    assert cr_logits.shape == cb_logits.shape == (2, 32, 8, 12)
    for name, level in levels.items():
        level = level.clone().requires_grad_(True)
        model.conditioning({**levels, name: level}).sum().backward()
        assert level.grad is not None and level.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match="conditioning"):
        PixColorModel(conditioning="resnet")


def test_training_photos_leave_out_the_semantic_test_half(tmp_path):
    from colorize_pixcolor.features import crop_square, photo_list
    from PIL import Image

    from training.splits import held_out

    images = tmp_path / "imagenet_sample" / "images"
    images.mkdir(parents=True)
    for i in range(6):
        Image.new("RGB", (40, 30), (10 * i, 0, 0)).save(images / f"{i}.jpg")
    listed = photo_list([images])
    assert len(listed) == 3 and not set(listed) & set(held_out(tmp_path / "imagenet_sample"))
    rgb = np.random.default_rng(0).random((30, 50, 3)).astype(np.float32)
    assert crop_square(rgb, 16).shape == (16, 16, 3)
    assert crop_square(rgb, 64).shape == (64, 64, 3)  # grown, then cropped


def test_cached_crops_are_a_function_of_the_step(tmp_path):
    pytest.importorskip("torch")
    import json

    from colorize_pixcolor import BACKBONE, BB_LEVELS
    from colorize_pixcolor.train_backbone import CachedCrops

    from training.hypercolumn import LEVEL_CHANNELS, LEVEL_STRIDES

    rng = np.random.default_rng(0)
    for name in BB_LEVELS:
        side = 64 // LEVEL_STRIDES[name]
        np.save(tmp_path / f"level-{name}.npy",
                rng.random((6, LEVEL_CHANNELS[name], side, side)).astype(np.float16))
    np.save(tmp_path / "bins.npy", rng.integers(0, 32, (6, 2, 8, 8)).astype(np.uint8))
    np.save(tmp_path / "used.npy", np.array([1, 1, 0, 1, 1, 1], bool))
    (tmp_path / "meta.json").write_text(json.dumps({"backbone": BACKBONE, "photos": []}))
    data = CachedCrops(tmp_path, seed=1)
    assert data.rows == 5  # the unreadable row is left out
    a, b = data.batch(4, 3), data.batch(4, 3)
    assert a["cr"].equal(b["cr"]) and a["cr"].shape == (3, 8, 8)
    assert all(a["y"][k].equal(b["y"][k]) for k in BB_LEVELS)


def test_init_from_the_shipped_graphs_reproduces_their_outputs(tmp_path):
    """fit --init DIR: the model rebuilt from the shipped graphs computes what they compute."""
    pytest.importorskip("torch")
    from pathlib import Path

    import colorize_pixcolor
    from colorize_pixcolor import BACKBONE, BB_GRID_STRIDE, BB_LEVELS, BB_WORKING_SIZE
    from colorize_pixcolor.model import BackboneCondGraph
    from colorize_pixcolor.train import pixelcnn as recipe
    from colorize_pixcolor.train_backbone import model_from_onnx

    from training.hypercolumn import over_backbone
    from training.onnx_init import graph_differences

    folder = Path(colorize_pixcolor.__file__).parent / "models"
    model = model_from_onnx(folder).eval()
    graphs = over_backbone(recipe.export_graphs(model, {}), BackboneCondGraph(model.conditioning),
                           backbone=BACKBONE, levels=BB_LEVELS, working_size=BB_WORKING_SIZE,
                           grid_stride=BB_GRID_STRIDE, example=(224, 224), resized=(160, 288))
    assert sorted(g.filename for g in graphs) == [
        "pixcolor-cond.onnx", "pixcolor-full.onnx", "pixcolor-pixel.onnx", "pixcolor-row.onnx"]
    differences = graph_differences(graphs, folder)
    assert max(differences.values()) < 2e-3, differences
    with pytest.raises(FileNotFoundError, match="pixcolor-cond.onnx"):
        model_from_onnx(tmp_path)
