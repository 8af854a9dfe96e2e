"""Entry point of the ``colorize`` plugin group: registers the shared gray backbone."""

from __future__ import annotations

from colorize_backbone import COLOUR_CLASSIFIER, GRAY_BACKBONE, MODELS_DIR
from core.backbones import Backbone
from core.hookspecs import hookimpl

CITATION = (
    "M. Tan, Q. V. Le. EfficientNet: Rethinking Model Scaling for Convolutional Neural "
    "Networks. ICML 2019 (Lite variant); gray adaptation after Larsson et al. 2016, Sec. 3.5."
)


@hookimpl
def register_backbones(register):
    """Register ``efficientnet-lite0-gray`` when its graph is installed."""
    path = MODELS_DIR / f"{GRAY_BACKBONE}.onnx"
    if path.is_file():
        register(
            Backbone(
                GRAY_BACKBONE,
                path,
                description="EfficientNet-Lite0 (ImageNet), adapted to gray input by "
                "distillation; CIE L* in, pyramid f2..f32 + head out",
                citation=CITATION,
                size_multiple=32,
                classifier=COLOUR_CLASSIFIER if COLOUR_CLASSIFIER.is_file() else None,
            )
        )
