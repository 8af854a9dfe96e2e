"""Regenerate the documentation figures under docs/figures/ (``make figures``).

Usage: python scripts/gen_figures.py [--only NAME ...] [--no-samples] [--out DIR]

Concept figures (colour spaces, bins and distributions, decoders, transfer) and one
sample sheet per installed method (``docs/figures/samples/<method>.jpg``, listed in
``docs/figures/samples/samples.json``, which ``docs/_hooks.py`` reads to append a
"Sample sheet" section to each method page). Photos come from BSDS500 test in
``COLORIZE_DATA`` (Berkeley: non-commercial research and educational use only) and
the bundled ``core/data/`` photo. Everything is deterministic (fixed photos, seeds and
bins); plots are PNG and photo grids JPEG, each under 200 KB.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"

#: BSDS500 test photos of the concept figures and of every sample sheet (fixed list).
SAMPLE_PHOTOS = ("118015", "145079", "108004", "14085", "16004")
DECOMPOSITION_PHOTO = "118015"
HISTOGRAM_PHOTO = "118015"
DECODER_PHOTO = "118015"
FADING_PHOTO = "16004"
TRANSFER_SOURCE, TRANSFER_REFERENCE = "112056", "161045"
#: Seeds of the samples drawn for diverse methods (first one is the "output" column).
SAMPLE_SEEDS = (0, 1, 2)
PHOTO_TERMS = "BSDS500 test photos (Berkeley; non-commercial research and educational use only)"
_SAVE = {"metadata": {"Software": None}}  # no version strings: same bytes on every run
_JPEG = {"pil_kwargs": {"quality": 85, "optimize": True}}


# -- helpers -------------------------------------------------------------------------


def data_dir() -> Path:
    """The dataset root: ``COLORIZE_DATA`` or ``../shared/datasets`` next to the repository."""
    return Path(os.environ.get("COLORIZE_DATA", ROOT.parent / "shared" / "datasets"))


def photo_path(name: str) -> Path:
    """Path of BSDS500 test photo ``name`` (e.g. ``"118015"``).

    Raises
    ------
    FileNotFoundError
        If the photo is not under ``COLORIZE_DATA/bsds500/images/test``.
    """
    path = data_dir() / "bsds500" / "images" / "test" / f"{name}.jpg"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: BSDS500 test photo not found; set COLORIZE_DATA")
    return path


def load_rgb(path: str | os.PathLike) -> np.ndarray:
    """An image file as (H, W, 3) float32 sRGB in [0, 1]."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), np.float32) / 255.0


def _gray(rgb: np.ndarray) -> np.ndarray:
    """The L* of ``rgb`` shown as a gray sRGB image (what a method sees)."""
    from core.colorspaces import lab_to_rgb, rgb_to_lab

    lab = rgb_to_lab(rgb)
    lab[..., 1:] = 0.0
    return np.clip(lab_to_rgb(lab), 0.0, 1.0)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = dict(_SAVE)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        options = {**_JPEG}
    fig.savefig(path, dpi=100, **options)
    plt.close(fig)
    return path


