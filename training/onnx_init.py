"""Start training from shipped ONNX graphs: their parameters loaded back into a torch model.

The exporter (``onnx_export.export``) keeps each parameter of the exported module under its
module path (``net.v_in.weight``, ``conditioning.proj.f4.weight``, ``model.bottom...``), so a
trainer rebuilds the model and loads the graphs' initializers by name, with a prefix map
from the graph's module to the model's attribute. A session on a new machine then continues
where the last shipped model left off, without the run's checkpoint (``fit --init DIR``).
Each trainer's test checks that the rebuilt model reproduces the graphs' outputs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import torch

__all__ = ["graph_differences", "load_graph_parameters"]


def load_graph_parameters(
    model: torch.nn.Module,
    graphs: Iterable[str | os.PathLike],
    prefixes: dict[str, str],
    *,
    unused: tuple[str, ...] = (),
) -> torch.nn.Module:
    """Load the parameters of exported ``graphs`` into ``model`` by name; returns ``model``.

    An initializer ``<graph prefix>.<rest>`` goes to the model's state key
    ``prefixes[<graph prefix>] + <rest>``; others (folded constants) are skipped. Every
    floating-point state entry must be found in some graph, except those starting with one
    of ``unused`` (parameters no exported output depends on, e.g. a training-only head).
    Raises ``FileNotFoundError`` for a missing graph and ``ValueError`` naming the file
    for a shape that differs (another architecture) or a parameter no graph holds.
    """
    import onnx
    from onnx import numpy_helper

    state = model.state_dict()
    loaded: set[str] = set()
    for path in map(Path, graphs):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such graph")
        for init in onnx.load(str(path)).graph.initializer:
            head, _, rest = init.name.partition(".")
            if head not in prefixes or prefixes[head] + rest not in state:
                continue
            key = prefixes[head] + rest
            value = torch.from_numpy(numpy_helper.to_array(init).copy())
            if value.shape != state[key].shape:
                raise ValueError(f"{path}: {init.name} has shape {tuple(value.shape)}, the "
                                 f"model {tuple(state[key].shape)} (another architecture?)")
            state[key] = value
            loaded.add(key)
    missing = [k for k, v in state.items() if k not in loaded and v.is_floating_point()
               and not k.startswith(unused)]
    if missing:
        raise ValueError(f"the graphs lack {len(missing)} parameters of the model, e.g. "
                         f"{missing[:3]} (graphs of another method or version?)")
    model.load_state_dict(state)
    return model


def graph_differences(graphs: Iterable, folder: str | os.PathLike) -> dict[str, float]:
    """Largest |ONNX Runtime - torch| / (1 + |torch|) of each export graph against its file.

    ``graphs`` are :class:`training.recipe.ExportGraph` built from a model (as its exporter
    builds them); each graph's file in ``folder`` runs on the graph's example inputs and
    is compared with the module's outputs: ``{file name: largest difference}``, relative
    where outputs are large (log-likelihoods). A model rebuilt by
    :func:`load_graph_parameters` should give differences of float noise.
    """
    import numpy as np
    import onnxruntime as ort

    out = {}
    for graph in graphs:
        session = ort.InferenceSession(str(Path(folder) / graph.filename),
                                       providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        got = session.run(None, {k: graph.inputs[k].numpy() for k in names})
        with torch.no_grad():
            want = graph.module(*[graph.inputs[k] for k in names])
        want = want if isinstance(want, (tuple, list)) else (want,)
        if len(got) != len(want):
            raise ValueError(f"{graph.filename}: {len(got)} outputs, the module {len(want)}")
        out[graph.filename] = max(
            float((np.abs(g - w.numpy()) / (1.0 + np.abs(w.numpy()))).max())
            for g, w in zip(got, want, strict=True)
        )
    return out
