"""Colorize Toolkit application: batch colorization over a Ray cluster (Ray Data actor pool).

Installed as ``colorize-ray``; registers through the ``colorize`` entry-point group
(:mod:`colorize_ray.plugin`).
"""
