"""Colorize Toolkit plugin developer kit: contract tests (an opt-in pytest plugin) and
`colorize new-plugin`.

Installed as ``colorize-devkit``; registers through the ``colorize`` entry-point group
(:mod:`colorize_devkit.plugin`).
"""
