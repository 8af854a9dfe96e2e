"""Gated PixelCNN pieces shared by the toolkit's PixelCNN plugins (internal module).

Internal to the toolkit: the torch halves (training and ONNX export) of the
``colorize-pixcolor`` and ``colorize-semantic`` plugins build on it; it is not a public
API and may change with them. Inference never imports it (the plugins sample from
their exported ONNX graphs with numpy and onnxruntime only).

Two parts:

* layers -- the conditional gated PixelCNN of van den Oord et al. 2016 ("Conditional
  Image Generation with PixelCNN Decoders"): a vertical and a horizontal stack, so
  there is no blind spot, gated activations (their Eq. 2) and a per-pixel conditioning
  input. :class:`GatedStacks` is the network up to the last hidden features; each
  plugin adds its own output head (PixColor: Cr/Cb bin logits; semantic: the
  discretized logistic mixture of Salimans et al. 2017, "PixelCNN++"). The
  incremental views :class:`RowStep` and :meth:`GatedStacks.pixel_features` implement
  the caching scheme of Ramachandran et al. 2017 ("Fast Generation for Convolutional
  Autoregressive Models"): every layer keeps only the inputs its kernel still needs.
* a small training loop with teacher forcing for models that the generic
  ``training.trainer.Trainer`` cannot drive (their batches are not Lab lightness in,
  chroma out): :func:`run_loop` and its helpers (``--set`` overrides, warm-up + cosine
  learning rate, atomic checkpoints, data loading, ONNX export with a summary).

Parameter names (``v_in``, ``h_conv.0``, ...) are part of the plugins' checkpoints:
renaming one breaks every saved run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from training.trainer import CHECKPOINT_FORMAT, save_atomic

__all__ = [
    "GatedStacks",
    "RowStep",
    "add_fit_arguments",
    "apply_arguments",
    "checkpoint",
    "export_checkpoint_graphs",
    "gate",
    "load_batchers",
    "lr_factor",
    "mean_parts",
    "pixel_conv",
    "run_loop",
    "save_atomic",
    "shift_down",
]


# -- layers ----------------------------------------------------------------------------


def gate(x: torch.Tensor) -> torch.Tensor:
    """Gated activation ``tanh(a) * sigmoid(b)`` of the two channel halves (van den Oord
    et al. 2016, Eq. 2): (N, 2C, ...) -> (N, C, ...)."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


def shift_down(x: torch.Tensor) -> torch.Tensor:
    """Move every row one down and put zeros in the top row (vertical -> horizontal link)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1, :]


def pixel_conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 convolution applied to (N, C) pixels, as a matrix product."""
    return F.linear(x, conv.weight[:, :, 0, 0], conv.bias)


