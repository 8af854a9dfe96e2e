"""Training and export of the two networks (imports torch; never used at inference).

Usage (from the repository root)::

    python -m colorize_exemplar.train features --max-minutes 4 --out runs/exemplar
    python -m colorize_exemplar.train colornet --max-minutes 8 --out runs/exemplar
    python -m colorize_exemplar.train export --out runs/exemplar

``features`` trains :class:`~colorize_exemplar.model.FeatureNet` on Tiny ImageNet
classification from L* alone (the pretext task standing in for gray-VGG-19).
``colornet`` trains :class:`~colorize_exemplar.model.ColorNet` with the chrominance
branch (Eq. 4, smooth L1) on self-references: the reference is a geometrically augmented
copy of the target photo, so the warped reference chrominance should reproduce the
target's own colours. ``export`` writes both ONNX graphs and the manifest.
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
from colorize_exemplar.model import AB_SCALE, ColorNet, FeatureNet
from training.lab import rgb_to_lab

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


def train_features(args) -> None:
    torch.manual_seed(0)
    images, labels = load_tiny_imagenet()
    lab = to_lab(images)[:, :1]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(labels))
    val, train = order[:1000], order[1000:]
    net = FeatureNet(classes=int(labels.max()) + 1)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=5e-4)
    y = torch.from_numpy(labels)
    started, step = time.monotonic(), 0
    while time.monotonic() - started < args.max_minutes * 60:
        idx = torch.from_numpy(rng.choice(train, args.batch))
        x = lab[idx]
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
    net.eval()
    with torch.no_grad():
        vi = torch.from_numpy(val)
        acc = (net.classify(lab[vi]).argmax(1) == y[vi]).float().mean().item()
    record = {
        "steps": step,
        "seconds": round(time.monotonic() - started),
        "val_top1": acc,
        "train_images": len(train),
        "val_images": len(val),
        "classes": int(labels.max()) + 1,
    }
    print(json.dumps(record), flush=True)
    torch.save({"model": net.state_dict(), "record": record}, Path(args.out) / "features.pt")


def load_bsds_crops(count: int, rng: np.random.Generator) -> np.ndarray:
    """64x64 crops of BSDS500 train photos scaled to a 96 px short side."""
    paths = sorted((DATA / "bsds500" / "images" / "train").glob("*.jpg"))
    crops = []
    for p in paths:
        im = Image.open(p).convert("RGB")
        s = 96 / min(im.size)
        arr = np.asarray(im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.LANCZOS))
        for _ in range(count // len(paths) + 1):
            i = rng.integers(0, arr.shape[0] - 63)
            j = rng.integers(0, arr.shape[1] - 63)
            crops.append(arr[i : i + 64, j : j + 64])
    return np.stack(crops[:count])


def train_colornet(args) -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    gen = torch.Generator().manual_seed(1)
    ckpt = torch.load(Path(args.out) / "features.pt", weights_only=True)
    feat = FeatureNet(classes=ckpt["model"]["head.weight"].shape[0])
    feat.load_state_dict(ckpt["model"])
    feat.eval().requires_grad_(False)
    images, _ = load_tiny_imagenet()
    images = np.concatenate([images, load_bsds_crops(4000, rng)])
    lab = to_lab(images)
    net = ColorNet()
    previous = {"steps": 0, "seconds": 0}
    if args.resume:
        state = torch.load(Path(args.out) / "colornet.pt", weights_only=True)
        net.load_state_dict(state["model"])
        previous = state["record"]
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    started, step = time.monotonic(), 0
    while time.monotonic() - started < args.max_minutes * 60:
        t = lab[torch.from_numpy(rng.choice(len(lab), args.batch))]
        r = augment_reference(t, gen)
        # about 20% of pairs get an unrelated reference, so C learns when not to trust R'_ab
        other = torch.rand(args.batch, generator=gen) < args.unrelated
        r[other] = lab[torch.from_numpy(rng.choice(len(lab), int(other.sum())))]
        with torch.no_grad():
            t2r, fwd, bwd = match(feat(t[:, :1]), feat(r[:, :1]), MATCH_LEVELS)
            x = colour_input(t[:, :1], r[:, 1:], t2r, fwd, bwd, (16, 16))
        pred = net(x)
        loss = F.smooth_l1_loss(pred, t[:, 1:])  # Eq. 4, per-pixel mean
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 25 == 0:
            print(
                f"step {step} loss {loss.item():.3f} {time.monotonic() - started:.0f}s", flush=True
            )
    record = {
        "steps": previous["steps"] + step,
        "seconds": previous["seconds"] + round(time.monotonic() - started),
        "last_loss": loss.item(),
        "images": len(lab),
        "batch": args.batch,
        "unrelated": args.unrelated,
    }
    print(json.dumps(record), flush=True)
    torch.save({"model": net.state_dict(), "record": record}, Path(args.out) / "colornet.pt")


def export(args) -> None:
    from onnx_export.export import export_graph
    from onnx_export.manifest import update_manifest
    from training.recipe import ExportGraph

    fck = torch.load(Path(args.out) / "features.pt", weights_only=True)
    cck = torch.load(Path(args.out) / "colornet.pt", weights_only=True)
    feat = FeatureNet(classes=fck["model"]["head.weight"].shape[0])
    feat.load_state_dict(fck["model"])
    color = ColorNet()
    color.load_state_dict(cck["model"])
    config = {
        "colorspace": "lab",
        "working_size": 64,
        "size_multiple": 16,
        "grid_stride": 4,
        "match_levels": list(MATCH_LEVELS),
        "ab_scale": AB_SCALE,
    }
    graphs = [
        ExportGraph(
            filename="exemplar-features.onnx",
            module=feat.eval(),
            inputs={"lightness": torch.rand(1, 1, 64, 96) * 100},
            output_names=[f"level{i}" for i in range(1, 6)],
            dynamic_axes={"lightness": {0: "batch", 2: "height", 3: "width"}},
            metadata={"config": json.dumps(config), "training": json.dumps(fck["record"])},
        ),
        ExportGraph(
            filename="exemplar-colornet.onnx",
            module=color.eval(),
            inputs={"inputs": torch.rand(1, 13, 64, 96) * 2 - 1},
            output_names=["chroma"],
            dynamic_axes={"inputs": {0: "batch", 2: "height", 3: "width"}},
            metadata={"config": json.dumps(config), "training": json.dumps(cck["record"])},
        ),
    ]
    results = [export_graph(g, MODELS_DIR, tolerance=1e-2) for g in graphs]
    update_manifest(
        MODELS_DIR,
        [r.path for r in results],
        methods={
            "exemplar": {
                "files": [r.path.name for r in results],
                "max_abs_diff": max(r.max_abs_diff for r in results),
            }
        },
    )
    for r in results:
        print(r.path.name, r.parity, flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m colorize_exemplar.train")
    parser.add_argument("stage", choices=["features", "colornet", "export"])
    parser.add_argument("--out", default="runs/exemplar")
    parser.add_argument("--max-minutes", type=float, default=4.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--unrelated", type=float, default=0.2)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--resume", action="store_true", help="colornet: continue from colornet.pt")
    args = parser.parse_args(argv)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)
    {"features": train_features, "colornet": train_colornet, "export": export}[args.stage](args)


if __name__ == "__main__":
    main()
