"""Training, export and training-curve plot of ``cnn-gan`` (torch; never imported by inference).

The conditional GAN of the loss-study report's Appendix 1 (a pix2pix-style U-Net
generator and a PatchGAN discriminator, :mod:`colorize_cnn.gan_model`) needs two
optimizers, which the generic ``training.trainer.Trainer`` does not have, so this
module has its own small loop built on ``training.data`` (the same image folders,
crops and deterministic batches: batch ``s`` depends only on the seed and ``s``),
with atomic checkpoints, exact ``--resume``, a ``--max-minutes`` budget that saves
and exits cleanly, and one JSON object per line in ``log.jsonl``. ``--init GRAPH``
starts a new run (step 0, fresh discriminator and optimizers) whose generator is
rebuilt from an exported ``cnn-gan.onnx`` (:func:`init_generator`), so a machine
without checkpoints continues from the shipped model::

    python -m colorize_cnn.gan train --data DIR [--data DIR ...] --val DIR \
        --config plugins/colorize-cnn/configs/gan.toml --out runs/cnn-gan --max-minutes 50
        [--resume [CKPT] | --init plugins/colorize-cnn/colorize_cnn/models/cnn-gan.onnx]
    python -m colorize_cnn.gan export --checkpoint runs/cnn-gan/last.ckpt \
        --out plugins/colorize-cnn/colorize_cnn/models --real DIR
    python -m colorize_cnn.gan plot --log runs/cnn-gan/log.jsonl \
        --out plugins/colorize-cnn/colorize_cnn/cnn-gan-training.png

Objective (Isola et al. 2017, Eq. 4, with the LSGAN form of the adversarial term,
Mao et al. 2017, Eq. 9)::

    D: min 1/2 E[(D(L, ab) - 1)^2] + 1/2 E[D(L, G(L))^2]
    G: min E[(D(L, G(L)) - 1)^2] + lambda * E|G(L) - ab| / 110

``adversarial = "bce"`` gives the non-saturating cross-entropy form instead. Only
the generator is exported and shipped (``cnn-gan.onnx``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from colorize_cnn import __version__
from colorize_cnn.gan_model import AB_RANGE, PatchDiscriminator, UNetGenerator
from training.trainer import CHECKPOINT_FORMAT

__all__ = [
    "DEFAULTS",
    "METHOD",
    "adversarial_loss",
    "build_discriminator",
    "build_generator",
    "export_generator",
    "graph_difference",
    "init_generator",
    "load_config",
    "main",
    "plot_log",
    "train",
]

#: The method name of the exported generator.
METHOD = "cnn-gan"

#: Default configuration (``configs/gan.toml`` and ``--set key=json`` override it).
DEFAULTS: dict[str, Any] = {
    "steps": 3000,
    "batch_size": 32,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "betas": [0.5, 0.999],
    "decay_from": 0.5,  # linear decay of both learning rates to 0 from this fraction of steps
    "l1_weight": 100.0,
    "adversarial": "lsgan",
    "l1_warmup_steps": 0,  # generator steps with the L1 term only (the discriminator trains)
    "crop": 64,
    "scale": [0.5, 1.0],
    "cache_size": 96,
    "train_splits": ["train", "val"],
    "val_images": 50,
    "val_every": 250,
    "ckpt_every": 100,
    "log_every": 20,
    "seed": 0,
    "threads": 1,
    "max_minutes": None,
    "generator": {"widths": [32, 64, 96, 128, 96], "dropout": 0.5, "dropout_layers": 2},
    "discriminator": {"widths": [32, 64], "spectral_norm": True},
}

_WORKING_SIZE = 64

#: Training batches (steps ``0 .. INIT_BATCHES - 1``) that rebuild the BatchNorms of ``--init``.
INIT_BATCHES = 4


def load_config(path: str | os.PathLike | None = None, overrides: Sequence[str] = ()) -> dict:
    """:data:`DEFAULTS` updated by a TOML/JSON file and ``key=json`` overrides (dotted keys).

    Raises
    ------
    KeyError
        For a key that is not in :data:`DEFAULTS` (catches typos in configs).
    """
    from training.config import load_config_file

    config = copy.deepcopy(DEFAULTS)

    def put(key: str, value: Any) -> None:
        target = config
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target[parent]
        if leaf not in target:
            raise KeyError(f"unknown cnn-gan config key {key!r}; known: {', '.join(DEFAULTS)}")
        target[leaf] = value

    if path:
        for key, value in load_config_file(path).items():
            if isinstance(value, dict):
                for sub, subvalue in value.items():
                    put(f"{key}.{sub}", subvalue)
            else:
                put(key, value)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"expected KEY=JSON, got {item!r}")
        put(key.strip(), json.loads(value))
    return config


def build_generator(options: dict[str, Any] | None = None) -> UNetGenerator:
    """The U-Net generator from the config's ``generator`` table."""
    options = {**DEFAULTS["generator"], **(options or {})}
    return UNetGenerator(
        widths=tuple(options["widths"]),
        dropout=float(options["dropout"]),
        dropout_layers=int(options["dropout_layers"]),
    )


