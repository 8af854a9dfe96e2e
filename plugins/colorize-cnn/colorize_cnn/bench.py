"""The CNN plugin's benchmark for ``colorize bench``: ONNX Runtime vs torch eager.

Registered through the ``register_benchmarks`` hook (``colorize_cnn.plugin``). Both
backends run the **shipped** ``cnn-classification`` weights: the torch model of the
training recipe is filled from the ONNX graph's initializers (they carry the
``state_dict`` names), and the note reports the largest difference between the two
outputs as the proof. torch is imported only here, inside :func:`benchmark`, and only if
installed; without it the comparison is reported as skipped. int8 vs float32: compared
when an int8 graph is shipped next to a float32 one (none is: see docs/performance.md).

Full run: the network at the 64 x 64 working shape and at 512 x 512, best of 10.
``quick``: 64 x 64 only, best of 3. ``benchmarks/bench_cnn.py`` has the longer
version (a checkpoint of your own, peak memory of each backend).
"""

from __future__ import annotations

import importlib.util
import os
from typing import Any

import numpy as np
from colorize_bench.bench import best_seconds, comparison, int8_comparisons, skipped

__all__ = ["benchmark"]

METHOD = "cnn-classification"


def _torch_model_with_graph_weights(path) -> tuple[Any, list[str]]:
    """The recipe's torch model carrying the graph's weights; and the keys left as built."""
    import onnx
    import torch
    from onnx import numpy_helper

    from training.recipe import load_recipe

    weights = {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}
    model = load_recipe(METHOD).build_model({}).eval()
    state = model.state_dict()
    missing = [k for k, v in state.items() if k not in weights and v.is_floating_point()]
    model.load_state_dict(
        {k: torch.from_numpy(weights[k].copy()) if k in weights else v for k, v in state.items()}
    )
    return model, missing


def benchmark(quick: bool = False) -> dict[str, Any]:
    """ORT vs torch eager latency (ms) of ``cnn-classification`` on the same weights.

    Returns ``{"comparisons": {...}, "skipped": [...]}`` (see
    :func:`colorize_bench.bench.comparison`).
    """
    from colorize_cnn import MODELS_DIR
    from core.runtime import get_session

    comparisons: dict[str, Any] = {}
    skipped_list = []
    repeats = 3 if quick else 10
    path = MODELS_DIR / f"{METHOD}.onnx"
    absent = [m for m in ("torch", "onnx") if importlib.util.find_spec(m) is None]
    if absent:
        reason = f"{' and '.join(absent)} not installed (pip install 'colorize-cnn[train]')"
        skipped_list.append(skipped("onnxruntime vs torch eager", reason))
    else:
        import torch

        threads = int(os.environ.get("COLORIZE_THREADS", "0") or 0)
        if threads > 0:  # the same intra-op thread count as onnxruntime's sessions
            torch.set_num_threads(threads)
        model, missing = _torch_model_with_graph_weights(path)
        if missing:
            skipped_list.append(
                skipped("onnxruntime vs torch eager", f"graph lacks weights {missing[:3]}")
            )
        else:
            session = get_session(path)
            name = session.get_inputs()[0].name
            sizes = (64,) if quick else (64, 512)
            for side in sizes:
                x = np.random.default_rng(0).uniform(0, 100, (1, 1, side, side))
                x = x.astype(np.float32)
                xt = torch.from_numpy(x)

                def eager(xt=xt):
                    with torch.no_grad():
                        return model(xt)

                def ort(x=x):
                    return session.run(None, {name: x})

                diff = float(np.abs(ort()[0] - eager().numpy()).max())
                seconds = best_seconds({"ort": ort, "torch": eager}, repeats)
                comparisons[f"{METHOD} network {side}x{side}: onnxruntime vs torch eager"] = (
                    comparison(
                        "onnxruntime",
                        1e3 * seconds["ort"],
                        "torch eager",
                        1e3 * seconds["torch"],
                        "ms",
                        note=f"shipped weights in both, max |difference| {diff:.1e}; "
                        f"torch threads {torch.get_num_threads()}, best of {repeats}",
                    )
                )
    int8, int8_skipped = int8_comparisons(
        MODELS_DIR,
        lambda session: {session.get_inputs()[0].name: np.full((1, 1, 64, 64), 50, np.float32)},
        repeats,
    )
    comparisons.update(int8)
    return {"comparisons": comparisons, "skipped": skipped_list + int8_skipped}
