"""The generic trainer: a method's recipe + data -> checkpoints, logs and metrics.

* Adam / AdamW, constant / step / cosine schedules with optional linear warm-up.
* Validation mixes the method's loss with PSNR and RMSE-alpha-beta (``core.metrics``)
  on whole held-out images at the method's working resolution.
* Checkpoints (``last.ckpt``) hold model, optimizer, scheduler, RNG state and
  step, and load with ``torch.load(weights_only=True)``; resuming reproduces
  the uninterrupted run exactly (batches are a function of the step).
* Data-parallel training with ``torch.distributed`` when launched by torchrun
  (gloo on CPU, nccl on GPU).
* ``max_minutes`` saves a checkpoint and stops cleanly when the budget is spent.
* One JSON object per line in ``log.jsonl`` (training and validation metrics).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from training import data as datalib
from training.config import TrainConfig
from training.lab import lab_to_rgb, rgb_to_lab
from training.recipe import Recipe

__all__ = ["CHECKPOINT_FORMAT", "Trainer", "load_checkpoint", "state_digest"]

CHECKPOINT_FORMAT = "colorize-checkpoint/1"


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check its format.

    Raises
    ------
    ValueError
        If the file is not a colorize checkpoint.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for foreign or unsafe files
        raise ValueError(
            f"{path}: cannot be loaded as a checkpoint with weights_only=True ({exc})"
        ) from None
    found = ckpt.get("format") if isinstance(ckpt, dict) else None
    if (
        isinstance(found, str)
        and found.startswith("colorize-checkpoint/")
        and (found != CHECKPOINT_FORMAT)
    ):
        raise ValueError(
            f"{path}: checkpoint format {found} is from a different version of the toolkit; "
            f"this version reads {CHECKPOINT_FORMAT} (retrain, or use the matching version)"
        )
    if found != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: not a colorize training checkpoint ({CHECKPOINT_FORMAT})")
    return ckpt


def save_atomic(path: Path, state: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def state_digest(module: torch.nn.Module) -> str:
    """sha256 over a module's parameters and buffers (names, shapes and values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def to_batch(images: np.ndarray, labels: np.ndarray | None, device: torch.device) -> dict:
    """uint8 (N, H, W, 3) RGB (+ labels) -> the recipe's batch dict (Lab tensors)."""
    rgb = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    lab = rgb_to_lab(rgb)
    batch = {"rgb": rgb, "lightness": lab[:, :1].contiguous(), "chroma": lab[:, 1:].contiguous()}
    if labels is not None:
        batch["labels"] = torch.from_numpy(labels.astype(np.int64)).to(device)
    return batch


class _Schedule:
    """Learning-rate multiplier per step (a picklable object, so LambdaLR can save it)."""

    def __init__(self, config: TrainConfig):
        self.kind = config.schedule
        self.steps = config.steps
        self.warmup = config.warmup_steps
        self.milestones = [round(m * config.steps) for m in config.milestones]
        self.gamma = config.gamma

    def __call__(self, step: int) -> float:
        factor = 1.0
        if self.warmup and step < self.warmup:
            factor = (step + 1) / self.warmup
        if self.kind == "step":
            factor *= self.gamma ** sum(step >= m for m in self.milestones)
        elif self.kind == "cosine":
            factor *= 0.5 * (1 + math.cos(math.pi * min(step, self.steps) / self.steps))
        return factor


