"""Colour transfer: quantile matching, energy minimisation (Eq. 6), Reinhard, rotated biases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import transfer as tr
from core.binning import CHROMA_BINS, HUE_BINS, LAB_AB_BINS, LAB_JOINT_BINS
from core.colorspaces import rgb_to_lab
from core.distributions import Distribution
from core.transfer import (
    Transfer,
    apply_bias,
    energy_minimisation,
    fit_histogram_bias,
    get_transfer,
    quantile_matching,
    reference_histogram,
    reinhard,
    rotated_bias,
    transfer_names,
)


@pytest.fixture(scope="module", autouse=True)
def _isolated(builtins_only_registry):
    """Only the core's built-ins: other installed plugins must not affect these tests."""


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:40, 0:50] / 50.0
    source = np.stack([0.3 + 0.4 * x, 0.4 + 0.2 * y, 0.5 - 0.3 * x * y], -1)
    source = np.clip(source + rng.normal(0, 0.03, source.shape), 0.05, 0.95)
    y, x = np.mgrid[0:30, 0:35] / 35.0
    reference = np.stack([0.7 - 0.3 * y, 0.3 + 0.1 * x, 0.2 + 0.2 * y], -1)
    reference = np.clip(reference + rng.normal(0, 0.05, reference.shape), 0.05, 0.95)
    return source, reference


def _lab_dists(seed, shape=(24, 32)):
    rng = np.random.default_rng(seed)
    return {
        c: Distribution.from_logits(rng.normal(0, 2, (*shape, 32)), LAB_AB_BINS, "lab", c)
        for c in ("a", "b")
    }


# -- quantile matching --------------------------------------------------------------------------


def test_quantile_matching_with_itself_is_identity(images):
    source, _ = images
    np.testing.assert_allclose(quantile_matching(source, source), source, atol=1e-6)


def test_quantile_matching_takes_the_reference_marginals(images):
    """After matching, the lightness-normalised channels have the reference's quantiles."""
    source, reference = images
    out = quantile_matching(source, reference, clip=False).astype(np.float64)
    eps = 1e-4
    ratio = out / (source.mean(-1, keepdims=True) + eps)
    ref_ratio = reference / (reference.mean(-1, keepdims=True) + eps)
    q = np.linspace(0.05, 0.95, 7)
    for c in range(3):
        np.testing.assert_allclose(
            np.quantile(ratio[..., c], q), np.quantile(ref_ratio[..., c], q), atol=0.02
        )


def test_quantile_matching_keeps_ties_together():
    source = np.full((4, 4, 3), 0.5)
    source[:2] = [0.8, 0.2, 0.2]
    reference = np.random.default_rng(1).uniform(0.1, 0.9, (5, 5, 3))
    out = quantile_matching(source, reference)
    assert np.unique(out[:2].reshape(-1, 3), axis=0).shape[0] == 1


# -- Reinhard -----------------------------------------------------------------------------------


def test_reinhard_matches_mean_and_std(images):
    source, reference = images
    out = reinhard(source, reference, clip=False).astype(np.float64)
    got = tr._to_lalphabeta(out, 1e-4).reshape(-1, 3)
    want = tr._to_lalphabeta(reference, 1e-4).reshape(-1, 3)
    np.testing.assert_allclose(got.mean(0), want.mean(0), atol=1e-4)
    np.testing.assert_allclose(got.std(0), want.std(0), rtol=1e-3)


def test_reinhard_preserve_lightness(images):
    source, reference = images
    out = reinhard(source, reference, preserve_lightness=True, clip=False).astype(np.float64)
    np.testing.assert_allclose(
        tr._to_lalphabeta(out, 1e-4)[..., 0], tr._to_lalphabeta(source, 1e-4)[..., 0], atol=1e-5
    )
    np.testing.assert_allclose(reinhard(source, source, clip=False), source, atol=1e-5)


def test_rgb_transfers_validate_input(images):
    source, _ = images
    for func in (quantile_matching, reinhard):
        with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
            func(source[..., 0], source)
        with pytest.raises(ValueError, match="empty"):
            func(source, source[:0])


# -- energy minimisation --------------------------------------------------------------------------


def test_energy_and_gradient_are_correct():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.full(8, 0.5), size=200)
    t = rng.dirichlet(np.ones(8))
    t[3] = 0
    t /= t.sum()
    energy = tr._Energy(p, t, 5.0)
    b = rng.normal(0, 0.7, 8)
    value, chi2, state = energy.value(b)
    # Direct evaluation of Eq. 6.
    q = p * np.exp(b)
    q /= q.sum(1, keepdims=True)
    kl = np.mean(np.sum(q * (np.log(q) - np.log(p)), axis=1))
    h = q.mean(0)
    direct_chi2 = np.sum((h - t) ** 2 / (h + t))
    assert chi2 == pytest.approx(direct_chi2, rel=1e-5)
    assert value == pytest.approx(kl + 5.0 * direct_chi2, rel=1e-5)
    grad = energy.gradient(b, state)
    step = 1e-3
    numeric = [
        (energy.value(b + step * e)[0] - energy.value(b - step * e)[0]) / (2 * step)
        for e in np.eye(8)
    ]
    np.testing.assert_allclose(grad, numeric, atol=5e-4)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([1.0, 10.0, 100.0]))
def test_fit_lowers_the_energy_and_the_distance(seed, weight):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(16, 0.3), size=500)
    t = rng.dirichlet(np.ones(16))
    fit = fit_histogram_bias(p, t, weight=weight)
    start = tr._Energy(p, t, weight).value(np.zeros(16))
    assert fit.energy <= start[0] + 1e-9
    assert fit.chi2 <= start[1] + 1e-9
    assert fit.bias.shape == (16,) and abs(fit.bias.mean()) < 1e-9


