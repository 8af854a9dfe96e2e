"""Tests of the two-branch training of C (He et al. 2018, §3.2) and its pair sampler.

Tiny random networks and toy batches: no data set, no trained weights, no timing.
"""

import numpy as np
import pytest
from colorize_exemplar.pairs import (
    DEFAULT_MIX,
    KINDS,
    PairSampler,
    class_neighbours,
    global_descriptors,
)

torch = pytest.importorskip("torch")

from colorize_exemplar.model import COLOR_IN, ColorNet, ColourLossNet  # noqa: E402
from colorize_exemplar.train import (  # noqa: E402
    branch_losses,
    calibrate_alpha,
    perceptual_loss,
)


def _loss_net() -> ColourLossNet:
    """The colour EfficientNet-Lite0 architecture with random weights (no weights file)."""
    from training.backbone import EfficientNetLite0

    torch.manual_seed(0)
    net = EfficientNetLite0()
    # non-trivial batch-norm statistics, then frozen as in training
    with torch.no_grad():
        net.train()
        for _ in range(3):
            net.pyramid(torch.randn(8, 3, 32, 32))
    return ColourLossNet(net)


def _lab(n: int, size: int = 32, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    lightness = torch.rand(n, 1, size, size, generator=g) * 100
    ab = (torch.rand(n, 2, size, size, generator=g) - 0.5) * 80
    return torch.cat([lightness, ab], 1)


def test_perceptual_loss_is_zero_for_the_truth_and_grows_with_a_chroma_change():
    net = _loss_net()
    lab = _lab(4)
    lightness, ab = lab[:, :1], lab[:, 1:]
    assert perceptual_loss(net, lightness, ab, ab).item() == 0.0
    shift = torch.tensor([1.0, -1.0]).view(1, 2, 1, 1)
    losses = [perceptual_loss(net, lightness, ab + d * shift, ab).item() for d in (5, 20, 60)]
    assert 0 < losses[0] < losses[1] < losses[2]


def test_perceptual_loss_sees_chroma_the_gray_input_would_not():
    net = _loss_net()
    lab = _lab(2)
    gray = torch.zeros_like(lab[:, 1:])
    assert perceptual_loss(net, lab[:, :1], gray, lab[:, 1:]).item() > 0


def _toy_batch():
    g = torch.Generator().manual_seed(1)
    x_c = torch.randn(3, COLOR_IN, 32, 32, generator=g).requires_grad_(True)
    x_p = torch.randn(3, COLOR_IN, 32, 32, generator=g).requires_grad_(True)
    return (x_c, _lab(3, seed=2)[:, 1:]), (x_p, _lab(3, seed=3))


def test_each_loss_reaches_only_its_own_half_of_the_batch():
    torch.manual_seed(0)
    net, loss_net = ColorNet(width=4), _loss_net()
    (x_c, ab_c), (x_p, lab_p) = _toy_batch()
    l_chrom, l_perc, pred = branch_losses(net, loss_net, (x_c, ab_c), (x_p, lab_p))
    assert pred.shape == (6, 2, 32, 32)
    (g_chrom,) = torch.autograd.grad(l_chrom, pred, retain_graph=True)
    (g_perc,) = torch.autograd.grad(l_perc, pred, retain_graph=True)
    # the chrominance loss (Eq. 4) reaches the chrominance half only ...
    assert g_chrom[:3].abs().sum() > 0 and g_chrom[3:].abs().sum() == 0
    # ... and the perceptual loss (Eq. 6) the perceptual half only
    assert g_perc[3:].abs().sum() > 0 and g_perc[:3].abs().sum() == 0
    # Eq. 7: the total's gradient on each half is that branch's own, alpha-weighted
    alpha = 0.3
    (g_total,) = torch.autograd.grad(l_chrom + alpha * l_perc, pred)
    torch.testing.assert_close(g_total[:3], g_chrom[:3])
    torch.testing.assert_close(g_total[3:], alpha * g_perc[3:])


@pytest.mark.parametrize("joint", [True, False])
def test_the_chrominance_loss_does_not_depend_on_the_perceptual_half(joint):
    torch.manual_seed(0)
    net, loss_net = ColorNet(width=4), _loss_net()
    if joint:
        net.eval()  # one joint pass couples the halves through batch statistics only
    (x_c, ab_c), (x_p, lab_p) = _toy_batch()
    first = branch_losses(net, loss_net, (x_c, ab_c), (x_p, lab_p), joint=joint)[0]
    second = branch_losses(net, loss_net, (x_c, ab_c), (x_p * 3 + 1, lab_p.flip(0)), joint=joint)
    assert first.item() == pytest.approx(second[0].item(), rel=1e-6)
    if not joint:  # separate passes: not even the weight gradients mix
        params = list(net.parameters())
        g_first = torch.autograd.grad(first, params)
        g_second = torch.autograd.grad(second[0], params)
        for a, b in zip(g_first, g_second, strict=True):
            torch.testing.assert_close(a, b)


def test_chrominance_only_when_there_is_no_perceptual_half():
    net = ColorNet(width=4)
    (x_c, ab_c), _ = _toy_batch()
    l_chrom, l_perc, pred = branch_losses(net, None, (x_c, ab_c), None)
    assert l_chrom.item() > 0 and l_perc.item() == 0 and len(pred) == 3


def test_alpha_calibration_equalises_gradient_norms():
    torch.manual_seed(0)
    net, loss_net = ColorNet(width=4), _loss_net()
    batch = _toy_batch()
    alpha = calibrate_alpha(net, loss_net, [batch])
    params = list(net.parameters())
    l_chrom, l_perc, _ = branch_losses(net, loss_net, *batch)
    g_c = torch.autograd.grad(l_chrom, params, retain_graph=True, allow_unused=True)
    g_p = torch.autograd.grad(alpha * l_perc, params, allow_unused=True)
    norm = lambda gs: torch.sqrt(sum((g**2).sum() for g in gs if g is not None)).item()  # noqa: E731
    assert alpha > 0
    assert norm(g_p) == pytest.approx(norm(g_c), rel=1e-2)  # float32 through EfficientNet


# -- the pair sampler (§3.2.3) -------------------------------------------------------------


def _toy_set(seed: int = 0):
    rng = np.random.default_rng(seed)
    classes = np.repeat(np.arange(4), 25)  # 4 classes of 25 photos
    sources = np.arange(100)
    sources[75:] = 75 + np.arange(25) // 5  # class 3: five crops from each of 5 photos
    descriptors = rng.standard_normal((100, 8)).astype(np.float32)
    return classes, sources, class_neighbours(descriptors, classes, sources, 3)


def test_neighbours_stay_in_class_and_leave_the_own_photo_out():
    classes, sources, table = _toy_set()
    assert table.shape == (100, 3) and (table >= 0).all()
    rows = np.arange(100)[:, None]
    assert (classes[table] == classes[rows]).all()
    assert (sources[table] != sources[rows]).all()


def test_neighbours_are_the_most_similar():
    d = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.2, 0.8], [0.7, 0.3]], np.float32)
    table = class_neighbours(d, np.zeros(5, int), np.arange(5), 2)
    assert table[0].tolist() == [1, 4]
    assert table[2].tolist() == [3, 4]


