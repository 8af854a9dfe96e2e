"""Does one colour hint stay on the region it was put on? (issue 32, "Local propagation").

Two measurements, with ``--method`` (default: the default method):

CamVid (``$COLORIZE_DATA/camvid/test`` and ``testannot``)
    On ``--count`` test photos (evenly spaced through ``test.txt``), for each of the classes
    car, building and road that the photo has: the class's pixels are split into
    8-connected components; the hint goes on the pixel farthest from the border of the
    class (``cv2.distanceTransform``), radius 8 px, and its *region* is the component that
    holds that pixel. The hint's colour is far from the region's current colour: a*, b*
    opposite to the region's mean a*, b* at chroma :data:`HINT_CHROMA` (blue when the region
    is gray), at the region's mean L*. Two numbers per case:

    ``move``
        ``1 - |after - hint| / |before - hint|`` for the region's mean a*, b* (before and
        after the hint) and the hint's a*, b*: 0 is no change, 1 is the hint's colour,
        >= 0.5 moved at least half-way.
    ``far_de``
        The mean CIE76 ΔE between the two results over *far* pixels: labelled (not void)
        pixels outside the region and more than :data:`FAR_PX` pixels from it.

    Targets (issue 32): mean ``move`` >= 0.5 and mean ``far_de`` <= 2.

Helen Keller (``$COLORIZE_DATA/bw_photos/helen_keller_charlie_chaplin_1919.jpg``)
    One 8 px hint ``#2050d0`` at (537, 340), on Helen Keller's skirt: the share of all
    pixels whose colour changes by more than 5 ΔE (target: at most 15 %), and the median ΔE.

Hints are applied with :meth:`core.Colorization.with_hints` on one colorization per photo.

Usage::

    python scripts/hint_locality.py [--method NAME] [--count 30] [--data DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: CamVid label ids (SegNet order, camvid MANIFEST): the hinted classes, and "unlabelled".
CLASSES = {"building": 1, "road": 3, "car": 8}
VOID = 11
#: Radius of the hint, in photo pixels.
HINT_RADIUS = 8
#: Chroma of the hint colour (CIE a*, b* units).
HINT_CHROMA = 40.0
#: Pixels nearer than this to the hinted region are not "far".
FAR_PX = 20
#: The Helen Keller case of issue 32.
KELLER = ("bw_photos/helen_keller_charlie_chaplin_1919.jpg", (537, 340), "#2050d0")


def data_root(data: str | os.PathLike | None = None) -> Path:
    """The datasets folder: ``data``, else ``COLORIZE_DATA``, else ``../shared/datasets``."""
    if data is not None:
        return Path(data)
    return Path(os.environ.get("COLORIZE_DATA", ROOT.parent / "shared" / "datasets"))


def camvid_photos(root: Path, count: int) -> list[tuple[Path, Path]]:
    """``count`` (photo, label image) pairs evenly spaced through CamVid's ``test.txt``."""
    lines = (root / "camvid" / "test.txt").read_text().split("\n")
    pairs = [line.split() for line in lines if line.strip()]
    picks = np.unique(np.linspace(0, len(pairs) - 1, min(count, len(pairs))).round().astype(int))
    return [(root / "camvid" / pairs[i][0], root / "camvid" / pairs[i][1]) for i in picks]


def region_of(labels: np.ndarray, label: int) -> tuple[np.ndarray, tuple[int, int]] | None:
    """The component of class ``label`` around its innermost pixel, and that pixel (x, y).

    None when the class has no pixel at least :data:`HINT_RADIUS` from its border (the hint
    disc would not fit).
    """
    mask = (labels == label).astype(np.uint8)
    if not mask.any():
        return None
    depth = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(depth)), depth.shape)
    if depth[y, x] < HINT_RADIUS:
        return None
    _, components = cv2.connectedComponents(mask, connectivity=8)
    return components == components[y, x], (int(x), int(y))


def far_colour(lab: np.ndarray, region: np.ndarray) -> tuple[float, float, float]:
    """An sRGB colour far from ``region``'s mean colour in ``lab`` (opposite a*, b*)."""
    from core.colorspaces import lab_to_rgb

    mean = lab[region].reshape(-1, 3).mean(0)
    ab = mean[1:]
    norm = float(np.linalg.norm(ab))
    direction = -ab / norm if norm > 1.0 else np.array([-0.3, -0.95]) / np.hypot(0.3, 0.95)
    target = np.array([mean[0], *(HINT_CHROMA * direction)], np.float64)
    rgb = np.clip(lab_to_rgb(target), 0.0, 1.0)
    return tuple(float(c) for c in rgb)