class GatedStacks(nn.Module):
    """Conditional gated PixelCNN up to its hidden features (no output head).

    Parameters
    ----------
    channels : int
        Width ``C`` of both stacks.
    layers : int
        Gated blocks ``L``.
    first_kernel, kernel : int
        Kernel of the first (masked) convolution and of the gated blocks (odd).
    cond : int
        Channels of the conditioning features, given at every pixel.
    activation : callable
        Nonlinearity of the head (``F.relu`` for PixColor, ``F.elu`` for semantic).

    Notes
    -----
    Input ``x`` has 2 channels. The vertical stack at row ``r`` sees input rows
    ``<= r`` and reaches the horizontal stack only shifted one row down; the horizontal
    stack sees the pixels left of the current one in its first layer ("mask A") and up
    to and including it later ("mask B"). So the features of pixel ``i`` depend on
    pixels ``< i`` in raster order only.
    """

    def __init__(
        self,
        channels: int,
        layers: int,
        first_kernel: int,
        kernel: int,
        cond: int,
        activation: Callable[[torch.Tensor], torch.Tensor] = F.relu,
    ):
        super().__init__()
        c = channels
        self.channels, self.layers, self.cond = c, layers, cond
        self.first_kernel, self.kernel = first_kernel, kernel
        self.p0, self.p = first_kernel // 2, kernel // 2
        self.activation = activation
        self.v_in = nn.Conv2d(2, c, (self.p0 + 1, first_kernel))
        self.h_in = nn.Conv2d(2, c, (1, self.p0))
        self.v2h_in = nn.Conv2d(c, c, 1)
        self.v_conv = nn.ModuleList(
            nn.Conv2d(c, 2 * c, (self.p + 1, kernel)) for _ in range(layers)
        )
        self.v_cond = nn.ModuleList(nn.Conv2d(cond, 2 * c, 1) for _ in range(layers))
        self.h_conv = nn.ModuleList(nn.Conv2d(c, 2 * c, (1, self.p + 1)) for _ in range(layers))
        self.v2h = nn.ModuleList(nn.Conv2d(2 * c, 2 * c, 1, bias=False) for _ in range(layers))
        self.h_cond = nn.ModuleList(nn.Conv2d(cond, 2 * c, 1) for _ in range(layers))
        self.h_out = nn.ModuleList(nn.Conv2d(c, c, 1) for _ in range(layers))
        self.head_cond = nn.Conv2d(cond, c, 1)
        self.head = nn.Conv2d(c, c, 1)

    @property
    def vertical_width(self) -> int:
        """Channels per column that the row step hands to the pixel step."""
        return self.channels + 2 * self.channels * self.layers

    @property
    def reach(self) -> tuple[int, int]:
        """(rows above, columns either side) that can influence a pixel's features."""
        side = self.p0 + self.layers * self.p
        return 1 + side, side

    def features(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Hidden features (N, C, H, W) of the whole image ``x`` (N, 2, H, W) at once."""
        p0, p = self.p0, self.p
        v = self.v_in(F.pad(x, (p0, p0, p0, 0)))
        h = self.h_in(F.pad(x, (p0, 0, 0, 0)))[:, :, :, : x.shape[3]]
        h = h + shift_down(self.v2h_in(v))
        for i in range(self.layers):
            vf = self.v_conv[i](F.pad(v, (p, p, p, 0)))
            hf = (
                self.h_conv[i](F.pad(h, (p, 0, 0, 0)))
                + shift_down(self.v2h[i](vf))
                + self.h_cond[i](cond)
            )
            v = gate(vf + self.v_cond[i](cond))
            h = h + self.h_out[i](gate(hf))
        act = self.activation
        return act(self.head(act(h)) + self.head_cond(cond))

    def pixel_features(
        self, cache_x: torch.Tensor, cache_h: torch.Tensor, above: torch.Tensor, cond: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Horizontal stack for one pixel from cached pixels to its left.

        Inputs: ``cache_x`` (N, 2, p0) the input pixels ``c-p0 .. c-1`` of the row;
        ``cache_h`` (N, L*C, p) the pixels ``c-p .. c-1`` of every gated block's
        horizontal input (block ``i`` in channels ``i*C .. (i+1)*C``); ``above`` (N, V)
        this column of :class:`RowStep`'s output for the row above (zeros in row 0);
        ``cond`` (N, cond). Returns the pixel's features (N, C) and the new ``cache_h``
        (before the pixel's own value is known; the caller appends it to ``cache_x``).
        """
        c = self.channels
        h = F.conv1d(cache_x, self.h_in.weight[:, :, 0], self.h_in.bias)[:, :, 0] + above[:, :c]
        new_h = []
        for i in range(self.layers):
            window = torch.cat([cache_h[:, i * c : (i + 1) * c], h[:, :, None]], dim=2)
            new_h.append(window[:, :, 1:])
            conv = self.h_conv[i]
            hf = F.conv1d(window, conv.weight[:, :, 0], conv.bias)[:, :, 0]
            start = c + 2 * c * i
            hf = hf + above[:, start : start + 2 * c] + pixel_conv(self.h_cond[i], cond)
            h = h + pixel_conv(self.h_out[i], gate(hf))
        act = self.activation
        feats = act(pixel_conv(self.head, act(h)) + pixel_conv(self.head_cond, cond))
        return feats, torch.cat(new_h, dim=1)


class RowStep(nn.Module):
    """Vertical stack for one finished row ``r``, from cached rows above it.

    Inputs: ``x_row`` (N, 2, 1, W) the sampled row ``r``; ``cond_row`` (N, cond, 1, W);
    ``cache_in`` (N, 2, p0, W) input rows ``r-p0 .. r-1``; ``cache_v`` (N, L*C, p, W)
    the rows ``r-p .. r-1`` of every gated block's vertical input (block ``i`` in
    channels ``i*C .. (i+1)*C``). Outputs: ``above`` (N, V, W), what row ``r + 1``'s
    pixels receive from the vertical stack (after the 1x1 vertical-to-horizontal
    links), and the updated ``cache_in`` and ``cache_v``.
    """

    def __init__(self, net: GatedStacks):
        super().__init__()
        self.net = net

    def forward(self, x_row, cond_row, cache_in, cache_v):
        net = self.net
        p0, p, c = net.p0, net.p, net.channels
        window = torch.cat([cache_in, x_row], dim=2)
        v = net.v_in(F.pad(window, (p0, p0, 0, 0)))
        above = [net.v2h_in(v)]
        new_v = []
        for i in range(net.layers):
            window = torch.cat([cache_v[:, i * c : (i + 1) * c], v], dim=2)
            new_v.append(window[:, :, 1:])
            vf = net.v_conv[i](F.pad(window, (p, p, 0, 0)))
            above.append(net.v2h[i](vf))
            v = gate(vf + net.v_cond[i](cond_row))
        new_in = torch.cat([cache_in, x_row], dim=2)[:, :, 1:]
        return torch.cat(above, dim=1)[:, :, 0], new_in, torch.cat(new_v, dim=1)


# -- training loop helpers -------------------------------------------------------------


def add_fit_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line options every PixelCNN plugin's training command shares."""
    parser.add_argument("--data", action="append", required=True)
    parser.add_argument("--val", action="append")
    parser.add_argument("--out")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--max-minutes", type=float)
    parser.add_argument("--set", action="append", metavar="KEY=JSON")
    parser.add_argument("--no-progress", action="store_true")


def add_cache_fit_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a training command that reads a cache of backbone features (the
    PixelCNN plugins' ``train_backbone fit``); :func:`apply_arguments` takes them."""
    parser.add_argument("--cache", required=True, type=Path, help="training feature cache")
    parser.add_argument("--val", type=Path, help="validation feature cache")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--max-minutes", type=float)
    parser.add_argument("--set", action="append", metavar="KEY=JSON")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.ckpt")
    parser.add_argument("--no-progress", action="store_true")


def cache_cli(
    prog: str,
    argv: list[str] | None,
    *,
    train: Callable[[argparse.Namespace], dict[str, Any]],
    export: Callable[[str, str], Any],
    fit_help: str,
    fit_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> int:
    """The ``fit`` / ``export`` command line of a trainer over a backbone feature cache:
    ``fit`` (:func:`add_cache_fit_arguments`, plus ``fit_arguments``) prints the final
    record of ``train(args)``; ``export CHECKPOINT --out DIR`` calls ``export``."""
    parser = argparse.ArgumentParser(prog=prog)
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help=fit_help)
    add_cache_fit_arguments(fit)
    if fit_arguments is not None:
        fit_arguments(fit)
    exporter = sub.add_parser("export", help="export a checkpoint's graphs")
    exporter.add_argument("checkpoint")
    exporter.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "export":
        export(args.checkpoint, args.out)
    else:
        print(json.dumps(train(args)))
    return 0


def apply_arguments(
    config: dict[str, Any], args: argparse.Namespace, keys: Iterable[str]
) -> dict[str, Any]:
    """Override ``config`` in place by the options ``keys`` given on the command line,
    then by every ``--set KEY=JSON`` (dotted keys reach nested dicts); returns it."""
    for key in keys:
        if getattr(args, key, None) is not None:
            config[key] = getattr(args, key)
    for item in args.set or ():
        key, _, value = item.partition("=")
        target = config
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = json.loads(value)
    return config


def lr_factor(step: int, steps: int, floor: float, warm: int = 50) -> float:
    """Learning-rate multiplier: linear warm-up over ``warm`` steps, then a cosine from 1
    down to ``floor`` at ``steps``."""
    if step < warm:
        return (step + 1) / warm
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))


