"""Decoders (Larsson Sec. 3.3, Table 5), chromatic fading (Eq. 5) and decode_prediction."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import decoders as dec
from core.binning import (
    CHROMA_BINS,
    CNN_AB_BINS,
    HUE_BINS,
    LAB_AB_BINS,
    LAB_JOINT_BINS,
    uniform_bins,
)
from core.decoders import (
    Decoder,
    annealed_mean,
    chromatic_fading,
    decode_prediction,
    decoder_names,
    expectation,
    get_decoder,
    hue_concentration,
    median,
    mode,
    sample,
    sample_once,
)
from core.distributions import Distribution
from core.errors import UnknownNameError


@pytest.fixture(scope="module", autouse=True)
def _isolated(builtins_only_registry):
    """Only the core's built-ins: other installed plugins must not affect these tests."""


SETTINGS = settings(max_examples=30, deadline=None)
NAMES = ["sample", "sample-once", "mode", "median", "expectation", "annealed-mean"]


def _dist(probs, bins, channel="x", space="test"):
    return Distribution(np.asarray(probs, np.float32), bins, space, channel)


def _random(seed, bins, shape=(3, 4), alpha=0.5):
    probs = np.random.default_rng(seed).dirichlet(np.full(bins.k, alpha), size=shape)
    return _dist(probs, bins)


def _one_hot(index, bins):
    probs = np.zeros((1, len(index), bins.k), np.float32)
    probs[0, np.arange(len(index)), index] = 1
    return _dist(probs, bins)


# -- properties -------------------------------------------------------------------------------


@SETTINGS
@given(
    st.integers(0, 10_000),
    st.sampled_from(["sample", "sample-once", "mode", "median", "expectation", "annealed-mean"]),
    st.sampled_from([LAB_AB_BINS, CNN_AB_BINS, CHROMA_BINS]),
)
def test_output_inside_bin_range(seed, name, bins):
    out = get_decoder(name)(_random(seed, bins), seed=seed)
    assert out.shape == (3, 4) and out.dtype == np.float32
    assert np.all(out >= bins.low) and np.all(out <= bins.high)


@SETTINGS
@given(
    st.integers(0, 10_000),
    st.sampled_from(["sample", "sample-once", "mode", "expectation", "annealed-mean"]),
)
def test_circular_output_inside_range(seed, name):
    out = get_decoder(name)(_random(seed, HUE_BINS), seed=seed)
    assert np.all(out >= 0) and np.all(out < 1)


@SETTINGS
@given(
    st.lists(st.integers(0, 31), min_size=1, max_size=8),
    st.sampled_from([HUE_BINS, CHROMA_BINS, LAB_AB_BINS]),
)
def test_mode_equals_expectation_on_one_hot(index, bins):
    d = _one_hot(index, bins)
    np.testing.assert_allclose(mode(d), expectation(d), atol=1e-5)
    np.testing.assert_allclose(mode(d)[0], bins.centers[index], atol=1e-6)
    np.testing.assert_allclose(annealed_mean(d), mode(d), atol=1e-5)


@SETTINGS
@given(st.integers(0, 10_000), st.integers(1, 31))
def test_circular_expectation_invariant_to_rotating_bins(seed, shift):
    """Rotating the histogram by r bins rotates the circular mean by r bin widths."""
    d = _random(seed, HUE_BINS, alpha=2.0)
    rotated = _dist(np.roll(d.probs, shift, axis=-1), HUE_BINS)
    gap = (expectation(rotated) - expectation(d) - shift / 32) % 1.0
    assert np.all(np.minimum(gap, 1 - gap) < 1e-4)


@SETTINGS
@given(st.integers(0, 10_000), st.floats(0.001, 0.2))
def test_fading_never_increases_chroma(seed, eta):
    hue = _random(seed, HUE_BINS)
    chroma = np.random.default_rng(seed).uniform(0, 1, (3, 4)).astype(np.float32)
    faded = chromatic_fading(hue, chroma, eta=eta)
    assert np.all(faded <= chroma) and np.all(faded >= 0)


# -- reference values ---------------------------------------------------------------------------


def test_median_reference_values():
    bins = uniform_bins(0.0, 3.0, 3)
    d = _dist([[[0.2, 0.6, 0.2], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.25, 0.25, 0.5]]], bins)
    # CDF is piecewise linear between edges: crosses 1/2 at 1.5, 1.0, 2.5, 2.0.
    np.testing.assert_allclose(median(d)[0], [1.5, 1.0, 2.5, 2.0], atol=1e-6)


def test_median_is_undefined_for_hue():
    with pytest.raises(ValueError, match="undefined for the circular"):
        median(_random(0, HUE_BINS))


def test_expectation_reference_values():
    d = _dist([[[0.5, 0.5] + [0] * 8, [0.0] * 9 + [1.0]]], CNN_AB_BINS)
    np.testing.assert_allclose(expectation(d)[0], [-80.0, 90.0])
    # Hue: half the mass just below 1, half just above 0: the circular mean is red, not cyan.
    hue = np.zeros((1, 1, 32), np.float32)
    hue[0, 0, [0, 31]] = 0.5
    value = expectation(_dist(hue, HUE_BINS))[0, 0]
    assert min(value, 1 - value) < 1e-6


