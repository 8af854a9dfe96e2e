"""Training and export of the networks (imports torch; never used at inference).

Usage (from the repository root)::

    python -m colorize_exemplar.train features --max-minutes 4 --out runs/exemplar
    python -m colorize_exemplar.train perceptual --max-minutes 12 --out runs/exemplar2
    python -m colorize_exemplar.train colornet --max-minutes 45 --batch 32 --lr 3e-4 \
        --features runs/exemplar/features.pt --init runs/exemplar/colornet.pt --out runs/exemplar2
    python -m colorize_exemplar.train export --graphs colornet --out runs/exemplar2 \
        --models-dir runs/exemplar2/models

``features`` trains :class:`~colorize_exemplar.model.FeatureNet` on Tiny ImageNet
classification from L* alone (the pretext task standing in for gray-VGG-19, §3.1).
``perceptual`` trains :class:`~colorize_exemplar.model.PerceptualNet`, the same network on
Lab, the loss network of the perceptual branch (§3.2.1, Eq. 6; training only).
``colornet`` trains :class:`~colorize_exemplar.model.ColorNet` with both branches of
He et al. 2018, §3.2.4: half of each batch in the chrominance branch (a geometrically
augmented copy of the target as reference, smooth-L1, Eqs. 3-4), half in the perceptual
branch (a real, different reference drawn by :mod:`colorize_exemplar.pairs`, §3.2.3;
perceptual loss, Eqs. 5-6), total ``L_chrom + alpha * L_perc`` (Eq. 7);
``--perceptual-fraction 0 --unrelated 0.2`` is the chrominance-only recipe of the first
shipped weights. ``export`` writes the ONNX graphs and the manifest. One torch thread by
default (``--threads``); checkpoints every ``--checkpoint-minutes``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from colorize_exemplar import MODELS_DIR
from colorize_exemplar.model import AB_SCALE, ColorNet, FeatureNet, PerceptualNet
from colorize_exemplar.pairs import (
    DEFAULT_MIX,
    KINDS,
    PairSampler,
    class_neighbours,
    global_descriptors,
)
from training.lab import rgb_to_lab
from training.trainer import state_digest

DATA = Path(os.environ.get("COLORIZE_DATA", "/work/shared/datasets"))


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


def to_lab(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> Lab (N, 3, H, W) float32."""
    rgb = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0
    return rgb_to_lab(rgb)


# -- matching in torch: mirrors colorize_exemplar.matching (numpy) ------------------------


