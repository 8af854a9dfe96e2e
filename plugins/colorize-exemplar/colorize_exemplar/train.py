"""Training and export of the colorization sub-net C (imports torch; never used at inference).

Usage (from the repository root; CPU, run with ``nice``)::

    python -m colorize_exemplar.train cache --pairs 6000 --out runs/exemplar-bb
    python -m colorize_exemplar.train colornet --max-minutes 35 --out runs/exemplar-bb
    python -m colorize_exemplar.train export --out runs/exemplar-bb

The matching features are the shared gray ImageNet backbone's
(:mod:`colorize_exemplar.features`), not trained here. Because they are fixed, C's inputs
can be computed **once**: ``cache`` runs the inference pipeline itself
(:meth:`colorize_exemplar.colorizer.ExemplarColorizer.coarse_inputs`: ONNX backbone,
matching, similarity maps of Eqs. 1-2, warped R'_ab on the 1/4 grid) for two pairs
per target and stores the 12 coarse maps (float16):

* a **chrominance** pair: the reference is a geometrically augmented copy of the target
  (flip, resized crop 0.6-1, rotation up to ±0.25 rad; the stand-in of the paper's fake
  reference T'_ab, Eq. 3);
* a **perceptual** pair: a real, different photo drawn by
  :class:`colorize_exemplar.pairs.PairSampler` (§3.2.3: neighbour / same class / random,
  45 / 45 / 10 %), the neighbours found with the **new** global descriptor of
  :func:`colorize_exemplar.recommend.describe` (the backbone's ``head``).

Training images: the 9,840 Tiny ImageNet val images (64 px, upsampled bicubically to
:data:`SIDE`) and ``--crops`` crops of :data:`SIDE` px from the 200 BSDS500 train photos
at a 192 px short side. No ``imagenet_sample`` photo (:func:`training.splits.held_out` keeps
half of them out of all training) and no BSDS500 val/test photo is used.

``colornet`` trains C on the cache with both branches of He et al. 2018, §3.2.4: half of
each batch chrominance (smooth-L1 to T_ab, Eq. 4), half perceptual (Eq. 6 through the
colour ImageNet network, :class:`~colorize_exemplar.model.ColourLossNet`), total
``L_chrom + alpha * L_perc`` (Eq. 7), with random horizontal flips (they mirror C's
input maps, the target and the mappings alike). C runs at **half** the working
resolution (:data:`C_SIDE`, as at inference: :meth:`ExemplarColorizer.align
<colorize_exemplar.colorizer.ExemplarColorizer.align>`): T_L area-averaged 2 x 2, the
coarse maps upsampled bilinearly 2x; the loss network sees P_Lab and T_Lab there too.
``export`` writes ``exemplar-colornet.onnx`` and the manifest. One torch thread by
default (``--threads``); checkpoints every ``--checkpoint-minutes``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from colorize_exemplar import MODELS_DIR
from colorize_exemplar.model import AB_SCALE, COLOR_IN, ColorNet, ColourLossNet
from colorize_exemplar.pairs import DEFAULT_MIX, KINDS, PairSampler, class_neighbours
from training.lab import rgb_to_lab

DATA = Path(os.environ.get("COLORIZE_DATA", "/work/shared/datasets"))
#: Side of the square training images (the working size of the method).
SIDE = 128
#: Stride of the matching grid (C's coarse maps are SIDE / GRID on a side).
GRID = 4
#: Side at which C runs (half the working size; :data:`colorize_exemplar.colorizer.C_SCALE`).
C_SIDE = SIDE // 2


def load_tiny_imagenet(limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, 64, 64, 3) uint8 images and (N,) int64 labels from ``tiny_imagenet``."""
    root = DATA / "tiny_imagenet"
    with open(root / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))[:limit]
    wnids = sorted({r["wnid"] for r in rows})
    index = {w: i for i, w in enumerate(wnids)}
    images = np.stack(
        [np.asarray(Image.open(root / "val" / r["file"]).convert("RGB")) for r in rows]
    )
    labels = np.array([index[r["wnid"]] for r in rows], np.int64)
    return images, labels


