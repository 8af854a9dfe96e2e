"""colorize-semantic: Pixelated Semantic Colorization (Zhao et al. 2019) for Colorize Toolkit.

Method ``semantic``: a colour-embedding network f_θ maps the lightness at 128 px (short
side) to a feature grid at a quarter of the resolution (Table 1's 128 -> 32); a semantic
segmentation head h_φ shares its bottom layers and ends in atrous spatial pyramid pooling
(Table 2); a conditional gated PixelCNN g_ω samples Lab (a, b) on the low-resolution grid
from a discretized mixture of logistics (Salimans et al. 2017), conditioned on the
embedding and -- in the ``full`` variant -- on the segmentation prediction concatenated
along the channels (§3.2.2, Eq. 4). Trained on CamVid (11 classes).

Inference (:mod:`colorize_semantic.colorizer`, :mod:`colorize_semantic.sampling`,
:mod:`colorize_semantic.logistic`) uses numpy, OpenCV and ONNX Runtime only;
:mod:`colorize_semantic.model` and :mod:`colorize_semantic.train` (torch) are used for
training and export.
"""

from pathlib import Path

__version__ = "0.1.0"

#: Folder of the shipped ONNX graphs and their manifest.
MODELS_DIR = Path(__file__).resolve().parent / "models"

#: The three flows of Fig. 2: ``plain`` (purple: embedding + generator), ``embedding``
#: (purple + blue: the segmentation head shares the bottom layers, §3.2.1, Eq. 3) and
#: ``full`` (purple + blue + green: the generator also sees the segmentation, §3.2.2, Eq. 4).
VARIANTS = ("plain", "embedding", "full")
#: Variant the method uses unless ``variant=`` says otherwise (the paper's best).
DEFAULT_VARIANT = "full"
#: Samples whose per-pixel mean chroma ``core.colorize`` returns (option ``average``; 1 is
#: a single sample). The mean estimates E[a, b | L]: on 50 BSDS500 test photos 4 / 8 / 16
#: samples gave RMSE-αβ 0.418 / 0.409 / 0.407 at colourfulness 0.61 / 0.58 / 0.54.
DEFAULT_AVERAGE = 8

#: Spatial stride between the lightness working grid and the generated chroma grid
#: (Table 1: 128 -> 32).
GRID_STRIDE = 4
#: Short side of the working resolution (Table 1: 128).
WORKING_SIZE = 128

#: The shared gray ImageNet backbone (:mod:`core.backbones`) of the backbone graphs
#: (issue #20): its pyramid replaces the small bottom trained from scratch.
BACKBONE = "efficientnet-lite0-gray"
#: The backbone levels the encoder over the backbone reads (strides 4, 8, 16, 32, 32).
BB_LEVELS = ("f4", "f8", "f16", "f32", "head")
#: Working short side of the backbone graphs (sides multiples of 32, the backbone's stride).
BB_WORKING_SIZE = 256
#: The chroma grid of the backbone graphs is 1/8 of their working shape (32 px short side,
#: the same grid as Table 1's 128 -> 32).
BB_GRID_STRIDE = 8

#: Logistic components of the output mixture (§3.3: "A mixture of 10 logistic
#: distributions is applied").
MIXTURES = 10
#: Discretization levels per chroma channel (PixelCNN++'s 8-bit grid).
LEVELS = 256
#: Lab a*, b* are divided by this to map them to [-1, 1] (clipped) for the mixture.
AB_SCALE = 110.0

#: CamVid classes in the SegNet order (label 11 = void, ignored by the loss).
CLASS_NAMES = (
    "sky",
    "building",
    "pole",
    "road",
    "pavement",
    "tree",
    "sign",
    "fence",
    "car",
    "pedestrian",
    "bicyclist",
)
N_CLASSES = len(CLASS_NAMES)
VOID_LABEL = 11
