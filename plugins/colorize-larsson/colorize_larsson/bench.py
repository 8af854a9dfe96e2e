"""The Larsson plugin's benchmark for ``colorize bench``: ONNX Runtime vs torch eager.

Registered through the ``register_benchmarks`` hook (``colorize_larsson.plugin``). The
shipped graphs fold batch normalisation into the convolutions, so their weights do not
map back onto the torch model; instead the benchmark builds the ``larsson`` network of
the training recipe, exports that very module (same weights) and times both backends on
the same input in the same process. The full run exports with
``onnx_export.export_graph`` (the exporter of the shipped graphs, ~15 s); ``quick`` uses
torch's TorchScript exporter in memory (~2 s). torch is imported only inside
:func:`benchmark`; without it the comparison is reported as skipped. int8 vs float32:
compared when an int8 graph is shipped next to a float32 one (none is).

Sizes: the 96 x 96 working shape (both modes) and 512 x 512 dense hypercolumns (full
run only); best of 2 (quick) or 5. ``benchmarks/bench_larsson.py`` has the longer
version (pipeline latency, energy transfer, concatenated vs factorized hypercolumns,
peak memory).
"""

from __future__ import annotations

import importlib.util
import io
import os
import tempfile
import warnings
from typing import Any

import numpy as np
from colorize_bench.bench import best_seconds, comparison, int8_comparisons, skipped

__all__ = ["benchmark"]

METHOD = "larsson"


def _export(graph, quick: bool, folder: str) -> tuple[Any, str]:
    """An ORT session of ``graph.module`` exported now; and how it was exported."""
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()  # as core.runtime.get_session: COLORIZE_THREADS threads
    options.intra_op_num_threads = int(os.environ.get("COLORIZE_THREADS", "0") or 0)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if quick:
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                graph.module,
                tuple(graph.inputs.values()),
                buffer,
                input_names=list(graph.inputs),
                output_names=list(graph.output_names),
                dynamic_axes={k: {a: f"d{a}" for a in v} for k, v in graph.dynamic_axes.items()},
                dynamo=False,
            )
        source, how = buffer.getvalue(), "TorchScript exporter (quick)"
    else:
        from onnx_export.export import export_graph

        source, how = str(export_graph(graph, folder).path), "onnx_export.export_graph"
    session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    return session, how


def benchmark(quick: bool = False) -> dict[str, Any]:
    """ORT vs torch eager latency (ms) of the ``larsson`` network on the same weights.

    Returns ``{"comparisons": {...}, "skipped": [...]}`` (see
    :func:`colorize_bench.bench.comparison`).
    """
    from colorize_larsson import MODELS_DIR

    comparisons: dict[str, Any] = {}
    skipped_list = []
    repeats = 2 if quick else 5
    absent = [m for m in ("torch", "onnx") if importlib.util.find_spec(m) is None]
    if absent:
        reason = f"{' and '.join(absent)} not installed (pip install 'colorize-larsson[train]')"
        skipped_list.append(skipped("onnxruntime vs torch eager", reason))
    else:
        import torch

        threads = int(os.environ.get("COLORIZE_THREADS", "0") or 0)
        if threads > 0:  # the same intra-op thread count as onnxruntime's sessions
            torch.set_num_threads(threads)
        from training.recipe import load_recipe

        recipe = load_recipe(METHOD)
        torch.manual_seed(0)
        model = recipe.build_model({}).eval()
        (graph,) = recipe.export_graphs(model, {})
        module = graph.module.eval()
        with tempfile.TemporaryDirectory() as folder:
            session, how = _export(graph, quick, folder)
        name = session.get_inputs()[0].name
        for side in (96,) if quick else (96, 512):
            x = np.random.default_rng(0).uniform(0, 100, (1, 1, side, side)).astype(np.float32)
            xt = torch.from_numpy(x)

            def eager(xt=xt):
                with torch.no_grad():
                    out = module(xt)
                return out[0] if isinstance(out, (tuple, list)) else out

            def ort(x=x):
                return session.run(None, {name: x})

            diff = float(np.abs(ort()[0] - eager().numpy()).max())
            seconds = best_seconds({"ort": ort, "torch": eager}, repeats)
            comparisons[f"{METHOD} network {side}x{side}: onnxruntime vs torch eager"] = comparison(
                "onnxruntime",
                1e3 * seconds["ort"],
                "torch eager",
                1e3 * seconds["torch"],
                "ms",
                note=f"same weights (recipe's network, exported by {how}), "
                f"max |difference| {diff:.1e}; torch threads {torch.get_num_threads()}, "
                f"best of {repeats}",
            )
    int8, int8_skipped = int8_comparisons(
        MODELS_DIR,
        lambda session: {session.get_inputs()[0].name: np.full((1, 1, 96, 96), 50, np.float32)},
        repeats,
    )
    comparisons.update(int8)
    return {"comparisons": comparisons, "skipped": skipped_list + int8_skipped}
