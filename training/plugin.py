"""Entry point of the ``colorize`` plugin group for the trainer and the exporter.

Registers ``colorize train`` and ``colorize export``; their modules import torch, so they
are imported only when one of the two runs (and say to install the ``train`` extra when
torch is missing).
"""

from __future__ import annotations

from core.extensions import Command
from core.hookspecs import hookimpl

_INSTALL = "pip install 'colorize-toolkit[train]'"


@hookimpl
def register_commands(register):
    register(
        Command(
            "train",
            "training.cli",
            help="train a method's network (needs the [train] extra)",
            install=_INSTALL,
        )
    )
    register(
        Command(
            "export",
            "onnx_export.cli",
            help="export a trained checkpoint to ONNX (needs the [train] extra)",
            install=_INSTALL,
        )
    )
