"""Bins, joint bins, the bin sets of the papers, and the discretized logistic mixture."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from core.binning import (
    CHROMA_BINS,
    CNN_AB_BINS,
    HUE_BINS,
    LAB_AB_BINS,
    LAB_JOINT_BINS,
    PIXCOLOR_BINS,
    Bins,
    JointBins,
    gaussian_quantile_bins,
    joint_ab_bins,
    uniform_bins,
)

SETTINGS = settings(max_examples=40, deadline=None)


def test_uniform_bins_reference():
    bins = uniform_bins(-1.0, 1.0, 4, name="x")
    np.testing.assert_allclose(bins.edges, [-1, -0.5, 0, 0.5, 1])
    np.testing.assert_allclose(bins.centers, [-0.75, -0.25, 0.25, 0.75])
    assert bins.k == 4 and bins.period == 2.0 and not bins.circular
    np.testing.assert_array_equal(
        bins.encode([-5, -1, -0.5, -0.01, 0, 0.99, 1, 7]), [0, 0, 1, 1, 2, 3, 3, 3]
    )
    assert bins.encode(0.3).shape == ()


def test_paper_bin_sets():
    # CNN report: 10 classes of width 20 over [-100, 100].
    assert CNN_AB_BINS.k == 10 and np.allclose(CNN_AB_BINS.widths, 20)
    assert CNN_AB_BINS.low == -100 and CNN_AB_BINS.high == 100
    # PixColor: 32 bins of Cb / Cr over the centred YCbCr range.
    assert PIXCOLOR_BINS.k == 32 and (PIXCOLOR_BINS.low, PIXCOLOR_BINS.high) == (-0.5, 0.5)
    # Larsson: 32 uniform hue (circular) and chroma bins on [0, 1]; 32 Lab bins; 16 x 16 joint.
    assert HUE_BINS.circular and HUE_BINS.k == 32 and (HUE_BINS.low, HUE_BINS.high) == (0, 1)
    assert not CHROMA_BINS.circular and CHROMA_BINS.k == 32
    assert LAB_AB_BINS.k == 32
    assert LAB_JOINT_BINS.shape == (16, 16) and LAB_JOINT_BINS.k == 256


def test_gaussian_quantile_edges_reference():
    bins = gaussian_quantile_bins(4, 0.0, 25.0)
    # Phi^-1(0.25) = -0.67449: edges at 25 * (-0.6745, 0, 0.6745), outer at +-4 sigma.
    np.testing.assert_allclose(bins.edges, [-100, -16.8622, 0, 16.8622, 100], atol=1e-4)
    assert np.all(np.diff(bins.centers) > 0)
    np.testing.assert_allclose(bins.centers, -bins.centers[::-1], atol=1e-12)  # symmetric


@pytest.mark.parametrize("k", [4, 16, 32])
def test_gaussian_quantile_bins_are_equally_likely(k):
    """Larsson Sec. 3.2: under N(0, 25^2), clipping into the end bins, each bin has mass 1/k."""
    bins = gaussian_quantile_bins(k, 0.0, 25.0)
    cdf = norm.cdf(bins.edges[1:-1], scale=25.0)
    mass = np.diff(np.concatenate([[0.0], cdf, [1.0]]))
    np.testing.assert_allclose(mass, 1.0 / k, atol=1e-12)
    samples = np.random.default_rng(0).normal(0, 25, 200_000)
    freq = np.bincount(bins.encode(samples), minlength=k) / samples.size
    np.testing.assert_allclose(freq, 1.0 / k, atol=0.004)


def test_gaussian_quantile_centres_are_bin_centroids():
    bins = gaussian_quantile_bins(8, 5.0, 10.0)
    samples = np.random.default_rng(1).normal(5, 10, 400_000)
    samples = samples[(samples > bins.low) & (samples < bins.high)]
    index = bins.encode(samples)
    means = np.array([samples[index == i].mean() for i in range(8)])
    np.testing.assert_allclose(means, bins.centers, atol=0.1)


def test_circular_encoding_wraps():
    assert HUE_BINS.encode(1.0) == 0
    assert HUE_BINS.encode(-0.01) == 31
    assert HUE_BINS.encode(2.5) == HUE_BINS.encode(0.5)
    d = HUE_BINS.distance(0.0)
    assert d[0] == pytest.approx(-1 / 64) and d[31] == pytest.approx(1 / 64)


def test_one_hot():
    hot = CNN_AB_BINS.one_hot(np.array([[-95.0, 5.0], [200.0, 0.0]]))
    assert hot.shape == (2, 2, 10) and hot.dtype == np.float32
    np.testing.assert_array_equal(hot.argmax(-1), [[0, 5], [9, 5]])
    np.testing.assert_array_equal(hot.sum(-1), 1)


@SETTINGS
@given(st.floats(0, 1, exclude_max=True), st.floats(0.005, 0.2))
def test_soft_encode_properties(value, sigma):
    for bins in (HUE_BINS, CHROMA_BINS):
        soft = bins.soft_encode(value, sigma)
        assert soft.shape == (32,) and soft.dtype == np.float32
        assert soft.sum() == pytest.approx(1.0, abs=1e-5)
        nearest = np.argmin(np.abs(bins.distance(value)))
        assert soft[nearest] == pytest.approx(soft.max())


def test_soft_encode_is_circular():
    soft = HUE_BINS.soft_encode(0.0, sigma=1 / 32)
    assert soft[0] == pytest.approx(soft[31])  # 0 is on the edge between the last and first bin
    assert soft[1] == pytest.approx(soft[30])
    linear = CHROMA_BINS.soft_encode(0.0, sigma=1 / 32)
    assert linear[31] < 1e-6


def test_soft_encode_far_outside_range_does_not_underflow():
    soft = CNN_AB_BINS.soft_encode(np.array([1e6, -1e6]), sigma=1.0)
    np.testing.assert_allclose(soft.sum(-1), 1)
    assert soft[0, 9] == 1 and soft[1, 0] == 1


def test_bins_validation():
    with pytest.raises(ValueError, match="strictly increasing"):
        Bins(np.array([0.0, 1.0, 1.0]), np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="centers"):
        Bins(np.array([0.0, 1.0, 2.0]), np.array([0.5]))
    with pytest.raises(ValueError, match="inside its bin"):
        Bins(np.array([0.0, 1.0, 2.0]), np.array([0.5, 2.5]))
    with pytest.raises(ValueError, match="k must"):
        uniform_bins(0, 1, 0)
    with pytest.raises(ValueError, match="low < high"):
        uniform_bins(1, 0, 3)
    with pytest.raises(ValueError, match="enclose"):
        gaussian_quantile_bins(32, low=-10.0)
    with pytest.raises(ValueError, match="NaN"):
        CHROMA_BINS.encode([0.1, np.nan])
    with pytest.raises(ValueError, match="sigma"):
        CHROMA_BINS.soft_encode(0.1, sigma=0)


def test_bins_are_immutable_comparable_and_serialisable():
    with pytest.raises(ValueError):
        LAB_AB_BINS.edges[0] = 0.0
    again = Bins.from_dict(json.loads(json.dumps(LAB_AB_BINS.to_dict())))
    assert again == LAB_AB_BINS and hash(again) == hash(LAB_AB_BINS)
    assert HUE_BINS != CHROMA_BINS  # same edges, different circularity
    joint = JointBins.from_dict(json.loads(json.dumps(LAB_JOINT_BINS.to_dict())))
    assert joint == LAB_JOINT_BINS


def test_joint_bins():
    joint = joint_ab_bins(16)
    assert isinstance(joint, tuple) and len(joint) == 2
    values = np.array([[0.0, 0.0], [-200.0, 200.0], [10.0, -30.0]])
    i, j = joint.encode_pair(values)
    np.testing.assert_array_equal(joint.encode(values), i * 16 + j)
    np.testing.assert_array_equal(joint.encode(values)[:2], [8 * 16 + 8, 15])
    np.testing.assert_allclose(joint.decode(joint.encode(values)), joint.centers[i, j])
    hot = joint.one_hot(values)
    assert hot.shape == (3, 16, 16) and hot[2, i[2], j[2]] == 1 and hot.sum() == 3
    soft = joint.soft_encode(values, sigma=5.0)
    np.testing.assert_allclose(soft.sum(axis=(-2, -1)), 1, atol=1e-5)
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        joint.encode(np.zeros((3, 3)))


# -- discretized mixture of logistics ---------------------------------------------------------


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("module", ["core.binning"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
