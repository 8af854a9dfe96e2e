"""Hypercolumn heads over the shared pretrained backbone (torch: training and export only).

Larsson et al. 2016 (§3.5, Fig. 2) put hypercolumns over a pretrained VGG-16 adapted to
gray input. Here the pretrained network is EfficientNet-Lite0 (``colorize-backbone``,
:mod:`training.backbone`), frozen and shared by every method, and each Table 1 variant
trains only its head, from a feature cache (:mod:`training.features`), in minutes:

* **hypercolumn** (``h_fc1``, the paper's first fully connected layer over the
  concatenated layers): ``Σ_l up(W_l m_l X_l) + b`` over the levels ``f8, f16, f32,
  head`` at stride 8, and ``f4`` plus the lightness ("data" layer) at stride 4 — the
  same factorization as :mod:`colorize_larsson.model` (a 1x1 layer commutes with bilinear
  upsampling, so the 1,777-channel hypercolumn is never materialised). ``m_l =
  1 / sqrt(E[X_l²])`` is the App. A.1 re-balancing, estimated on the first batch.
* **spatial context** (a deviation, MODEL_CARD.md): one 3x3 convolution at stride 8
  after ``h_fc1``'s deep part. Per-pixel hypercolumns leave speckle where a mobile
  network's shallow levels are noisy; the paper's VGG fc layers see 7x7 windows.
* **global context** (optional, ``global_context=True``; a deviation, MODEL_CARD.md): the
  spatial mean of the ``head`` level through a linear layer, added to ``h_fc1``'s deep
  part everywhere. VGG's fc6/fc7 in the paper's hypercolumn see most of a 224-pixel
  image; a photo's overall tone (warm interior, overcast sky) is a whole-image cue.
  It starts at zero, so a head initialised from one without it computes the same.
* **prediction**: a 1x1 layer at stride 4 to the variant's logits, upsampled
  bilinearly ×4 to the working resolution in the exported graph.

Training (:func:`train_head`): the loss of the variant (Eqs. 1-3) at every cell of the
stride-4 grid against the photo area-averaged to that grid, optionally weighted by
Zhang et al.'s class rebalancing (2016, Eqs. 3-4: ``w ∝ ((1 - λ) p + λ / Q)^-1`` over the
occupied cells of the 16 x 16 Lab grid, ``E_p[w] = 1``; ``λ = 1`` is no rebalancing
in their notation's limit, here ``rebalance=None``).

``train --finetune-backbone`` (for users with a GPU; torchrun for several processes)
trains backbone and head end to end from photos instead of the cache (:func:`finetune`).

Usage::

    python -m colorize_larsson.head train larsson-lab --cache runs/features \\
        --out runs/head/larsson-lab --steps 3000
    python -m colorize_larsson.head export larsson-lab --checkpoint runs/head/larsson-lab/last.pt \\
        --out plugins/colorize-larsson/colorize_larsson/models
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from colorize_larsson.variants import VARIANTS, Variant
from training.hypercolumn import LEVEL_CHANNELS, LEVEL_STRIDES

__all__ = [
    "CAST_SCALE", "SOURCE_WEIGHTINGS", "BackboneHead", "cast_loss", "class_weights",
    "export_head", "head_from_onnx",
    "head_loss", "load_init", "main", "point_estimate", "row_weights", "start_end_to_end",
    "train_head", "tune_head", "with_global_context",
]

BACKBONE = "efficientnet-lite0-gray"
DEEP_LEVELS = ("f8", "f16", "f32", "head")
SHALLOW_LEVELS = ("f4",)
LEVELS = SHALLOW_LEVELS + DEEP_LEVELS
CHANNELS = LEVEL_CHANNELS  # the gray backbone's levels (training.hypercolumn)
AB_SCALE = 100.0


class BackboneHead(nn.Module):
    """The head of one Table 1 variant over the backbone's pyramid.

    ``forward(f4, f8, f16, f32, head, lightness4)`` takes the levels (N, C, S/s, S/s) and
    the 4x4 average-pooled L* (N, 1, S/4, S/4) and returns logits at stride 4.
    """

    def __init__(self, out_channels: int, hidden: int = 256, context: int = 128,
                 global_context: bool = False):
        super().__init__()
        self.deep = nn.ModuleDict({k: nn.Conv2d(CHANNELS[k], hidden, 1, bias=False)
                                   for k in DEEP_LEVELS})
        self.deep_bias = nn.Parameter(torch.zeros(hidden))
        self.context = nn.Conv2d(hidden, context, 3, padding=1)
        self.lift = nn.Conv2d(context, hidden, 1, bias=False)
        self.shallow = nn.Conv2d(CHANNELS["f4"] + 1, hidden, 1)
        self.pred = nn.Conv2d(hidden, out_channels, 1)
        self.register_buffer("scale", torch.ones(len(LEVELS) + 1))
        self.register_buffer("scale_ready", torch.zeros((), dtype=torch.bool))
        self.hidden, self.context_width = hidden, context
        self.glob = nn.Linear(CHANNELS["head"], hidden) if global_context else None
        if self.glob is not None:
            nn.init.zeros_(self.glob.weight)
            nn.init.zeros_(self.glob.bias)

    @property
    def global_context(self) -> bool:
        """Whether the head has the global-context branch."""
        return self.glob is not None

    @torch.no_grad()
    def rebalance(self, levels: dict[str, torch.Tensor], lightness4: torch.Tensor) -> None:
        """App. A.1: ``m_l = 1 / sqrt(E[X_l²])`` per hypercolumn layer (first batch)."""
        tensors = [levels[k] for k in LEVELS] + [(lightness4 - 50.0) / 50.0]
        second = torch.stack([t.float().pow(2).mean() for t in tensors])
        self.scale.copy_(second.clamp_min(1e-8).rsqrt())
        self.scale_ready.fill_(True)

    def trunk(self, f8, f16, f32, head) -> torch.Tensor:
        """The deep part at stride 8: ``h_fc1`` over the deep levels, context, lift."""
        levels = {"f8": f8, "f16": f16, "f32": f32, "head": head}
        size8 = f8.shape[-2:]
        deep = None
        for i, name in enumerate(LEVELS):
            if name not in self.deep:
                continue
            y = self.deep[name](levels[name] * self.scale[i])
            if y.shape[-2:] != size8:
                y = F.interpolate(y, size=size8, mode="bilinear", align_corners=False)
            deep = y if deep is None else deep + y
        deep = deep + self.deep_bias[None, :, None, None]
        if self.glob is not None:
            whole = (head * self.scale[LEVELS.index("head")]).mean(dim=(2, 3))
            deep = deep + self.glob(whole)[:, :, None, None]
        deep = F.relu(deep)
        return self.lift(F.relu(self.context(deep)))

    def forward(self, f4, f8, f16, f32, head, lightness4, positions=None) -> torch.Tensor:
        """Logits (N, C, H/4, W/4), or (N, C, 1, S) at ``positions`` (N, S, 2) of that grid.

        The sparse form is Larsson's training-time hypercolumn sampling (§3.5): the
        stride-4 part is computed only at ``S`` cells per image, the stride-8 part is
        interpolated there exactly as the dense form's bilinear upsampling does.
        """
        from colorize_larsson.model import pixel_grid

        lifted = self.trunk(f8, f16, f32, head)
        light = (lightness4 - 50.0) / 50.0 * self.scale[len(LEVELS)]
        shallow_in = torch.cat([f4 * self.scale[0], light], dim=1)
        if positions is None:
            up = F.interpolate(lifted, size=f4.shape[-2:], mode="bilinear",
                               align_corners=False)
            return self.pred(F.relu(up + self.shallow(shallow_in)))
        h4, w4 = f4.shape[-2:]
        up = F.grid_sample(lifted, pixel_grid(positions, h4, w4), mode="bilinear",
                           padding_mode="border", align_corners=False)
        picked = gather_cells(shallow_in, positions)
        return self.pred(F.relu(up + self.shallow(picked)))


def gather_cells(image: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) at integer cells ``positions`` (N, S, 2) as (y, x) -> (N, C, 1, S)."""
    n, c, h, w = image.shape
    flat = positions[..., 0] * w + positions[..., 1]
    out = torch.gather(image.flatten(2), 2, flat[:, None, :].expand(n, c, flat.shape[1]))
    return out[:, :, None, :]


