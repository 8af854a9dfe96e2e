"""Photo packs: training photos in one file of bounded size, for a GPU round.

A device machine (docs/training.md, "A GPU round") receives the working tree and nothing
beside it, 64 MiB in all, so the photos of an end-to-end fine-tuning travel as one pack:
JPEG bytes of every photo, downscaled to a short side, in a ``.npz`` (no pickles) with
each photo's source. :func:`build_pack` chooses the photos so that no source dominates
(sources weighted like the heads' training, ``sqrt``: a source's share grows with the
square root of its size) and stops at a byte budget; :func:`load_pack` decodes them for
:func:`colorize_larsson.head.finetune` (``--pack``).

Command line::

    python -m training.pack runs/gpu-pack/pack.npz --data $COLORIZE_DATA --extra /work/extra \\
        --short-side 144 --max-mib 40
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

__all__ = ["build_pack", "load_pack", "pack_groups", "main"]

#: Format tag written into every pack (refused when it differs).
FORMAT = "colorize-photo-pack/1"


def _order(groups: Mapping[str, Sequence[Path]], weighting: str,
           seed: int) -> list[tuple[str, Path]]:
    """Every photo once, interleaved so that any prefix keeps the sources' shares."""
    keyed = []
    for name, paths in sorted(groups.items()):
        if not paths:
            continue
        weight = {"sqrt": math.sqrt(len(paths)), "equal": 1.0, "size": float(len(paths))}[weighting]
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        for rank, index in enumerate(rng.permutation(len(paths))):
            keyed.append(((rank + 1) / weight, name, Path(paths[int(index)])))
    keyed.sort(key=lambda t: (t[0], t[1]))
    return [(name, path) for _, name, path in keyed]


def _encode(path: Path, short_side: int, quality: int, max_aspect: float) -> bytes | None:
    """JPEG bytes of the photo at ``short_side`` (centre-cropped to ``max_aspect``), or None
    for an unreadable or gray photo."""
    from training.data import decode_photo

    rgb, problem = decode_photo(path, short_side)
    if rgb is None or problem:
        return None
    h, w = rgb.shape[:2]
    if max(h, w) > max_aspect * min(h, w):
        keep = int(max_aspect * min(h, w))
        if h > w:
            top = (h - keep) // 2
            rgb = rgb[top : top + keep]
        else:
            left = (w - keep) // 2
            rgb = rgb[:, left : left + keep]
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[..., ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return data.tobytes() if ok else None


def build_pack(
    groups: Mapping[str, Sequence[Path]],
    out: str | os.PathLike,
    *,
    short_side: int = 144,
    quality: int = 88,
    max_bytes: int = 40 * 2**20,
    weighting: str = "sqrt",
    max_aspect: float = 2.0,
    seed: int = 0,
) -> dict:
    """Write a pack of ``groups`` (source name -> photo paths) to ``out``.

    Photos are taken in an interleaved, seeded order in which each source advances in
    proportion to its weight (``sqrt``, ``equal`` or ``size`` of the source), encoded as
    JPEG at ``short_side`` and ``quality``, until the next one would pass ``max_bytes``.
    Unreadable and gray photos are skipped. The file is written atomically; returns the
    summary also stored in it (photos per source, bytes, settings).
    """
    if weighting not in ("sqrt", "equal", "size"):
        raise ValueError(f"weighting must be sqrt, equal or size, not {weighting!r}")
    chunks: list[bytes] = []
    sources: list[str] = []
    total = 0
    skipped = 0
    for name, path in _order(groups, weighting, seed):
        data = _encode(path, short_side, quality, max_aspect)
        if data is None:
            skipped += 1
            continue
        if total + len(data) > max_bytes:
            break
        chunks.append(data)
        sources.append(name)
        total += len(data)
    if not chunks:
        raise ValueError(f"{out}: no readable colour photo fits in {max_bytes} bytes")
    offsets = np.cumsum([0] + [len(c) for c in chunks]).astype(np.int64)
    names = sorted(set(sources))
    counts = {n: sources.count(n) for n in names}
    summary = {"format": FORMAT, "photos": len(chunks), "bytes": int(total),
               "short_side": short_side, "quality": quality, "weighting": weighting,
               "seed": seed, "skipped": skipped, "per_source": counts,
               "available": {n: len(p) for n, p in sorted(groups.items())}}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.name + ".part")
    with open(part, "wb") as handle:
        np.savez(handle, data=np.frombuffer(b"".join(chunks), np.uint8), offsets=offsets,
                 source=np.array([names.index(s) for s in sources], np.int16),
                 names=np.array(names), summary=np.array(json.dumps(summary)))
    os.replace(part, out)
    return summary


