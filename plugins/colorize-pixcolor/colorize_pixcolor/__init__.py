"""colorize-pixcolor: Pixel Recursive Colorization (PixColor) as a Colorize Toolkit method.

Method ``pixcolor``: a conditional gated PixelCNN samples a 28-pixel (short side)
Cb/Cr image in 32 bins per channel, conditioned on the lightness Y through a small
ResNet-style conditioning network; a refinement CNN combines the sampled
low-resolution chroma with the lightness (Guadarrama et al. 2017, Sec. 3).
Sampling runs on ONNX Runtime with cached incremental graphs
(:mod:`colorize_pixcolor.sampling`); :mod:`colorize_pixcolor.model` and
:mod:`colorize_pixcolor.train` (torch) are used only for training and export.
"""

from pathlib import Path

__version__ = "0.1.0"

#: Folder of the shipped ONNX graphs and their manifest.
MODELS_DIR = Path(__file__).resolve().parent / "models"

#: Bins per chroma channel (Sec. 3.1: "We discretize the Cb and Cr channels separately
#: into 32 bins").
N_BINS = 32
#: Spatial stride between the refinement's working grid and the PixelCNN grid (112 -> 28).
GRID_STRIDE = 4

#: The shared gray ImageNet backbone (:mod:`core.backbones`) the backbone graphs read
#: (issue #20): it replaces the conditioning network trained from scratch.
BACKBONE = "efficientnet-lite0-gray"
#: Backbone levels the conditioning over the backbone reads (strides 4, 8, 16, 32, 32).
BB_LEVELS = ("f4", "f8", "f16", "f32", "head")
#: Working short side of the backbone graphs (the paper's 224 px; sides multiples of 32).
BB_WORKING_SIZE = 224
#: The 28 px PixelCNN grid is 1/8 of the backbone graphs' working shape.
BB_GRID_STRIDE = 8
