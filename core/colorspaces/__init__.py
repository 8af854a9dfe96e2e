"""Colour spaces: one module each, all registered through the ``register_colorspaces`` hook."""

from core.colorspaces.base import ChannelRange, ColorSpace
from core.colorspaces.lab import LabSpace, lab_to_rgb, rgb_to_lab

__all__ = ["ChannelRange", "ColorSpace", "LabSpace", "lab_to_rgb", "rgb_to_lab"]