def far_pixels(labels: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Labelled pixels outside ``region`` and more than :data:`FAR_PX` pixels from it."""
    outside = np.where(region, 0, 1).astype(np.uint8)
    distance = cv2.distanceTransform(outside, cv2.DIST_L2, 5)
    return (labels != VOID) & (distance > FAR_PX)


def locality(base: Any, labels: np.ndarray, label: int) -> dict[str, Any] | None:
    """One CamVid case: hint the innermost pixel of class ``label`` on ``base``.

    Parameters
    ----------
    base : core.Colorization
        The colorization without hints.
    labels : ndarray (H, W) int
        CamVid class ids of the same photo.
    label : int
        The class to hint.

    Returns
    -------
    dict or None
        ``x``, ``y``, ``region_px``, ``far_px``, ``move`` and ``far_de`` (see the module
        docstring); None when the class has no region the hint fits in.
    """
    import core
    from core.colorspaces import rgb_to_lab

    found = region_of(labels, label)
    if found is None:
        return None
    region, (x, y) = found
    before = rgb_to_lab(base.rgb)
    colour = far_colour(before, region)
    hinted = base.with_hints([core.Hint(x, y, colour, radius=HINT_RADIUS)])
    after = rgb_to_lab(hinted.rgb)
    target = rgb_to_lab(np.asarray(colour, np.float64))[1:]
    start = np.linalg.norm(before[region][:, 1:].mean(0) - target)
    end = np.linalg.norm(after[region][:, 1:].mean(0) - target)
    far = far_pixels(labels, region)
    delta = np.linalg.norm(after - before, axis=-1)
    return {
        "x": x,
        "y": y,
        "region_px": int(region.sum()),
        "far_px": int(far.sum()),
        "move": float(1.0 - end / start) if start > 0 else 1.0,
        "far_de": float(delta[far].mean()) if far.any() else 0.0,
        "hint": core.Hint(x, y, colour).hex,
    }


def colorized(photo: Path, method: str | None) -> Any:
    """``core.colorize_result(photo, method)`` (seed 0)."""
    import core

    return core.colorize_result(photo, method or core.default_method(), seed=0)


def camvid(
    root: Path,
    count: int,
    method: str | None = None,
    classes: Sequence[str] = tuple(CLASSES),
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Every CamVid case on ``count`` photos: :func:`locality` records plus photo and class."""
    from PIL import Image
    from tqdm import tqdm

    records = []
    photos = camvid_photos(root, count)
    for photo, annot in tqdm(photos, desc="camvid", disable=not progress or None):
        labels = np.asarray(Image.open(annot))
        base = colorized(photo, method)
        for cls in classes:
            record = locality(base, labels, CLASSES[cls])
            if record is not None:
                records.append({"photo": photo.name, "class": cls, **record})
    return records


def keller(root: Path, method: str | None = None) -> dict[str, float]:
    """The Helen Keller case: share of pixels changed by more than 5 ΔE, and the median ΔE."""
    import core
    from core.colorspaces import rgb_to_lab

    path, (x, y), colour = KELLER
    base = colorized(root / path, method)
    hinted = base.with_hints([core.Hint(x, y, core.hints.parse_color(colour), radius=8)])
    delta = np.linalg.norm(rgb_to_lab(hinted.rgb) - rgb_to_lab(base.rgb), axis=-1)
    return {
        "changed_over_5": float((delta > 5).mean()),
        "median_de": float(np.median(delta)),
        "seconds": float(hinted.timings["hints"]),
    }


def summary(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means over the cases, per class and over all, and how many cases meet each target."""
    out: dict[str, Any] = {}
    groups = {"all": list(records)}
    for cls in CLASSES:
        groups[cls] = [r for r in records if r["class"] == cls]
    for name, group in groups.items():
        if not group:
            continue
        move = np.array([r["move"] for r in group])
        far = np.array([r["far_de"] for r in group])
        out[name] = {
            "cases": len(group),
            "move": float(move.mean()),
            "far_de": float(far.mean()),
            "move_ok": int((move >= 0.5).sum()),
            "far_ok": int((far <= 2.0).sum()),
            "worst_move": float(move.min()),
            "worst_far_de": float(far.max()),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    import core

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--method", default=None, help="method (default: the default method)")
    parser.add_argument("--count", type=int, default=30, help="CamVid test photos (30)")
    parser.add_argument("--data", default=None, help="datasets folder (COLORIZE_DATA)")
    parser.add_argument("--json", default=None, metavar="OUT")
    args = parser.parse_args(argv)
    root = data_root(args.data)
    method = args.method or core.default_method()

    records = camvid(root, args.count, method)
    print(f"method {method}; CamVid test, {args.count} photos, {len(records)} cases\n")
    print("| photo | class | region px | move | far ΔE |")
    print("| --- | --- | ---: | ---: | ---: |")
    for r in records:
        print(
            f"| {r['photo']} | {r['class']} | {r['region_px']} | {r['move']:.2f} | "
            f"{r['far_de']:.2f} |"
        )
    stats = summary(records)
    print("\n| cases | n | mean move | move >= 0.5 | mean far ΔE | far ΔE <= 2 | worst |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for name, s in stats.items():
        print(
            f"| {name} | {s['cases']} | {s['move']:.2f} | {s['move_ok']}/{s['cases']} | "
            f"{s['far_de']:.2f} | {s['far_ok']}/{s['cases']} | move {s['worst_move']:.2f}, "
            f"far {s['worst_far_de']:.2f} ΔE |"
        )
    k = keller(root, method)
    print(
        f"\nHelen Keller: {k['changed_over_5']:.1%} of the pixels changed by > 5 ΔE "
        f"(median {k['median_de']:.2f} ΔE; propagation {k['seconds']:.2f} s)"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"method": method, "cases": records, "summary": stats, "keller": k}, indent=2
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