def _image_grid(rows: list[list[np.ndarray]], titles: list[list[str]], width: float):
    """A matplotlib figure showing ``rows`` of images with a title above each."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    h, w = rows[0][0].shape[:2]
    cell = width / n_cols
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(width, n_rows * (cell * h / w + 0.6)), squeeze=False
    )
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.axis("off")
            if j < len(row):
                ax.imshow(np.clip(row[j], 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="none")
                ax.set_title(titles[i][j], fontsize=8)
    fig.tight_layout(pad=0.3)
    return fig


def _ab_colours(a: np.ndarray, b: np.ndarray, lightness: float) -> tuple[np.ndarray, np.ndarray]:
    """sRGB of (L, a, b) and a mask of the pixels outside the sRGB gamut."""
    from core.colorspaces import lab_to_rgb

    lab = np.stack([np.full_like(a, lightness), a, b], axis=-1).astype(np.float32)
    rgb = lab_to_rgb(lab)
    outside = np.any((rgb < -1e-3) | (rgb > 1 + 1e-3), axis=-1)
    return np.clip(rgb, 0.0, 1.0), outside


# -- colour spaces ---------------------------------------------------------------------


def figure_ab_plane(out: Path, lightnesses: tuple[float, ...] = (30.0, 50.0, 70.0)) -> Path:
    """The CIE Lab (a*, b*) plane at fixed L*, out-of-gamut colours in light gray (PNG)."""
    grid = np.linspace(-110, 110, 221, dtype=np.float32)
    a, b = np.meshgrid(grid, grid[::-1])
    fig, axes = plt.subplots(1, len(lightnesses), figsize=(3.1 * len(lightnesses), 3.2))
    for ax, lightness in zip(np.atleast_1d(axes), lightnesses, strict=True):
        rgb, outside = _ab_colours(a, b, lightness)
        rgb[outside] = 0.92
        ax.imshow(rgb, extent=(-110, 110, -110, 110), interpolation="none")
        ax.axhline(0, color="k", lw=0.4)
        ax.axvline(0, color="k", lw=0.4)
        ax.set_title(f"L* = {lightness:.0f}", fontsize=9)
        ax.set_xlabel("a*  (green − / red +)", fontsize=8)
        ax.set_ylabel("b*  (blue − / yellow +)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _save(fig, out)


def figure_hue_chroma_wheel(out: Path, lightnesses: tuple[float, ...] = (0.5, 0.25)) -> Path:
    """Cross-sections of Larsson's hue/chroma bicone: hue is the angle, chroma the radius (PNG)."""
    from core.colorspaces import huechroma_to_rgb

    grid = np.linspace(-1, 1, 241, dtype=np.float32)
    x, y = np.meshgrid(grid, grid[::-1])
    hue = (np.arctan2(y, x) / (2 * np.pi)) % 1.0
    chroma = np.hypot(x, y)
    fig, axes = plt.subplots(1, len(lightnesses), figsize=(3.1 * len(lightnesses), 3.2))
    for ax, lightness in zip(np.atleast_1d(axes), lightnesses, strict=True):
        lhc = np.stack([np.full_like(hue, lightness), hue, chroma], axis=-1).astype(np.float32)
        rgb = np.clip(huechroma_to_rgb(lhc, clamp=False), 0, 1)
        rgb[chroma > 2 * min(lightness, 1 - lightness) + 1e-6] = 0.92
        rgb[chroma > 1] = 1.0
        ax.imshow(rgb, extent=(-1, 1, -1, 1), interpolation="none")
        for h in np.arange(0, 1, 1 / 6):
            ax.plot([0, np.cos(2 * np.pi * h)], [0, np.sin(2 * np.pi * h)], "k", lw=0.3)
            ax.text(
                1.08 * np.cos(2 * np.pi * h),
                1.08 * np.sin(2 * np.pi * h),
                f"{h:.2f}",
                fontsize=6,
                ha="center",
                va="center",
            )
        ax.set_title(
            f"lightness (max+min)/2 = {lightness}\n"
            f"max chroma {2 * min(lightness, 1 - lightness):.2f}",
            fontsize=8,
        )
        ax.set_xlim(-1.2, 1.2)
        ax.set_ylim(-1.2, 1.2)
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, out)


