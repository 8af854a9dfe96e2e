"""Colour spaces: one module each, all registered through the ``register_colorspaces`` hook."""

from core.colorspaces.alphabeta import AlphaBetaSpace, alphabeta_to_rgb, rgb_to_alphabeta
from core.colorspaces.base import ChannelRange, ColorSpace
from core.colorspaces.huechroma import HueChromaSpace, huechroma_to_rgb, rgb_to_huechroma
from core.colorspaces.lab import LabSpace, lab_to_rgb, rgb_to_lab
from core.colorspaces.ycbcr import YCbCrSpace, rgb_to_ycbcr, ycbcr_to_rgb

__all__ = [
    "AlphaBetaSpace",
    "ChannelRange",
    "ColorSpace",
    "HueChromaSpace",
    "LabSpace",
    "YCbCrSpace",
    "alphabeta_to_rgb",
    "huechroma_to_rgb",
    "lab_to_rgb",
    "rgb_to_alphabeta",
    "rgb_to_huechroma",
    "rgb_to_lab",
    "rgb_to_ycbcr",
    "ycbcr_to_rgb",
]
