"""Colorize Toolkit application: colorize video files with temporal consistency (keeps fps and audio).

Installed as ``colorize-video``; registers through the ``colorize`` entry-point group
(:mod:`colorize_video.plugin`).
"""
