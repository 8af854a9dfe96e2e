"""Export a method's trained checkpoint to ONNX graphs the plugin ships.

For every graph the method's recipe lists (:meth:`training.recipe.Recipe.export_graphs`):

1. ``torch.onnx.export(..., dynamo=True)`` (the torch.export-based exporter)
   with the recipe's dynamic axes (batch, height, width for convolutional nets);
2. ``onnx.checker.check_model(full_check=True)`` and shape inference;
3. parity of ONNX Runtime against torch on random inputs at several sizes and
   on real photos (max absolute difference, must stay below ``tolerance``);
4. the method's configuration (colour space, bins, working size, version,
   training data summary, parity) written into ``metadata_props``, with the
   metadata format version ``colorize_format`` that ``core.runtime`` checks at load;
5. the models folder's ``manifest.json`` updated with each file's sha256.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.runtime import MODEL_FORMAT_KEY, MODEL_FORMAT_VERSION
from onnx_export.manifest import update_manifest
from training.recipe import ExportGraph, Recipe
from training.trainer import load_checkpoint

__all__ = ["ExportResult", "ParityError", "export_checkpoint", "export_graph", "training_summary"]


class ParityError(AssertionError):
    """ONNX Runtime and torch disagree by more than the tolerance."""


@dataclass
class ExportResult:
    path: Path
    parity: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def max_abs_diff(self) -> float:
        return max(self.parity.values()) if self.parity else 0.0


def training_summary(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The short training record stored in the graph's metadata."""
    data = ckpt.get("data") or {}

    def brief(part: dict | None) -> dict | None:
        if not part:
            return None
        return {k: part.get(k) for k in ("images", "skipped_corrupt", "skipped_gray", "sources")}

    return {
        "method": ckpt.get("method"),
        "step": ckpt.get("step"),
        "train_seconds": round(float(ckpt.get("elapsed", 0.0)), 1),
        "world_size": ckpt.get("world_size", 1),
        "config": ckpt.get("config"),
        "options": ckpt.get("options"),
        "data": {"train": brief(data.get("train")), "val": brief(data.get("val"))},
        "val": ckpt.get("val"),
        "statistics": ckpt.get("statistics"),
        "torch": ckpt.get("torch"),
    }


def _dynamic_shapes(graph: ExportGraph) -> dict[str, dict[int, Any]]:
    return {
        name: {axis: torch.export.Dim.DYNAMIC for axis in axes}
        for name, axes in graph.dynamic_axes.items()
    }


def _torch_outputs(module: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> list[np.ndarray]:
    with torch.no_grad():
        out = module(*inputs.values())
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o.detach().cpu().numpy() for o in outs]


def _parity_inputs(
    graph: ExportGraph, real: list[np.ndarray]
) -> dict[str, dict[str, torch.Tensor]]:
    """Random inputs at the example size and at other sizes (dynamic axes), plus real ones."""
    cases: dict[str, dict[str, torch.Tensor]] = {}
    if graph.parity_cases:
        cases["random"] = dict(graph.inputs)
        for i, case in enumerate(graph.parity_cases):
            cases[f"given-{i}"] = dict(case)
        return cases
    generator = torch.Generator().manual_seed(0)
    for label, delta in (("random", (0, 0)), ("random-resized", (8, -16))):
        case = {}
        for name, example in graph.inputs.items():
            shape = list(example.shape)
            axes = graph.dynamic_axes.get(name, {})
            if label != "random":
                if 0 in axes:
                    shape[0] = 2
                for axis, d in zip((2, 3), delta, strict=True):
                    if axis in axes and axis < len(shape):
                        shape[axis] = max(4, shape[axis] + d)
            lo, hi = float(example.min()), float(example.max())
            span = hi - lo if hi > lo else 1.0
            case[name] = torch.rand(shape, generator=generator) * span + lo
        cases[label] = case
    if real and len(graph.inputs) == 1:
        (name,) = graph.inputs
        for i, array in enumerate(real):
            cases[f"real-{i}"] = {name: torch.from_numpy(array)}
    return cases


