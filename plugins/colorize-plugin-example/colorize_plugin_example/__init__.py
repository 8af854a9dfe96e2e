"""colorize-plugin-example: the 'welsh' method for Colorize Toolkit (see MODEL_CARD.md)."""

__version__ = "0.1.0"
