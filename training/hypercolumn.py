"""A hypercolumn of the shared gray backbone's levels on one grid (torch, training only).

Heads that read the backbone (:mod:`core.backbones`, EfficientNet-Lite0, strides 4-32)
and predict on a stride-8 grid -- the chroma grids of the PixelCNN methods (pixcolor's
28 px, semantic's 32 px) -- project every level with a 1x1 convolution, bring it to the
f8 grid (average pooling for f4, bilinear up-sampling for f16, f32 and the head) and
concatenate: Larsson et al.'s hypercolumn (2016, §3.1), densely on a coarse grid. Projecting
before resampling is the same as after (both are linear) and far cheaper.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "LEVEL_CHANNELS",
    "LEVEL_STRIDES",
    "CachedLevels",
    "GridHypercolumn",
    "level_examples",
    "over_backbone",
]

#: Channels of the gray backbone's levels (``efficientnet-lite0-gray``).
LEVEL_CHANNELS = {"f4": 24, "f8": 40, "f16": 112, "f32": 320, "head": 1280}
#: Stride of each level relative to the backbone's input.
LEVEL_STRIDES = {"f4": 4, "f8": 8, "f16": 16, "f32": 32, "head": 32}


class GridHypercolumn(nn.Module):
    """Levels (a dict of (N, C_k, H/s_k, W/s_k)) -> (N, proj x levels, H/8, W/8).

    Parameters
    ----------
    proj : int
        Channels each level is projected to.
    channels : dict of str to int, optional
        The levels read and their channels (default :data:`LEVEL_CHANNELS`).
    """

    grid = 8

    def __init__(self, proj: int = 32, channels: dict[str, int] | None = None):
        super().__init__()
        channels = dict(LEVEL_CHANNELS if channels is None else channels)
        self.names = tuple(channels)
        self.hyper_channels = proj * len(channels)
        self.proj = nn.ModuleDict({k: nn.Conv2d(c, proj, 1) for k, c in channels.items()})

    def hypercolumn(self, levels: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = []
        for name in self.names:
            x = self.proj[name](levels[name])
            stride = LEVEL_STRIDES[name]
            if stride < self.grid:
                x = F.avg_pool2d(x, self.grid // stride)
            elif stride > self.grid:
                x = F.interpolate(
                    x, scale_factor=stride // self.grid, mode="bilinear", align_corners=False
                )
            parts.append(x)
        return torch.cat(parts, dim=1)

    def forward(self, levels: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.hypercolumn(levels)


def level_examples(
    n: int, height: int, width: int, generator: torch.Generator, names=tuple(LEVEL_CHANNELS)
) -> dict[str, torch.Tensor]:
    """Random levels of an ``height`` x ``width`` backbone input (export and tests)."""
    return {
        k: torch.rand(n, LEVEL_CHANNELS[k], height // LEVEL_STRIDES[k],
                      width // LEVEL_STRIDES[k], generator=generator) * 4.0
        for k in names
    }


def over_backbone(
    graphs: list,
    module: nn.Module,
    *,
    backbone: str,
    levels: tuple[str, ...],
    working_size: int,
    grid_stride: int,
    example: tuple[int, int] = (128, 160),
    resized: tuple[int, int] = (96, 192),
) -> list:
    """Turn a method's export graphs (:class:`training.recipe.ExportGraph`) into graphs
    over the backbone, in place: every graph's metadata records the backbone, its levels,
    the working size (sides multiples of 32) and the grid stride; the first graph becomes
    ``module`` taking the levels of an ``example``-sized input (checked again at
    ``resized``, the levels' sizes tied). Returns ``graphs``."""
    import json

    extra = {
        "working_size": working_size,
        "size_multiple": 32,
        "backbone": backbone,
        "backbone_levels": list(levels),
    }
    for graph in graphs:
        arch = json.loads(graph.metadata.get("architecture", "{}"))
        arch["grid_stride"] = grid_stride
        graph.metadata.update({k: json.dumps(v) for k, v in extra.items()})
        graph.metadata["architecture"] = json.dumps(arch)
    generator = torch.Generator().manual_seed(0)
    first = graphs[0]
    first.module = module
    first.inputs = level_examples(1, *example, generator, levels)
    first.dynamic_axes = {k: {0: "batch", 2: "height", 3: "width"} for k in levels}
    first.parity_cases = [level_examples(2, *resized, generator, levels)]
    return graphs


class CachedLevels:
    """A feature cache's backbone levels in RAM, and batches of its rows.

    Parameters
    ----------
    folder : path
        The cache (named in messages).
    meta : dict
        Its ``meta.json``; ``meta["backbone"]`` must be ``backbone``.
    levels : dict of str to array (N, C, h, w)
        The cached levels (float16 on disk; copied into RAM here).
    backbone : str
        The backbone the heads are trained for.
    seed : int
        With the step, the only input of :meth:`batch`, so a resumed run sees the batches
        of an uninterrupted one.

    Subclasses add the targets in :meth:`take`.
    """

    def __init__(self, folder, meta: dict, levels: dict, backbone: str, seed: int = 0):
        if meta.get("backbone") != backbone:
            raise ValueError(
                f"{folder}: cache of backbone {meta.get('backbone')!r}, expected {backbone!r}"
            )
        self.meta = meta
        self.levels = {k: np.ascontiguousarray(v) for k, v in levels.items()}
        self.rows = int(next(iter(self.levels.values())).shape[0])
        self.seed = seed

    def level_tensors(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        """Rows ``index`` of every level as float32 tensors."""
        return {k: torch.from_numpy(v[index].astype(np.float32)) for k, v in self.levels.items()}

    def take(self, index: np.ndarray) -> dict:
        """Rows ``index`` as a training batch (subclasses add their targets)."""
        return {"levels": self.level_tensors(index)}

    def batch(self, step: int, size: int) -> dict:
        """``size`` distinct rows drawn from ``(seed, step)``, as :meth:`take` gives them."""
        rng = np.random.default_rng((self.seed, step))
        return self.take(np.sort(rng.choice(self.rows, size, replace=False)))
