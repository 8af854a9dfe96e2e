"""Qualitative sheet on the shared exemplar pairs: target (gray), reference, result.

Reads ``pairs.txt`` (``<target> <reference> 1`` per line) of the folders of
``exemplar_pairs/deep_exemplar_colorization`` (targets are gray, references colour) and
writes one JPEG with a row per pair. The default pairs and size give the sheet next to
the model card::

    python plugins/colorize-exemplar/scripts/exemplar_pairs_sheet.py \\
        -o plugins/colorize-exemplar/colorize_exemplar/exemplar-pairs.jpg
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from PIL import Image, ImageDraw

import core

#: (folder, line of pairs.txt, 0-based) shown by default.
DEFAULT_PAIRS = (
    ("example", 0),
    ("example", 1),
    ("examplar-based", 0),
    ("examplar-based", 2),
    ("learning-based", 1),
    ("learning-based", 4),
)


def _pairs(root: Path, chosen) -> list[tuple[Path, Path]]:
    out = []
    for folder, line in chosen:
        rows = (root / folder / "pairs.txt").read_text().split("\n")
        target, reference = [r for r in rows if r.strip()][line].split()[:2]
        out.append((root / folder / "input" / target, root / folder / "input" / reference))
    return out


def _tile(image: Image.Image, height: int) -> Image.Image:
    image = image.convert("RGB")
    width = max(1, round(image.width * height / image.height))
    return image.resize((width, height), Image.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=os.environ.get("COLORIZE_DATA", "/work/shared/datasets"))
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--height", type=int, default=150, help="height of each tile (px)")
    parser.add_argument("--quality", type=int, default=82, help="JPEG quality")
    args = parser.parse_args()
    root = Path(args.data) / "exemplar_pairs" / "deep_exemplar_colorization"
    rows = []
    for target, reference in _pairs(root, DEFAULT_PAIRS):
        result = core.colorize(target, "exemplar", reference=reference)
        tiles = [_tile(Image.open(p), args.height) for p in (target, reference)]
        tiles.append(_tile(result, args.height))
        rows.append(tiles)
    gap, header = 4, 18
    widths = [max(row[c].width for row in rows) for c in range(3)]
    sheet = Image.new(
        "RGB",
        (sum(widths) + gap * 4, header + len(rows) * (args.height + gap) + gap),
        "white",
    )
    draw = ImageDraw.Draw(sheet)
    x = gap
    for c, title in enumerate(("target (gray)", "reference", "exemplar result")):
        draw.text((x + 2, 3), title, fill="black")
        x += widths[c] + gap
    for r, row in enumerate(rows):
        x = gap
        y = header + r * (args.height + gap)
        for c, tile in enumerate(row):
            sheet.paste(tile, (x + (widths[c] - tile.width) // 2, y))
            x += widths[c] + gap
    out = Path(args.output)
    sheet.save(out, quality=args.quality, optimize=True)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB, {sheet.width}x{sheet.height})")
    print(
        "pairs (folder/line of pairs.txt): " + ", ".join(f"{f}/{i + 1}" for f, i in DEFAULT_PAIRS)
    )


if __name__ == "__main__":
    main()
