"""Distribution: validation, softmax, entropy, marginals, resizing, uncertainty."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.binning import CHROMA_BINS, CNN_AB_BINS, HUE_BINS, LAB_AB_BINS, LAB_JOINT_BINS, JointBins
from core.distributions import Distribution, softmax, uncertainty_map


def _dist(probs, bins=CNN_AB_BINS, channel="a", space="lab"):
    return Distribution(np.asarray(probs, np.float32), bins, space, channel)


def test_shape_validation():
    with pytest.raises(ValueError, match=r"expected probs of shape \(H, W, 10\)"):
        _dist(np.zeros((2, 2, 9)))
    with pytest.raises(ValueError, match=r"\(H, W, 16, 16\)"):
        Distribution(np.zeros((2, 2, 256)), LAB_JOINT_BINS, "lab", "ab")
    with pytest.raises(TypeError, match="pair of Bins"):
        Distribution(np.zeros((1, 1, 2, 2)), (CNN_AB_BINS,), "lab", "ab")
    joint = Distribution(np.zeros((1, 1, 10, 32)), (CNN_AB_BINS, LAB_AB_BINS), "lab", "ab")
    assert isinstance(joint.bins, JointBins) and joint.is_joint and joint.k == 320
    assert joint.probs.dtype == np.float32


def test_from_logits_is_stable():
    logits = np.array([[[1e4, 0.0] + [-1e4] * 8]], dtype=np.float32)
    d = Distribution.from_logits(logits, CNN_AB_BINS, "lab", "a")
    assert np.all(np.isfinite(d.probs))
    np.testing.assert_allclose(d.probs[0, 0, :2], [1, 0])
    hot = Distribution.from_logits(
        np.array([[[0.0, np.log(3.0)] + [-np.inf] * 8]]), CNN_AB_BINS, "lab", "a"
    )
    np.testing.assert_allclose(hot.probs[0, 0, :2], [0.25, 0.75], rtol=1e-6)


def test_from_logits_temperature_and_joint():
    logits = np.random.default_rng(0).normal(size=(2, 3, 256)).astype(np.float32)
    joint = Distribution.from_logits(logits, LAB_JOINT_BINS, "lab", "ab")
    assert joint.probs.shape == (2, 3, 16, 16)
    np.testing.assert_allclose(joint.probs.sum(axis=(2, 3)), 1, atol=1e-5)
    sharp = Distribution.from_logits(
        logits.reshape(2, 3, 16, 16), LAB_JOINT_BINS, "lab", "ab", temperature=0.1
    )
    assert np.all(sharp.entropy() < joint.entropy())
    np.testing.assert_allclose(softmax(np.array([0.0, 0.0]), temperature=0.5), [0.5, 0.5])
    with pytest.raises(ValueError, match="temperature"):
        Distribution.from_logits(logits, LAB_JOINT_BINS, "lab", "ab", temperature=0)


def test_entropy_reference_values():
    probs = np.zeros((1, 3, 10), np.float32)
    probs[0, 0] = 0.1  # uniform
    probs[0, 1, 4] = 1.0  # one-hot
    probs[0, 2, :2] = 0.5  # two equal bins
    np.testing.assert_allclose(_dist(probs).entropy()[0], [np.log(10), 0.0, np.log(2)], rtol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_entropy_bounds(seed):
    probs = np.random.default_rng(seed).dirichlet(np.full(10, 0.3), size=(2, 2))
    h = _dist(probs).entropy()
    assert h.shape == (2, 2) and np.all(h >= -1e-6) and np.all(h <= np.log(10) + 1e-5)


def test_marginals_of_joint():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(256), size=(2, 2)).reshape(2, 2, 16, 16)
    joint = Distribution(probs, LAB_JOINT_BINS, "lab", "ab")
    a, b = joint.marginal(0), joint.marginal(1)
    assert (a.channel, b.channel) == ("a", "b") and joint.channel_names == ("a", "b")
    np.testing.assert_allclose(a.probs, probs.sum(axis=3), rtol=1e-5)
    np.testing.assert_allclose(b.probs, probs.sum(axis=2), rtol=1e-5)
    assert a.bins == LAB_JOINT_BINS.first
    named = Distribution(
        np.ones((1, 1, 32, 32)) / 1024, (HUE_BINS, CHROMA_BINS), "huechroma", "hue,chroma"
    )
    assert named.marginal(1).channel == "chroma"
    with pytest.raises(ValueError, match="already a marginal"):
        a.marginal(0)


def test_normalized_and_resize():
    probs = np.zeros((2, 2, 10), np.float32)
    probs[0, 0, 3] = 2.0
    d = _dist(probs).normalized()
    np.testing.assert_allclose(d.probs.sum(-1), 1, rtol=1e-6)
    np.testing.assert_allclose(d.probs[1, 1], 0.1)  # empty pixel -> uniform
    big = d.resize((5, 7))
    assert big.shape == (5, 7) and big.bins == d.bins
    np.testing.assert_allclose(big.probs.sum(-1), 1, rtol=1e-5)
    joint = Distribution(np.full((3, 3, 16, 16), 1 / 256), LAB_JOINT_BINS, "lab", "ab").resize(
        (4, 2)
    )
    assert joint.probs.shape == (4, 2, 16, 16)
    np.testing.assert_allclose(joint.probs.sum(axis=(2, 3)), 1, rtol=1e-5)


def test_uncertainty_map_hue_times_chroma():
    """Larsson Fig. 10: entropy of hue times chroma."""
    hue = np.zeros((1, 2, 32), np.float32)
    hue[0, 0] = 1 / 32  # undecided hue
    hue[0, 1, 5] = 1.0  # certain hue
    chroma = np.zeros((1, 2, 32), np.float32)
    chroma[0, :, 16] = 1.0  # chroma centre 16.5 / 32
    dists = {
        "hue": Distribution(hue, HUE_BINS, "huechroma", "hue"),
        "chroma": Distribution(chroma, CHROMA_BINS, "huechroma", "chroma"),
    }
    u = uncertainty_map(dists)
    np.testing.assert_allclose(u, [[np.log(32) * 16.5 / 32, 0.0]], rtol=1e-5)
    gray = {
        "hue": dists["hue"],
        "chroma": Distribution(
            np.eye(32, dtype=np.float32)[None, [0, 0]], CHROMA_BINS, "huechroma", "chroma"
        ),
    }
    assert uncertainty_map(gray)[0, 0] < 0.1 * u[0, 0]  # a gray pixel's hue does not matter


def test_uncertainty_map_sum_of_entropies():
    a = _dist(np.full((1, 1, 10), 0.1), channel="a")
    b = _dist(np.eye(10, dtype=np.float32)[None, [2]], channel="b")
    np.testing.assert_allclose(uncertainty_map({"a": a, "b": b}), [[np.log(10)]], rtol=1e-6)
    with pytest.raises(ValueError, match="at least one"):
        uncertainty_map({})
    with pytest.raises(ValueError, match="different spatial shapes"):
        uncertainty_map({"a": a, "b": _dist(np.full((2, 1, 10), 0.1), channel="b")})


@pytest.mark.parametrize("module", ["core.distributions"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
