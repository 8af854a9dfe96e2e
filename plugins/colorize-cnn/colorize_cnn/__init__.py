"""colorize-cnn: the CNN colorization loss study as Colorize Toolkit methods.

Methods ``cnn-classification`` (cross-entropy over 10 uniform a/b bins per
channel), ``cnn-regression`` (L2) and ``cnn-smoothl1`` (smooth L1), all the
same nine-layer CNN on 64-pixel Lab lightness, and ``cnn-gan``, the report's
conditional GAN (Appendix 1: a pix2pix-style U-Net generator trained against a
PatchGAN discriminator). Inference (:mod:`colorize_cnn.plugin`) uses ONNX Runtime
only; :mod:`colorize_cnn.model` and :mod:`colorize_cnn.train` (torch) are used by
``colorize train`` and ``colorize export``, :mod:`colorize_cnn.gan` trains and
exports the GAN (``python -m colorize_cnn.gan train|export|plot``).
"""

from pathlib import Path

__version__ = "0.1.0"

#: Folder of the shipped ONNX graphs and their manifest.
MODELS_DIR = Path(__file__).resolve().parent / "models"
