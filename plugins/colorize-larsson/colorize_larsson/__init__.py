"""colorize-larsson: hypercolumn colorization (Larsson, Maire, Shakhnarovich, ECCV 2016).

Methods (Table 1 variants; one network architecture, four output layers):

``larsson``            hue/chroma marginal histograms, K = 32 each, Eq. 3 loss (the default)
``larsson-lab``        Lab a and b marginal histograms, K = 32 Gaussian-quantile bins
``larsson-lab-joint``  Lab (a, b) joint histogram over a 16 x 16 Gaussian-quantile grid
``larsson-lab-l2``     Lab (a, b) L2 regression (Eq. 1)

Inference (:mod:`colorize_larsson.colorizer`, :mod:`colorize_larsson.plugin`) runs on
ONNX Runtime only; :mod:`colorize_larsson.model` and :mod:`colorize_larsson.train` (torch)
are used by ``colorize train`` / ``colorize export``. :func:`colorize_larsson.explain.explain`
draws the Fig. 10-12 style figure.
"""

from pathlib import Path

__version__ = "0.1.0"

#: Folder of the shipped ONNX graphs and their manifest.
MODELS_DIR = Path(__file__).resolve().parent / "models"