def test_sampler_draws_the_configured_mixture_deterministically():
    classes, sources, table = _toy_set()
    targets = np.random.default_rng(1).integers(0, 100, 20_000)
    mix = (0.6, 0.3, 0.1)
    refs, kinds = PairSampler(classes, sources, table, mix=mix, seed=7).sample(targets)
    shares = np.bincount(kinds, minlength=3) / len(kinds)
    np.testing.assert_allclose(shares, mix, atol=0.015)
    again, kinds_again = PairSampler(classes, sources, table, mix=mix, seed=7).sample(targets)
    np.testing.assert_array_equal(refs, again)
    np.testing.assert_array_equal(kinds, kinds_again)
    other, _ = PairSampler(classes, sources, table, mix=mix, seed=8).sample(targets)
    assert (other != refs).any()
    # every kind draws what it says, and never the target's own photo
    assert (sources[refs] != sources[targets]).all()
    neighbour = kinds == KINDS.index("neighbour")
    assert all(r in table[t] for r, t in zip(refs[neighbour], targets[neighbour], strict=True))
    same = kinds == KINDS.index("same-class")
    assert (classes[refs[same]] == classes[targets[same]]).all()
    random = kinds == KINDS.index("random")
    assert (classes[refs[random]] != classes[targets[random]]).any()