def export_graph(
    graph: ExportGraph,
    out_dir: str | os.PathLike,
    *,
    real_inputs: list[np.ndarray] | None = None,
    tolerance: float = 1e-2,
    opset: int | None = None,
) -> ExportResult:
    """Export one graph, check it, verify parity and write its metadata.

    Raises
    ------
    ParityError
        If ONNX Runtime and torch differ by more than ``tolerance`` on any input.
    """
    import onnx
    import onnxruntime as ort

    started = time.monotonic()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / graph.filename
    module = graph.module.eval().cpu()
    program = torch.onnx.export(
        module,
        tuple(graph.inputs.values()),
        input_names=list(graph.inputs),
        output_names=list(graph.output_names),
        dynamic_shapes=_dynamic_shapes(graph) or None,
        opset_version=opset,
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    program.save(str(path), external_data=False)

    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    model = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    _set_metadata(model, {MODEL_FORMAT_KEY: json.dumps(MODEL_FORMAT_VERSION), **graph.metadata})
    onnx.save(model, str(path))

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    parity: dict[str, float] = {}
    for label, case in _parity_inputs(graph, real_inputs or []).items():
        expected = _torch_outputs(module, case)
        got = session.run(None, {k: v.numpy() for k, v in case.items()})
        diff = max(float(np.max(np.abs(e - g))) for e, g in zip(expected, got, strict=True))
        parity[label] = diff
        if not diff <= tolerance:
            raise ParityError(
                f"{path.name}: ONNX Runtime differs from torch by {diff:.3g} on {label} "
                f"input (tolerance {tolerance})"
            )
    summary = {
        "max_abs_diff": max(parity.values()),
        "cases": len(parity),
        "tolerance": tolerance,
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
    }
    _set_metadata(model, {"parity": json.dumps(summary)})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return ExportResult(path=path, parity=parity, seconds=time.monotonic() - started)


def _set_metadata(model, values: dict[str, str]) -> None:
    import onnx

    current = {p.key: p.value for p in model.metadata_props}
    current.update({k: str(v) for k, v in values.items()})
    del model.metadata_props[:]
    for key, value in sorted(current.items()):
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))


def real_lightness(folder: str | os.PathLike, recipe: Recipe, count: int = 4) -> list[np.ndarray]:
    """Lightness (1, 1, h, w) of ``count`` photos at the method's working shape."""
    from training import data as datalib
    from training.lab import rgb_to_lab

    paths = datalib.find_images(folder)[:count]
    images = datalib.load_images([(p, None) for p in paths], short_side=None, progress=False)
    out = []
    for image in datalib.working_images(images, recipe.working_size, recipe.size_multiple):
        rgb = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
        out.append(rgb_to_lab(rgb)[:, :1].contiguous().numpy())
    return out


def export_checkpoint(
    recipe: Recipe,
    checkpoint: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    real_dir: str | os.PathLike | None = None,
    tolerance: float = 1e-2,
) -> list[ExportResult]:
    """Export every graph of ``recipe`` from ``checkpoint`` into ``out_dir`` (+ manifest)."""
    ckpt = load_checkpoint(checkpoint)
    if ckpt.get("method") != recipe.name:
        raise ValueError(
            f"{checkpoint}: checkpoint is for method {ckpt.get('method')!r}, not {recipe.name!r}"
        )
    model = recipe.build_model(dict(ckpt.get("options") or {}))
    model.load_state_dict(ckpt["model"])
    model.eval()
    real = real_lightness(real_dir, recipe) if real_dir else []
    results = [
        export_graph(graph, out_dir, real_inputs=real, tolerance=tolerance)
        for graph in recipe.export_graphs(model, training_summary(ckpt))
    ]
    update_manifest(
        out_dir,
        [r.path for r in results],
        methods={
            recipe.name: {
                "files": [r.path.name for r in results],
                "step": ckpt.get("step"),
                "max_abs_diff": max(r.max_abs_diff for r in results),
            }
        },
    )
    return results
