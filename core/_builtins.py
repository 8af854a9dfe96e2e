"""The core's own plugin: built-in colour spaces, decoders and transfers.

Registered through exactly the same hooks as third-party plugins.
"""

from __future__ import annotations

from core.colorspaces.lab import LabSpace
from core.hookspecs import hookimpl


@hookimpl
def register_colorspaces(register):
    register(LabSpace())