def test_sampler_single_kind_mixtures():
    classes, sources, table = _toy_set()
    targets = np.arange(100)
    for k in range(3):
        mix = np.eye(3)[k]
        _, kinds = PairSampler(classes, sources, table, mix=mix, seed=0).sample(targets)
        assert (kinds == k).all()


def test_sampler_falls_back_to_random_without_neighbours():
    classes, sources, _ = _toy_set()
    empty = np.full((100, 3), -1)
    refs, kinds = PairSampler(classes, sources, empty, mix=(1, 0, 0), seed=0).sample(np.arange(100))
    assert (kinds == KINDS.index("random")).all()
    assert (sources[refs] != sources[np.arange(100)]).all()


@pytest.mark.parametrize("mix", [(0.5, 0.5), (0.5, 0.6, -0.1), (0.2, 0.2, 0.2)])
def test_sampler_rejects_a_bad_mixture(mix):
    classes, sources, table = _toy_set()
    with pytest.raises(ValueError, match="mixture weights"):
        PairSampler(classes, sources, table, mix=mix)


def test_default_mix_is_the_papers():
    assert DEFAULT_MIX == (0.45, 0.45, 0.10) and sum(DEFAULT_MIX) == pytest.approx(1)


def test_global_descriptors_shape_and_bad_input():
    levels = [np.random.default_rng(0).random((3, c, 4, 4)) for c in (2, 5)]
    d = global_descriptors(levels)
    assert d.shape == (3, 7) and d.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(d[:, :2], axis=1), 1, rtol=1e-5)
    with pytest.raises(ValueError, match=r"expected \(N, C, h, w\)"):
        global_descriptors([np.ones((3, 4))])


def test_extra_crops_one_per_photo_labelled_by_source(tmp_path):
    """``cache --extra``: one SIDE-px crop a usable photo, the source as its class; photos
    smaller than SIDE, gray or unreadable are left out."""
    from colorize_exemplar.train import SIDE, load_extra_crops
    from PIL import Image

    rng = np.random.default_rng(0)
    photos = {"people": [(200, 300), (180, 160)], "pets": [(150, 170), (90, 200)]}
    for source, sizes in photos.items():
        (tmp_path / source).mkdir()
        for i, (h, w) in enumerate(sizes):
            Image.fromarray((rng.random((h, w, 3)) * 255).astype(np.uint8)).save(
                tmp_path / source / f"{i}.png")
        (tmp_path / source / "gray.png").write_bytes(b"")
        names = [f"{source}/{i}.png" for i in range(len(sizes))] + [f"{source}/gray.png"]
        (tmp_path / f"{source}.txt").write_text("\n".join(names))
    crops, labels = load_extra_crops(tmp_path, 10, np.random.default_rng(0))
    # pets/1 is 90 px on its short side (< SIDE at any scale): left out, as the broken file
    assert crops.shape == (3, SIDE, SIDE, 3) and crops.dtype == np.uint8
    assert labels.tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="no usable extra photos"):
        load_extra_crops(tmp_path, 0, np.random.default_rng(0))