def build_discriminator(options: dict[str, Any] | None = None) -> PatchDiscriminator:
    """The PatchGAN discriminator from the config's ``discriminator`` table."""
    options = {**DEFAULTS["discriminator"], **(options or {})}
    return PatchDiscriminator(
        widths=tuple(options["widths"]), spectral_norm=bool(options["spectral_norm"])
    )


def adversarial_loss(scores: torch.Tensor, real: bool, kind: str = "lsgan") -> torch.Tensor:
    """Adversarial loss of a grid of discriminator scores against the label ``real``.

    ``"lsgan"``: mean squared distance to 1 (real) or 0 (fake) (Mao et al. 2017,
    Eq. 9); ``"bce"``: binary cross-entropy on logits, i.e. the non-saturating
    loss when the generator uses ``real=True`` (Goodfellow et al. 2014, section 3).
    """
    if kind == "lsgan":
        return ((scores - 1.0) ** 2).mean() if real else (scores**2).mean()
    if kind == "bce":
        target = torch.ones_like(scores) if real else torch.zeros_like(scores)
        return F.binary_cross_entropy_with_logits(scores, target)
    raise ValueError(f"adversarial must be 'lsgan' or 'bce', got {kind!r}")


def _lab_batch(images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (N, H, W, 3) RGB -> lightness (N, 1, H, W), chroma (N, 2, H, W) in Lab units."""
    from training.lab import rgb_to_lab

    rgb = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    lab = rgb_to_lab(rgb)
    return lab[:, :1].contiguous(), lab[:, 1:].contiguous()


def _lr_factor(step: int, config: dict[str, Any]) -> float:
    start = int(round(config["decay_from"] * config["steps"]))
    if step < start:
        return 1.0
    return max(0.0, 1.0 - (step - start) / max(1, config["steps"] - start))


def init_generator(
    generator: UNetGenerator, graph: str | os.PathLike, lightness: torch.Tensor
) -> UNetGenerator:
    """Load an exported generator graph, BatchNorm folded in, into ``generator``; returns it.

    So that a new machine, which has no checkpoint, continues training from the
    shipped ``cnn-gan.onnx`` (issue 30, item 4).

    Parameters
    ----------
    generator : UNetGenerator
        Built from the run's config; its weights are overwritten in place (so
        optimizers built on it stay valid).
    graph : path-like
        An exported generator (:func:`export_generator`).
    lightness : torch.Tensor
        (N, 1, H, W) Lab lightness of training crops, for the BatchNorm statistics.

    Raises
    ------
    FileNotFoundError
        If ``graph`` does not exist.
    ValueError
        Naming ``graph``, for a parameter it lacks or a shape that differs
        (another method or architecture).

    Notes
    -----
    The exporter folds each BatchNorm into the convolution before it: per output
    channel the graph holds ``W' = W g / s`` (under the convolution's name, e.g.
    ``down.1.0.weight``) and ``b' = beta - m g / s``, an initializer under any
    name, found as the bias input of the Conv/ConvTranspose node of ``W'``.
    Every convolution gets ``W'`` (and the graph's bias where it has one). A
    BatchNorm after a convolution (registered next to it, as in the forward) is
    rebuilt from the per-channel mean ``m'`` and variance ``v'`` of ``W' x`` over
    ``lightness`` in train mode: running mean ``m'``, running variance ``v'``,
    ``g' = sqrt(v' + eps)``, ``beta' = m' + b'``. In eval mode then
    ``BN(W' x) = W' x + b'``, the graph's output whatever ``m'``, ``v'``; in
    train mode batch statistics do not see the scale of ``W'``, and ``g'``,
    ``beta'`` restore ``g``, ``beta`` of the original network up to the
    difference of statistics. Each layer's statistics depend on the earlier
    layers' ``g'``, ``beta'``, so they are measured in one forward pass, in order,
    by a hook before each BatchNorm (dropout on, as in training; the torch RNG is
    left as it was).
    """
    import onnx
    from onnx import numpy_helper

    path = Path(graph)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such graph")
    model = onnx.load(str(path))
    arrays = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    bias_of = {  # weight name -> bias input name ("" for none)
        node.input[1]: node.input[2] if len(node.input) > 2 else ""
        for node in model.graph.node
        if node.op_type in ("Conv", "ConvTranspose")
    }

    def take(name: str, like: torch.Tensor) -> torch.Tensor:
        if name not in arrays:
            raise ValueError(f"{path}: the graph lacks {name} (another method?)")
        value = torch.from_numpy(arrays[name].copy())
        if value.shape != like.shape:
            raise ValueError(
                f"{path}: {name} has shape {tuple(value.shape)}, the generator "
                f"{tuple(like.shape)} (another architecture?)"
            )
        return value

    modules = list(generator.named_modules())
    folded: dict[nn.Module, torch.Tensor] = {}  # BatchNorm -> folded bias b'
    loaded: set[nn.Module] = set()
    with torch.no_grad():
        for (name, conv), (_, after) in zip(modules, [*modules[1:], ("", None)], strict=True):
            if not isinstance(conv, (nn.Conv2d, nn.ConvTranspose2d)):
                continue
            weight = f"{name}.weight"
            conv.weight.copy_(take(weight, conv.weight))
            has_bias = isinstance(after, nn.BatchNorm2d) or conv.bias is not None
            if bool(bias_of.get(weight)) != has_bias:
                raise ValueError(f"{path}: the bias of {weight} is missing or unexpected")
            bias = take(bias_of[weight], torch.empty(conv.out_channels)) if has_bias else None
            if isinstance(after, nn.BatchNorm2d):
                folded[after] = bias
                loaded.add(after)
                if conv.bias is not None:
                    conv.bias.zero_()
            elif conv.bias is not None:
                conv.bias.copy_(bias)
            loaded.add(conv)
            bias_of.pop(weight, None)
    stray = [n for n, m in modules if m not in loaded and list(m.parameters(recurse=False))]
    if stray or bias_of:
        raise ValueError(
            f"{path}: no graph parameters for {stray[:3]}, graph convolutions the "
            f"generator lacks {sorted(bias_of)[:3]} (another architecture?)"
        )

    def refit(bn: nn.BatchNorm2d, args: tuple[torch.Tensor]) -> None:
        mean, var = args[0].mean((0, 2, 3)), args[0].var((0, 2, 3), unbiased=False)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
        bn.weight.copy_((var + bn.eps).sqrt())
        bn.bias.copy_(mean + folded[bn])

    hooks = [bn.register_forward_pre_hook(refit) for bn in folded]
    training = generator.training
    try:
        for bn in folded:
            bn.track_running_stats = False  # train mode: batch statistics, no running update
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            generator.train()(lightness)
    finally:
        for hook in hooks:
            hook.remove()
        for bn in folded:
            bn.track_running_stats = True
        generator.train(training)
    return generator


def graph_difference(
    generator: nn.Module, graph: str | os.PathLike, inputs: Sequence[torch.Tensor]
) -> float:
    """Largest |ONNX Runtime(``graph``) - ``generator`` (eval mode)| over ``inputs`` (Lab a, b)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    training = generator.training
    generator.eval()
    try:
        with torch.no_grad():
            return max(
                float(np.abs(session.run(None, {name: x.numpy()})[0] - generator(x).numpy()).max())
                for x in inputs
            )
    finally:
        generator.train(training)


class _Run:
    """State of one training run: networks, optimizers, step, data, log."""

    def __init__(self, config: dict[str, Any], train_set, val_set, data_info, out: Path):
        from training import data as datalib

        self.config = config
        self.out = out
        self.data_info = data_info
        self.batcher = datalib.Batcher(
            train_set,
            batch_size=config["batch_size"],
            crop=config["crop"],
            scale=tuple(config["scale"]),
            seed=config["seed"],
        )
        self.val_images = (
            datalib.working_images(val_set, _WORKING_SIZE, 32)[: config["val_images"]]
            if val_set is not None
            else []
        )
        torch.manual_seed(config["seed"])
        self.generator = build_generator(config["generator"])
        self.discriminator = build_discriminator(config["discriminator"])
        betas = tuple(config["betas"])
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config["lr_g"], betas=betas)
        self.opt_d = torch.optim.Adam(
            self.discriminator.parameters(), lr=config["lr_d"], betas=betas
        )
        self.step = 0
        self.elapsed = 0.0
        self.val: dict[str, float] = {}

    # -- checkpoints -------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "method": METHOD,
            "step": self.step,
            "elapsed": self.elapsed,
            "model": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "optimizer": self.opt_g.state_dict(),
            "optimizer_d": self.opt_d.state_dict(),
            "rng": {"torch": torch.get_rng_state()},
            "config": json.loads(json.dumps(self.config)),
            "options": json.loads(json.dumps(self.config["generator"])),
            "data": json.loads(json.dumps(self.data_info)),
            "val": dict(self.val),
            "statistics": None,
            "world_size": 1,
            "torch": str(torch.__version__),
        }

    def save(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "last.ckpt"
        tmp = path.with_suffix(".tmp")
        torch.save(self.state(), tmp)
        os.replace(tmp, path)
        return path

    def restore(self, path: Path) -> None:
        from training.trainer import load_checkpoint

        ckpt = load_checkpoint(path)
        if ckpt.get("method") != METHOD:
            raise ValueError(f"{path}: checkpoint is for {ckpt.get('method')!r}, not {METHOD!r}")
        self.generator.load_state_dict(ckpt["model"])
        self.discriminator.load_state_dict(ckpt["discriminator"])
        self.opt_g.load_state_dict(ckpt["optimizer"])
        self.opt_d.load_state_dict(ckpt["optimizer_d"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        self.step = int(ckpt["step"])
        self.elapsed = float(ckpt["elapsed"])
        self.val = dict(ckpt.get("val") or {})

    def init_from(self, graph: Path) -> float:
        """Generator from ``graph`` (:func:`init_generator`); returns the largest difference.

        The BatchNorm statistics come from the first :data:`INIT_BATCHES` training
        batches; the difference (:func:`graph_difference`) is over 8 of their crops
        and 2 of them enlarged 1.4 times (sizes off the stride: the resize path).
        Photos, not per-pixel noise: on noise ONNX Runtime and torch differ by about
        1e-3 for any weights (the export's own parity check on noise shows as much).
        """
        lightness = torch.cat(
            [_lab_batch(self.batcher.batch(s)[0])[0] for s in range(INIT_BATCHES)]
        )
        init_generator(self.generator, graph, lightness)
        larger = F.interpolate(lightness[:2], scale_factor=1.4, mode="bilinear")
        return graph_difference(self.generator, graph, [lightness[:8], larger])

    def log(self, record: dict[str, Any]) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / "log.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    # -- one step ------------------------------------------------------------------

    def train_step(self) -> dict[str, float]:
        """One discriminator update, then one generator update, on batch ``self.step``."""
        config, kind = self.config, self.config["adversarial"]
        factor = _lr_factor(self.step, config)
        for group in self.opt_g.param_groups:
            group["lr"] = config["lr_g"] * factor
        for group in self.opt_d.param_groups:
            group["lr"] = config["lr_d"] * factor
        lightness, chroma = _lab_batch(self.batcher.batch(self.step)[0])
        fake = self.generator(lightness)

        # discriminator: real pairs towards 1, generated pairs towards 0
        self.discriminator.requires_grad_(True)
        d_real = self.discriminator(lightness, chroma)
        d_fake = self.discriminator(lightness, fake.detach())
        loss_d = 0.5 * (
            adversarial_loss(d_real, True, kind) + adversarial_loss(d_fake, False, kind)
        )
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()

        # generator: fool the (updated) discriminator + lambda * L1 on a, b
        adversarial_on = self.step >= config["l1_warmup_steps"]
        self.discriminator.requires_grad_(False)
        l1 = (fake - chroma).abs().mean() / AB_RANGE
        if adversarial_on:
            g_scores = self.discriminator(lightness, fake)
            g_adv = adversarial_loss(g_scores, True, kind)
            loss_g = g_adv + config["l1_weight"] * l1
        else:
            with torch.no_grad():
                g_adv = adversarial_loss(self.discriminator(lightness, fake), True, kind)
            loss_g = config["l1_weight"] * l1
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.discriminator.requires_grad_(True)
        self.step += 1
        with torch.no_grad():
            saturation = (
                fake.detach().pow(2).sum(1).sqrt().mean() / chroma.pow(2).sum(1).sqrt().mean()
            )
        return {
            "loss_d": loss_d.item(),
            "d_real": d_real.mean().item(),
            "d_fake": d_fake.mean().item(),
            "loss_g": loss_g.item(),
            "g_adv": g_adv.item(),
            "g_l1_ab": l1.item() * AB_RANGE,
            "chroma_ratio": float(saturation),
            "adversarial_on": float(adversarial_on),
        }

    # -- validation ---------------------------------------------------------------

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """L1 (Lab units), PSNR, RMSE-ab and colourfulness ratio on whole validation images."""
        from core import metrics
        from training.lab import lab_to_rgb

        if not self.val_images:
            return {}
        self.generator.eval()
        totals: dict[str, float] = {}
        for image in self.val_images:
            lightness, chroma = _lab_batch(image[None])
            fake = self.generator(lightness)
            pred = lab_to_rgb(torch.cat([lightness, fake], 1))[0].permute(1, 2, 0).numpy()
            true = image.astype(np.float32) / 255.0
            values = {
                "l1_ab": float((fake - chroma).abs().mean()),
                "psnr": float(metrics.psnr(pred, true)),
                "rmse_ab": float(metrics.rmse_alphabeta(pred, true)),
                "colourfulness_ratio": float(metrics.colourfulness_ratio(pred, true)),
            }
            for key, value in values.items():
                totals[key] = totals.get(key, 0.0) + value / len(self.val_images)
        self.generator.train()
        return totals


def train(
    data: Sequence[str | os.PathLike],
    val: Sequence[str | os.PathLike] | None,
    out: str | os.PathLike,
    config: dict[str, Any],
    *,
    resume: str | os.PathLike | None = None,
    init: str | os.PathLike | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``cnn-gan`` (see the module doc); returns the final log record.

    ``config`` is a :func:`load_config` result. ``resume`` continues from a
    checkpoint: networks, optimizers, torch RNG and step are restored and batches
    are a function of the step, so the result equals the uninterrupted run.
    ``init`` starts a new run (step 0, fresh discriminator and optimizers) whose
    generator is rebuilt from an exported graph (:func:`init_generator`; so a new
    machine continues from the shipped ``cnn-gan.onnx``, issue 30 item 4) and logs
    ``{"event": "init", "graph", "max_difference"}``. ``config["max_minutes"]``
    stops the run (after a checkpoint) when spent.
    """
    from tqdm import tqdm

    from training import data as datalib

    if resume and init:
        raise ValueError(
            "init starts a new run from a graph, resume continues a checkpoint: give one"
        )
    out = Path(out)
    if config["threads"]:
        torch.set_num_threads(int(config["threads"]))
    train_items, val_items, sources = datalib.resolve_sources(
        data, val, train_splits=tuple(config["train_splits"])
    )
    train_set = datalib.load_images(train_items, short_side=config["cache_size"], progress=progress)
    val_set = (
        datalib.load_images(val_items[: config["val_images"]], short_side=None, progress=False)
        if val_items and config["val_images"]
        else None
    )
    data_info = {
        "train": {**train_set.summary.to_dict(), "sources": sources["train"]},
        "val": {**(val_set.summary.to_dict() if val_set else {}), "sources": sources["val"]},
    }
    run = _Run(config, train_set, val_set, data_info, out)
    if resume:
        run.restore(Path(resume))
    difference = run.init_from(Path(init)) if init else None
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    run.log(
        {
            "event": "start",
            "step": run.step,
            "train_images": len(train_set),
            "val_images": len(run.val_images),
        }
    )
    if init:
        run.log({"event": "init", "graph": str(init), "max_difference": difference})
    started = time.monotonic()
    base = run.elapsed
    stopped = False
    window: dict[str, float] = {}
    count = 0
    bar = tqdm(
        total=config["steps"], initial=run.step, desc=f"train {METHOD}", disable=not progress
    )
    while run.step < config["steps"]:
        if config["max_minutes"] and time.monotonic() - started >= config["max_minutes"] * 60:
            stopped = True
            break
        values = run.train_step()
        run.elapsed = base + time.monotonic() - started
        for key, value in values.items():
            window[key] = window.get(key, 0.0) + value
        count += 1
        bar.update(1)
        if run.step % config["log_every"] == 0:
            record = {k: round(v / count, 5) for k, v in window.items()}
            record.update(
                step=run.step,
                elapsed=round(run.elapsed, 1),
                lr_g=config["lr_g"] * _lr_factor(run.step - 1, config),
            )
            run.log(record)
            window.clear()
            count = 0
        if run.step % config["val_every"] == 0:
            run.val = {"step": run.step, **run.validate()}
            run.log({"split": "val", **run.val})
        if run.step % config["ckpt_every"] == 0:
            run.save()
    bar.close()
    if run.val.get("step") != run.step:
        run.val = {"step": run.step, **run.validate()}
        run.log({"split": "val", **run.val})
    run.save()
    record = {
        "event": "stop" if stopped else "done",
        "step": run.step,
        "elapsed": round(run.elapsed, 1),
        "val": run.val,
    }
    run.log(record)
    return record


# -- export -----------------------------------------------------------------------


class _Working:
    """What ``onnx_export.export.real_lightness`` needs to know of the method."""

    working_size = _WORKING_SIZE
    size_multiple = 32


def export_generator(
    checkpoint: str | os.PathLike,
    out: str | os.PathLike,
    *,
    real: str | os.PathLike | None = None,
    tolerance: float = 1e-2,
) -> Path:
    """Export the generator of ``checkpoint`` as ``cnn-gan.onnx`` into ``out`` (+ manifest).

    Goes through ``onnx_export.export.export_graph`` like every other shipped graph:
    dynamo export with dynamic batch/height/width, ``onnx.checker`` (full check),
    ONNX Runtime vs torch parity on random inputs at two sizes and on ``real``
    photos at working size, ``metadata_props`` (colour space, working size, size
    multiple, version, architecture, training record); then the folder's
    ``manifest.json`` is updated through ``onnx_export.manifest.update_manifest``.
    The discriminator is not exported.
    """
    from onnx_export.export import export_graph, real_lightness, training_summary
    from onnx_export.manifest import update_manifest
    from training.recipe import ExportGraph
    from training.trainer import load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    if ckpt.get("method") != METHOD:
        raise ValueError(f"{checkpoint}: checkpoint is for {ckpt.get('method')!r}, not {METHOD!r}")
    generator = build_generator(ckpt.get("options"))
    generator.load_state_dict(ckpt["model"])
    generator.eval()
    config = ckpt.get("config") or {}
    metadata = {
        "method": METHOD,
        "plugin": "colorize-cnn",
        "version": __version__,
        "colorspace": "lab",
        "working_size": _WORKING_SIZE,
        "size_multiple": generator.stride,
        "input": {"lightness": "(N, 1, H, W) float32, Lab L in [0, 100]"},
        "output": {"chroma": "(N, 2, H, W) Lab a, b (tanh * 110)"},
        "loss": f"{config.get('adversarial', 'lsgan')} + {config.get('l1_weight')} * L1(ab / 110)",
        "architecture": {
            "generator": "U-Net",
            "widths": list(generator.widths),
            "stride": generator.stride,
            "parameters": sum(p.numel() for p in generator.parameters()),
            "discriminator": ckpt.get("config", {}).get("discriminator"),
        },
        "bins": None,
        "training": training_summary(ckpt),
    }
    graph = ExportGraph(
        filename=f"{METHOD}.onnx",
        module=generator,
        inputs={
            "lightness": torch.rand(1, 1, 64, 96, generator=torch.Generator().manual_seed(0)) * 100
        },
        output_names=["chroma"],
        dynamic_axes={"lightness": {0: "batch", 2: "height", 3: "width"}},
        metadata={k: json.dumps(v) for k, v in metadata.items()},
    )
    real_inputs = real_lightness(real, _Working()) if real else []
    result = export_graph(graph, out, real_inputs=real_inputs, tolerance=tolerance)
    update_manifest(
        out,
        [result.path],
        methods={
            METHOD: {
                "files": [result.path.name],
                "step": ckpt.get("step"),
                "train_seconds": round(float(ckpt.get("elapsed", 0.0)), 1),
                "max_abs_diff": result.max_abs_diff,
            }
        },
    )
    print(
        f"{result.path}: max |onnxruntime - torch| {result.max_abs_diff:.2e} "
        f"over {len(result.parity)} inputs ({result.seconds:.1f} s)"
    )
    return result.path


# -- plot -------------------------------------------------------------------------


def plot_log(log: str | os.PathLike, out: str | os.PathLike, *, smooth: int = 5) -> Path:
    """Plot the generator and discriminator losses (and validation scores) of a run's log.

    Writes a small PNG: top panel the discriminator loss and the generator's
    adversarial term, middle panel the generator's L1 term (Lab units), bottom
    panel validation colourfulness ratio and RMSE-ab. ``smooth`` is the width of a
    moving average over the logged points.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in Path(log).read_text().splitlines() if line.strip()]
    train_rows = [r for r in records if "loss_d" in r]
    val_rows = [r for r in records if r.get("split") == "val"]

    def series(rows, key):
        x = np.array([r["step"] for r in rows], float)
        y = np.array([r[key] for r in rows], float)
        if smooth > 1 and len(y) >= smooth:
            y = np.convolve(y, np.ones(smooth) / smooth, mode="same")
            half = smooth // 2
            x, y = x[half : len(x) - half], y[half : len(y) - half]
        return x, y

    fig, axes = plt.subplots(3, 1, figsize=(6.4, 6.4), sharex=True, dpi=90)
    for key, label in (("loss_d", "D loss"), ("g_adv", "G adversarial")):
        axes[0].plot(*series(train_rows, key), label=label, lw=1)
    axes[0].set_ylabel("LSGAN loss")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[1].plot(*series(train_rows, "g_l1_ab"), label="G L1 (train crops)", lw=1, color="C2")
    if val_rows:
        axes[1].plot(
            [r["step"] for r in val_rows],
            [r["l1_ab"] for r in val_rows],
            "o-",
            ms=3,
            lw=1,
            color="C3",
            label="G L1 (val)",
        )
    axes[1].set_ylabel("|ab error| (Lab)")
    axes[1].legend(loc="upper right", fontsize=8)
    if val_rows:
        steps = [r["step"] for r in val_rows]
        axes[2].plot(
            steps,
            [r["colourfulness_ratio"] for r in val_rows],
            "o-",
            ms=3,
            lw=1,
            label="colourfulness ratio (val)",
        )
        axes[2].plot(
            steps, [r["rmse_ab"] for r in val_rows], "s-", ms=3, lw=1, label="RMSE-ab (val)"
        )
        axes[2].legend(loc="upper left", fontsize=8)
    axes[2].set_xlabel("step")
    warm = [r["step"] for r in train_rows if not r.get("adversarial_on", 1)]
    for ax in axes:
        ax.grid(alpha=0.3)
        if warm:
            ax.axvspan(0, max(warm), color="0.9", zorder=0)
    fig.suptitle("cnn-gan training (BSDS500 test images for validation)", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m colorize_cnn.gan {train,export,plot}`` (see the module doc)."""
    parser = argparse.ArgumentParser(
        prog="python -m colorize_cnn.gan", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train the generator and discriminator")
    t.add_argument("--data", action="append", required=True, help="training folder (repeat)")
    t.add_argument("--val", action="append", help="validation folder (repeat)")
    t.add_argument("--out", default=f"runs/{METHOD}")
    t.add_argument("--config", help="TOML or JSON config (see configs/gan.toml)")
    t.add_argument("--steps", type=int)
    t.add_argument("--max-minutes", type=float)
    t.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    t.add_argument(
        "--resume",
        nargs="?",
        const="",
        default=None,
        help="continue from a checkpoint (default: OUT/last.ckpt)",
    )
    t.add_argument(
        "--init",
        metavar="GRAPH",
        help="start a new run whose generator is an exported cnn-gan.onnx "
        "(e.g. the shipped one; not with --resume)",
    )
    t.add_argument("--no-progress", action="store_true")
    e = sub.add_parser("export", help="export the generator to ONNX (+ manifest)")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--out", required=True, help="models folder")
    e.add_argument("--real", help="folder of photos for the parity check")
    e.add_argument("--tolerance", type=float, default=1e-2)
    p = sub.add_parser("plot", help="plot the training curves of a log.jsonl")
    p.add_argument("--log", required=True)
    p.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "export":
        export_generator(args.checkpoint, args.out, real=args.real, tolerance=args.tolerance)
        return 0
    if args.command == "plot":
        print(plot_log(args.log, args.out))
        return 0
    if args.init is not None and args.resume is not None:
        parser.error("--init starts a new run from a graph, --resume continues a checkpoint")
    overrides = list(args.set)
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    if args.max_minutes is not None:
        overrides.append(f"max_minutes={args.max_minutes}")
    config = load_config(args.config, overrides)
    resume = args.resume
    if resume == "":
        resume = str(Path(args.out) / "last.ckpt")
    record = train(
        args.data,
        args.val,
        args.out,
        config,
        resume=resume,
        init=args.init,
        progress=not args.no_progress,
    )
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
