"""colorize-backbone: the ImageNet-pretrained feature extractor shared by the methods.

Ships two ONNX graphs (see MODEL_CARD.md):

``efficientnet-lite0-gray.onnx``
    EfficientNet-Lite0 adapted to gray input (CIE L* in, feature pyramid out), registered
    as the backbone ``"efficientnet-lite0-gray"`` (:class:`core.backbones.Backbone`).
``efficientnet-lite0-colour.onnx``
    The unadapted colour ImageNet classifier (RGB in, 1000 logits out), used by the
    semantic test of ``colorize eval --semantic`` (:mod:`colorize_eval.semantic`).

Inference runs on ONNX Runtime only; the torch definition is :mod:`training.backbone`.
"""

from pathlib import Path

__version__ = "0.1.0"

#: Folder of the shipped ONNX graphs and their manifest.
MODELS_DIR = Path(__file__).resolve().parent / "models"

#: Registry name of the gray backbone.
GRAY_BACKBONE = "efficientnet-lite0-gray"

#: File of the colour ImageNet classifier (semantic test).
COLOUR_CLASSIFIER = MODELS_DIR / "efficientnet-lite0-colour.onnx"
