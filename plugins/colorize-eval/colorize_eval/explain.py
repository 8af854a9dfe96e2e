"""``colorize explain IMAGE --method M -o FIG``: a figure of what a method predicts.

Plugins that can explain their predictions (input, result, uncertainty map, predicted
histograms at a few pixels — Larsson et al. 2016, Figs. 10–12) register an
:class:`core.extensions.Explainer` per method (hook ``register_explainers``) whose target
is ``explain(image, out_path, method, *, pixels=4, decoder=None, dpi=120) -> Path``. The
core stays free of plotting libraries: the plugin imports matplotlib when it draws.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.errors import CapabilityError

__all__ = ["configure_parser", "explain", "explainers", "run"]


def explainers() -> dict[str, Any]:
    """Methods that can be explained: name -> :class:`core.extensions.Explainer`."""
    from core.plugins import get_registry

    return {name: entry.obj for name, entry in get_registry().entries("explainer").items()}


def explain(image: Any, out_path: str | Path, method: str, **options: Any) -> Path:
    """Draw ``method``'s explanation figure for ``image`` into ``out_path``.

    Raises
    ------
    core.errors.CapabilityError
        If no installed plugin explains ``method``.
    """
    available = explainers()
    if method not in available:
        raise CapabilityError(
            f"method {method!r} has no explain figure; methods that do: "
            + (", ".join(sorted(available)) or "none installed")
        )
    return Path(available[method].load()(image, out_path, method, **options))


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``colorize explain``."""
    parser.add_argument("image", help="input photo")
    parser.add_argument("--method", "-m", default="larsson")
    parser.add_argument("-o", "--output", required=True, help="figure file (.png, .pdf, ...)")
    parser.add_argument("--pixels", type=int, default=4, help="pixels whose histograms to show")
    parser.add_argument("--decoder", default=None)


def run(args: argparse.Namespace) -> int:
    """Run ``colorize explain``."""
    from core.errors import ColorizeError

    try:
        path = explain(
            args.image, args.output, args.method, pixels=args.pixels, decoder=args.decoder
        )
    except (ColorizeError, ImportError, ValueError) as exc:
        print(f"colorize explain: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0
