"""The gray backbone back from its ONNX graph: a trainable :class:`GrayBackbone`.

``efficientnet-lite0-gray.onnx`` (:mod:`onnx_export.backbone`) is the only copy of the
gray-adapted weights that ships. Its export folded every batch normalisation into the
convolution before it (weight ``w * g / sqrt(v + eps)``, bias ``b - m * g / sqrt(v + eps)``)
and stores the larger weights as float16 behind a ``Cast`` node, so the graph holds one
float32-exact weight and bias per convolution and nothing else of the network's parameters.

:func:`gray_backbone_from_onnx` walks the graph's ``Conv`` nodes in order, matches them to
the convolutions of a fresh :class:`GrayBackbone` (shape, stride, groups, dilation and
padding must agree), loads the weights and turns each batch normalisation into the
identity plus the folded bias. The ImageNet classifier (``_fc``) is not in the graph and
comes back zeroed. The input transform (CIE L* -> sRGB gray -> ``(x - 127) /
128``) is not folded; it is evaluated from the graph and compared with
:meth:`GrayBackbone._input` so that a graph exported with another one is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from training.backbone import LEVELS, GrayBackbone

__all__ = ["gray_backbone_from_onnx"]

#: Largest difference allowed between the graph's and GrayBackbone's input transform.
_INPUT_TOLERANCE = 1e-4


def _conv_layers(backbone: GrayBackbone) -> list[tuple[str, nn.Conv2d, nn.BatchNorm2d, tuple]]:
    """(name, conv, its batch norm, ONNX pads (top, left, bottom, right)) in forward order."""
    net = backbone.net
    none = (0, 0, 0, 0)
    # EfficientNetLite0.pyramid pads the input by one on the right and bottom for the stem.
    layers = [("net._conv_stem", net._conv_stem, net._bn0, (0, 0, 1, 1))]
    for i, block in enumerate(net._blocks):
        prefix = f"net._blocks.{i}"
        if block.expand:
            layers.append((f"{prefix}._expand_conv", block._expand_conv, block._bn0, none))
        before, after = block.pad
        layers.append(
            (
                f"{prefix}._depthwise_conv",
                block._depthwise_conv,
                block._bn1,
                (before, before, after, after),
            )
        )
        layers.append((f"{prefix}._project_conv", block._project_conv, block._bn2, none))
    layers.append(("net._conv_head", net._conv_head, net._bn1, none))
    return layers


def gray_backbone_from_onnx(path: str | os.PathLike | None = None) -> GrayBackbone:
    """A trainable :class:`GrayBackbone` that computes what an exported gray graph computes.

    Every ``Conv`` node's weight (float32, or float16 behind a ``Cast`` to float32) and
    bias are read in graph order and loaded into the matching convolution; the batch
    normalisation after it becomes the identity plus that bias (weight 1, running mean 0,
    running variance ``1 - eps``, bias the folded bias), which is exact in float32.

    Parameters
    ----------
    path : path-like, optional
        An ``efficientnet-lite0-gray.onnx`` written by :mod:`onnx_export.backbone`; default
        the installed backbone ``"efficientnet-lite0-gray"`` (:func:`core.backbones.get_backbone`).

    Returns
    -------
    GrayBackbone
        In eval mode, float32. ``forward`` on CIE L* (N, 1, H, W) in [0, 100], H and W
        multiples of 32, returns the graph's outputs ``f2, f4, f8, f16, f32, head`` (up to
        float32 rounding). In train mode the batch normalisations would normalise by the
        batch's statistics, which the folded graph does not do: fine-tune with them in
        eval mode, or give them statistics first. The ImageNet classifier (``net._fc``,
        used by :meth:`GrayBackbone.logits`) is not in the graph: it is all zeros.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a readable ONNX graph, or is not a gray backbone: its input and
        outputs, its convolutions (count, shapes, strides, groups, padding) or its input
        transform differ from :class:`GrayBackbone`'s. The message names the file.

    Examples
    --------
    >>> backbone = gray_backbone_from_onnx()                   # doctest: +SKIP
    >>> f2, f4, f8, f16, f32, head = backbone(torch.rand(1, 1, 64, 64) * 100)  # doctest: +SKIP
    >>> tuple(head.shape)                                      # doctest: +SKIP
    (1, 1280, 2, 2)
    """
    import onnx
    from onnx import helper, numpy_helper

    if path is None:
        from core.backbones import get_backbone

        path = get_backbone("efficientnet-lite0-gray").path
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: ONNX graph not found")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # a truncated or foreign file
        raise ValueError(f"{path}: not a readable ONNX graph ({exc})") from exc
    graph = model.graph
    stored = {init.name: init for init in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}

    inputs = [i.name for i in graph.input if i.name not in stored]
    outputs = tuple(o.name for o in graph.output)
    if inputs != ["lightness"] or outputs != LEVELS:
        raise ValueError(
            f"{path}: not a gray backbone graph: expected input ['lightness'] and outputs "
            f"{list(LEVELS)}, got {inputs} and {list(outputs)}"
        )

    def constant(name: str, what: str) -> np.ndarray:
        """The float32 value of a stored tensor, followed through Cast and Identity."""
        if name in stored:
            return numpy_helper.to_array(stored[name]).astype(np.float32)
        node = producer.get(name)
        if node is not None and node.op_type == "Constant":
            return numpy_helper.to_array(node.attribute[0].t).astype(np.float32)
        if node is not None and node.op_type == "Identity":
            return constant(node.input[0], what)
        if node is not None and node.op_type == "Cast":
            to = helper.get_attribute_value(node.attribute[0])
            if to == onnx.TensorProto.FLOAT:
                return constant(node.input[0], what)
        op = "nothing" if node is None else f"a {node.op_type} node"
        raise ValueError(f"{path}: {what} {name!r} is computed by {op}, not a stored tensor")

    convs = [node for node in graph.node if node.op_type == "Conv"]
    backbone = GrayBackbone()
    layers = _conv_layers(backbone)
    if len(convs) != len(layers):
        raise ValueError(
            f"{path}: has {len(convs)} Conv nodes, a GrayBackbone has {len(layers)}; "
            "is it an efficientnet-lite0-gray graph?"
        )
    loaded = []
    for node, (name, conv, _, pads) in zip(convs, layers, strict=True):
        weight = constant(node.input[1], f"weight of Conv {node.name!r}")
        if len(node.input) > 2 and node.input[2]:
            bias = constant(node.input[2], f"bias of Conv {node.name!r}")
        else:
            bias = np.zeros(weight.shape[0], np.float32)
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        found = (
            tuple(weight.shape),
            tuple(bias.shape),
            int(attrs.get("group", 1)),
            tuple(attrs.get("strides", (1, 1))),
            tuple(attrs.get("dilations", (1, 1))),
            tuple(attrs.get("pads", (0, 0, 0, 0))),
            attrs.get("auto_pad", b"NOTSET"),
        )
        expected = (
            tuple(conv.weight.shape),
            (conv.out_channels,),
            conv.groups,
            conv.stride,
            conv.dilation,
            pads,
            b"NOTSET",
        )
        if found != expected:
            raise ValueError(
                f"{path}: Conv node {len(loaded)} ({node.name!r}) does not match {name} of "
                "GrayBackbone: (weight shape, bias shape, groups, strides, dilations, pads, "
                f"auto_pad) expected {expected}, got {found}"
            )
        loaded.append((weight, bias))

    with torch.no_grad():
        for (weight, bias), (_, conv, norm, _) in zip(loaded, layers, strict=True):
            conv.weight.copy_(torch.from_numpy(weight))
            norm.weight.fill_(1.0)
            norm.bias.copy_(torch.from_numpy(bias))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)  # (x - 0) / sqrt(1 - eps + eps) == x
        backbone.net._fc.weight.zero_()  # the classifier is not in the graph
        backbone.net._fc.bias.zero_()
    backbone.eval()
    _check_input_transform(model, convs[0].input[0], backbone, path)
    return backbone


def _check_input_transform(model, stem_input: str, backbone: GrayBackbone, path: Path) -> None:
    """Refuse a graph whose L* -> stem input transform is not :meth:`GrayBackbone._input`."""
    from onnx.reference import ReferenceEvaluator
    from onnx.utils import Extractor

    try:
        transform = Extractor(model).extract_model(["lightness"], [stem_input])
        lightness = np.linspace(0.0, 100.0, 1001, dtype=np.float32).reshape(1, 1, 7, 143)
        (got,) = ReferenceEvaluator(transform).run(None, {"lightness": lightness})
    except Exception as exc:  # an op the reference evaluator cannot run, a broken graph
        raise ValueError(f"{path}: cannot evaluate the graph's input transform ({exc})") from exc
    with torch.no_grad():
        expected = backbone._input(torch.from_numpy(lightness)).numpy()
    diff = float(np.max(np.abs(np.asarray(got, np.float32) - expected)))
    if not diff <= _INPUT_TOLERANCE:  # also refuses NaN
        raise ValueError(
            f"{path}: the graph's input transform (L* -> normalised sRGB gray) differs from "
            f"GrayBackbone's by up to {diff:.3g} (allowed {_INPUT_TOLERANCE:g}); was it "
            "exported from a GrayBackbone?"
        )