def test_hue_concentration_and_fading_reference():
    """|z| of Eq. 4 includes 1/K: one-hot gives 1/32 (> eta: no fading), uniform gives 0."""
    hue = np.zeros((1, 2, 32), np.float32)
    hue[0, 0, 7] = 1
    hue[0, 1] = 1 / 32
    d = _dist(hue, HUE_BINS)
    np.testing.assert_allclose(hue_concentration(d), [[1 / 32, 0]], atol=1e-7)
    np.testing.assert_allclose(chromatic_fading(d, np.array([[0.8, 0.8]])), [[0.8, 0.0]], atol=1e-6)
    half = np.zeros((1, 1, 32), np.float32)
    half[0, 0, [0, 1]] = 0.5  # |z| = cos(pi / 32) / 32 = 0.03110
    concentration = np.cos(np.pi / 32) / 32
    np.testing.assert_allclose(
        hue_concentration(_dist(half, HUE_BINS)), [[concentration]], rtol=1e-6
    )
    faded = chromatic_fading(_dist(half, HUE_BINS), np.array([[1.0]]), eta=0.0312)
    np.testing.assert_allclose(faded, [[concentration / 0.0312]], rtol=1e-5)
    with pytest.raises(ValueError, match="circular"):
        hue_concentration(_random(0, CHROMA_BINS))
    with pytest.raises(ValueError, match="eta"):
        chromatic_fading(d, np.zeros((1, 2)), eta=0)


def test_annealed_mean_temperature():
    d = _random(3, LAB_AB_BINS)
    np.testing.assert_allclose(annealed_mean(d, temperature=1.0), expectation(d), atol=1e-4)
    np.testing.assert_allclose(annealed_mean(d, temperature=0.002), mode(d), atol=1e-3)
    with pytest.raises(ValueError, match="temperature"):
        annealed_mean(d, temperature=0)


def test_sample_is_reproducible_and_follows_probabilities():
    probs = np.tile(np.array([0.1, 0.2, 0.7] + [0.0] * 7, np.float32), (100, 100, 1))
    d = _dist(probs, CNN_AB_BINS)
    a, b = sample(d, seed=5), sample(d, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sample(d, seed=6))
    freq = [np.mean(a == c) for c in CNN_AB_BINS.centers[:3]]
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.02)


def test_sample_once_shares_one_quantile():
    probs = np.tile(np.array([0.5, 0.5] + [0.0] * 8, np.float32), (8, 8, 1))
    out = sample_once(_dist(probs, CNN_AB_BINS), seed=1)
    assert np.unique(out).size == 1
    np.testing.assert_array_equal(out, sample_once(_dist(probs, CNN_AB_BINS), seed=1))
    values = {float(sample_once(_dist(probs, CNN_AB_BINS), seed=s)[0, 0]) for s in range(20)}
    assert values == {-90.0, -70.0}


def test_joint_decoding():
    probs = np.zeros((1, 1, 16, 16), np.float32)
    probs[0, 0, 3, 12] = 0.6
    probs[0, 0, 10, 1] = 0.4
    d = Distribution(probs, LAB_JOINT_BINS, "lab", "ab")
    first, second = LAB_JOINT_BINS
    np.testing.assert_allclose(mode(d)[0, 0], [first.centers[3], second.centers[12]], rtol=1e-6)
    expected = 0.6 * np.array([first.centers[3], second.centers[12]]) + 0.4 * np.array(
        [first.centers[10], second.centers[1]]
    )
    np.testing.assert_allclose(expectation(d)[0, 0], expected, rtol=1e-5)
    for name in NAMES:
        out = get_decoder(name)(d, seed=0)
        assert out.shape == (1, 1, 2)
    samples = {tuple(sample(d, seed=s)[0, 0].round(3)) for s in range(30)}
    cells = [(first.centers[3], second.centers[12]), (first.centers[10], second.centers[1])]
    assert samples == {tuple(np.float32(cell).round(3)) for cell in cells}


# -- decode_prediction ---------------------------------------------------------------------------


@pytest.fixture
def huechroma():
    rng = np.random.default_rng(0)
    return {
        "hue": _dist(rng.dirichlet(np.full(32, 0.3), size=(5, 6)), HUE_BINS, "hue", "huechroma"),
        "chroma": _dist(
            rng.dirichlet(np.full(32, 0.3), size=(5, 6)), CHROMA_BINS, "chroma", "huechroma"
        ),
    }


TABLE_5 = [
    "hue=sample,chroma=sample",
    "hue=mode,chroma=mode",
    "hue=expectation,chroma=expectation",
    "hue=expectation,chroma=expectation+fading",
    "hue=expectation,chroma=median",
    "hue=expectation+fading,chroma=median",
]