def load_bsds_crops(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``count`` SIDE-px crops of BSDS500 train photos at a 192 px short side; their photo."""
    paths = sorted((DATA / "bsds500" / "images" / "train").glob("*.jpg"))
    crops, sources = [], []
    for k, p in enumerate(paths):
        im = Image.open(p).convert("RGB")
        s = 192 / min(im.size)
        arr = np.asarray(im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.LANCZOS))
        for _ in range(count // len(paths) + 1):
            i = rng.integers(0, arr.shape[0] - SIDE + 1)
            j = rng.integers(0, arr.shape[1] - SIDE + 1)
            crops.append(arr[i : i + SIDE, j : j + SIDE])
            sources.append(k)
    return np.stack(crops[:count]), np.array(sources[:count], np.int64)


def load_extra_crops(
    dest: str | os.PathLike, per_source: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One SIDE-px crop (at a 160 px short side) of ``per_source`` photos of each source of
    ``extra_photos.py DEST`` (:func:`training.features.extra_items`, seeded); each photo's
    source index (0, 1, ... in the sources' sorted order)."""
    from training.data import decode_photo
    from training.features import extra_items

    paths = extra_items(dest, per_source=per_source)
    names = sorted({p.parent.name for p in paths})
    crops, labels = [], []
    for path in paths:
        rgb, problem = decode_photo(path, 160)
        if rgb is None or problem or min(rgb.shape[:2]) < SIDE:
            continue
        i = rng.integers(0, rgb.shape[0] - SIDE + 1)
        j = rng.integers(0, rgb.shape[1] - SIDE + 1)
        crops.append(rgb[i : i + SIDE, j : j + SIDE])
        labels.append(names.index(path.parent.name))
    if not crops:
        raise ValueError(f"{dest}: no usable extra photos")
    return np.stack(crops), np.array(labels, np.int64)


def training_images(
    crops: int, seed: int = 0, extra: str | os.PathLike | None = None, per_source: int = 400
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images (N, SIDE, SIDE, 3) uint8, class labels and source photos (see the module doc).

    With ``extra``, also one crop of ``per_source`` photos of each extra source (people,
    clothes, pets: :func:`load_extra_crops`); each extra source is a class of its own, so a
    perceptual pair's neighbour or same-class reference of a person is another person.
    """
    tiny, labels = load_tiny_imagenet()
    tiny = np.stack([cv2.resize(im, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC) for im in tiny])
    bsds, photos = load_bsds_crops(crops, np.random.default_rng(seed))
    images = [tiny, bsds]
    classes = [labels, np.full(len(bsds), labels.max() + 1)]
    sources = [np.arange(len(tiny)), len(tiny) + photos]
    if extra is not None:
        more, kinds = load_extra_crops(extra, per_source, np.random.default_rng([seed, 1]))
        images.append(more)
        classes.append(labels.max() + 2 + kinds)
        sources.append(len(tiny) + len(bsds) + np.arange(len(more)))
    return np.concatenate(images), np.concatenate(classes), np.concatenate(sources)


def augment(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A geometrically distorted copy: flip, resized crop (scale 0.6-1), rotation up to 0.25 rad."""
    h, w = rgb.shape[:2]
    angle = np.degrees(rng.uniform(-0.25, 0.25))
    scale = 1.0 / rng.uniform(0.6, 1.0)  # zoom in: the crop covers 0.6-1 of the side
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    room = (scale - 1) / scale * w / 2
    matrix[:, 2] += rng.uniform(-room, room, size=2)
    out = cv2.warpAffine(rgb, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return out[:, ::-1] if rng.random() < 0.5 else out


def build_cache(args) -> None:
    """C's coarse inputs for a chrominance and a perceptual pair per target (module doc).

    Writes ``cache.npz`` in ``--out``: ``images`` (uint8), ``classes``, ``sources``,
    ``targets``, ``references`` and ``kinds`` of the perceptual pairs, ``chrom`` and
    ``perc`` (P, 12, SIDE/4, SIDE/4) float16 maps, and ``record`` (JSON: the backbone and
    its sha256, counts, seconds). Saved every 1,000 targets, so a stopped run keeps what
    it made.
    """
    from tqdm import tqdm

    from colorize_exemplar import features as backbone_features
    from colorize_exemplar.colorizer import ExemplarColorizer
    from colorize_exemplar.recommend import describe
    from core.colorspaces.lab import rgb_to_lab as np_rgb_to_lab

    started = time.monotonic()
    out = Path(args.out)
    rng = np.random.default_rng(args.seed)
    images, classes, sources = training_images(args.crops, args.seed, args.extra,
                                               args.extra_per_source)
    colorizer = ExemplarColorizer()
    features = backbone_features.get().features
    lab = lambda rgb: np_rgb_to_lab(rgb.astype(np.float32) / 255.0)  # noqa: E731
    descriptors = np.stack(
        [
            describe(lab(im)[..., 0], features).global_raw
            for im in tqdm(images, desc="descriptors", unit="img")
        ]
    )
    table = class_neighbours(descriptors, classes, sources, args.neighbours)
    mix = tuple(float(v) for v in args.pair_mix.split(","))
    sampler = PairSampler(classes, sources, table, mix=mix, seed=args.seed)
    targets = rng.choice(len(images), min(args.pairs, len(images)), replace=False)
    references, kinds = sampler.sample(targets)
    grid = SIDE // GRID
    chrom = np.zeros((len(targets), 2 + 2 * 5, grid, grid), np.float16)
    perc = np.zeros_like(chrom)
    record = {
        "extractor": backbone_features.extractor(),
        "images": len(images),
        "crops": args.crops,
        "extra": None if args.extra is None else {"dest": str(args.extra),
                                                  "per_source": args.extra_per_source},
        "pair_mix": dict(zip(KINDS, mix, strict=True)),
        "pair_counts": dict(zip(KINDS, np.bincount(kinds, minlength=3).tolist(), strict=True)),
        "neighbours": args.neighbours,
    }

    def save(done: int) -> None:
        record.update(done=done, seconds=round(time.monotonic() - started))
        tmp = out / "cache.tmp.npz"
        np.savez(
            tmp,
            images=images,
            classes=classes,
            sources=sources,
            targets=targets[:done],
            references=references[:done],
            kinds=kinds[:done],
            chrom=chrom[:done],
            perc=perc[:done],
            record=np.array(json.dumps(record)),
        )
        os.replace(tmp, out / "cache.npz")

    pairs = list(zip(targets, references, strict=True))
    for n, (t, r) in enumerate(tqdm(pairs, desc="pairs", unit="pair")):
        target = lab(images[t])[..., 0]
        chrom[n] = colorizer.coarse_inputs(target, lab(augment(images[t], rng)))[0]
        perc[n] = colorizer.coarse_inputs(target, lab(images[r]))[0]
        if (n + 1) % 1000 == 0:
            save(n + 1)
    save(len(targets))
    print(json.dumps(record), flush=True)


class PairCache:
    """The cache of :func:`build_cache` as torch batches for C (random horizontal flips).

    Parameters
    ----------
    path : path
        ``cache.npz``.
    seed : int
    """

    def __init__(self, path: str | os.PathLike, seed: int = 0) -> None:
        with np.load(path) as z:
            self.images = z["images"]
            self.targets = z["targets"]
            self.references = z["references"]
            self.kinds = z["kinds"]
            self.chrom = z["chrom"]
            self.perc = z["perc"]
            self.record = json.loads(str(z["record"]))
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.targets)

    def batch(self, n: int, perceptual: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """C's input (n, 13, C_SIDE, C_SIDE) and T_Lab (n, 3, C_SIDE, C_SIDE) of ``n`` pairs."""
        pick = self.rng.integers(0, len(self), n)
        maps = torch.from_numpy((self.perc if perceptual else self.chrom)[pick].astype(np.float32))
        rgb = torch.from_numpy(self.images[self.targets[pick]]).permute(0, 3, 1, 2).float() / 255
        lab = F.avg_pool2d(rgb_to_lab(rgb), 2)  # = cv2.INTER_AREA by 2
        up = F.interpolate(maps, size=(C_SIDE, C_SIDE), mode="bilinear", align_corners=False)
        x = torch.cat([lab[:, :1] / 50.0 - 1.0, up], 1)
        flip = torch.from_numpy(self.rng.random(n) < 0.5)
        x[flip], lab[flip] = x[flip].flip(-1), lab[flip].flip(-1)
        return x, lab


def perceptual_loss(
    loss_net: ColourLossNet, lightness: torch.Tensor, pred_ab: torch.Tensor, true_ab: torch.Tensor
) -> torch.Tensor:
    """Perceptual loss of He et al. 2018, §3.2.1, Eq. 6.

    L_perc = sum_p ||F_P(p) - F_T(p)||^2 with F the ``f16`` level of the colour ImageNet
    EfficientNet-Lite0 (:class:`~colorize_exemplar.model.ColourLossNet`; the analogue of
    VGG-19 ``relu5_1``), P_Lab = (T_L, P_ab), T_Lab = (T_L, T_ab);
    squared distances are summed over channels and averaged over positions and images.
    Gradients flow into ``pred_ab`` only.

    Parameters
    ----------
    loss_net : ColourLossNet
        Frozen, in eval mode.
    lightness : tensor (N, 1, H, W)
        T_L in 0..100.
    pred_ab, true_ab : tensor (N, 2, H, W)
        Predicted and true chrominance in Lab units.
    """
    f_p = loss_net.deepest(torch.cat([lightness, pred_ab], 1))
    with torch.no_grad():
        f_t = loss_net.deepest(torch.cat([lightness, true_ab], 1))
    return (f_p - f_t).pow(2).sum(1).mean()


def branch_losses(
    net: ColorNet,
    loss_net: ColourLossNet | None,
    chrom: tuple[torch.Tensor, torch.Tensor],
    perc: tuple[torch.Tensor, torch.Tensor] | None,
    *,
    joint: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The two branches of He et al. 2018, §3.2.1 and §3.2.4 (Fig. 4), on their own halves.

    ``chrom = (x, T_ab)``: C's input built from the target's own colours (the "fake"
    reference, Eq. 3) and the smooth-L1 chrominance loss (Eq. 4, mean over pixels).
    ``perc = (x, T_Lab)``: C's input built from a real, different reference (Eq. 5) and the
    perceptual loss (Eq. 6). The chrominance loss is computed from the predictions of the
    first half only and the perceptual loss from those of the second half only, so each
    half's predictions receive only their own branch's gradient; the step minimises
    ``L_chrom + alpha * L_perc`` (Eq. 7).

    ``joint=True`` (default) runs both halves through the shared C in one forward pass,
    as one batch of the paper: batch normalisation sees the mixed batch, which is also what
    its running statistics, used at inference, average. ``joint=False`` uses one pass per
    half (per-half batch statistics; then even the weight gradients of each loss depend on
    its own half only).

    Returns
    -------
    (L_chrom, L_perc, P_ab)
        ``P_ab`` is (N_chrom + N_perc, 2, H, W), chrominance half first. ``perc=None``
        gives ``L_perc = 0`` (chrominance branch only).
    """
    x_c, ab_c = chrom
    if perc is None or len(perc[0]) == 0:
        pred = net(x_c)
        return F.smooth_l1_loss(pred, ab_c), torch.zeros((), dtype=pred.dtype), pred
    x_p, lab_p = perc
    if joint:
        pred = net(torch.cat([x_c, x_p]))
    else:
        pred = torch.cat([net(x_c), net(x_p)])
    pred_c, pred_p = pred[: len(x_c)], pred[len(x_c) :]
    l_chrom = F.smooth_l1_loss(pred_c, ab_c)
    l_perc = perceptual_loss(loss_net, lab_p[:, :1], pred_p, lab_p[:, 1:])
    return l_chrom, l_perc, pred


def calibrate_alpha(
    net: ColorNet, loss_net: ColourLossNet, batches, *, joint: bool = True
) -> float:
    """alpha of Eq. 7 so that both terms have the same gradient norm on C's weights.

    For each batch, ``||d L_chrom / d theta|| / ||d L_perc / d theta||``; returns the
    median. The paper's 0.005 (§3.2.1) balances VGG-19 magnitudes; our loss network's
    features have other magnitudes, so alpha is measured instead of copied.
    """
    params = [p for p in net.parameters() if p.requires_grad]
    ratios = []
    for chrom, perc in batches:
        l_chrom, l_perc, _ = branch_losses(net, loss_net, chrom, perc, joint=joint)
        g_c = torch.autograd.grad(l_chrom, params, retain_graph=True, allow_unused=True)
        g_p = torch.autograd.grad(l_perc, params, allow_unused=True)
        norm = lambda gs: torch.sqrt(sum((g**2).sum() for g in gs if g is not None))  # noqa: E731
        ratios.append((norm(g_c) / (norm(g_p) + 1e-12)).item())
    return float(np.median(ratios))


def _load_colornet(path: Path) -> tuple[ColorNet, dict]:
    state = torch.load(path, weights_only=True)
    net = ColorNet(width=int(state["record"].get("width", 32)))
    net.load_state_dict(state["model"])
    return net, state["record"]


def colornet_from_onnx(path: str | os.PathLike, inputs: torch.Tensor) -> ColorNet:
    """A trainable :class:`ColorNet` that computes what an exported C graph computes.

    The export folds each batch normalisation into its convolution, so the graph holds
    convolution weights and biases only. They are loaded into the convolutions (biases
    moved to the batch normalisations), then every batch normalisation, in order, gets the
    per-channel mean and variance of its input over ``inputs`` as running statistics and
    as its affine scale and shift, so the network computes the folded function both in
    eval mode and (up to the batch's own statistics) in training mode.

    Parameters
    ----------
    path : path
        An ``exemplar-colornet.onnx`` written by :func:`export`.
    inputs : tensor (N, 13, H, W)
        C's inputs (from :class:`PairCache`) for the statistics; a few hundred suffice.
    """
    import onnx
    from onnx import numpy_helper

    weights = {
        i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
        for i in onnx.load(str(path)).graph.initializer
    }
    net = ColorNet(width=int(weights["enc1.0.0.weight"].shape[0]))
    state = net.state_dict()
    bias_of = {}
    for name, value in weights.items():
        if name not in state:
            continue
        if name.endswith(".0.bias") and name[: -len(".0.bias")] + ".1.weight" in state:
            bias_of[name[: -len(".0.bias")]] = value  # a folded block's bias -> its BN
            state[name] = torch.zeros_like(value)
            continue
        state[name] = value
    net.load_state_dict(state)
    blocks = [
        m
        for m in net.modules()
        if isinstance(m, torch.nn.Sequential) and isinstance(m[1], torch.nn.BatchNorm2d)
    ]
    by_module = {id(m): n for n, m in net.named_modules()}
    net.eval()
    with torch.no_grad():
        for block in blocks:
            conv, norm = block[0], block[1]
            prefix = by_module[id(block)]
            norm.weight.fill_(1.0)
            norm.bias.zero_()
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)
            seen = []
            handle = conv.register_forward_hook(lambda m, i, o, seen=seen: seen.append(o))
            net(inputs)
            handle.remove()
            out = seen[0]
            mean = out.mean(dim=(0, 2, 3))
            var = out.var(dim=(0, 2, 3), unbiased=False)
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var)
            norm.weight.copy_(torch.sqrt(var + norm.eps))
            norm.bias.copy_(mean + bias_of[prefix])
    return net


def train_colornet(args) -> None:
    """Train C with the chrominance and perceptual branches (He et al. 2018, §3.2.4, Eq. 7).

    Each batch of ``--batch`` cached pairs is split: ``(1 - --perceptual-fraction)``
    chrominance pairs (augmented self-reference, smooth-L1 to T_ab) and the rest
    perceptual pairs (a real, different reference; Eq. 6 through the colour ImageNet
    EfficientNet-Lite0's ``f16``), one forward pass through C for the whole batch.
    ``--alpha auto`` calibrates alpha on four batches (:func:`calibrate_alpha`).
    ``--resume`` continues ``colornet.pt`` in ``--out``; ``--init`` warm-starts.
    """
    from training.backbone import load_pretrained

    torch.manual_seed(0)
    out = Path(args.out)
    data = PairCache(Path(args.cache or out / "cache.npz"), seed=args.seed)
    n_perc = round(args.batch * args.perceptual_fraction)
    n_chrom = args.batch - n_perc
    loss_net = ColourLossNet(load_pretrained(), level=args.loss_level) if n_perc else None
    net = ColorNet(width=args.width)
    previous: dict = {"steps": 0, "seconds": 0}
    if args.resume:
        net, previous = _load_colornet(out / "colornet.pt")
    elif args.init and str(args.init).endswith(".onnx"):
        x, _ = data.batch(128, perceptual=False)
        x_p, _ = data.batch(128, perceptual=True)
        net = colornet_from_onnx(args.init, torch.cat([x, x_p]))
        previous["init"] = {"path": str(args.init), "onnx": True}
    elif args.init:
        net, init_record = _load_colornet(Path(args.init))
        previous = {"steps": init_record["steps"], "seconds": init_record["seconds"]}
        previous["init"] = {"path": str(args.init), "record": init_record}
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)

    def draw():
        """One batch: (chrominance half (x, T_ab), perceptual half (x, T_Lab) or None)."""
        x_c, lab_c = data.batch(n_chrom, perceptual=False)
        if not n_perc:
            return (x_c, lab_c[:, 1:]), None
        return (x_c, lab_c[:, 1:]), data.batch(n_perc, perceptual=True)

    alpha = 0.0
    if n_perc:
        if args.alpha == "auto":
            alpha = calibrate_alpha(net, loss_net, [draw() for _ in range(4)])
            print(f"alpha (calibrated) {alpha:.4g}", flush=True)
        else:
            alpha = float(args.alpha)
    started = saved = time.monotonic()
    step, history = 0, []

    def save() -> dict:
        last = np.mean(history[-25:], axis=0).tolist() if history else [None, None]
        record = {
            **previous,
            "steps": previous["steps"] + step,
            "seconds": previous["seconds"] + round(time.monotonic() - started),
            "run_steps": step,
            "last_chrom_loss": last[0],
            "last_perc_loss": last[1],
            "pairs": len(data),
            "cache": data.record,
            "batch": args.batch,
            "perceptual_batch": n_perc,
            "c_side": C_SIDE,
            "width": net.width,
            "alpha": alpha,
            "lr": args.lr,
            "perceptual_chrom": args.perceptual_chrom,
            "freeze_bn": args.freeze_bn,
            "loss_net": f"EfficientNet-Lite0 (colour, ImageNet, unadapted) {args.loss_level}",
        }
        torch.save({"model": net.state_dict(), "record": record}, out / "colornet.pt")
        return record

    net.train()
    if args.freeze_bn:  # fine-tuning: keep the batch-norm statistics, train scale and shift
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()
    while time.monotonic() - started < args.max_minutes * 60:
        chrom, perc = draw()
        l_chrom, l_perc, pred = branch_losses(net, loss_net, chrom, perc)
        loss = l_chrom + alpha * l_perc  # Eq. 7
        if args.perceptual_chrom and perc is not None:
            # not in the paper: a smooth-L1 pull of the real-reference half towards T_ab
            loss = loss + args.perceptual_chrom * F.smooth_l1_loss(pred[n_chrom:], perc[1][:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        history.append((l_chrom.item(), l_perc.item()))
        if step % 25 == 0:
            c, p = np.mean(history[-25:], axis=0)
            print(
                f"step {step} chrom {c:.3f} perc {p:.3f} {time.monotonic() - started:.0f}s",
                flush=True,
            )
        if time.monotonic() - saved > args.checkpoint_minutes * 60:
            save()
            saved = time.monotonic()
    print(json.dumps(save()), flush=True)


def export(args) -> None:
    """``exemplar-colornet.onnx`` + manifest sha256 into ``--models-dir`` (default: models/).

    The configuration in ``metadata_props`` names the backbone the matches come from.
    The perceptual loss network is never exported: inference does not need it.
    """
    from colorize_exemplar import features as backbone_features
    from onnx_export.export import export_graph
    from onnx_export.manifest import update_manifest
    from training.recipe import ExportGraph

    models_dir = Path(args.models_dir) if args.models_dir else MODELS_DIR
    models_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "colorspace": "lab",
        "working_size": SIDE,
        "size_multiple": 32,
        "grid_stride": GRID,
        "backbone": backbone_features.extractor(),
        "match_levels": [1, 2, 3, 4],
        "ab_scale": AB_SCALE,
    }
    color, record = _load_colornet(Path(args.out) / "colornet.pt")
    graph = ExportGraph(
        filename="exemplar-colornet.onnx",
        module=color.eval(),
        inputs={"inputs": torch.rand(1, COLOR_IN, 64, 96) * 2 - 1},
        output_names=["chroma"],
        dynamic_axes={"inputs": {0: "batch", 2: "height", 3: "width"}},
        metadata={"config": json.dumps(config), "training": json.dumps(record)},
    )
    result = export_graph(graph, models_dir, tolerance=args.tolerance)
    update_manifest(
        models_dir,
        [result.path],
        methods={
            "exemplar": {
                "files": [result.path.name],
                "max_abs_diff": result.max_abs_diff,
                "max_abs_diff_per_file": {result.path.name: result.max_abs_diff},
            }
        },
    )
    print(result.path.name, result.parity, flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m colorize_exemplar.train")
    parser.add_argument("stage", choices=["cache", "colornet", "export"])
    parser.add_argument("--out", default="runs/exemplar-bb")
    parser.add_argument("--pairs", type=int, default=6000, help="cache: targets (two pairs each)")
    parser.add_argument("--crops", type=int, default=1000, help="cache: BSDS500 train crops")
    parser.add_argument("--extra", type=Path, metavar="DEST",
                        help="cache: also crops of the extra photos (extra_photos.py DEST)")
    parser.add_argument("--extra-per-source", type=int, default=400,
                        help="cache: photos a source with --extra")
    parser.add_argument("--cache", default=None, help="colornet: cache.npz (default: in --out)")
    parser.add_argument("--max-minutes", type=float, default=4.0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--width", type=int, default=16, help="colornet: C's first-level channels")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--resume", action="store_true", help="colornet: continue from colornet.pt")
    parser.add_argument(
        "--init",
        default=None,
        help="colornet: warm-start from this checkpoint (colornet.pt) or an exported "
        "exemplar-colornet.onnx",
    )
    parser.add_argument(
        "--perceptual-fraction",
        type=float,
        default=0.5,
        help="colornet: share of each batch in the perceptual branch (paper: 0.5; 0 = "
        "chrominance only)",
    )
    parser.add_argument(
        "--alpha", default="auto", help="colornet: weight of L_perc (Eq. 7), or 'auto'"
    )
    parser.add_argument(
        "--freeze-bn",
        action="store_true",
        help="colornet: keep batch-norm statistics fixed (fine-tuning a warm start)",
    )
    parser.add_argument(
        "--perceptual-chrom",
        type=float,
        default=0.0,
        help="colornet: weight of a smooth-L1 term to T_ab on the perceptual half (not in "
        "the paper; 0 = off)",
    )
    parser.add_argument(
        "--loss-level", default="f16", help="colornet: level of the colour loss network"
    )
    parser.add_argument(
        "--pair-mix",
        default=",".join(str(v) for v in DEFAULT_MIX),
        help="cache: probabilities of neighbour,same-class,random references in the "
        "perceptual pairs (default: the paper's 0.45,0.45,0.1)",
    )
    parser.add_argument("--neighbours", type=int, default=5, help="cache: k of the neighbours")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--models-dir", default=None, help="export: target folder (default: the plugin's models/)"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-2,
        help="export: largest |ORT - torch| accepted on the parity inputs (ab units)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--checkpoint-minutes", type=float, default=5.0, help="save a checkpoint this often"
    )
    args = parser.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    stages = {"cache": build_cache, "colornet": train_colornet, "export": export}
    stages[args.stage](args)


if __name__ == "__main__":
    main()
