"""Colorize Toolkit application: evaluation with baselines, the semantic test and explain figures.

Installed as ``colorize-eval``; registers through the ``colorize`` entry-point group
(:mod:`colorize_eval.plugin`).
"""