@pytest.mark.parametrize("spec", TABLE_5)
def test_table_5_rows(huechroma, spec):
    out = decode_prediction(huechroma, ("hue", "chroma"), spec, seed=0)
    assert out.shape == (5, 6, 2) and out.dtype == np.float32
    hue_name = spec.split(",")[0].split("=")[1].split("+")[0]
    chroma_name = spec.split(",")[1].split("=")[1].split("+")[0]
    np.testing.assert_allclose(
        out[..., 0],
        get_decoder(hue_name)(huechroma["hue"], seed=np.random.SeedSequence(0).spawn(2)[0]),
    )
    chroma = get_decoder(chroma_name)(
        huechroma["chroma"], seed=np.random.SeedSequence(0).spawn(2)[1]
    )
    if "fading" in spec:
        faded = chromatic_fading(huechroma["hue"], chroma)
        assert np.all(faded <= chroma) and np.any(faded < chroma)
        chroma = faded
    np.testing.assert_allclose(out[..., 1], chroma)


def test_single_decoder_for_both_channels():
    rng = np.random.default_rng(1)
    a = _dist(rng.dirichlet(np.ones(32), size=(2, 3)), LAB_AB_BINS, "a", "lab")
    b = _dist(rng.dirichlet(np.ones(32), size=(2, 3)), LAB_AB_BINS, "b", "lab")
    out = decode_prediction({"a": a, "b": b}, ("a", "b"), "expectation")
    np.testing.assert_allclose(out, np.stack([expectation(a), expectation(b)], -1))
    np.testing.assert_allclose(
        decode_prediction({"b": b, "a": a}, ("b", "a"), "mode"), np.stack([mode(b), mode(a)], -1)
    )


def test_joint_key_is_decoded_jointly():
    rng = np.random.default_rng(2)
    joint = Distribution(
        rng.dirichlet(np.ones(256), size=(2, 3)).reshape(2, 3, 16, 16), LAB_JOINT_BINS, "lab", "ab"
    )
    out = decode_prediction({"ab": joint}, ("a", "b"), "mode")
    np.testing.assert_allclose(out, mode(joint))
    mixed = decode_prediction({"ab": joint}, ("a", "b"), "a=median,b=expectation")
    np.testing.assert_allclose(mixed[..., 0], median(joint.marginal(0)))
    np.testing.assert_allclose(mixed[..., 1], expectation(joint.marginal(1)), atol=1e-4)


def test_seeded_sampling_is_reproducible(huechroma):
    one = decode_prediction(huechroma, ("hue", "chroma"), "sample", seed=11)
    np.testing.assert_array_equal(
        one, decode_prediction(huechroma, ("hue", "chroma"), "sample", seed=11)
    )
    assert not np.array_equal(
        one, decode_prediction(huechroma, ("hue", "chroma"), "sample", seed=12)
    )


def test_decode_prediction_errors(huechroma):
    channels = ("hue", "chroma")
    with pytest.raises(ValueError, match="default decoder explicitly"):
        decode_prediction(huechroma, channels, None)
    with pytest.raises(UnknownNameError) as info:
        decode_prediction(huechroma, channels, "medain")
    assert (
        info.value.kind == "decoder"
        and "median" in str(info.value)
        and isinstance(info.value, KeyError)
    )
    with pytest.raises(ValueError, match="does not cover"):
        decode_prediction(huechroma, channels, "hue=mode")
    with pytest.raises(ValueError, match="not '<channel>=<decoder>'"):
        decode_prediction(huechroma, channels, "hue=mode,saturation=mode")
    with pytest.raises(ValueError, match="modifier"):
        decode_prediction(huechroma, channels, "mode+sparkle")
    with pytest.raises(ValueError, match="undefined"):
        decode_prediction(huechroma, channels, "median")
    with pytest.raises(ValueError, match="no distribution"):
        decode_prediction(huechroma, ("a", "b"), "mode")
    lab = {"a": _random(0, LAB_AB_BINS), "b": _random(1, LAB_AB_BINS)}
    with pytest.raises(ValueError, match="fading"):
        decode_prediction(lab, ("a", "b"), "expectation+fading")


def test_registry_and_plain_functions():
    assert set(NAMES) <= set(decoder_names())
    for name in NAMES:
        decoder = get_decoder(name)
        assert isinstance(decoder, Decoder) and decoder.name == name and callable(decoder)
    assert get_decoder("sample").stochastic and not get_decoder("mode").stochastic
    with pytest.raises(UnknownNameError, match="installed: .*expectation"):
        get_decoder("nope")
    with pytest.raises(TypeError, match="Distribution"):
        get_decoder("mode")(np.zeros((2, 2, 32)))
    assert dec.BUILTIN_DECODERS[2].function is mode  # plain functions, no registry needed


def test_decoders_do_not_import_torch():
    code = (
        "import sys, numpy as np; from core.decoders import decode_prediction; "
        "import core.transfer, "
        "core.metrics; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("module", ["core.decoders"])
def test_docstring_examples(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