def test_fit_matches_target_and_methods_agree():
    d = _lab_dists(3)["a"]
    t = np.exp(-0.5 * ((np.arange(32) - 20) / 3.0) ** 2)
    t /= t.sum()
    gd = fit_histogram_bias(d, t, weight=10.0)
    lb = fit_histogram_bias(d, t, weight=10.0, method="lbfgs")
    assert gd.converged and gd.chi2 < 0.02
    assert gd.energy == pytest.approx(lb.energy, rel=1e-3)
    posterior = apply_bias(d, gd.bias)
    before = d.flat_probs().mean(0)
    after = posterior.flat_probs().mean(0)
    assert np.abs(after - t).sum() < 0.3 * np.abs(before - t).sum()


def test_zero_weight_keeps_predictions():
    d = _lab_dists(4)["b"]
    fit = fit_histogram_bias(d, np.full(32, 1 / 32), weight=0.0)
    np.testing.assert_allclose(apply_bias(d, fit.bias).probs, d.probs, atol=1e-3)
    np.testing.assert_allclose(apply_bias(d, np.zeros(32)).probs, d.probs, atol=1e-6)


def test_joint_energy_minimisation():
    rng = np.random.default_rng(5)
    joint = Distribution.from_logits(rng.normal(0, 2, (16, 16, 256)), LAB_JOINT_BINS, "lab", "ab")
    target = rng.dirichlet(np.ones(256)).reshape(16, 16)
    out = energy_minimisation(joint, target)
    assert isinstance(out, Distribution) and out.is_joint and out.probs.shape == joint.probs.shape
    before = np.abs(joint.probs.mean(axis=(0, 1)) - target).sum()
    assert np.abs(out.probs.mean(axis=(0, 1)) - target).sum() < before


def test_energy_minimisation_from_a_reference_image(images):
    """Marginals are fitted per channel, against the reference's histogram in their bins."""
    _, reference = images
    dists = _lab_dists(6)
    out = energy_minimisation(dists, reference)
    assert set(out) == {"a", "b"}
    ab = rgb_to_lab(reference)[..., 1:].reshape(-1, 2)
    for i, c in enumerate("ab"):
        target = np.bincount(LAB_AB_BINS.encode(ab[:, i]), minlength=32) / len(ab)
        np.testing.assert_allclose(reference_histogram(reference, dists[c]), target)
        gap_before = np.abs(dists[c].flat_probs().mean(0) - target).sum()
        assert np.abs(out[c].flat_probs().mean(0) - target).sum() < 0.5 * gap_before


def test_energy_minimisation_errors():
    dists = _lab_dists(7, shape=(4, 4))
    with pytest.raises(ValueError, match="no target histogram"):
        energy_minimisation(dists, {"a": np.ones(32)})
    with pytest.raises(ValueError, match="shape"):
        energy_minimisation(dists["a"], np.ones(31))
    with pytest.raises(ValueError, match="non-negative"):
        energy_minimisation(dists["a"], -np.ones(32))
    with pytest.raises(ValueError, match="method"):
        fit_histogram_bias(dists["a"], np.ones(32), method="newton")
    with pytest.raises(ValueError, match="bias with 32"):
        apply_bias(dists["a"], np.zeros(5))


# -- rotated bias ----------------------------------------------------------------------------------


def test_rotated_bias():
    hue = rotated_bias(HUE_BINS, angle=2 * np.pi * 0.25, strength=2.0)
    assert hue.shape == (32,) and hue.argmax() in (7, 8) and hue.max() <= 2.0
    joint = rotated_bias(LAB_JOINT_BINS, angle=np.pi / 2)
    assert joint.shape == (16, 16)
    np.testing.assert_allclose(joint[0], joint[5])  # depends on b only when pointing along +b
    first, second = rotated_bias(LAB_JOINT_BINS, angle=0.3, marginal=True)
    np.testing.assert_allclose(
        first[:, None] + second[None, :], rotated_bias(LAB_JOINT_BINS, angle=0.3)
    )
    with pytest.raises(ValueError, match="circular"):
        rotated_bias(CHROMA_BINS, 0.0)


def test_rotated_bias_steers_uncertain_hue_more():
    flat = np.full((1, 1, 32), 1 / 32, np.float32)
    sure = np.zeros((1, 1, 32), np.float32)
    sure[0, 0, 20] = 1.0
    bias = rotated_bias(HUE_BINS, angle=2 * np.pi * 0.25, strength=2.0)
    moved = apply_bias(Distribution(flat, HUE_BINS, "huechroma", "hue"), bias)
    kept = apply_bias(Distribution(sure, HUE_BINS, "huechroma", "hue"), bias)
    assert moved.probs[0, 0].argmax() in (7, 8)
    np.testing.assert_allclose(kept.probs, sure)


def test_transfers_are_registered():
    assert {"quantile-matching", "energy-minimisation", "reinhard"} <= set(transfer_names())
    for name, kind in [
        ("quantile-matching", "rgb"),
        ("reinhard", "rgb"),
        ("energy-minimisation", "distributions"),
    ]:
        transfer = get_transfer(name)
        assert (
            isinstance(transfer, Transfer)
            and transfer.name == name
            and transfer.operates_on == kind
        )
    source = np.full((3, 3, 3), 0.4)
    np.testing.assert_allclose(get_transfer("reinhard")(source, source), source, atol=1e-5)
