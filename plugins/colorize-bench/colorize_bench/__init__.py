"""Colorize Toolkit application: latency, memory and throughput benchmarks with
same-run comparisons.

Installed as ``colorize-bench``; registers through the ``colorize`` entry-point group
(:mod:`colorize_bench.plugin`).
"""