class Trainer:
    """Train one method.

    Parameters
    ----------
    recipe : Recipe
        The method's recipe (see :func:`training.recipe.load_recipe`).
    config : TrainConfig
    out : path-like
        Run folder: ``last.ckpt``, ``log.jsonl``, ``config.json``.
    train, val : ImageSet
        Decoded training and validation images.
    resume : path-like, optional
        Checkpoint to continue from.
    """

    def __init__(
        self,
        recipe: Recipe,
        config: TrainConfig,
        out: str | os.PathLike,
        train: datalib.ImageSet,
        val: datalib.ImageSet | None,
        *,
        resume: str | os.PathLike | None = None,
        data_info: dict | None = None,
    ):
        self.recipe = recipe
        self.config = config
        self.out = Path(out)
        self.train_set = train
        self.val_set = val
        self.data_info = data_info or {}
        self.options = recipe.check_options(config.options)

        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.distributed = self.world_size > 1
        if self.distributed and not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend=backend)
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", "0"))
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)
        else:
            self.device = torch.device("cpu")
        if config.threads:
            torch.set_num_threads(config.threads)
        elif self.distributed and self.device.type == "cpu":
            # Processes on this machine (torchrun sets LOCAL_WORLD_SIZE; on several nodes the
            # global WORLD_SIZE would starve each process of its machine's cores).
            local = int(os.environ.get("LOCAL_WORLD_SIZE", str(self.world_size)))
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, local)))

        torch.manual_seed(config.seed)  # identical initial weights on every rank
        self.model = recipe.build_model(self.options).to(self.device)
        self.net = self.model
        if self.distributed:
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None
            )
        opt_cls = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
        self.optimizer = opt_cls(
            self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, _Schedule(config))
        self.batcher = datalib.Batcher(
            train,
            batch_size=config.batch_size,
            crop=config.crop,
            scale=tuple(config.scale),
            hflip=config.hflip,
            seed=config.seed,
            rank=self.rank,
            world_size=self.world_size,
        )
        self.step = 0
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self.last_val: dict[str, float] = {}
        self.statistics: dict | None = None
        if resume is not None:
            self._restore(load_checkpoint(resume))
        elif config.init_from:
            self._warm_start(config.init_from, config.init_skip)
        if self.statistics is None:
            self.statistics = self._data_statistics()

    # -- checkpoints ------------------------------------------------------------

    def _warm_start(self, path: str | os.PathLike, skip: list[str]) -> None:
        """Copy a checkpoint's model weights into the fresh model, except ``skip`` prefixes.

        Every other parameter and buffer must exist in the checkpoint with the same shape;
        anything else is refused naming the file and the parameter (a warm start that
        silently kept random weights would be a wasted training run). ``path`` may also be
        a shipped ``.onnx`` graph whose exported module is the recipe's model (the cnn-*
        graphs): its initializers are loaded by name (:mod:`training.onnx_init`), so a new
        machine continues from the shipped weights without the run's checkpoint.
        """
        if Path(path).suffix == ".onnx":
            import onnx

            from training.onnx_init import load_graph_parameters

            if not Path(path).is_file():
                raise FileNotFoundError(f"{path}: no such graph")
            meta = {
                p.key: p.value
                for p in onnx.load(str(path), load_external_data=False).metadata_props
            }
            method = json.loads(meta.get("method", "null"))
            if method != self.recipe.name:
                raise ValueError(
                    f"{path}: graph is for method {method!r}, not {self.recipe.name!r}"
                )
            keep = {
                k: v.clone()
                for k, v in self.model.state_dict().items()
                if k.startswith(tuple(skip))
            }
            prefixes = {name: f"{name}." for name, _ in self.model.named_children()}
            load_graph_parameters(self.model, [path], prefixes, unused=tuple(skip))
            self.model.load_state_dict({**self.model.state_dict(), **keep})
            return
        ckpt = load_checkpoint(path)
        self._check_method(ckpt, f"{path}: ")
        source = ckpt["model"]
        state = self.model.state_dict()
        for name, value in state.items():
            if any(name.startswith(prefix) for prefix in skip):
                continue
            if name not in source:
                raise ValueError(f"{path}: no weights for {name!r} (add it to init_skip?)")
            if tuple(source[name].shape) != tuple(value.shape):
                raise ValueError(
                    f"{path}: {name!r} has shape {tuple(source[name].shape)}, "
                    f"the model needs {tuple(value.shape)}"
                )
            state[name] = source[name]
        self.model.load_state_dict(state)

    def _check_method(self, ckpt: dict, where: str = "") -> None:
        """Refuse a checkpoint of another method (resume and warm start alike)."""
        if ckpt.get("method") != self.recipe.name:
            raise ValueError(
                f"{where}checkpoint is for method {ckpt.get('method')!r}, not {self.recipe.name!r}"
            )

    def _restore(self, ckpt: dict) -> None:
        self._check_method(ckpt)
        saved_world = int(ckpt.get("world_size", 1))
        if saved_world != self.world_size:
            # Batches are sharded by rank: another process count would feed each step other
            # samples, so the resumed run could not equal the uninterrupted one.
            raise ValueError(
                f"checkpoint was written by a run of {saved_world} process(es); resuming with "
                f"{self.world_size} would change which samples each step sees. Resume with "
                f"{saved_world} process(es), or start a new run (--out elsewhere)"
            )
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        # the schedule is a function of this run's config (same config: same schedule)
        self.scheduler.lr_lambdas = [_Schedule(self.config)]
        torch.set_rng_state(ckpt["rng"]["torch"])
        self.step = int(ckpt["step"])
        self.elapsed = float(ckpt.get("elapsed", 0.0))
        self.last_val = dict(ckpt.get("val", {}))
        self.statistics = ckpt.get("statistics")

    def _data_statistics(self, batches: int = 20) -> dict | None:
        """The recipe's statistics over ``batches`` training batches (from a separate seed)."""
        sampler = datalib.Batcher(
            self.train_set,
            batch_size=self.config.batch_size,
            crop=self.config.crop,
            scale=tuple(self.config.scale),
            hflip=False,
            seed=self.config.seed + 7919,
        )
        stats = self.recipe.data_statistics(
            to_batch(*sampler.batch(i), self.device) for i in range(batches)
        )
        return None if stats is None else json.loads(json.dumps(stats))

    def checkpoint(self) -> dict[str, Any]:
        """The checkpoint dictionary (plain types and tensors only)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "method": self.recipe.name,
            "step": self.step,
            "elapsed": self.elapsed,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": {"torch": torch.get_rng_state()},
            "config": json.loads(json.dumps(self.config.to_dict())),
            "options": json.loads(json.dumps(self.options)),
            "data": json.loads(json.dumps(self.data_info)),
            "val": dict(self.last_val),
            "statistics": self.statistics,
            "world_size": self.world_size,
            "torch": str(torch.__version__),
        }

    def save(self, name: str = "last.ckpt") -> Path | None:
        """Write the checkpoint atomically (rank 0 only); returns its path."""
        if self.rank != 0:
            return None
        path = self.out / name
        save_atomic(path, self.checkpoint())
        return path

    # -- logging ----------------------------------------------------------------

    def log(self, record: dict[str, Any]) -> None:
        if self.rank != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / "log.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    # -- validation -------------------------------------------------------------

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Loss, PSNR and RMSE-ab on whole validation images at working resolution."""
        from core import metrics

        if self.val_set is None or len(self.val_set) == 0:
            return {}
        self.model.eval()
        images = datalib.working_images(
            self.val_set, self.recipe.working_size, self.recipe.size_multiple
        )[: self.config.val_images]
        groups: dict[tuple, list[np.ndarray]] = defaultdict(list)
        for image in images:
            groups[image.shape].append(image)
        totals: dict[str, float] = defaultdict(float)
        count = 0
        for group in groups.values():
            for start in range(0, len(group), 32):
                chunk = np.stack(group[start : start + 32])
                batch = to_batch(chunk, None, self.device)
                output = self.model(batch["lightness"])
                loss, _ = self.recipe.loss(output, batch)
                chroma = self.recipe.predict_chroma(output, self.statistics)
                rgb = lab_to_rgb(torch.cat([batch["lightness"], chroma], dim=1))
                pred_rgb = rgb.permute(0, 2, 3, 1).cpu().numpy()
                totals["loss"] += float(loss) * len(chunk)
                for i in range(len(chunk)):
                    true_rgb = chunk[i].astype(np.float32) / 255.0
                    totals["psnr"] += float(metrics.psnr(pred_rgb[i], true_rgb))
                    totals["rmse_ab"] += float(metrics.rmse_alphabeta(pred_rgb[i], true_rgb))
                count += len(chunk)
        self.model.train()
        return {key: value / count for key, value in totals.items()}

    # -- the loop ---------------------------------------------------------------

    def _budget_spent(self, started: float) -> bool:
        if self.config.max_minutes is None:
            return False
        spent = (time.monotonic() - started) >= self.config.max_minutes * 60
        if self.distributed:
            flag = torch.tensor([1.0 if spent else 0.0], device=self.device)
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
            spent = bool(flag.item() > 0)
        return spent

    def fit(self, until: int | None = None) -> dict[str, Any]:
        """Train until ``config.steps`` (or ``until``), the time budget, or the end.

        Returns a summary: final step, whether it stopped early, last metrics.
        """
        from tqdm import tqdm

        config = self.config
        end = config.steps if until is None else min(until, config.steps)
        started = time.monotonic()
        session_start_elapsed = self.elapsed
        if self.step == 0:
            self.log(
                {
                    "event": "start",
                    "method": self.recipe.name,
                    "config": config.to_dict(),
                    "world_size": self.world_size,
                    "train_images": len(self.train_set),
                    "statistics": self.statistics,
                }
            )
        self.model.train()
        stopped_early = False
        window: dict[str, float] = defaultdict(float)
        window_n = 0
        bar = tqdm(
            total=end,
            initial=self.step,
            desc=f"train {self.recipe.name}",
            disable=not config.progress or self.rank != 0,
            dynamic_ncols=True,
        )
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(self.batcher.batch, self.step) if self.step < end else None
            while self.step < end:
                if self._budget_spent(started):
                    stopped_early = True
                    break
                images, labels = pending.result()
                if self.step + 1 < end:
                    pending = pool.submit(self.batcher.batch, self.step + 1)
                batch = to_batch(images, labels, self.device)
                output = self.net(batch["lightness"])
                loss, extras = self.recipe.loss(output, batch)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
                self.scheduler.step()
                self.step += 1
                self.elapsed = session_start_elapsed + time.monotonic() - started
                window["loss"] += loss.item()
                for key, value in extras.items():
                    window[key] += float(value)
                window_n += 1
                bar.update(1)
                if self.step % config.log_every == 0 or self.step == end:
                    record = {key: value / window_n for key, value in window.items()}
                    record.update(
                        step=self.step,
                        lr=self.scheduler.get_last_lr()[0],
                        elapsed=round(self.elapsed, 2),
                    )
                    bar.set_postfix(loss=f"{record['loss']:.4f}")
                    self.log(record)
                    window.clear()
                    window_n = 0
                if self.step % config.val_every == 0 or self.step == end:
                    self._validate_and_log()
                if self.step % config.ckpt_every == 0 and self.step != end:
                    self.save()
        bar.close()
        self._sync_buffers()
        path = self.save()
        digests = self._rank_digests()
        summary = {
            "event": "stop" if stopped_early else "done",
            "step": self.step,
            "elapsed": round(self.elapsed, 2),
            "val": self.last_val,
            "checkpoint": str(path) if path else None,
            "rank_digests": digests,
        }
        self.log(summary)
        return summary

    def _validate_and_log(self) -> None:
        if self.rank == 0:
            self.last_val = self.validate()
            if self.last_val:
                self.log({"split": "val", "step": self.step, **self.last_val})
        if self.distributed:
            dist.barrier()

    def _sync_buffers(self) -> None:
        """Copy rank 0's batch-norm statistics to every rank (parameters already agree)."""
        if not self.distributed:
            return
        for buffer in self.model.buffers():
            dist.broadcast(buffer, src=0)

    def _rank_digests(self) -> list[str]:
        mine = state_digest(self.model)
        if not self.distributed:
            return [mine]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, mine)
        return [str(d) for d in gathered]

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            # every rank leaves together: a rank that tears the group down while another is
            # still writing the checkpoint can abort in gloo's teardown (seen as SIGABRT)
            dist.barrier()
            dist.destroy_process_group()
