"""Colorize Toolkit: turn grayscale photos into colour ones.

>>> import core
>>> out = core.colorize("old_photo.jpg")   # the default method, larsson  # doctest: +SKIP

The public API is small: :func:`colorize`, :func:`colorize_result`, :func:`sample`,
:func:`methods` and :func:`get_method`. Methods are plugins (see :mod:`core.hookspecs`).
"""

import os
from collections.abc import Iterable, Iterator
from typing import Any

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

__version__ = "0.1.0"


def colorize_video(
    video: str | os.PathLike | Iterable[Any],
    method: str | None = None,
    *,
    reference: Any = None,
    index: Any = None,
    seed: int | None = None,
    decoder: str | None = None,
    temporal: Any = True,
    **options: Any,
) -> Iterator[Any]:
    """Colorize a video frame by frame, lazily: forwards to
    :func:`colorize_video.video.colorize_video` of the ``colorize-video`` plugin (which
    owns the PyAV dependency); see there for the parameters.

    Raises
    ------
    core.errors.PluginError
        The ``colorize-video`` plugin (or its ``av`` dependency) is not installed.
    """
    try:
        from colorize_video.video import colorize_video as forward
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("colorize_video", "av"):
            raise
        raise PluginError(
            "core.colorize_video needs the colorize-video plugin distribution "
            f"(missing module {exc.name!r}): pip install colorize-video, "
            "or `pip install 'colorize-toolkit[all]'`"
        ) from None
    request = dict(reference=reference, index=index, seed=seed, decoder=decoder, temporal=temporal)
    return forward(video, method, **request, **options)


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
