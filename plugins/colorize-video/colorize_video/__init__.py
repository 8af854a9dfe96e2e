"""Colorize Toolkit application: colorize video files with temporal consistency.

Frame rate, size and audio are kept.

Installed as ``colorize-video``; registers through the ``colorize`` entry-point group
(:mod:`colorize_video.plugin`).
"""