def normalise(levels: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """Each level (N, C, h, w) -> unit-norm features (N, h*w, C)."""
    out = []
    for f in levels:
        f = f.flatten(2).transpose(1, 2)
        out.append(f / (f.norm(dim=-1, keepdim=True) + 1e-6))
    return out


def match(target: tuple[torch.Tensor, ...], reference: tuple[torch.Tensor, ...], match_levels):
    """Nearest neighbours T->R and R->T and the similarity maps of Eq. 1 (N, 5, h*w) each."""
    ft, fr = normalise(target), normalise(reference)
    score = sum(torch.bmm(ft[i], fr[i].transpose(1, 2)) for i in match_levels)
    t2r = score.argmax(dim=2)  # (N, P): reference index of each target point
    r2t = score.argmax(dim=1)  # (N, Q): target index of each reference point
    back = torch.gather(r2t, 1, t2r)  # phi_R->T(phi_T->R(p))
    fwd, bwd = [], []
    for a, b in zip(ft, fr, strict=True):
        rb = torch.gather(b, 1, t2r[..., None].expand(-1, -1, b.shape[-1]))
        ta = torch.gather(a, 1, back[..., None].expand(-1, -1, a.shape[-1]))
        fwd.append((a * rb).sum(-1))
        bwd.append((ta * rb).sum(-1))
    return t2r, torch.stack(fwd, 1), torch.stack(bwd, 1)


def colour_input(l_t, ab_r, t2r, fwd, bwd, coarse):
    """Assemble C's 13-channel input at the working resolution."""
    n, _, h, w = l_t.shape
    hc, wc = coarse
    ab_c = F.adaptive_avg_pool2d(ab_r, (hc, wc)).flatten(2)  # (N, 2, Q)
    warped = torch.gather(ab_c, 2, t2r[:, None].expand(-1, 2, -1)).view(n, 2, hc, wc)
    sims = torch.cat([fwd, bwd], 1).view(n, -1, hc, wc)
    up = F.interpolate(
        torch.cat([warped, sims], 1), size=(h, w), mode="bilinear", align_corners=False
    )
    return torch.cat([l_t / 50.0 - 1.0, up[:, :2] / AB_SCALE, up[:, 2:]], 1)


MATCH_LEVELS = (1, 2, 3, 4)


def augment_reference(lab: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A geometrically distorted copy: flip, random resized crop (scale 0.6-1), small rotation."""
    n, _, h, w = lab.shape
    angle = (torch.rand(n, generator=generator) - 0.5) * 0.5
    scale = 0.6 + 0.4 * torch.rand(n, generator=generator)
    flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    shift = (torch.rand(n, 2, generator=generator) - 0.5) * 2 * (1 - scale[:, None])
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack(
        [
            torch.stack([cos * flip, -sin, shift[:, 0]], 1),
            torch.stack([sin * flip, cos, shift[:, 1]], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(lab.shape), align_corners=False)
    return F.grid_sample(lab, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _train_classifier(net: FeatureNet, images: torch.Tensor, labels: np.ndarray, args, name: str):
    """Tiny ImageNet classification (8,840 train / 1,000 held out); saves ``name`` in --out.

    The checkpoint ``{"model", "record"}`` is written every ``--checkpoint-minutes`` and at
    the end, so a run stopped early loses at most that much.
    """
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(labels))
    val, train = order[:1000], order[1000:]
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=5e-4)
    y = torch.from_numpy(labels)
    started, step, saved = time.monotonic(), 0, time.monotonic()

    def save(final: bool) -> dict:
        record = {
            "steps": step,
            "seconds": round(time.monotonic() - started),
            "train_images": len(train),
            "val_images": len(val),
            "classes": int(labels.max()) + 1,
            "input": "Lab" if net.in_channels == 3 else "L*",
        }
        if final:
            net.eval()
            with torch.no_grad():
                vi = torch.from_numpy(val)
                correct = sum(
                    (net.classify(images[vi[i : i + 250]]).argmax(1) == y[vi[i : i + 250]])
                    .sum()
                    .item()
                    for i in range(0, len(vi), 250)
                )
            record["val_top1"] = correct / len(vi)
        torch.save({"model": net.state_dict(), "record": record}, Path(args.out) / name)
        return record

    while time.monotonic() - started < args.max_minutes * 60:
        idx = torch.from_numpy(rng.choice(train, args.batch))
        x = images[idx]
        if rng.random() < 0.5:
            x = x.flip(3)
        i, j = rng.integers(0, 9, 2)
        x = F.pad(x, (4, 4, 4, 4), mode="reflect")[:, :, i : i + 64, j : j + 64]
        loss = F.cross_entropy(net.classify(x), y[idx], label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            print(
                f"step {step} loss {loss.item():.3f} {time.monotonic() - started:.0f}s", flush=True
            )
        if time.monotonic() - saved > args.checkpoint_minutes * 60:
            save(final=False)
            saved = time.monotonic()
    print(json.dumps(save(final=True)), flush=True)


def train_features(args) -> None:
    """The gray feature net (§3.1 stand-in): Tiny ImageNet classification from L* alone."""
    images, labels = load_tiny_imagenet()
    net = FeatureNet(classes=int(labels.max()) + 1)
    _train_classifier(net, to_lab(images)[:, :1], labels, args, "features.pt")


def train_perceptual(args) -> None:
    """The colour loss network of the perceptual branch (He et al. 2018, §3.2.4, Eq. 6).

    Same architecture and pretext task as ``features`` but on Lab, so its deepest level
    responds to chrominance. Saved as ``perceptual.pt``; used only by ``colornet``.
    """
    images, labels = load_tiny_imagenet()
    net = PerceptualNet(classes=int(labels.max()) + 1)
    _train_classifier(net, to_lab(images), labels, args, "perceptual.pt")


def load_bsds_crops(count: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """64x64 crops of BSDS500 train photos scaled to a 96 px short side, and their photo index."""
    paths = sorted((DATA / "bsds500" / "images" / "train").glob("*.jpg"))
    crops, sources = [], []
    for k, p in enumerate(paths):
        im = Image.open(p).convert("RGB")
        s = 96 / min(im.size)
        arr = np.asarray(im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.LANCZOS))
        for _ in range(count // len(paths) + 1):
            i = rng.integers(0, arr.shape[0] - 63)
            j = rng.integers(0, arr.shape[1] - 63)
            crops.append(arr[i : i + 64, j : j + 64])
            sources.append(k)
    return np.stack(crops[:count]), np.array(sources[:count], np.int64)


def perceptual_loss(
    loss_net: PerceptualNet, lightness: torch.Tensor, pred_ab: torch.Tensor, true_ab: torch.Tensor
) -> torch.Tensor:
    """Perceptual loss of He et al. 2018, §3.2.1, Eq. 6.

    L_perc = sum_p ||F_P(p) - F_T(p)||^2 with F the deepest level of the colour loss
    network (the analogue of VGG-19 ``relu5_1``), P_Lab = (T_L, P_ab), T_Lab = (T_L, T_ab);
    squared distances are summed over channels and averaged over positions and images.
    Gradients flow into ``pred_ab`` only.

    Parameters
    ----------
    loss_net : PerceptualNet
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
    loss_net: PerceptualNet | None,
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
    net: ColorNet, loss_net: PerceptualNet, batches, *, joint: bool = True
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


def _load(cls, path: Path):
    state = torch.load(path, weights_only=True)
    net = cls(classes=state["model"]["head.weight"].shape[0]) if cls is not ColorNet else cls()
    net.load_state_dict(state["model"])
    return net, state["record"]


class PairData:
    """The colorization training set and its pair sampler (§3.2.3 analogue).

    Tiny ImageNet (9,840 images, 202 classes) plus 4,000 BSDS500 train crops (class
    202, sources = their 200 photos). Global descriptors from the gray feature net give
    the within-class neighbours of :class:`colorize_exemplar.pairs.PairSampler`.
    """

    def __init__(self, feat: FeatureNet, *, neighbours: int, mix, seed: int, cache: Path):
        rng = np.random.default_rng(1)
        tiny, labels = load_tiny_imagenet()
        crops, photos = load_bsds_crops(4000, rng)
        self.lab = to_lab(np.concatenate([tiny, crops]))
        self.classes = np.concatenate([labels, np.full(len(crops), labels.max() + 1)])
        self.sources = np.concatenate([np.arange(len(tiny)), len(tiny) + photos])
        # The table derives from the feature net's weights and k: a cache written for
        # other weights, another k or another image set is recomputed, not reused.
        key = f"{state_digest(feat)} k={neighbours} n={len(self.lab)}"
        table = None
        if cache.is_file():
            with np.load(cache) as stored:
                if "key" in stored and str(stored["key"]) == key:
                    table = stored["neighbours"]
        if table is None:
            table = self._neighbours(feat, neighbours)
            np.savez(cache, neighbours=table, key=np.array(key))
        self.sampler = PairSampler(self.classes, self.sources, table, mix=mix, seed=seed)

    def _neighbours(self, feat: FeatureNet, k: int) -> np.ndarray:
        descs = []
        with torch.no_grad():
            for i in range(0, len(self.lab), 256):
                levels = feat.pyramid(self.lab[i : i + 256, :1])
                descs.append(global_descriptors([f.numpy() for f in levels]))
        return class_neighbours(np.concatenate(descs), self.classes, self.sources, k)


def train_colornet(args) -> None:
    """Train C with the chrominance and perceptual branches (He et al. 2018, §3.2.4, Eq. 7).

    Each batch of ``--batch`` targets is split: ``(1 - --perceptual-fraction)`` go through
    the chrominance branch with a geometrically augmented copy of the target as reference
    (``augment_reference``; ``--unrelated`` of them get an unrelated photo instead, trained
    against T_ab, the stand-in of the shipped run), the rest through the perceptual branch
    with a real, different reference drawn by :class:`PairData` (mixture ``--pair-mix``).
    ``--alpha`` weights the perceptual loss; ``auto`` calibrates it on four batches with
    :func:`calibrate_alpha` before training. ``--init`` warm-starts from a colornet
    checkpoint; ``--resume`` continues ``colornet.pt`` in ``--out``.
    """
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    gen = torch.Generator().manual_seed(1)
    out = Path(args.out)
    feat, _ = _load(FeatureNet, Path(args.features or out / "features.pt"))
    feat.eval().requires_grad_(False)
    n_perc = round(args.batch * args.perceptual_fraction)
    n_chrom = args.batch - n_perc
    loss_net = None
    if n_perc:
        loss_net, loss_record = _load(PerceptualNet, Path(args.perceptual or out / "perceptual.pt"))
        loss_net.eval().requires_grad_(False)
    mix = tuple(float(v) for v in args.pair_mix.split(","))
    data = PairData(
        feat, neighbours=args.neighbours, mix=mix, seed=args.seed, cache=out / "neighbours.npz"
    )
    lab = data.lab
    net = ColorNet()
    previous = {"steps": 0, "seconds": 0}
    if args.resume:
        net, previous = _load(ColorNet, out / "colornet.pt")
    elif args.init:
        net, init_record = _load(ColorNet, Path(args.init))
        previous = {"steps": init_record["steps"], "seconds": init_record["seconds"]}
        previous["init"] = {"path": str(args.init), "record": init_record}
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    joint = not args.separate_passes
    kind_counts = np.zeros(len(KINDS), np.int64)

    def sub_net_input(t: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        """C's 13-channel input for targets ``t`` and references ``r`` (Lab batches)."""
        with torch.no_grad():
            t2r, fwd, bwd = match(feat(t[:, :1]), feat(r[:, :1]), MATCH_LEVELS)
            return colour_input(t[:, :1], r[:, 1:], t2r, fwd, bwd, (16, 16))

    def draw():
        """One batch: (chrominance half (x, T_ab), perceptual half (x, T_Lab) or None)."""
        t = lab[torch.from_numpy(rng.choice(len(lab), n_chrom))]
        r = augment_reference(t, gen)
        other = torch.rand(n_chrom, generator=gen) < args.unrelated
        r[other] = lab[torch.from_numpy(rng.choice(len(lab), int(other.sum())))]
        x_c = sub_net_input(t, r)
        if not n_perc:
            return (x_c, t[:, 1:]), None
        targets = rng.choice(len(lab), n_perc)
        refs, kinds = data.sampler.sample(targets)
        kind_counts[:] += np.bincount(kinds, minlength=len(KINDS))
        tp, rp = lab[torch.from_numpy(targets)], lab[torch.from_numpy(refs)]
        return (x_c, t[:, 1:]), (sub_net_input(tp, rp), tp)

    alpha = 0.0
    if n_perc:
        if args.alpha == "auto":
            alpha = calibrate_alpha(net, loss_net, [draw() for _ in range(4)], joint=joint)
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
            "images": len(lab),
            "batch": args.batch,
            "perceptual_batch": n_perc,
            "alpha": alpha,
            "pair_mix": dict(zip(KINDS, mix, strict=True)),
            "pair_counts": dict(zip(KINDS, kind_counts.tolist(), strict=True)),
            "neighbours": args.neighbours,
            "unrelated": args.unrelated,
            "lr": args.lr,
            "joint_forward": joint,
        }
        if n_perc:
            record["perceptual_net"] = loss_record
        torch.save({"model": net.state_dict(), "record": record}, out / "colornet.pt")
        return record

    net.train()
    while time.monotonic() - started < args.max_minutes * 60:
        chrom, perc = draw()
        l_chrom, l_perc, _ = branch_losses(net, loss_net, chrom, perc, joint=joint)
        loss = l_chrom + alpha * l_perc  # Eq. 7
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
    """ONNX graphs + manifest sha256 into ``--models-dir`` (default: the plugin's models/).

    ``--graphs colornet`` writes only the colorization sub-net, leaving the feature graph
    (and so every reference index built with it) untouched. The perceptual loss network
    is never exported: inference does not need it.
    """
    from onnx_export.export import export_graph
    from onnx_export.manifest import update_manifest
    from training.recipe import ExportGraph

    wanted = set(args.graphs.split(","))
    if not wanted or wanted - {"features", "colornet"}:
        raise SystemExit(f"--graphs: expected features, colornet or both, got {args.graphs!r}")
    models_dir = Path(args.models_dir) if args.models_dir else MODELS_DIR
    models_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "colorspace": "lab",
        "working_size": 64,
        "size_multiple": 16,
        "grid_stride": 4,
        "match_levels": list(MATCH_LEVELS),
        "ab_scale": AB_SCALE,
    }
    graphs = []
    if "features" in wanted:
        feat, record = _load(FeatureNet, Path(args.features or Path(args.out) / "features.pt"))
        graphs.append(
            ExportGraph(
                filename="exemplar-features.onnx",
                module=feat.eval(),
                inputs={"lightness": torch.rand(1, 1, 64, 96) * 100},
                output_names=[f"level{i}" for i in range(1, 6)],
                dynamic_axes={"lightness": {0: "batch", 2: "height", 3: "width"}},
                metadata={"config": json.dumps(config), "training": json.dumps(record)},
            )
        )
    if "colornet" in wanted:
        color, record = _load(ColorNet, Path(args.out) / "colornet.pt")
        graphs.append(
            ExportGraph(
                filename="exemplar-colornet.onnx",
                module=color.eval(),
                inputs={"inputs": torch.rand(1, 13, 64, 96) * 2 - 1},
                output_names=["chroma"],
                dynamic_axes={"inputs": {0: "batch", 2: "height", 3: "width"}},
                metadata={"config": json.dumps(config), "training": json.dumps(record)},
            )
        )
    results = [export_graph(g, models_dir, tolerance=args.tolerance) for g in graphs]
    previous = {}
    manifest = models_dir / "manifest.json"
    if manifest.is_file():
        previous = json.loads(manifest.read_text()).get("methods", {}).get("exemplar", {})
    diffs = {r.path.name: r.max_abs_diff for r in results}
    diffs = {**previous.get("max_abs_diff_per_file", {}), **diffs}
    update_manifest(
        models_dir,
        [r.path for r in results],
        methods={
            "exemplar": {
                "files": [
                    name
                    for name in ("exemplar-features.onnx", "exemplar-colornet.onnx")
                    if (models_dir / name).is_file()
                ],
                "max_abs_diff": max(diffs.values()),
                "max_abs_diff_per_file": diffs,
            }
        },
    )
    for r in results:
        print(r.path.name, r.parity, flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m colorize_exemplar.train")
    parser.add_argument("stage", choices=["features", "perceptual", "colornet", "export"])
    parser.add_argument("--out", default="runs/exemplar")
    parser.add_argument("--max-minutes", type=float, default=4.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument(
        "--unrelated",
        type=float,
        default=0.0,
        help="colornet: share of the chrominance half given an unrelated reference "
        "(the shipped chrominance-only run used 0.2)",
    )
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--resume", action="store_true", help="colornet: continue from colornet.pt")
    parser.add_argument("--init", default=None, help="colornet: warm-start from this checkpoint")
    parser.add_argument("--features", default=None, help="features.pt (default: in --out)")
    parser.add_argument("--perceptual", default=None, help="perceptual.pt (default: in --out)")
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
        "--pair-mix",
        default=",".join(str(v) for v in DEFAULT_MIX),
        help="colornet: probabilities of neighbour,same-class,random references in the "
        "perceptual half (default: the paper's 0.45,0.45,0.1)",
    )
    parser.add_argument("--neighbours", type=int, default=5, help="colornet: k of the neighbours")
    parser.add_argument("--seed", type=int, default=0, help="colornet: seed of the pair sampler")
    parser.add_argument(
        "--separate-passes",
        action="store_true",
        help="colornet: one forward pass per branch half instead of one for the whole batch",
    )
    parser.add_argument(
        "--models-dir", default=None, help="export: target folder (default: the plugin's models/)"
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-2,
        help="export: largest |ORT - torch| accepted on the parity inputs (ab units for C)",
    )
    parser.add_argument(
        "--graphs",
        default="features,colornet",
        help="export: which graphs to write (features, colornet or both)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--checkpoint-minutes", type=float, default=5.0, help="save a checkpoint this often"
    )
    args = parser.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    stages = {
        "features": train_features,
        "perceptual": train_perceptual,
        "colornet": train_colornet,
        "export": export,
    }
    stages[args.stage](args)


if __name__ == "__main__":
    main()
