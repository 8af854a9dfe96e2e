"""Colorize Toolkit: turn grayscale photos into colour ones.

>>> import core
>>> out = core.colorize("old_photo.jpg", method="cnn-classification")   # doctest: +SKIP

The public API is small: :func:`colorize`, :func:`colorize_result`, :func:`sample`,
:func:`methods` and :func:`get_method`. Methods are plugins (see :mod:`core.hookspecs`).
"""

from core.api import (
    Colorization,
    colorize,
    colorize_result,
    default_method,
    get_method,
    methods,
    sample,
    set_default_method,
)
from core.colorizer import Capabilities, Colorizer, MethodInfo, ModelFile, Prediction
from core.errors import (
    CapabilityError,
    ColorizeError,
    InvalidHintsError,
    InvalidImageError,
    ModelFileError,
    PluginError,
    UnknownMethodError,
)
from core.hints import Hint
from core.hookspecs import hookimpl
from core.video import colorize_video

__version__ = "0.1.0"

__all__ = [
    "Capabilities",
    "CapabilityError",
    "Colorization",
    "ColorizeError",
    "Colorizer",
    "Hint",
    "InvalidHintsError",
    "InvalidImageError",
    "MethodInfo",
    "ModelFile",
    "ModelFileError",
    "PluginError",
    "Prediction",
    "UnknownMethodError",
    "colorize",
    "colorize_result",
    "colorize_video",
    "default_method",
    "get_method",
    "hookimpl",
    "methods",
    "sample",
    "set_default_method",
]