def load_pack(path: str | os.PathLike, *, short_side: int | None = None
              ) -> tuple[list[np.ndarray], list[str], dict]:
    """Decode a pack: the RGB uint8 photos (downscaled to ``short_side`` when larger), each
    photo's source name, and the pack's summary."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as pack:
            data, offsets = pack["data"], pack["offsets"]
            index, names = pack["source"], [str(n) for n in pack["names"]]
            summary = json.loads(str(pack["summary"]))
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{path}: not a photo pack ({error})") from None
    if summary.get("format") != FORMAT:
        raise ValueError(f"{path}: pack format {summary.get('format')!r}, expected {FORMAT!r}")
    images = []
    for i in range(len(offsets) - 1):
        bgr = cv2.imdecode(data[offsets[i] : offsets[i + 1]], cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{path}: photo {i} does not decode")
        h, w = bgr.shape[:2]
        if short_side is not None and min(h, w) > short_side:
            scale = short_side / min(h, w)
            bgr = cv2.resize(bgr, (max(1, round(w * scale)), max(1, round(h * scale))),
                             interpolation=cv2.INTER_AREA)
        images.append(np.ascontiguousarray(bgr[..., ::-1]))
    return images, [names[int(i)] for i in index], summary


def pack_groups(data_root: str | os.PathLike | None, extra: str | os.PathLike | None = None,
                *, sources: Sequence[str] | None = None) -> dict[str, list[Path]]:
    """The head-training photos by source: ``COLORIZE_DATA`` folders of
    :data:`training.backbone_adapt.HEAD_SOURCES` (never BSDS500 val or test, never the
    held-out half of imagenet_sample) and, with ``extra``, each ``extra_photos.py`` source."""
    from training.backbone_adapt import HEAD_SOURCES, training_items

    groups: dict[str, list[Path]] = {}
    if data_root is not None:
        for source in sources or HEAD_SOURCES:
            groups[source] = training_items(data_root, (source,))
    if extra is not None:
        from training.features import extra_items

        for path in extra_items(extra):
            groups.setdefault(f"extra/{path.parent.name}", []).append(path)
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the pack to write (.npz), outside the data")
    parser.add_argument("--data", type=Path, help="COLORIZE_DATA (the head-training folders)")
    parser.add_argument("--extra", type=Path, help="extra_photos.py DEST")
    parser.add_argument("--short-side", type=int, default=144)
    parser.add_argument("--quality", type=int, default=88)
    parser.add_argument("--max-mib", type=float, default=40.0)
    parser.add_argument("--weighting", choices=("sqrt", "equal", "size"), default="sqrt")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.data is None and args.extra is None:
        parser.error("give --data, --extra or both")
    for folder in (args.data, args.extra):
        if folder is not None and not folder.is_dir():
            parser.error(f"{folder}: no such folder")
    try:
        summary = build_pack(pack_groups(args.data, args.extra), args.out,
                             short_side=args.short_side, quality=args.quality,
                             max_bytes=int(args.max_mib * 2**20), weighting=args.weighting,
                             seed=args.seed)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
