"""The core's own plugin: built-in colour spaces, decoders, transfers and sub-commands.

Registered through exactly the same hooks as third-party plugins.
"""

from __future__ import annotations

from core.colorspaces.alphabeta import AlphaBetaSpace
from core.colorspaces.huechroma import HueChromaSpace
from core.colorspaces.lab import LabSpace
from core.colorspaces.ycbcr import YCbCrSpace
from core.decoders import BUILTIN_DECODERS
from core.extensions import Command
from core.hookspecs import hookimpl
from core.transfer import BUILTIN_TRANSFERS


@hookimpl
def register_colorspaces(register):
    register(LabSpace())
    register(HueChromaSpace())
    register(AlphaBetaSpace())
    register(YCbCrSpace())


@hookimpl
def register_decoders(register):
    for decoder in BUILTIN_DECODERS:
        register(decoder)


@hookimpl
def register_transfers(register):
    for transfer in BUILTIN_TRANSFERS:
        register(transfer)


@hookimpl
def register_commands(register):
    for name, text in [
        ("methods", "list installed methods and plugins"),
        ("image", "colorize image files or folders"),
        ("demo", "colorize the bundled photo with the default method"),
    ]:
        register(Command(name, f"core.cli:{name}_command", help=text))
