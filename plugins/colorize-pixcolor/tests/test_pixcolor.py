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
    (cond,) = colorizer.graphs.cond.run(lightness=_lightness(4 * h, 4 * w)[None, None])
    return np.ascontiguousarray(np.repeat(cond, n, axis=0))


def test_entry_points_discover_the_plugin():
    eps = {ep.name: ep.value for ep in metadata.entry_points(group="colorize")}
    assert eps.get("pixcolor") == "colorize_pixcolor.plugin"
    recipes = {ep.name for ep in metadata.entry_points(group="colorize.training")}
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
    y = _lightness(12, 16)
    a = colorizer.predict(y, seed=3, sampler="naive")
    b = colorizer.predict(y, seed=3, sampler="cached")
    np.testing.assert_array_equal(a.extras["low_resolution"], b.extras["low_resolution"])


def test_seeds_are_reproducible_and_samples_differ(colorizer):
    y = _lightness(16, 20)
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
    y = _lightness(16, 20)
    ranked = colorizer.predict_samples(y, 4, seed=2, rank="likelihood")
    ll = [p.extras["loglik"] for p in ranked]
    assert ll == sorted(ll, reverse=True)
    best = colorizer.predict(y, seed=2, candidates=4)
    assert best.extras["loglik"] == pytest.approx(ll[0])


def test_non_square_inputs(colorizer):
    assert colorizer.working_shape(321, 481) == (112, 168)
    samples = colorizer.low_resolution(_lightness(16, 28), 2, seed=0)
    assert samples.cr.shape == (2, 4, 7) and samples.chroma().shape == (2, 4, 7, 2)
    image = (np.random.default_rng(0).random((30, 70, 3)) * 255).astype(np.uint8)
    assert core.colorize(image, method="pixcolor", seed=0).shape == (30, 70, 3)


def test_refinement_output_matches_input_size(colorizer):
    y = _lightness(20, 36)
    low = np.zeros((2, 5, 9, 2), np.float32)
    assert colorizer.refine(y, low).shape == (2, 20, 36, 2)
    unrefined = colorizer.predict(y, seed=0, refine=False)
    assert unrefined.chroma.shape == (20, 36, 2)


def test_bad_options(colorizer):
    y = _lightness(8, 8)
    with pytest.raises(TypeError, match="unknown option"):
        colorizer.predict(y, seed=0, colour="red")
    with pytest.raises(ValueError, match="temperature"):
        colorizer.predict(y, seed=0, temperature=0)
    with pytest.raises(ValueError, match="sides multiple of 4"):
        colorizer.low_resolution(np.zeros((10, 12), np.float32), 1)


def test_inference_modules_import_no_torch():
    code = (
        "import sys, numpy as np\n"
        "from colorize_pixcolor.colorizer import PixColor\n"
        "PixColor().predict_samples(np.full((8, 12), 0.5, np.float32), 2, seed=0)\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx')]\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