def figure_decomposition(out: Path, photo: str = DECOMPOSITION_PHOTO) -> Path:
    """One photo split into L*, a*, b* and hue, chroma; chroma rendered as colour (JPEG)."""
    from core.colorspaces import huechroma_to_rgb, lab_to_rgb, rgb_to_huechroma, rgb_to_lab

    rgb = load_rgb(photo_path(photo))
    lab = rgb_to_lab(rgb)
    lhc = rgb_to_huechroma(rgb)

    def lab_view(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.clip(lab_to_rgb(np.stack([np.full_like(a, 70.0), a, b], -1)), 0, 1)

    hue_view = huechroma_to_rgb(
        np.stack([np.full_like(lhc[..., 0], 0.5), lhc[..., 1], np.full_like(lhc[..., 0], 0.8)], -1)
    )
    zero = np.zeros_like(lab[..., 0])
    chroma = lhc[..., 2] / max(float(lhc[..., 2].max()), 1e-6)
    rows = [
        [rgb, _gray(rgb), lab_view(lab[..., 1], zero), lab_view(zero, lab[..., 2])],
        [rgb, np.repeat(lhc[..., :1], 3, -1), hue_view, np.repeat(chroma[..., None], 3, -1)],
    ]
    titles = [
        [
            "photo",
            "L* (all a method sees)",
            "a* (shown at L*=70, b*=0)",
            "b* (shown at L*=70, a*=0)",
        ],
        ["photo", "lightness (max+min)/2", "hue (shown at chroma 0.8)", "chroma (scaled to max)"],
    ]
    return _save(_image_grid(rows, titles, 10.0), out)


# -- bins and distributions -------------------------------------------------------------


def _draw_ab_bins(ax, first, second, lightness: float, title: str) -> None:
    grid = np.linspace(-100, 100, 401, dtype=np.float32)
    a, b = np.meshgrid(grid, grid[::-1])
    a_c = first.decode(first.encode(a)).astype(np.float32)
    b_c = second.decode(second.encode(b)).astype(np.float32)
    rgb, outside = _ab_colours(a_c, b_c, lightness)
    rgb[outside] = 0.5 * rgb[outside] + 0.46
    ax.imshow(rgb, extent=(-100, 100, -100, 100), interpolation="none")
    for edge in first.edges[1:-1]:
        ax.axvline(edge, color="k", lw=0.3)
    for edge in second.edges[1:-1]:
        ax.axhline(edge, color="k", lw=0.3)
    ax.set_title(title, fontsize=8)
    ax.set_xlabel("a*", fontsize=8)
    ax.set_ylabel("b*", fontsize=8)
    ax.tick_params(labelsize=7)


def figure_bins(out: Path) -> Path:
    """The core's bin grids: CNN 10 x 10 uniform ab, Larsson 16 x 16 Gaussian-quantile ab,
    Larsson 32 hue x 32 chroma (each cell in its centre's colour) (PNG)."""
    from core.binning import CHROMA_BINS, CNN_AB_BINS, HUE_BINS, LAB_JOINT_BINS
    from core.colorspaces import huechroma_to_rgb

    fig, axes = plt.subplots(1, 3, figsize=(10, 3.5))
    _draw_ab_bins(
        axes[0],
        CNN_AB_BINS,
        CNN_AB_BINS,
        60.0,
        "CNN_AB_BINS: 10 × 10 uniform (a, b)\n(cnn-classification), L* = 60",
    )
    first, second = LAB_JOINT_BINS
    _draw_ab_bins(
        axes[1],
        first,
        second,
        60.0,
        "LAB_JOINT_BINS: 16 × 16 Gaussian quantiles\n(larsson-lab-joint), L* = 60",
    )
    grid = np.linspace(-1, 1, 401, dtype=np.float32)
    x, y = np.meshgrid(grid, grid[::-1])
    hue = (np.arctan2(y, x) / (2 * np.pi)) % 1.0
    radius = np.hypot(x, y)
    h_c = HUE_BINS.decode(HUE_BINS.encode(hue)).astype(np.float32)
    c_c = CHROMA_BINS.decode(CHROMA_BINS.encode(np.minimum(radius, 1))).astype(np.float32)
    rgb = np.clip(huechroma_to_rgb(np.stack([np.full_like(h_c, 0.5), h_c, c_c], -1)), 0, 1)
    rgb[radius > 1] = 1.0
    ax = axes[2]
    ax.imshow(rgb, extent=(-1, 1, -1, 1), interpolation="none")
    for edge in HUE_BINS.edges:
        t = 2 * np.pi * edge
        ax.plot([0, np.cos(t)], [0, np.sin(t)], "k", lw=0.25)
    for edge in CHROMA_BINS.edges[1:][::4]:
        ax.add_patch(plt.Circle((0, 0), edge, fill=False, lw=0.25))
    ax.set_title(
        "HUE_BINS × CHROMA_BINS: 32 × 32\n(larsson; every 4th chroma ring drawn)", fontsize=8
    )
    ax.axis("off")
    fig.tight_layout()
    return _save(fig, out)


def _pick_pixels(uncertainty: np.ndarray) -> list[tuple[int, int]]:
    """The most and the least certain pixel away from the border (deterministic)."""
    h, w = uncertainty.shape
    inner = np.full_like(uncertainty, np.nan)
    m = max(2, min(h, w) // 10)
    inner[m:-m, m:-m] = uncertainty[m:-m, m:-m]
    low = np.unravel_index(np.nanargmin(inner), inner.shape)
    high = np.unravel_index(np.nanargmax(inner), inner.shape)
    return [(int(low[0]), int(low[1])), (int(high[0]), int(high[1]))]


#: (row, column) fractions of the two pixels of the histogram figure: sky and the boat's hull.
HISTOGRAM_PIXELS = ((0.08, 0.5), (0.78, 0.75))


def figure_pixel_histograms(
    out: Path,
    photo: str = HISTOGRAM_PHOTO,
    pixels: tuple[tuple[float, float], ...] = HISTOGRAM_PIXELS,
) -> Path:
    """Histograms predicted by the shipped ``larsson`` (hue, chroma) and ``larsson-lab-joint``
    ((a, b) grid) models at two pixels of a photo, with the true colour marked (PNG)."""
    import core
    from core.colorspaces import huechroma_to_rgb, rgb_to_huechroma, rgb_to_lab

    path = photo_path(photo)
    rgb = load_rgb(path)
    hc = core.colorize_result(str(path), "larsson")
    joint = core.colorize_result(str(path), "larsson-lab-joint")
    hue, chroma = hc.distributions["hue"], hc.distributions["chroma"]
    ab = joint.distributions["ab"]
    lhc, lab = rgb_to_huechroma(rgb), rgb_to_lab(rgb)
    labels = [chr(ord("A") + i) for i in range(len(pixels))]
    hue_colours = np.clip(
        huechroma_to_rgb(
            np.stack([np.full(hue.k, 0.5), hue.bins.centers, np.full(hue.k, 0.8)], -1).astype(
                np.float32
            )
        ),
        0,
        1,
    )
    first, second = ab.bins

    fig = plt.figure(figsize=(10, 2.7 * len(pixels)))
    grid = fig.add_gridspec(len(pixels), 4, width_ratios=(1.5, 1, 1, 1))
    ax = fig.add_subplot(grid[:, 0])
    ax.imshow(_gray(rgb))
    for (fy, fx), label in zip(pixels, labels, strict=True):
        x, y = fx * rgb.shape[1], fy * rgb.shape[0]
        ax.plot(x, y, "o", ms=10, mfc="none", mec="red", mew=2)
        ax.text(x + 12, y, label, color="red", fontsize=12, weight="bold", va="center")
    ax.set_title(f"input: BSDS500 test {photo}", fontsize=8)
    ax.axis("off")
    for row, ((fy, fx), label) in enumerate(zip(pixels, labels, strict=True)):
        py, px = int(fy * rgb.shape[0]), int(fx * rgb.shape[1])
        y, x = int(fy * hue.shape[0]), int(fx * hue.shape[1])
        ax = fig.add_subplot(grid[row, 1], projection="polar")
        ax.bar(
            2 * np.pi * hue.bins.centers,
            hue.probs[y, x],
            width=2 * np.pi / hue.k,
            color=hue_colours,
            edgecolor="k",
            lw=0.2,
        )
        ax.plot(
            [2 * np.pi * float(lhc[py, px, 1])] * 2, [0, float(hue.probs[y, x].max())], "k--", lw=1
        )
        ax.set_yticklabels([])
        ax.tick_params(labelsize=6)
        ax.set_title(
            f"{label}: larsson p(hue), 32 bins\n(angle 360° × hue; dashed: true)", fontsize=8
        )
        ax = fig.add_subplot(grid[row, 2])
        ax.bar(
            chroma.bins.centers,
            chroma.probs[y, x],
            width=chroma.bins.widths,
            color="0.5",
            edgecolor="k",
            lw=0.2,
        )
        ax.axvline(float(lhc[py, px, 2]), color="k", ls="--", lw=1)
        ax.set_xlabel("chroma", fontsize=8)
        ax.set_ylabel("p", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{label}: larsson p(chroma), 32 bins\n(dashed: true)", fontsize=8)
        ax = fig.add_subplot(grid[row, 3])
        ax.pcolormesh(first.edges, second.edges, ab.probs[y, x].T, cmap="magma", shading="flat")
        ax.plot(lab[py, px, 1], lab[py, px, 2], "c+", ms=12, mew=2)
        ax.set_xlim(-60, 60)
        ax.set_ylim(-60, 60)
        ax.set_aspect("equal")
        ax.set_xlabel("a*", fontsize=8)
        ax.set_ylabel("b*", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{label}: larsson-lab-joint\np(a, b), 16 × 16 (+: true)", fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


# -- decoders ------------------------------------------------------------------------------

DECODERS = ("mode", "median", "expectation", "annealed-mean", "sample")


def figure_decoders(
    out: Path,
    photo: str = DECODER_PHOTO,
    methods: tuple[str, ...] = ("larsson-lab", "cnn-classification"),
) -> Path:
    """The same predicted distributions decoded by every single-channel decoder (JPEG)."""
    import core

    path = photo_path(photo)
    rgb = load_rgb(path)
    rows, titles = [], []
    for method in methods:
        row, title = [_gray(rgb)], ["input"]
        for decoder in DECODERS:
            seed = 0 if decoder == "sample" else None
            row.append(core.colorize_result(str(path), method, decoder=decoder, seed=seed).rgb)
            title.append(f"{method}\n{decoder}" + (" (seed 0)" if seed is not None else ""))
        rows.append(row + [rgb])
        titles.append(title + ["ground truth"])
    return _save(_image_grid(rows, titles, 12.0), out)


def figure_decoder_values(out: Path, photo: str = DECODER_PHOTO) -> Path:
    """An uncertain pixel's a* histogram (``larsson-lab``) with every decoder's value (PNG)."""
    import core
    from core import decoders as dec
    from core.distributions import Distribution

    res = core.colorize_result(str(photo_path(photo)), "larsson-lab", decoder="mode")
    dist = res.distributions["a"]
    y, x = _pick_pixels(dist.entropy())[1]
    one = Distribution(dist.probs[y : y + 1, x : x + 1], dist.bins, dist.colorspace, dist.channel)
    values = {
        "mode": dec.mode(one),
        "median": dec.median(one),
        "expectation": dec.expectation(one),
        "annealed-mean (T=0.38)": dec.annealed_mean(one),
    }
    draws = np.array([dec.sample(one, seed=s)[0, 0] for s in range(200)])
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(
        dist.bins.centers,
        one.probs[0, 0],
        width=dist.bins.widths,
        color="0.75",
        edgecolor="k",
        lw=0.3,
        label="p(a*) (32 Gaussian-quantile bins)",
    )
    styles = ("-", "--", "-.", ":")
    colours = ("tab:red", "tab:blue", "tab:green", "tab:purple")
    for (name, value), ls, c in zip(values.items(), styles, colours, strict=True):
        ax.axvline(
            float(value[0, 0]), color=c, ls=ls, lw=1.6, label=f"{name}: {float(value[0, 0]):.1f}"
        )
    ax.plot(
        draws, np.full_like(draws, -0.01), "|", color="tab:orange", ms=8, label="sample: 200 seeds"
    )
    ax.set_xlim(-60, 60)
    ax.set_xlabel("a*", fontsize=8)
    ax.set_ylabel("p", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(f"larsson-lab, most uncertain a* pixel of BSDS500 test {photo}", fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


def figure_chromatic_fading(out: Path, photo: str = FADING_PHOTO) -> Path:
    """Larsson's chromatic fading (Eq. 5): chroma scaled by min(|z| / eta, 1) (JPEG)."""
    import core
    from core.decoders import FADING_ETA, hue_concentration

    path = photo_path(photo)
    rgb = load_rgb(path)
    plain = core.colorize_result(str(path), "larsson", decoder="hue=expectation,chroma=median")
    faded = core.colorize_result(
        str(path), "larsson", decoder="hue=expectation+fading,chroma=median"
    )
    factor = np.minimum(hue_concentration(plain.distributions["hue"]) / FADING_ETA, 1.0)
    factor = (
        np.asarray(
            Image.fromarray((factor * 255).astype(np.uint8)).resize(
                (rgb.shape[1], rgb.shape[0]), Image.BILINEAR
            ),
            np.float32,
        )
        / 255.0
    )
    rows = [[_gray(rgb), plain.rgb, np.repeat(factor[..., None], 3, -1), faded.rgb, rgb]]
    titles = [
        [
            "input",
            "hue=expectation,\nchroma=median",
            "fading factor min(|z|/η, 1)\n(black: faded to gray)",
            "hue=expectation+fading,\nchroma=median (default)",
            "ground truth",
        ]
    ]
    return _save(_image_grid(rows, titles, 12.0), out)


# -- transfer --------------------------------------------------------------------------------


def figure_transfer(
    out: Path, source: str = TRANSFER_SOURCE, reference: str = TRANSFER_REFERENCE
) -> Path:
    """Histogram transfer to a reference photo: on RGB images (quantile matching, Reinhard) and
    on ``larsson``'s predicted distributions (energy minimisation, Eq. 6) (JPEG)."""
    import core
    from core.transfer import quantile_matching, reinhard

    src_path, ref_path = photo_path(source), photo_path(reference)
    src, ref = load_rgb(src_path), load_rgb(ref_path)
    auto = core.colorize_result(str(src_path), "larsson").rgb
    energy = core.colorize_result(
        str(src_path), "larsson", reference=str(ref_path), transfer="energy"
    ).rgb
    quant = core.colorize_result(
        str(src_path), "larsson", reference=str(ref_path), transfer="quantile"
    ).rgb
    rows = [
        [src, ref, quantile_matching(src, ref), reinhard(src, ref)],
        [_gray(src), auto, energy, quant],
    ]
    titles = [
        [
            f"source photo ({source})",
            f"reference ({reference})",
            "quantile_matching(source, ref)",
            "reinhard(source, ref)",
        ],
        [
            "gray input",
            "larsson (automatic)",
            "larsson, reference, transfer='energy'",
            "larsson, reference, transfer='quantile'",
        ],
    ]
    return _save(_image_grid(rows, titles, 10.0), out)


ROTATION_ANGLES = (0, 90, 180, 270)


def figure_rotated_bias(out: Path, photo: str = SAMPLE_PHOTOS[2], strength: float = 2.0) -> Path:
    """``larsson`` with a rotated global hue bias (Sec. 4, Fig. 10) at four angles (JPEG)."""
    import core

    path = photo_path(photo)
    rgb = load_rgb(path)
    row, titles = [_gray(rgb)], ["input"]
    for angle in ROTATION_ANGLES:
        res = core.colorize_result(str(path), "larsson", rotate=angle, rotate_strength=strength)
        row.append(res.rgb)
        titles.append(f"rotate={angle}° (hue {angle / 360:.2f})")
    row.append(core.colorize_result(str(path), "larsson").rgb)
    titles.append("no bias")
    return _save(_image_grid([row], [titles], 12.0), out)


# -- sample sheets ----------------------------------------------------------------------------


def _font(size: int = 13):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType
        return ImageFont.load_default()


def _cell(rgb: np.ndarray, height: int) -> Image.Image:
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    width = round(image.width * height / image.height)
    return image.resize((width, height), Image.LANCZOS)


def _compose(rows: list[list[Image.Image]], header: list[str], labels: list[str]) -> Image.Image:
    """Paste equal-height cells into a white sheet with column headers and row labels."""
    height = rows[0][0].height
    cell_w = max(c.width for row in rows for c in row)
    pad, top, label = 4, 22, 54
    n_cols = max(len(row) for row in rows)
    sheet = Image.new(
        "RGB", (label + n_cols * (cell_w + pad) + pad, top + len(rows) * (height + pad)), "white"
    )
    draw = ImageDraw.Draw(sheet)
    font = _font(12)
    for j, text in enumerate(header):
        draw.text((label + pad + j * (cell_w + pad), 4), text, fill="black", font=font)
    for i, (row, name) in enumerate(zip(rows, labels, strict=True)):
        y = top + i * (height + pad)
        draw.text((4, y + height // 2 - 7), name, fill="black", font=font)
        for j, cell in enumerate(row):
            sheet.paste(cell, (label + pad + j * (cell_w + pad) + (cell_w - cell.width) // 2, y))
    return sheet


def sample_sheet(
    method: str, photos: tuple[str, ...] = SAMPLE_PHOTOS, height: int = 96
) -> tuple[Image.Image, dict]:
    """A grid for ``method``: one row per photo; columns gray input, output(s), ground truth.

    Diverse methods get what ``core.colorize`` returns (pixcolor: the likelihood-best of its
    candidates; semantic: the mean of its samples) and ``len(SAMPLE_SEEDS)`` samples
    (``core.sample``); methods that need a reference get the
    ground truth as their reference. Returns the image and a description for samples.json.
    """
    import core
    from core.api import sample_results

    info = core.get_method(method)
    caps = info.capabilities
    diverse = caps.diverse
    use_reference = caps.reference and not caps.automatic
    if diverse:
        outputs = ["core.colorize", *(f"seed {s}" for s in SAMPLE_SEEDS)]
    elif use_reference:
        outputs = ["output (reference = ground truth)"]
    else:
        outputs = ["output"]
    header = ["gray input", *outputs, "ground truth"]
    rows = []
    for name in photos:
        path = photo_path(name)
        rgb = load_rgb(path)
        if diverse:
            results = sample_results(str(path), method, len(SAMPLE_SEEDS), seed=SAMPLE_SEEDS[0])
            default = core.colorize_result(str(path), method, seed=SAMPLE_SEEDS[0]).rgb
            colours = [default, *(r.rgb for r in results)]
        elif use_reference:
            colours = [core.colorize_result(str(path), method, reference=str(path)).rgb]
        else:
            colours = [core.colorize_result(str(path), method).rgb]
        rows.append(
            [_cell(_gray(rgb), height), *(_cell(c, height) for c in colours), _cell(rgb, height)]
        )
    sheet = _compose(rows, header, list(photos))
    record = {
        "plugin": info.plugin,
        "columns": header,
        "photos": list(photos),
        "seeds": list(SAMPLE_SEEDS) if diverse else None,
        "reference": "ground truth" if use_reference else None,
    }
    return sheet, record


def sample_sheets(out_dir: Path, photos: tuple[str, ...] = SAMPLE_PHOTOS) -> Path:
    """Write ``<method>.jpg`` per installed method and ``samples.json`` (returned).

    Methods that colorize automatically or from a reference are included (a method that does
    neither has nothing to show without user input).

    Raises
    ------
    RuntimeError
        After writing every other sheet and the manifest, if some methods failed (named
        with their errors); their sheets are left out.
    """
    from tqdm import tqdm

    import core

    out_dir.mkdir(parents=True, exist_ok=True)
    records, failures = {}, []
    infos = [m for m in core.methods() if m.capabilities.automatic or m.capabilities.reference]
    for info in tqdm(infos, desc="sample sheets"):
        try:
            sheet, record = sample_sheet(info.name, photos)
        except Exception as exc:  # one broken plugin must not cost the other sheets
            failures.append(f"{info.name} ({info.plugin}): {type(exc).__name__}: {exc}")
            continue
        path = out_dir / f"{info.name}.jpg"
        sheet.save(path, quality=75, optimize=True)
        records[info.name] = {"file": path.name, **record}
    manifest = out_dir / "samples.json"
    manifest.write_text(json.dumps({"terms": PHOTO_TERMS, "methods": records}, indent=2) + "\n")
    for stale in out_dir.glob("*.jpg"):
        if stale.stem not in records:
            stale.unlink()
    if failures:
        raise RuntimeError("no sample sheet for: " + "; ".join(failures))
    return manifest


def _comparison(paths: list[Path], labels: list[str], height: int) -> Image.Image:
    """Every automatic method side by side on ``paths`` (diverse ones: seed 0)."""
    import core

    infos = [m for m in core.methods() if m.capabilities.automatic]
    rows = []
    for path in paths:
        rgb = load_rgb(path)
        row = [_cell(_gray(rgb), height)]
        for info in infos:
            seed = 0 if info.capabilities.diverse else None
            row.append(_cell(core.colorize_result(str(path), info.name, seed=seed).rgb, height))
        rows.append([*row, _cell(rgb, height)])
    return _compose(rows, ["gray input", *(m.name for m in infos), "ground truth"], labels)


def figure_comparison(out: Path, photos: tuple[str, ...] = SAMPLE_PHOTOS[:3]) -> Path:
    """Every automatic method side by side on a few photos (diverse ones: seed 0) (JPEG).

    Embedded in docs/results.md by scripts/gen_results.py.
    """
    sheet = _comparison([photo_path(n) for n in photos], list(photos), 80)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=80, optimize=True)
    return out


#: everyday_val people photos of the reported half (colorize_eval.evaluate.split_half)
#: for the sheet.
EVERYDAY_PEOPLE = 6


def figure_everyday_people(out: Path, count: int = EVERYDAY_PEOPLE) -> Path:
    """Every automatic method on photos of people from ``everyday_val@report`` (JPEG).

    The first ``count`` photos of the reported half of ``everyday_val/people`` in name
    order (never used to choose settings). Shown in docs/results.md.
    """
    from colorize_eval.evaluate import data_files

    _, _, report = data_files(f"{data_dir() / 'everyday_val'}@report")
    people = [p for p in report if p.parent.name == "people"][:count]
    sheet = _comparison(people, [p.stem for p in people], 76)
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=78, optimize=True)
    return out


def figure_bw_photos(out: Path, height: int = 150) -> Path:
    """The default method on the real historical photos of ``bw_photos`` (JPEG).

    Two columns per photo (the scan as the method sees it, the colorization), photos in
    name order; no ground truth exists. Shown in docs/results.md.
    """
    import core

    folder = data_dir() / "bw_photos"
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    method = core.default_method()
    rows = []
    for path in photos:
        result = core.colorize_result(str(path))
        gray = _gray(load_rgb(path))
        rows.append([_cell(gray, height), _cell(result.rgb, height)])
    sheet = _compose(rows, ["input (scan)", f"{method} (default method)"],
                     [p.stem.split("_")[-1] for p in photos])
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, quality=78, optimize=True)
    return out


#: name -> (function, file name); ``--only NAME`` picks some of them.
CONCEPT_FIGURES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "ab-plane": (figure_ab_plane, "ab-plane.png"),
    "hue-chroma-wheel": (figure_hue_chroma_wheel, "hue-chroma-wheel.png"),
    "decomposition": (figure_decomposition, "decomposition.jpg"),
    "bins": (figure_bins, "bins.png"),
    "pixel-histograms": (figure_pixel_histograms, "pixel-histograms.png"),
    "decoders": (figure_decoders, "decoders.jpg"),
    "decoder-values": (figure_decoder_values, "decoder-values.png"),
    "chromatic-fading": (figure_chromatic_fading, "chromatic-fading.jpg"),
    "transfer": (figure_transfer, "transfer.jpg"),
    "rotated-bias": (figure_rotated_bias, "rotated-bias.jpg"),
    "comparison": (figure_comparison, "comparison.jpg"),
    "bw-photos": (figure_bw_photos, "bw-photos.jpg"),
    "everyday-people": (figure_everyday_people, "everyday-people.jpg"),
}


def main(argv: list[str] | None = None) -> int:
    """Command line of ``make figures``; returns the exit status."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=[*CONCEPT_FIGURES, "samples"],
        help="regenerate only these figures",
    )
    parser.add_argument(
        "--no-samples", action="store_true", help="skip the per-method sample sheets"
    )
    parser.add_argument("--out", default=str(FIGURES), help="output folder (default docs/figures)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    wanted = args.only or [*CONCEPT_FIGURES, *([] if args.no_samples else ["samples"])]
    failed = []
    for name in wanted:
        t0 = time.perf_counter()
        try:
            if name == "samples":
                path = sample_sheets(out / "samples")
            else:
                function, file_name = CONCEPT_FIGURES[name]
                path = function(out / file_name)
        except Exception as exc:  # report and go on with the other figures
            failed.append(name)
            print(f"gen_figures: {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        print(
            f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
            f"({time.perf_counter() - t0:.1f} s)",
            file=sys.stderr,
        )
    if failed:
        print(f"gen_figures: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
