"""Deep exemplar-based colorization (He et al. 2018), a scaled-down first slice.

Inference (``colorize_exemplar.colorizer``, ``colorize_exemplar.matching``) uses numpy
and ONNX Runtime only; ``colorize_exemplar.model`` and ``colorize_exemplar.train``
hold the torch definitions used for training and export.
"""

from pathlib import Path

MODELS_DIR = Path(__file__).parent / "models"

__all__ = ["MODELS_DIR"]