def checkpoint(
    method: str,
    step: int,
    elapsed: float,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    **fields: Any,
) -> dict[str, Any]:
    """A checkpoint in the toolkit's format (``training.trainer.load_checkpoint`` reads it):
    the common keys, then ``fields`` (``config``, ``options``, ``data``, ``val`` ...)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "method": method,
        "step": step,
        "elapsed": elapsed,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        **fields,
        "statistics": None,
        "world_size": 1,
        "torch": str(torch.__version__),
    }


def load_batchers(
    args: argparse.Namespace,
    config: Mapping[str, Any],
    *,
    val_images: int | None = None,
    val_scale: tuple[float, float] = (1.0, 1.0),
):
    """Training and validation :class:`training.data.Batcher` from ``--data``/``--val``.

    Images are cached at ``config["cache_size"]``; training batches follow the config's
    ``batch_size``, ``crop``, ``scale`` and ``seed``; validation batches (16 images, no
    flips, seed 12345) use ``val_scale`` and the first ``val_images`` images. Returns
    ``(batcher, val_batcher, data_info)``, ``data_info`` the summary for the checkpoint.
    """
    from training import data as datalib

    train_items, val_items, sources = datalib.resolve_sources(args.data, args.val)
    train_set = datalib.load_images(
        train_items, short_side=config["cache_size"], progress=not args.no_progress
    )
    val_set = datalib.load_images(
        val_items[:val_images], short_side=config["cache_size"], progress=False
    )
    batcher = datalib.Batcher(
        train_set,
        batch_size=config["batch_size"],
        crop=config["crop"],
        scale=tuple(config["scale"]),
        seed=config["seed"],
    )
    val_batcher = datalib.Batcher(
        val_set, batch_size=16, crop=config["crop"], scale=val_scale, hflip=False, seed=12345
    )
    data_info = {
        "train": {**train_set.summary.to_dict(), "sources": sources["train"]},
        "val": {**val_set.summary.to_dict(), "sources": sources["val"]},
    }
    return batcher, val_batcher, data_info


def mean_parts(parts: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """Key-wise mean of the loss parts of several batches (keys of the first batch)."""
    parts = list(parts)
    totals: dict[str, float] = {}
    for record in parts:
        for key, value in record.items():
            totals[key] = totals.get(key, 0.0) + value / len(parts)
    return totals


def run_loop(
    config: Mapping[str, Any],
    out: Path,
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    elapsed: float,
    batch_loss: Callable[[int], tuple[torch.Tensor, dict[str, float]]],
    validate: Callable[[], dict[str, float]],
    state: Callable[[int, float, dict[str, float]], dict[str, Any]],
    clip: float,
    lr_floor: float,
    desc: str,
    progress: bool = True,
    after_step: Callable[[int], None] | None = None,
    log_digits: int | None = None,
) -> dict[str, Any]:
    """Train from ``step`` to ``config["steps"]`` and return the final log record.

    Each step sets the learning rate (``config["lr"]`` times :func:`lr_factor`), takes
    ``batch_loss(step)`` (the loss and its parts for the log, ``"loss"`` among them),
    back-propagates, clips the gradient norm at ``clip``, steps the optimizer and calls
    ``after_step(step)`` (e.g. weight averaging). Every ``log_every`` steps the mean
    parts go to ``out/log.jsonl`` (rounded to ``log_digits`` if given); every
    ``ckpt_every`` steps ``validate()`` is logged and ``state(step, elapsed, val)`` saved
    to ``out/last.ckpt`` (and to ``out/step{N}.ckpt`` every ``keep_every`` steps, if the
    config has it). ``max_minutes`` stops the loop early; the last state is always saved.
    """
    from tqdm import tqdm

    log = open(out / "log.jsonl", "a", encoding="utf-8")
    val: dict[str, float] = {}
    started = time.monotonic()
    base = elapsed
    stopped = False
    window: dict[str, float] = {}
    every = config["log_every"]
    bar = tqdm(total=config["steps"], initial=step, desc=desc, disable=not progress)
    model.train()
    while step < config["steps"]:
        if config["max_minutes"] and time.monotonic() - started >= config["max_minutes"] * 60:
            stopped = True
            break
        for group in optimizer.param_groups:
            group["lr"] = config["lr"] * lr_factor(step, config["steps"], lr_floor)
        loss, parts = batch_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        if after_step is not None:
            after_step(step)
        step += 1
        elapsed = base + time.monotonic() - started
        for key, value in parts.items():
            window[key] = window.get(key, 0.0) + value
        bar.update(1)
        if step % every == 0:
            record = {
                k: v / every if log_digits is None else round(v / every, log_digits)
                for k, v in window.items()
            }
            record.update(step=step, elapsed=round(elapsed, 1))
            log.write(json.dumps(record) + "\n")
            log.flush()
            window.clear()
        if step % config["ckpt_every"] == 0:
            val = validate()
            log.write(json.dumps({"split": "val", "step": step, **val}) + "\n")
            log.flush()
            save_atomic(out / "last.ckpt", state(step, elapsed, val))
        if config.get("keep_every") and step % config["keep_every"] == 0:
            save_atomic(out / f"step{step}.ckpt", state(step, elapsed, val))
    bar.close()
    val = validate()
    save_atomic(out / "last.ckpt", state(step, elapsed, val))
    record = {
        "event": "stop" if stopped else "done",
        "step": step,
        "elapsed": round(elapsed, 1),
        "val": val,
    }
    log.write(json.dumps(record) + "\n")
    log.close()
    return record


def export_checkpoint_graphs(
    graphs: Iterable[Any], out: str | os.PathLike, ckpt: Mapping[str, Any], tolerance: float
) -> tuple[list[Path], dict[str, Any]]:
    """Export ``graphs`` (:class:`training.recipe.ExportGraph`) of one checkpoint into
    ``out`` with ``onnx_export.export.export_graph`` (checker, ORT parity, metadata),
    printing each graph's parity; returns the paths and the manifest entry of the method
    (files, training step and seconds, largest difference from torch)."""
    from onnx_export.export import export_graph

    results = [export_graph(g, out, tolerance=tolerance) for g in graphs]
    for r in results:
        print(f"{r.path.name}: max |onnx - torch| {r.max_abs_diff:.2e} ({r.seconds:.1f} s)")
    paths = [r.path for r in results]
    entry = {
        "files": [p.name for p in paths],
        "step": ckpt.get("step"),
        "train_seconds": round(float(ckpt.get("elapsed", 0.0)), 1),
        "max_abs_diff": max(r.max_abs_diff for r in results),
    }
    return paths, entry