class _Exported(nn.Module):
    """Graph of the shipped head: levels + working L* in, logits at working size out."""

    def __init__(self, head: BackboneHead):
        super().__init__()
        self.head = head

    def forward(self, lightness, f4, f8, f16, f32, head):
        logits = self.head(f4, f8, f16, f32, head, F.avg_pool2d(lightness, 4))
        return F.interpolate(logits, size=lightness.shape[-2:], mode="bilinear",
                             align_corners=False)


# -- targets and losses -----------------------------------------------------------------


def _targets(variant: Variant, rgb4: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-pixel targets (M,) from the area-averaged photo (N, 3, h, w) in [0, 1].

    The training recipe's own target rule (:meth:`LarssonRecipe.targets`, dense form).
    """
    from colorize_larsson.train import LarssonRecipe
    from training.lab import rgb_to_lab

    batch = {"rgb": rgb4, "chroma": rgb_to_lab(rgb4)[:, 1:]}
    return LarssonRecipe(variant).targets(batch, None)


def joint_cells(rgb4: torch.Tensor) -> torch.Tensor:
    """Flat cell of the 16 x 16 Lab grid of every pixel (M,), for class rebalancing."""
    return _targets(VARIANTS["larsson-lab-joint"], rgb4)["ab"]


def class_weights(counts: np.ndarray, lam: float) -> np.ndarray:
    """Zhang et al. 2016, Eq. 4: ``w ∝ ((1 - λ) p + λ / Q)^-1``, normalised so ``E_p[w] = 1``.

    ``p`` is the empirical cell distribution, ``Q`` the number of occupied cells; empty
    cells weigh 0 (:func:`colorize_larsson.colorizer.rebalancing_weights`, float32).
    """
    from colorize_larsson.colorizer import rebalancing_weights

    return rebalancing_weights(counts, lam).astype(np.float32)


def head_loss(variant: Variant, logits: torch.Tensor, rgb4: torch.Tensor,
              weights: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """The variant's loss (Eqs. 1-3) at every stride-4 cell, optionally rebalanced."""
    y = _targets(variant, rgb4)
    flat = logits.permute(0, 2, 3, 1).reshape(-1, logits.shape[1])
    parts = {name: flat[:, s] for name, s in variant.slices().items()}
    w = None if weights is None else weights[joint_cells(rgb4)]

    def mean(values):
        return values.mean() if w is None else (values * w).sum() / w.sum().clamp_min(1e-6)

    if variant.loss == "hue-chroma":
        from colorize_larsson.variants import LAMBDA_HUE

        chroma_term = F.cross_entropy(parts["chroma"], y["chroma"], reduction="none")
        hue_term = F.cross_entropy(parts["hue"], y["hue"], reduction="none")
        loss = mean(chroma_term + LAMBDA_HUE * y["chroma_value"] * hue_term)
        acc = (parts["chroma"].argmax(1) == y["chroma"]).float().mean()
        return loss, {"chroma_accuracy": float(acc)}
    if variant.loss == "l2":
        return mean((parts["ab"] - y["ab"]).pow(2).sum(1)), {}
    loss = sum(mean(F.cross_entropy(parts[n], y[n], reduction="none")) for n in parts)
    acc = sum((parts[n].argmax(1) == y[n]).float().mean() for n in parts) / len(parts)
    return loss, {"accuracy": float(acc)}


# -- training from the cache ------------------------------------------------------------


def _usable_rows(cache) -> tuple[np.ndarray, list[str]]:
    """Row numbers of a :class:`~training.features.FeatureCache` that are not skipped
    photos, and each one's source (``<cache folder>:<source>``)."""
    skipped = set(cache.meta.get("skipped", []))
    names = cache.meta["images"][: len(cache)]
    keep = np.array([i for i, p in enumerate(names) if p not in skipped], dtype=np.int64)
    sources = cache.meta.get("sources") or [Path(p).parent.name for p in names]
    return keep, [f"{cache.folder.name}:{sources[i]}" for i in keep.tolist()]


def _load_caches(folders: Path | list[Path]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The usable rows of one or more feature caches in memory, and each row's source.

    Rows are copied from the memory-mapped arrays straight into one preallocated tensor
    per array (in chunks), so the peak memory is the size of the result.
    """
    from training.features import FeatureCache

    folders = [folders] if isinstance(folders, Path | str) else list(folders)
    caches = [FeatureCache(f) for f in folders]
    rows = [_usable_rows(c) for c in caches]
    total = sum(len(keep) for keep, _ in rows)
    arrays: dict[str, torch.Tensor] = {}
    start = 0
    for cache, (keep, _) in zip(caches, rows, strict=True):
        for name in (*LEVELS, "lightness4", "rgb4"):
            mapped = cache.array(name)
            if name not in arrays:
                shape = mapped.shape[1:] if name != "rgb4" else (3, *mapped.shape[1:3])
                dtype = torch.uint8 if name == "rgb4" else torch.float16
                arrays[name] = torch.empty((total, *shape), dtype=dtype)
            for c in range(0, len(keep), 2048):
                block = torch.from_numpy(np.ascontiguousarray(mapped[keep[c : c + 2048]]))
                if name == "rgb4":
                    block = block.permute(0, 3, 1, 2)
                arrays[name][start + c : start + c + len(block)] = block
        start += len(keep)
    return arrays, [s for _, sources in rows for s in sources]


#: ``--source-weighting`` choices: how often a row of a source of ``n`` rows is drawn.
SOURCE_WEIGHTINGS = ("none", "sqrt", "equal")


def row_weights(sources: list[str], mode: str = "none") -> torch.Tensor:
    """Sampling weight of each row so that no one source dominates the batches.

    ``none``: every row alike (a source's share is its size); ``sqrt``: a source of ``n``
    rows gets a share proportional to ``sqrt(n)``; ``equal``: every source the same share.
    The weights sum to one.
    """
    if mode not in SOURCE_WEIGHTINGS:
        raise ValueError(f"unknown source weighting {mode!r}; expected one of "
                         f"{SOURCE_WEIGHTINGS}")
    _, inverse, counts = np.unique(np.asarray(sources), return_inverse=True,
                                   return_counts=True)
    power = {"none": 1.0, "sqrt": 0.5, "equal": 0.0}[mode]
    share = counts.astype(np.float64) ** power
    w = (share / share.sum() / counts)[inverse]
    return torch.from_numpy(w / w.sum())


def head_from_onnx(path: Path, hidden: int | None = None,
                   context: int | None = None) -> BackboneHead:
    """A trainable :class:`BackboneHead` that computes what an exported head graph computes.

    The exported graph (:func:`export_head`) keeps the convolutions under their module
    names (``head.deep.f8.weight`` ...); the App. A.1 scales and the deep bias are folded
    constants, found as the ``Mul`` of each level input (and of the normalised lightness)
    and the ``Add`` of a (1, hidden, 1, 1) constant. So a later session can continue
    training from the shipped graph without the checkpoint (``train --init``).
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    consts = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy())
              for i in graph.initializer}
    pred = consts["head.pred.weight"]
    model = BackboneHead(pred.shape[0], hidden or pred.shape[1],
                         context or consts["head.context.weight"].shape[0],
                         global_context="head.glob.weight" in consts)
    state = model.state_dict()
    for name, value in consts.items():
        if name.startswith("head.") and name[5:] in state:
            state[name[5:]] = value
    producers = {o: n for n in graph.node for o in n.output}
    scale = torch.ones(len(LEVELS) + 1)
    found = set()
    for node in graph.node:
        if node.op_type == "Mul" and len(node.input) == 2:
            x, c = node.input
            if c not in consts or consts[c].numel() != 1:
                continue
            if x in LEVELS:
                scale[LEVELS.index(x)] = float(consts[c])
                found.add(x)
            elif x in producers and producers[x].op_type == "Div":
                scale[len(LEVELS)] = float(consts[c])
                found.add("lightness")
        if node.op_type == "Add":
            for c in node.input:
                if c in consts and tuple(consts[c].shape) == (1, model.hidden, 1, 1):
                    state["deep_bias"] = consts[c].reshape(-1)
                    found.add("deep_bias")
    missing = {*LEVELS, "lightness", "deep_bias"} - found
    if missing:
        raise ValueError(f"{path}: not a head graph of export_head (no {sorted(missing)})")
    state["scale"] = scale
    state["scale_ready"] = torch.ones((), dtype=torch.bool)
    model.load_state_dict(state)
    return model.eval()


def with_global_context(head: BackboneHead) -> BackboneHead:
    """A copy of ``head`` with the (zero-initialised) global-context branch added."""
    out = BackboneHead(head.pred.out_channels, head.hidden, head.context_width, True)
    missing, unexpected = out.load_state_dict(head.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("glob.") for k in missing)
    return out.train(head.training)


def load_init(path: Path, variant: Variant | None = None) -> BackboneHead:
    """A head to start from: a ``train`` checkpoint (``.pt``) or an exported graph (``.onnx``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``variant`` is given and the head has another number of outputs.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such head checkpoint or graph")
    head = head_from_onnx(path) if path.suffix == ".onnx" else load_head(path)[0]
    if variant is not None and head.pred.out_channels != variant.channels:
        raise ValueError(f"{path}: a head of {head.pred.out_channels} outputs, "
                         f"{variant.name} has {variant.channels}")
    return head


def _batch(arrays, index: torch.Tensor, flip: torch.Tensor):
    out = {}
    for k, v in arrays.items():
        x = v[index].float()
        if k == "rgb4":
            x = x / 255.0
        if bool(flip.any()):
            x[flip] = x[flip].flip(-1)
        out[k] = x
    return out


def _split(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions (train, validation) among ``n`` usable cached photos: every 50th is held out."""
    val_index = torch.arange(0, n, 50)
    train_mask = torch.ones(n, dtype=torch.bool)
    train_mask[val_index] = False
    return torch.nonzero(train_mask)[:, 0], val_index


def train_head(
    variant: Variant,
    cache: Path | list[Path],
    out: Path,
    *,
    steps: int = 3000,
    batch: int = 64,
    lr: float = 1e-3,
    hidden: int = 256,
    context: int = 128,
    rebalance: float | None = None,
    samples: int = 256,
    seed: int = 0,
    val_every: int = 500,
    max_minutes: float | None = None,
    resume: bool = False,
    threads: int = 1,
    source_weighting: str = "none",
    init: Path | None = None,
    warmup: int = 50,
    global_context: bool = False,
    cast_weight: float = 0.0,
) -> Path:
    """Train ``variant``'s head on the feature cache(s); returns the checkpoint path.

    Each image contributes ``samples`` random cells of the stride-4 grid per step (the
    paper's sparse hypercolumns). Every 50th cached row is held out for the validation
    loss (``log.jsonl``). Rows are drawn by :func:`row_weights` (``source_weighting``).
    ``init`` starts from a head checkpoint or an exported head graph (:func:`load_init`);
    ``global_context`` adds the zero-initialised global branch (to a new or an initial
    head that lacks it). ``cast_weight`` adds :func:`cast_loss` (the photo's overall tone).
    Checkpoints (``last.pt``) every 100 steps; ``resume`` continues exactly.
    """
    from tqdm import tqdm

    from training.trainer import save_atomic

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    caches = [cache] if isinstance(cache, Path | str) else list(cache)
    config = dict(variant=variant.name, steps=steps, batch=batch, lr=lr, hidden=hidden,
                  context=context, rebalance=rebalance, samples=samples, seed=seed,
                  cache=str(caches[0]) if len(caches) == 1 else [str(c) for c in caches])
    if source_weighting != "none":
        config["source_weighting"] = source_weighting
    if init is not None:
        config["init"] = str(init)
    arrays, sources = _load_caches(caches)
    n = len(sources)
    train_index, val_index = _split(n)
    draw = row_weights([sources[i] for i in train_index.tolist()], source_weighting)
    if init is not None:
        model = load_init(init, variant)
        if global_context and not model.global_context:
            model = with_global_context(model)
        hidden, context = model.hidden, model.context_width
        config.update(hidden=hidden, context=context)
        model.train()
    else:
        model = BackboneHead(variant.channels, hidden, context, global_context)
    if model.global_context:
        config["global_context"] = True
    if cast_weight:
        config["cast_weight"] = cast_weight
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    weights = None
    if rebalance is not None:
        counts = torch.bincount(joint_cells(arrays["rgb4"][train_index].float() / 255.0),
                                minlength=256).numpy()
        weights = torch.from_numpy(class_weights(counts, rebalance))
    step = 0
    last = out / "last.pt"
    if resume and last.is_file():
        from training.backbone_adapt import resume_into

        step = resume_into(last, config, model, optimiser)
    log = open(out / "log.jsonl", "a", encoding="utf-8")
    started = time.monotonic()

    def save():
        save_atomic(last, {"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                           "step": step, "config": config,
                           "weights": None if weights is None else weights.tolist()})

    def validate() -> float:
        model.eval()
        total = 0.0
        with torch.no_grad():
            for s in range(0, len(val_index), 128):
                b = _batch(arrays, val_index[s : s + 128], torch.zeros(0, dtype=torch.bool))
                logits = model(*[b[k] for k in LEVELS], b["lightness4"])
                total += float(head_loss(variant, logits, b["rgb4"])[0]) * len(b["rgb4"])
        model.train()
        return total / len(val_index)

    bar = tqdm(total=steps, initial=step, desc=f"head {variant.name}")
    while step < steps:
        if max_minutes is not None and time.monotonic() - started > 60 * max_minutes:
            break
        g = torch.Generator().manual_seed(seed * 1_000_003 + step)
        if source_weighting == "none":
            pick = torch.randint(0, len(train_index), (batch,), generator=g)
        else:
            pick = torch.multinomial(draw, batch, replacement=True, generator=g)
        index = train_index[pick]
        flip = torch.rand(batch, generator=g) < 0.5
        b = _batch(arrays, index, flip)
        levels = {k: b[k] for k in LEVELS}
        if not bool(model.scale_ready):
            model.rebalance(levels, b["lightness4"])
        warm = min(1.0, (step + 1) / max(1, warmup))
        for group in optimiser.param_groups:
            group["lr"] = lr * warm * 0.5 * (1 + math.cos(math.pi * step / steps))
        h4, w4 = b["f4"].shape[-2:]
        cells = torch.randint(0, h4 * w4, (batch, samples), generator=g)
        positions = torch.stack([cells // w4, cells % w4], dim=-1)
        logits = model(*[levels[k] for k in LEVELS], b["lightness4"], positions)
        cells_rgb = gather_cells(b["rgb4"], positions)
        loss, extra = head_loss(variant, logits, cells_rgb, weights)
        if cast_weight:
            cast = cast_loss(variant, logits, gather_cells(b["lightness4"], positions),
                             cells_rgb)
            loss = loss + cast_weight * cast
            extra["cast"] = float(cast.detach())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        bar.update()
        record: dict[str, Any] = {}
        if step % 20 == 0:
            record = {"step": step, "loss": float(loss.detach()), **extra}
        if step % val_every == 0 or step == steps:
            record = {"step": step, "loss": float(loss.detach()), **extra, "val_loss": validate()}
        if record:
            log.write(json.dumps(record) + "\n")
            log.flush()
        if step % 100 == 0:
            save()
    save()
    bar.close()
    return last


def load_head(path: Path) -> tuple[BackboneHead, dict]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    config = state["config"]
    variant = VARIANTS[config["variant"]]
    model = BackboneHead(variant.channels, config["hidden"], config["context"],
                         bool(config.get("global_context")))
    model.load_state_dict(state["model"])
    return model.eval(), state


def bin_counts(variant: Variant, cache: Path | list[Path],
               every: int = 4) -> dict[str, list[int]]:
    """How often each bin of each head holds the training targets (every ``every``-th image).

    Stored in the exported graph (``metadata_props["bin_counts"]``): the empirical prior
    that the ``rebalance=`` decoding option corrects for (Zhang et al. 2016, Eq. 4).
    """
    from training.features import FeatureCache

    caches = [cache] if isinstance(cache, Path | str) else list(cache)
    rgb = torch.from_numpy(np.concatenate(
        [FeatureCache(c).array("rgb4", load=True)[::every] for c in caches]))
    targets = _targets(variant, rgb.permute(0, 3, 1, 2).float() / 255.0)
    out = {}
    for head in variant.heads:
        if head.bins is None:
            continue
        out[head.channel] = torch.bincount(targets[head.channel], minlength=head.width).tolist()
    return out


def export_head(checkpoint: Path, out: Path, *, working_size: int = 160,
                info: dict | None = None, cache: Path | list[Path] | None = None) -> Path:
    """Export the head to ``<out>/<method>.onnx`` (levels + L* in, logits out), with parity.

    With ``cache`` (the feature cache it was trained on) the bins' training frequencies
    are recorded for the ``rebalance=`` decoding option.
    """
    import onnx
    import onnxruntime as ort

    from colorize_larsson import __version__
    from core.runtime import MODEL_FORMAT_KEY, MODEL_FORMAT_VERSION
    from onnx_export.export import _set_metadata
    from onnx_export.manifest import update_manifest

    model, state = load_head(checkpoint)
    variant = VARIANTS[state["config"]["variant"]]
    graph = _Exported(model).eval()

    def example(n, h, w, generator):
        feeds = {"lightness": torch.rand(n, 1, h, w, generator=generator) * 100}
        for k in LEVELS:
            s = LEVEL_STRIDES[k]
            feeds[k] = torch.rand(n, CHANNELS[k], h // s, w // s, generator=generator) * 3
        return feeds

    g = torch.Generator().manual_seed(0)
    inputs = example(1, 160, 224, g)
    dyn = torch.export.Dim.DYNAMIC
    path = out / f"{variant.name}.onnx"
    out.mkdir(parents=True, exist_ok=True)
    program = torch.onnx.export(
        graph, tuple(inputs.values()), input_names=list(inputs), output_names=["logits"],
        dynamic_shapes={k: {0: dyn, 2: dyn, 3: dyn} for k in inputs}, dynamo=True,
        external_data=False, verbose=False,
    )
    program.save(str(path), external_data=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for case in (inputs, example(2, 96, 128, g)):
        with torch.no_grad():
            expected = graph(*case.values()).numpy()
        (got,) = session.run(None, {k: v.numpy() for k, v in case.items()})
        worst = max(worst, float(np.max(np.abs(expected - got))))
    if worst > 1e-3:
        raise AssertionError(f"{path.name}: ONNX Runtime differs from torch by {worst:.3g}")
    heads = []
    for head in variant.heads:
        s = variant.slices()[head.channel]
        entry: dict[str, Any] = {"channel": head.channel, "width": head.width,
                                 "slice": [s.start, s.stop]}
        if head.bins is not None:
            entry["bins"] = head.bins.to_dict()
        heads.append(entry)
    metadata = {
        MODEL_FORMAT_KEY: MODEL_FORMAT_VERSION,
        "method": variant.name,
        "plugin": "colorize-larsson",
        "version": __version__,
        "colorspace": "lab",
        "distribution_space": variant.space,
        "working_size": working_size,
        "size_multiple": 32,
        "backbone": BACKBONE,
        "backbone_levels": list(LEVELS),
        "input": {"lightness": "(N, 1, H, W) CIE L*, H, W % 32 == 0",
                  **{k: f"backbone level {k}" for k in LEVELS}},
        "output": {"logits": f"(N, {variant.channels}, H, W)"},
        "heads": heads,
        "loss": variant.loss,
        "training": {**state["config"], "step": state["step"], **(info or {})},
        "parity": {"max_abs_diff": worst, "cases": 2},
    }
    if cache and variant.histogram:
        metadata["bin_counts"] = bin_counts(variant, cache)
    model_proto = onnx.load(str(path))
    _set_metadata(model_proto, {k: json.dumps(v) for k, v in metadata.items()})
    onnx.checker.check_model(model_proto, full_check=True)
    onnx.save(model_proto, str(path))
    update_manifest(out, [path], methods={variant.name: {
        "files": [path.name], "max_abs_diff": worst, "step": state["step"],
        "backbone": BACKBONE}})
    return path


def point_estimate(variant: Variant, logits: torch.Tensor,
                   lightness4: torch.Tensor) -> torch.Tensor:
    """Differentiable Lab a, b (N, 2, h, w) of dense logits at stride 4.

    The training recipe's validation estimate (:meth:`LarssonRecipe.predict_chroma`):
    expectation for Lab histograms, circular expectation with chromatic fading (Eqs. 4-5)
    and the chroma expectation for hue/chroma, the values themselves for L2.
    """
    from colorize_larsson.train import HueChromaRecipe, LarssonRecipe

    recipe = HueChromaRecipe(variant) if variant.loss == "hue-chroma" else LarssonRecipe(variant)
    logits.lightness = lightness4
    return recipe.predict_chroma(logits)


#: Lab units of the cast loss's Huber scale (a cast of 10 units costs about 0.5).
CAST_SCALE = 10.0


def cast_loss(variant: Variant, logits: torch.Tensor, lightness: torch.Tensor,
              rgb: torch.Tensor) -> torch.Tensor:
    """The photo's overall tone: Huber loss between the mean predicted and true a*, b*.

    A deviation from Larsson et al. (MODEL_CARD.md), aimed at the cast that per-pixel
    losses leave: for each photo, the mean over its sampled cells of the differentiable
    point estimate (:func:`point_estimate`: the decoder's expectation with chromatic
    fading) against the mean of the true a*, b* at those cells, in units of
    :data:`CAST_SCALE`, smooth-L1, averaged over photos. The cells are a random sample of
    the photo, so their mean estimates the photo's mean tone.

    Parameters
    ----------
    logits : (N, C, 1, S) sparse logits; lightness : (N, 1, 1, S) L* at those cells;
    rgb : (N, 3, 1, S) the photo at those cells, in [0, 1].
    """
    from training.lab import rgb_to_lab

    pred = point_estimate(variant, logits, lightness).mean(dim=(2, 3))
    true = rgb_to_lab(rgb)[:, 1:].mean(dim=(2, 3))
    return F.smooth_l1_loss(pred / CAST_SCALE, true / CAST_SCALE)


def _photo_crops(rows: list[tuple[Path, int]], size: int, crops: int) -> torch.Tensor:
    """The cache's ``size`` x ``size`` crops of ``rows`` (photo, crop index) again,
    (N, 3, S, S) in [0, 1], cut as :func:`training.features.build_cache` cut them."""
    from training.data import load_images
    from training.features import _crop, decode_side

    missing = [p for p, _ in rows if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{missing[0]}: photo of the feature cache not found "
                                "(run from the folder the cache was built in)")
    photos = list(dict.fromkeys(p for p, _ in rows))
    loaded = load_images([(p, None) for p in photos], short_side=decode_side(size, crops),
                         threads=1, progress=False)
    found = dict(zip(loaded.paths, loaded.images, strict=True))
    cut = [_crop(found[p], size, k, str(p)) if p in found
           else np.zeros((size, size, 3), np.uint8) for p, k in rows]
    return torch.from_numpy(np.stack(cut)).permute(0, 3, 1, 2).float() / 255.0


def tune_head(
    checkpoint: Path,
    cache: Path,
    out: Path,
    *,
    steps: int = 300,
    batch: int = 16,
    lr: float = 1e-4,
    weight: float = 1.0,
    seed: int = 0,
    threads: int = 1,
    max_minutes: float | None = None,
) -> Path:
    """Semantic tuning of a trained head (``tune``): colours the colour classifier recognises.

    A deviation from Larsson et al. (who train with the histogram loss only), taken from
    He et al. 2018's perceptual branch (Eqs. 5-6, a loss through the colour ImageNet
    network): each step colours ``batch`` cached photos densely at stride 4 with the
    differentiable point estimate (:func:`point_estimate`), recombines the chroma,
    upsampled bilinearly, with the photo's full-resolution L* (as the core does at
    inference) and adds ``weight`` x KL(classifier(true colour) || classifier(colorized))
    of the frozen, unadapted colour EfficientNet-Lite0 to the variant's own loss (Eqs. 1-3,
    dense, against the photo at stride 4), which keeps the histograms calibrated.
    The held-out semantic-test photos are not in the cache (:func:`training.splits.held_out`),
    but the semantic test's judge is this same classifier: report it as such.
    """
    from tqdm import tqdm

    from training.backbone import load_pretrained
    from training.features import FeatureCache, row_photos
    from training.lab import lab_to_rgb, rgb_to_lab
    from training.trainer import save_atomic

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model, state = load_head(checkpoint)
    variant = VARIANTS[state["config"]["variant"]]
    classifier = load_pretrained().eval()
    for p in classifier.parameters():
        p.requires_grad_(False)
    features = FeatureCache(cache)  # memory-mapped: a step reads only its photos' rows
    photo_rows = row_photos(features.meta)
    crops = int(features.meta.get("crops", 1))
    keep, _ = _usable_rows(features)
    size = int(features.meta["size"])
    mapped = {k: features.array(k) for k in (*LEVELS, "lightness4", "rgb4")}
    train_index = torch.from_numpy(keep)[_split(len(keep))[0]]  # rows train_head trained on
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    config = {**state["config"], "tune": {"steps": steps, "batch": batch, "lr": lr,
                                          "weight": weight, "seed": seed,
                                          "from_step": state["step"]}}
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "log.jsonl", "a", encoding="utf-8")

    def logits_of(rgb: torch.Tensor) -> torch.Tensor:
        return classifier(classifier.normalise(rgb.clamp(0, 1) * 255.0))

    def colorized(b, full_light):
        logits = model(*[b[k] for k in LEVELS], b["lightness4"])
        ab = point_estimate(variant, logits, b["lightness4"])
        ab = F.interpolate(ab, size=full_light.shape[-2:], mode="bilinear",
                           align_corners=False)
        return logits, lab_to_rgb(torch.cat([full_light, ab], 1))

    started = time.monotonic()
    step = 0
    bar = tqdm(total=steps, desc=f"tune {variant.name}")
    while step < steps:
        if max_minutes is not None and time.monotonic() - started > 60 * max_minutes:
            break
        g = torch.Generator().manual_seed(seed * 1_000_003 + step + 7)
        index = train_index[torch.randint(0, len(train_index), (batch,), generator=g)]
        rows = np.sort(index.numpy())
        b = {k: torch.from_numpy(np.asarray(v[rows], dtype=np.float32)) for k, v in mapped.items()}
        b["rgb4"] = b["rgb4"].permute(0, 3, 1, 2) / 255.0
        index = torch.from_numpy(rows)
        photos = _photo_crops([photo_rows[i] for i in index.tolist()], size, crops)
        light = rgb_to_lab(photos)[:, :1]
        with torch.no_grad():
            teacher = logits_of(photos).log_softmax(1)
        for group in optimiser.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
        logits, rgb = colorized(b, light)
        own, _ = head_loss(variant, logits, b["rgb4"])
        student = logits_of(rgb).log_softmax(1)
        semantic = F.kl_div(student, teacher, log_target=True, reduction="batchmean")
        loss = own + weight * semantic
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        bar.update()
        agree = float((student.argmax(1) == teacher.argmax(1)).float().mean())
        log.write(json.dumps({"step": step, "loss": float(own.detach()),
                              "semantic": float(semantic.detach()),
                              "agree": agree}) + "\n")
        log.flush()
    bar.close()
    path = out / "last.pt"
    save_atomic(path, {"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                       "step": state["step"], "config": config,
                       "weights": state.get("weights")})
    return path


class _EndToEnd(nn.Module):
    """Backbone + head, for ``--finetune-backbone`` (sparse loss cells, as in training)."""

    def __init__(self, backbone: nn.Module, head: BackboneHead):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, lightness: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        levels = self.backbone.pyramid(lightness)
        return self.head(*[levels[k] for k in LEVELS], F.avg_pool2d(lightness, 4), positions)


def start_end_to_end(variant: Variant, backbone: Path | None = None,
                     head: Path | None = None, hidden: int = 256,
                     context: int = 128) -> _EndToEnd:
    """Backbone + head where :func:`finetune` starts, in eval mode.

    ``backbone``: a gray-adaptation checkpoint, the shipped ``efficientnet-lite0-gray.onnx``
    (:func:`training.backbone_onnx.gray_backbone_from_onnx`) or None (the ImageNet network
    made gray, :func:`training.backbone.to_gray`); ``head``: a head checkpoint, a shipped
    head graph (:func:`load_init`) or None (a new head).
    """
    from training.backbone import GrayBackbone, load_pretrained, to_gray
    from training.backbone_adapt import load_adapted

    if backbone is not None and Path(backbone).suffix == ".onnx":
        from training.backbone_onnx import gray_backbone_from_onnx

        net = gray_backbone_from_onnx(backbone)
    elif backbone is not None:
        net = load_adapted(backbone)
    else:
        net = GrayBackbone(to_gray(load_pretrained()))
    top = load_init(head, variant) if head is not None else BackboneHead(variant.channels,
                                                                          hidden, context)
    return _EndToEnd(net, top).eval()


def finetune(
    variant: Variant,
    data_root: Path,
    out: Path,
    *,
    backbone_checkpoint: Path | None = None,
    init_head: Path | None = None,
    steps: int = 2000,
    batch: int = 32,
    crop: int = 160,
    lr: float = 1e-4,
    backbone_lr: float = 1e-5,
    hidden: int = 256,
    context: int = 128,
    samples: int = 256,
    seed: int = 0,
    max_minutes: float | None = None,
    resume: bool = False,
    threads: int | None = None,
    sources: tuple[str, ...] | None = None,
    extra: Path | None = None,
    per_source: int | None = None,
    pack: Path | None = None,
) -> Path:
    """Train backbone and head end to end from photos (``train --finetune-backbone``).

    Larsson et al. fine-tune the whole network (§3.5). CUDA is used when present; on a
    CPU, use a small ``crop`` (e.g. 96) and ``batch``. Random crops of the head-training
    photos (:data:`training.backbone_adapt.HEAD_SOURCES`) and, with ``extra``, of the
    extra photos (``extra_photos.py DEST``, at most ``per_source`` a source,
    :func:`training.features.extra_items`) — or, with ``pack``, the photos of a
    :mod:`training.pack` file alone (a GPU round, docs/training.md) — the variant's sparse
    loss (bfloat16 autocast on CUDA), Adam
    with a 10x smaller learning rate for the backbone (its batch-norm statistics stay
    frozen). Under ``torchrun`` (``WORLD_SIZE`` > 1) both are wrapped in
    DistributedDataParallel, each rank draws its own crops (seed, rank, step) and rank 0
    writes ``last.pt`` (head, as :func:`train_head` writes it, so :func:`export_head`
    reads it) and ``backbone.pt`` (for ``python -m onnx_export.backbone``). A fine-tuned
    backbone replaces the shared one for every method: retrain the other heads on it.

    ``backbone_checkpoint`` and ``init_head`` may be the shipped ONNX graphs
    (``efficientnet-lite0-gray.onnx``, ``larsson.onnx``;
    :func:`training.backbone_onnx.gray_backbone_from_onnx`, :func:`head_from_onnx`), so a
    new machine continues from the shipped model without any checkpoint.
    """
    import os

    import torch.distributed as dist
    from tqdm import tqdm

    from training.backbone_adapt import HEAD_SOURCES, training_items
    from training.backbone_adapt import _batch as photo_batch
    from training.data import load_images
    from training.lab import rgb_to_lab
    from training.trainer import save_atomic

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) \
        if torch.cuda.is_available() else torch.device("cpu")
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = start_end_to_end(variant, backbone_checkpoint, init_head, hidden, context)
    backbone, head = model.backbone, model.head
    head.train()
    model = model.to(device)
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    optimiser = torch.optim.Adam([
        {"params": backbone.parameters(), "lr": backbone_lr},
        {"params": head.parameters(), "lr": lr},
    ])
    base = [backbone_lr, lr]
    config = dict(variant=variant.name, steps=steps, batch=batch, crop=crop, lr=lr,
                  backbone_lr=backbone_lr, hidden=head.hidden, context=head.context_width,
                  samples=samples, seed=seed, finetune=True, world=world,
                  global_context=head.global_context)
    out.mkdir(parents=True, exist_ok=True)
    last, step = out / "last.pt", 0
    if resume and last.is_file():
        from training.backbone_adapt import load_pyramid_state, resume_into

        step = resume_into(last, config, head, optimiser)
        load_pyramid_state(backbone, torch.load(out / "backbone.pt", map_location="cpu",
                                                weights_only=True)["model"], out / "backbone.pt")
    if pack is not None:
        from training.pack import load_pack

        images, _, _ = load_pack(pack, short_side=crop + crop // 8)
    else:
        items = training_items(data_root, sources or HEAD_SOURCES)
        if extra is not None:
            from training.features import extra_items

            items += extra_items(extra, per_source=per_source, seed=seed)
        images = load_images([(p, None) for p in items],
                             short_side=crop + crop // 8).images
    if not images:
        raise ValueError(f"{out}: no training photos")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")

    def head_state() -> dict:
        return {"model": head.state_dict(), "step": step, "config": config, "weights": None}

    def save():
        if rank == 0:
            from training.backbone_adapt import pyramid_state

            save_atomic(out / "backbone.pt", {"model": pyramid_state(backbone), "step": step})
            save_atomic(last, {**head_state(), "optimiser": optimiser.state_dict()})

    started = time.monotonic()
    bar = tqdm(total=steps, initial=step, desc=f"finetune {variant.name}", disable=rank != 0)
    net.train()
    backbone.eval()  # frozen batch-norm statistics (small batches)
    while step < steps:
        if max_minutes is not None and time.monotonic() - started > 60 * max_minutes:
            break
        rng = np.random.default_rng([seed, rank, step])
        rgb = photo_batch(images, rng, batch, crop).to(device) / 255.0
        lightness = rgb_to_lab(rgb)[:, :1]
        h4, w4 = crop // 4, crop // 4
        g = torch.Generator().manual_seed(seed * 1_000_003 + step * 64 + rank)
        cells = torch.randint(0, h4 * w4, (batch, samples), generator=g).to(device)
        positions = torch.stack([cells // w4, cells % w4], dim=-1)
        for group, value in zip(optimiser.param_groups, base, strict=True):
            group["lr"] = value * 0.5 * (1 + math.cos(math.pi * step / steps))
        if not bool(head.scale_ready):
            levels = backbone.pyramid(lightness)
            head.rebalance({k: levels[k] for k in LEVELS}, F.avg_pool2d(lightness, 4))
        with autocast:
            logits = net(lightness, positions)
        logits = logits.float()
        rgb4 = F.avg_pool2d(rgb, 4)
        loss, _ = head_loss(variant, logits, gather_cells(rgb4, positions))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        bar.update()
        if rank == 0 and (step % 50 == 0 or step == steps):
            with open(out / "log.jsonl", "a", encoding="utf-8") as log:
                log.write(json.dumps({"step": step, "loss": round(loss.item(), 5),
                                      "seconds": round(time.monotonic() - started, 1)}) + "\n")
        if step % 100 == 0:
            save()
    save()
    if rank == 0:  # the head alone (no optimiser state): what a GPU round sends back
        save_atomic(out / "head.pt", head_state())
    bar.close()
    return last


def score_end_to_end(variant: Variant, model: _EndToEnd, paths: list[Path], *,
                     size: int = 160, batch: int = 16) -> dict[str, float]:
    """The variant's loss (Eqs. 1-3) at every stride-4 cell of ``paths``' centre crops.

    Measures what end-to-end fine-tuning adds over frozen features: the same photos
    through (frozen backbone, head) and (fine-tuned backbone, its head). Returns the mean
    ``loss`` per photo and the number of ``photos``.
    """
    from training.data import load_images
    from training.features import _crop
    from training.lab import rgb_to_lab

    loaded = load_images([(p, None) for p in paths], short_side=size, progress=False)
    crops = np.stack([_crop(img, size) for img in loaded.images])
    total, count = 0.0, 0
    h4 = size // 4
    cells = torch.arange(h4 * h4)
    positions = torch.stack([cells // h4, cells % h4], dim=-1)
    model.eval()
    with torch.no_grad():
        for s in range(0, len(crops), batch):
            rgb = torch.from_numpy(crops[s : s + batch]).permute(0, 3, 1, 2).float() / 255.0
            n = len(rgb)
            logits = model(rgb_to_lab(rgb)[:, :1], positions[None].expand(n, -1, -1))
            rgb4 = gather_cells(F.avg_pool2d(rgb, 4), positions[None].expand(n, -1, -1))
            loss, _ = head_loss(variant, logits, rgb4)
            total += float(loss) * n
            count += n
    return {"loss": total / max(1, count), "photos": count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m colorize_larsson.head")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a variant's head from a feature cache")
    train.add_argument("method", choices=sorted(VARIANTS))
    train.add_argument("--cache", type=Path, action="append",
                       help="feature cache (repeat for several; default runs/features)")
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--steps", type=int, default=3000)
    train.add_argument("--source-weighting", choices=SOURCE_WEIGHTINGS, default="none",
                       help="share of each source in the batches (row_weights)")
    train.add_argument("--init", type=Path,
                       help="start from a head checkpoint (.pt) or a shipped head graph (.onnx)")
    train.add_argument("--warmup", type=int, default=50, help="linear warm-up steps")
    train.add_argument("--global-context", action="store_true",
                       help="add the global-context branch (zero at the start)")
    train.add_argument("--cast-weight", type=float, default=0.0,
                       help="weight of cast_loss, the photo's mean a*, b* (default 0: off)")
    train.add_argument("--batch", type=int, default=64)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--hidden", type=int, default=256)
    train.add_argument("--context", type=int, default=128)
    train.add_argument("--rebalance", type=float, help="Zhang et al. lambda (default: none)")
    train.add_argument("--samples", type=int, default=256,
                       help="sparse hypercolumns per image (Sec. 3.5; the paper: 128)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=1)
    train.add_argument("--max-minutes", type=float)
    train.add_argument("--resume", action="store_true")
    train.add_argument("--finetune-backbone", action="store_true",
                       help="train backbone and head end to end from photos (GPU; torchrun "
                       "for several processes) instead of from the feature cache")
    train.add_argument("--data", type=Path, help="COLORIZE_DATA, for --finetune-backbone")
    train.add_argument("--backbone", type=Path,
                       help="gray backbone to start from: a checkpoint, or the shipped "
                       "efficientnet-lite0-gray.onnx")
    train.add_argument("--init-head", type=Path,
                       help="head to start from: a checkpoint or a shipped head graph (.onnx)")
    train.add_argument("--crop", type=int, default=160,
                       help="--finetune-backbone crop side (e.g. 96 on a CPU)")
    train.add_argument("--backbone-lr", type=float, default=1e-5)
    train.add_argument("--extra", type=Path, metavar="DEST",
                       help="--finetune-backbone: also the photos of extra_photos.py DEST")
    train.add_argument("--per-source", type=int, help="with --extra: at most N a source")
    train.add_argument("--pack", type=Path,
                       help="--finetune-backbone: only the photos of a training.pack file")
    tune = sub.add_parser("tune", help="semantic tuning of a trained head (tune_head)")
    tune.add_argument("--checkpoint", type=Path, required=True)
    tune.add_argument("--cache", type=Path, default=Path("runs/features"))
    tune.add_argument("--out", type=Path, required=True)
    tune.add_argument("--steps", type=int, default=300)
    tune.add_argument("--batch", type=int, default=16)
    tune.add_argument("--lr", type=float, default=1e-4)
    tune.add_argument("--weight", type=float, default=1.0)
    tune.add_argument("--seed", type=int, default=0)
    tune.add_argument("--threads", type=int, default=1)
    tune.add_argument("--max-minutes", type=float)
    score = sub.add_parser("score", help="loss of backbone + head on photos (score_end_to_end)")
    score.add_argument("method", choices=sorted(VARIANTS))
    score.add_argument("--backbone", type=Path, required=True,
                       help="backbone: efficientnet-lite0-gray.onnx or a backbone.pt of finetune")
    score.add_argument("--head", type=Path, required=True, help="head checkpoint or graph")
    score.add_argument("--data", action="append", required=True,
                       help="folder of photos (DIR@select / DIR@report for one half)")
    score.add_argument("--size", type=int, default=160)
    score.add_argument("--threads", type=int, default=2)
    export = sub.add_parser("export", help="export a trained head to ONNX")
    export.add_argument("method", choices=sorted(VARIANTS))
    export.add_argument("--checkpoint", type=Path, required=True)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--working-size", type=int, default=160)
    export.add_argument("--cache", type=Path, action="append",
                        help="feature cache(s) the head was trained on (bin frequencies; "
                        "repeat for several; default runs/features)")
    args = parser.parse_args(argv)
    if args.command == "train" and args.finetune_backbone:
        import os

        path = finetune(
            VARIANTS[args.method], args.data or Path(os.environ.get("COLORIZE_DATA",
                                                                    "../shared/datasets")),
            args.out, backbone_checkpoint=args.backbone, init_head=args.init_head,
            crop=args.crop, backbone_lr=args.backbone_lr, extra=args.extra,
            per_source=args.per_source, pack=args.pack,
            steps=args.steps, batch=args.batch, lr=args.lr, hidden=args.hidden,
            context=args.context, samples=args.samples, seed=args.seed,
            max_minutes=args.max_minutes, resume=args.resume, threads=args.threads,
        )
    elif args.command == "train":
        path = train_head(
            VARIANTS[args.method], args.cache or [Path("runs/features")], args.out,
            steps=args.steps, batch=args.batch, lr=args.lr, hidden=args.hidden,
            context=args.context, rebalance=args.rebalance, samples=args.samples,
            seed=args.seed, max_minutes=args.max_minutes, resume=args.resume,
            threads=args.threads, source_weighting=args.source_weighting, init=args.init,
            warmup=args.warmup, global_context=args.global_context,
            cast_weight=args.cast_weight,
        )
    elif args.command == "score":
        from colorize_eval.evaluate import data_files

        torch.set_num_threads(args.threads)
        paths = [p for spec in args.data for p in data_files(spec)[2]]
        model = start_end_to_end(VARIANTS[args.method], args.backbone, args.head)
        print(json.dumps(score_end_to_end(VARIANTS[args.method], model, paths,
                                          size=args.size)))
        return 0
    elif args.command == "tune":
        path = tune_head(args.checkpoint, args.cache, args.out, steps=args.steps,
                         batch=args.batch, lr=args.lr, weight=args.weight, seed=args.seed,
                         threads=args.threads, max_minutes=args.max_minutes)
    else:
        cache = [c for c in (args.cache or [Path("runs/features")]) if c.is_dir()]
        path = export_head(args.checkpoint, args.out, working_size=args.working_size,
                           cache=cache)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
