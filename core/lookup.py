"""Registered objects by name, for the modules the plugin registry is built on.

:mod:`core.decoders`, :mod:`core.transfer` and :mod:`core.backbones` find registered objects
by name (``decode_prediction(..., "median")``) while :mod:`core.plugins` imports them (through
:mod:`core._builtins`). So they ask this module, which imports nothing of the core, and
:mod:`core.plugins` installs the process-wide registry here on import (``import core`` does
it): the module graph stays acyclic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

__all__ = ["Catalogue", "install", "lookup", "names"]


class Catalogue(Protocol):
    """What :class:`core.plugins.Registry` offers: one object, and all names, of a kind."""

    def get(self, kind: str, name: str) -> Any: ...

    def names(self, kind: str) -> Iterable[str]: ...


_current: Callable[[], Catalogue] | None = None


def install(current: Callable[[], Catalogue]) -> None:
    """Answer :func:`lookup` and :func:`names` from ``current()`` (called on every query)."""
    global _current
    _current = current


def _catalogue() -> Catalogue:
    if _current is None:
        raise RuntimeError("no plugin registry is installed; `import core` installs it")
    return _current()


def lookup(kind: str, name: str) -> Any:
    """The registered ``kind`` (``"decoder"``, ``"transfer"`` ...) called ``name``.

    Raises
    ------
    core.errors.UnknownNameError
        (a ``KeyError``) listing the registered names of that kind.
    """
    return _catalogue().get(kind, name)


def names(kind: str) -> list[str]:
    """Registered names of ``kind``, sorted."""
    return sorted(_catalogue().names(kind))
