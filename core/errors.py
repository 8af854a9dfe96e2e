"""Exceptions raised by the colorize toolkit.

Every error a user can cause derives from :class:`ColorizeError`, and also from
the built-in exception a Python programmer would expect (``ValueError`` for bad
values, ``KeyError`` for unknown names), so both ``except`` styles work.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "CapabilityError",
    "ColorizeError",
    "DuplicateNameError",
    "InvalidHintsError",
    "InvalidImageError",
    "ModelFileError",
    "OutputExistsError",
    "OutputPathError",
    "PluginError",
    "UnknownMethodError",
    "UnknownNameError",
]


class ColorizeError(Exception):
    """Base class of every error raised by the toolkit."""


class _SourceError(ColorizeError, ValueError):
    """An error whose message is ``"{source}: {problem}"`` (both kept as attributes)."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class InvalidImageError(_SourceError):
    """An input image (file, PIL image or array) cannot be used; the message names it (file
    name, or ``<array>`` / ``<PIL image>``) and what is wrong with it."""


class InvalidHintsError(_SourceError):
    """Colour hints (``hints=``, ``colorize image --hints FILE``) cannot be used; the message
    names their source (the JSON file, or ``<hints>``), the hint (counted from 1) and what
    is wrong: bad JSON, a bad colour, a point outside the image."""


class OutputExistsError(ColorizeError, FileExistsError):
    """Writing would overwrite an existing file and ``overwrite`` was not given."""


class OutputPathError(ColorizeError, ValueError):
    """An output path is an input: a file of the batch, or the folder the inputs are in.

    Refused whatever ``overwrite`` says (inputs are never replaced, and outputs among them
    would be read as inputs by the next run); the message names the file or folder.
    """


class UnknownNameError(ColorizeError, KeyError):
    """A name (method, colour space, decoder, transfer) is not registered; the message
    lists what is installed and suggests the closest match."""

    kind = "name"

    def __init__(self, name: str, available: Iterable[str], kind: str | None = None) -> None:
        if kind is not None:
            self.kind = kind
        self.name = name
        self.available = sorted(available)
        installed = ", ".join(self.available) if self.available else "none"
        message = f"unknown {self.kind} {name!r}; installed: {installed}"
        close = difflib.get_close_matches(str(name), self.available, n=1, cutoff=0.5)
        if close:
            message += f"; did you mean {close[0]!r}?"
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return self.message


class UnknownMethodError(UnknownNameError):
    """No colorization method with this name is installed."""

    kind = "method"


class DuplicateNameError(ColorizeError, ValueError):
    """Two plugins tried to register the same name."""


class PluginError(ColorizeError, RuntimeError):
    """A plugin failed to load, register or run (strict mode, or at call time)."""


class ModelFileError(ColorizeError, RuntimeError):
    """A model file is missing, unreadable, or does not match its recorded sha256."""


class CapabilityError(ColorizeError, ValueError):
    """The method cannot do what was asked (e.g. diverse samples, a reference)."""
