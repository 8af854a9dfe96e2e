"""Training configuration: defaults < method recipe defaults < config file < command line."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomllib

__all__ = ["TrainConfig", "load_config_file"]


@dataclass
class TrainConfig:
    """Every knob of a training run (see docs/training.md for the meaning of each)."""

    steps: int = 2000
    batch_size: int = 32
    lr: float = 1e-3
    optimizer: str = "adam"  # adam | adamw
    weight_decay: float = 0.0
    schedule: str = "step"  # constant | step | cosine
    milestones: list[float] = field(default_factory=lambda: [0.75])  # fractions of steps
    gamma: float = 0.1
    warmup_steps: int = 0
    crop: int = 64
    scale: list[float] = field(default_factory=lambda: [0.5, 1.0])
    hflip: bool = True
    cache_size: int = 96
    train_splits: list[str] = field(default_factory=lambda: ["train"])
    val_split: str = "val"
    val_fraction: float = 0.05
    val_images: int = 100
    val_every: int = 250
    ckpt_every: int = 250
    log_every: int = 10
    seed: int = 0
    threads: int = 0
    max_minutes: float | None = None
    progress: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    #: Warm start: a checkpoint whose model weights initialise a *new* run (not a resume:
    #: step, optimizer and schedule start afresh). Parameters whose names start with one
    #: of ``init_skip`` keep their fresh initialisation (e.g. ``["head."]`` to relearn an
    #: output layer whose meaning changed).
    init_from: str | None = None
    init_skip: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "adamw"):
            raise ValueError(f"optimizer must be 'adam' or 'adamw', got {self.optimizer!r}")
        if self.schedule not in ("constant", "step", "cosine"):
            raise ValueError(
                f"schedule must be 'constant', 'step' or 'cosine', got {self.schedule!r}"
            )
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError("steps and batch_size must be >= 1")
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {self.scale}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(
                f"unknown config key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_config_file(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON (``.json``) or TOML (anything else) config file into a dict."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot parse config ({exc})") from None
