"""``colorize explain``: a figure of what the network predicts (Larsson et al. Figs. 10-12).

Panels: the input (as gray), the colorization, the uncertainty map (hue entropy times
chroma for ``larsson``, Fig. 10; summed entropies for the Lab variants) with a few
marked pixels, and the predicted histograms at those pixels (hue and chroma, Figs. 11-12;
a and b, or the joint ab grid, for the Lab variants).

matplotlib is imported only when a figure is drawn (``pip install
'colorize-larsson[explain]'``); it is not needed for colorization.
"""

from __future__ import annotations

import argparse
import colorsys
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["explain", "main", "pick_pixels"]


def pick_pixels(uncertainty: np.ndarray, count: int = 4) -> list[tuple[int, int]]:
    """``count`` working-resolution pixels to inspect: the most and least certain, and
    evenly spaced uncertainty quantiles in between (deterministic).

    Parameters
    ----------
    uncertainty : ndarray (h, w)
    count : int, at least 2

    Returns
    -------
    list of (row, col)
    """
    u = np.asarray(uncertainty, np.float64)
    if u.ndim != 2:
        raise ValueError(f"expected (H, W) uncertainty, got shape {u.shape}")
    h, w = u.shape
    margin_y, margin_x = h // 8, w // 8  # keep away from the borders
    inner = u[margin_y : h - margin_y or h, margin_x : w - margin_x or w]
    order = np.argsort(inner, axis=None, kind="stable")
    picks = []
    for q in np.linspace(0, 1, max(2, count)):
        flat = order[int(round(q * (order.size - 1)))]
        r, c = np.unravel_index(flat, inner.shape)
        picks.append((int(r) + margin_y, int(c) + margin_x))
    return picks


def _matplotlib():
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "colorize explain needs matplotlib: pip install 'colorize-larsson[explain]'"
        ) from exc
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _hue_colours(bins) -> list[tuple[float, float, float]]:
    return [colorsys.hsv_to_rgb(float(c), 0.9, 0.9) for c in bins.centers]


def _plot_histograms(ax_pair, dists: dict[str, Any], pixel: tuple[int, int], label: str) -> None:
    r, c = pixel
    if "ab" in dists:  # joint grid: one panel
        ax = ax_pair[0]
        p = dists["ab"].probs[r, c]
        ax.imshow(p.T, origin="lower", cmap="magma", aspect="auto")
        ax.set_title(f"{label}: joint ab", fontsize=8)
        ax.set_xlabel("a bin", fontsize=7)
        ax.set_ylabel("b bin", fontsize=7)
        ax_pair[1].axis("off")
        return
    channels = [k for k in ("hue", "chroma", "a", "b") if k in dists]
    for ax, channel in zip(ax_pair, channels, strict=False):
        dist = dists[channel]
        p = dist.probs[r, c]
        centers = dist.bins.centers
        width = np.diff(dist.bins.edges)
        colours = _hue_colours(dist.bins) if channel == "hue" else "0.4"
        ax.bar(centers, p, width=width * 0.9, color=colours)
        ax.set_title(f"{label}: {channel}", fontsize=8)
        ax.set_ylim(0, max(1e-3, float(p.max())) * 1.1)
        ax.tick_params(labelsize=6)


def explain(
    image: Any,
    out_path: str | os.PathLike,
    method: str = "larsson",
    *,
    pixels: int = 4,
    decoder: str | None = None,
    dpi: int = 120,
) -> Path:
    """Draw the explanation figure of one colorization and save it.

    Parameters
    ----------
    image : path, PIL image or array
        Anything ``core.colorize_result`` accepts (gray or colour; colour is reduced to
        lightness first).
    out_path : path-like
        Where to write the figure (format from the extension, e.g. ``fig.png``).
    method : str
        A ``larsson*`` method that returns distributions (default ``"larsson"``).
    pixels : int
        How many pixels' histograms to show (default 4).
    decoder : str, optional
        Decoder spec for the colorization panel.

    Returns
    -------
    Path
        ``out_path``.

    Raises
    ------
    ValueError
        If the method returns no distributions (e.g. ``larsson-lab-l2``).

    References
    ----------
    Larsson et al. 2016, Fig. 10 (uncertainty = hue entropy x chroma), Figs. 11-12.
    """
    import core

    result = core.colorize_result(image, method, decoder=decoder, seed=0)
    dists = result.distributions
    if not dists:
        raise ValueError(f"method {method!r} returns no distributions; nothing to explain")
    plt = _matplotlib()
    any_dist = next(iter(dists.values()))
    wh, ww = any_dist.shape
    from core.distributions import uncertainty_map

    uncertainty = uncertainty_map(dists)
    picks = pick_pixels(uncertainty, pixels)
    h, w = result.rgb.shape[:2]

    fig = plt.figure(figsize=(11, 3.2 + 1.6 * ((len(picks) + 1) // 2)))
    grid = fig.add_gridspec(
        1 + (len(picks) + 1) // 2, 4, height_ratios=[2] + [1] * ((len(picks) + 1) // 2)
    )
    gray = np.asarray(result.lightness, np.float32)
    panels = [
        (gray, "input (lightness)", "gray"),
        (result.rgb, f"{method}\n{result.decoder}", None),
        (
            uncertainty,
            "uncertainty"
            + ("\n(hue entropy x chroma)" if "hue" in dists else "\n(sum of entropies)"),
            "viridis",
        ),
    ]
    for i, (data, title, cmap) in enumerate(panels):
        ax = fig.add_subplot(grid[0, i])
        extent = None if i < 2 else (0, w, h, 0)
        ax.imshow(data, cmap=cmap, extent=extent)
        ax.set_title(title, fontsize=8)
        ax.axis("off")
        if i == 2:
            for k, (r, c) in enumerate(picks):
                y, x = (r + 0.5) * h / wh, (c + 0.5) * w / ww
                ax.plot(x, y, "o", mfc="none", mec="w", ms=8)
                ax.text(x + 4, y, str(k + 1), color="w", fontsize=8)
    ax = fig.add_subplot(grid[0, 3])
    ax.axis("off")
    ax.text(
        0,
        0.5,
        f"marked pixels' predicted\nhistograms below\n(working resolution {wh}x{ww})",
        fontsize=8,
        va="center",
    )
    for k, pixel in enumerate(picks):
        row, col = 1 + k // 2, 2 * (k % 2)
        pair = [fig.add_subplot(grid[row, col]), fig.add_subplot(grid[row, col + 1])]
        _plot_histograms(pair, dists, pixel, f"#{k + 1}")
    fig.tight_layout()
    out = Path(out_path)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    """Console entry ``colorize-larsson-explain IMAGE [--method M] -o FIG``."""
    parser = argparse.ArgumentParser(description=explain.__doc__.splitlines()[0])
    parser.add_argument("image")
    parser.add_argument("--method", default="larsson")
    parser.add_argument("-o", "--output", required=True, help="figure file, e.g. fig.png")
    parser.add_argument("--pixels", type=int, default=4)
    parser.add_argument("--decoder")
    args = parser.parse_args(argv)
    try:
        path = explain(
            args.image, args.output, args.method, pixels=args.pixels, decoder=args.decoder
        )
    except (ImportError, ValueError, OSError) as exc:
        print(f"colorize explain: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
