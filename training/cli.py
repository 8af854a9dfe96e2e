"""``colorize train METHOD --data DIR [--config FILE] [--out DIR] [--max-minutes N]``.

Data-parallel: ``torchrun --nproc_per_node 2 -m training METHOD --data DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

__all__ = ["DESCRIPTION", "configure_parser", "run"]

DESCRIPTION = "Train a colorization method on folders of colour photos."


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` arguments to ``parser``."""
    parser.add_argument("method", help="method name, e.g. cnn-classification")
    parser.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="DIR",
        help="image folder (recursive), folder with train/val splits, or split file; repeatable",
    )
    parser.add_argument(
        "--val",
        action="append",
        metavar="DIR",
        help="validation folder or split file (default: the data's 'val' split); repeatable",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML or JSON config file")
    parser.add_argument("--out", metavar="DIR", help="run folder (default: runs/METHOD)")
    parser.add_argument(
        "--max-minutes",
        type=float,
        metavar="N",
        help="time budget: save a checkpoint and stop after N minutes",
    )
    parser.add_argument("--steps", type=int, help="override the config's number of steps")
    parser.add_argument("--batch-size", type=int, help="override the config's batch size")
    parser.add_argument("--seed", type=int, help="override the config's seed")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="override any config key, e.g. --set lr=3e-4 --set options.dropout=0.4",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        metavar="CKPT",
        help="continue from CKPT (default: OUT/last.ckpt)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _overrides(args: argparse.Namespace) -> dict:
    values: dict = {}
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        target = values
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    for key in ("max_minutes", "steps", "batch_size", "seed"):
        if getattr(args, key) is not None:
            values[key] = getattr(args, key)
    if args.no_progress:
        values["progress"] = False
    return values


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def run(args: argparse.Namespace) -> int:
    """Run ``colorize train``; returns the exit code."""
    try:
        from training import data as datalib
        from training.config import TrainConfig, load_config_file
        from training.recipe import load_recipe
        from training.trainer import Trainer
    except ImportError as exc:
        print(
            f"colorize train needs the 'train' extra (torch): {exc}\n"
            "install it with: pip install 'colorize-toolkit[train]'",
            file=sys.stderr,
        )
        return 2
    try:
        recipe = load_recipe(args.method)
        values = dict(recipe.defaults)
        if args.config:
            values = _merge(values, load_config_file(args.config))
        values = _merge(values, _overrides(args))
        config = TrainConfig.from_dict(values)
        out = Path(args.out or Path("runs") / args.method)
        resume = None
        if args.resume:
            resume = out / "last.ckpt" if args.resume == "auto" else Path(args.resume)
            if not resume.is_file():
                raise FileNotFoundError(f"{resume}: no checkpoint to resume from")
        rank0 = int(os.environ.get("RANK", "0")) == 0
        t0 = time.monotonic()
        train_items, val_items, sources = datalib.resolve_sources(
            args.data,
            args.val,
            train_splits=config.train_splits,
            val_split=config.val_split,
            val_fraction=config.val_fraction,
        )
        train_set = datalib.load_images(
            train_items,
            short_side=config.cache_size,
            progress=config.progress and rank0,
            desc="training images",
        )
        val_set = None
        if val_items:
            val_set = datalib.load_images(
                val_items,
                short_side=config.cache_size,
                progress=config.progress and rank0,
                desc="validation images",
            )
        data_info = {
            "train": {**train_set.summary.to_dict(), "sources": sources["train"]},
            "val": None
            if val_set is None
            else {**val_set.summary.to_dict(), "sources": sources["val"]},
            "load_seconds": round(time.monotonic() - t0, 1),
        }
        if rank0:
            skipped = train_set.summary.skipped_corrupt + train_set.summary.skipped_gray
            print(
                f"training on {len(train_set)} images ({skipped} skipped: "
                f"{train_set.summary.skipped_corrupt} corrupt, "
                f"{train_set.summary.skipped_gray} grayscale); validating on "
                f"{0 if val_set is None else len(val_set)}",
                file=sys.stderr,
            )
        out.mkdir(parents=True, exist_ok=True)
        if rank0:
            (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")
        trainer = Trainer(
            recipe, config, out, train_set, val_set, resume=resume, data_info=data_info
        )
        try:
            summary = trainer.fit()
        finally:
            trainer.close()
    except (KeyError, ValueError, FileNotFoundError, TypeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"colorize train: error: {message}", file=sys.stderr)
        return 2
    if rank0:
        state = "stopped at the time budget" if summary["event"] == "stop" else "finished"
        print(
            f"{state} at step {summary['step']}; checkpoint: {summary['checkpoint']}; "
            f"validation: {json.dumps(summary['val'])}",
            file=sys.stderr,
        )
    return 0
