"""Reference index: pre-computed recommendation descriptors of a folder of colour photos.

``colorize index build REFS_DIR -o refs.index`` (:func:`build_index`) runs every colour
image below ``REFS_DIR`` through the shared gray ImageNet backbone once and stores what the
recommendation of He et al. (2018, §4) needs (:mod:`colorize_exemplar.recommend`):
PCA-compressed global descriptors, local descriptors and cell luminance histograms.
:func:`recommend` ranks the index for a target.

File format (version :data:`FORMAT_VERSION`)
--------------------------------------------
A zip archive (stored, not compressed) with

* ``header.json``: ``format`` (:data:`FORMAT_NAME`), ``format_version``,
  ``feature_extractor`` (:func:`colorize_exemplar.features.extractor`: the backbone's
  name, graph file, its sha256 and the levels),
  ``settings`` (descriptor sizes, see :func:`current_settings`), ``root`` (the absolute
  REFS_DIR) and ``root_from_index`` (REFS_DIR relative to the index file's folder),
  ``entries`` (per image: ``path`` relative to REFS_DIR in POSIX form, ``size`` in bytes,
  ``mtime``, ``shape``), ``skipped`` (unusable files with the reason), ``pca_fitted_on``,
  and ``arrays`` (shape, dtype and sha256 of each array member);
* ``global.npy`` (N, g) float32, ``local.npy`` (N, P, l) float16, ``hist.npy`` (N, P, B)
  float16, and the PCA bases ``pca_global_mean.npy``, ``pca_global_components.npy``,
  ``pca_local_mean.npy``, ``pca_local_components.npy``.

Paths are stored relative to REFS_DIR, so a folder can move: a reference is looked up
under ``root``, then under ``root_from_index`` next to the index file (moving the folder
and the index together keeps the index valid). Arrays are read with
``allow_pickle=False`` and checked against their sha256. A file of another format
version, built with another feature extractor or other settings, or corrupted, is
refused with :class:`ReferenceIndexError` naming the file and the problem. Indexes of
format version 1 were built with the plugin's former small gray feature net
(``exemplar-features.onnx``); they are refused with a message that says so.

The PCA bases are fitted when the index is first built (or with ``rebuild=True``);
incremental updates project new images on the stored bases, so the entries already
there stay valid.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import threading
import time
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from colorize_exemplar import features as backbone_features
from colorize_exemplar import recommend as rec
from core.colorspaces.lab import LabSpace, rgb_to_lab
from core.errors import ColorizeError, InvalidImageError
from core.io import IMAGE_EXTENSIONS, load_image

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "BuildReport",
    "Candidate",
    "ReferenceIndex",
    "ReferenceIndexError",
    "build_index",
    "current_settings",
    "extractor_sha256",
    "load_index",
    "recommend",
]

FORMAT_NAME = "colorize-exemplar-reference-index"
FORMAT_VERSION = 2
#: The feature net of format version 1 (removed; its indexes are refused by name).
LEGACY_FEATURES_FILE = "exemplar-features.onnx"
_ARRAYS = (
    "global",
    "local",
    "hist",
    "pca_global_mean",
    "pca_global_components",
    "pca_local_mean",
    "pca_local_components",
)


class ReferenceIndexError(ColorizeError, ValueError):
    """A reference index cannot be used; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def extractor_sha256() -> str:
    """sha256 of the installed gray backbone graph (its plugin's manifest records it)."""
    return str(backbone_features.extractor()["sha256"])


def current_settings() -> dict[str, Any]:
    """Descriptor settings an index must have been built with (stored in its header)."""
    return {
        "feature_size": rec.FEATURE_SIZE,
        "grid": rec.GRID,
        "hist_size": rec.HIST_SIZE,
        "hist_bins": rec.HIST_BINS,
        "global_dim": rec.GLOBAL_DIM,
        "local_dim": rec.LOCAL_DIM,
        "global_levels": list(rec.GLOBAL_LEVELS),
        "local_levels": list(rec.LOCAL_LEVELS),
    }


@dataclass(frozen=True)
class Candidate:
    """One recommended reference with its scores (see :class:`recommend.Ranking`)."""

    rank: int
    path: Path
    relative_path: str
    global_score: float
    local_score: float
    luminance_score: float
    final_score: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "path": str(self.path),
            "relative_path": self.relative_path,
            "global": self.global_score,
            "local": self.local_score,
            "luminance": self.luminance_score,
            "final": self.final_score,
        }


@dataclass
class ReferenceIndex:
    """An index in memory (see the module doc for the fields' meaning)."""

    root: Path
    entries: list[dict[str, Any]]
    global_features: np.ndarray
    local_features: np.ndarray
    histograms: np.ndarray
    pca_global: rec.Pca
    pca_local: rec.Pca
    pca_fitted_on: int
    skipped: list[dict[str, Any]] = field(default_factory=list)
    root_from_index: str | None = None
    path: Path | None = None
    created: str = ""
    feature_extractor: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.entries)

    def resolve(self, relative: str) -> Path:
        """Absolute path of an entry; tries ``root``, then ``root_from_index``.

        Raises
        ------
        ReferenceIndexError
            If the image is in neither place (the folder moved without its index).
        """
        tried = [self.root / relative]
        if self.root_from_index is not None and self.path is not None:
            tried.append(self.path.parent / self.root_from_index / relative)
        for candidate in tried:
            if candidate.is_file():
                return candidate
        raise ReferenceIndexError(
            self.path or "<index>",
            f"reference image {relative!r} not found (looked in "
            + ", ".join(str(t.parent) for t in tried)
            + "); rebuild the index with `colorize index build`",
        )

    def query(
        self,
        lightness: np.ndarray,
        features: Callable | None = None,
        *,
        k: int = 5,
        top_n: int = rec.TOP_N,
    ) -> list[Candidate]:
        """Recommend ``k`` references for a target L* image (global, then Eq. 8 ranking).

        ``features`` maps an L* image to the backbone's levels by name (default: the
        shared gray backbone, :meth:`core.backbones.Backbone.features`).
        """
        if not self.entries:
            raise ReferenceIndexError(self.path or "<index>", "the index has no entries")
        d = rec.describe(lightness, features or backbone_features.get().features)
        ranking = rec.rank(
            rec.compress(d.global_raw, self.pca_global),
            rec.compress(d.local_raw, self.pca_local),
            d.histograms,
            self.global_features,
            self.local_features,
            self.histograms,
            k=k,
            top_n=top_n,
        )
        out = []
        for i, j in enumerate(ranking.order):
            relative = self.entries[int(j)]["path"]
            out.append(
                Candidate(
                    rank=i + 1,
                    path=self.root / relative,
                    relative_path=relative,
                    global_score=float(ranking.global_score[i]),
                    local_score=float(ranking.local_score[i]),
                    luminance_score=float(ranking.luminance_score[i]),
                    final_score=float(ranking.final_score[i]),
                )
            )
        return out

    # -- file format ----------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the index atomically (temporary file in the same folder + rename)."""
        path = Path(path)
        arrays = {
            "global": self.global_features.astype(np.float32),
            "local": self.local_features.astype(np.float16),
            "hist": self.histograms.astype(np.float16),
            "pca_global_mean": self.pca_global.mean,
            "pca_global_components": self.pca_global.components,
            "pca_local_mean": self.pca_local.mean,
            "pca_local_components": self.pca_local.components,
        }
        blobs = {}
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
            blobs[name] = buffer.getvalue()
        folder = path.resolve().parent
        header = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "feature_extractor": backbone_features.extractor(),
            "settings": current_settings(),
            "root": str(self.root),
            "root_from_index": os.path.relpath(self.root, folder),
            "created": self.created or _now(),
            "updated": _now(),
            "pca_fitted_on": self.pca_fitted_on,
            "entries": self.entries,
            "skipped": self.skipped,
            "arrays": {
                name: {
                    "shape": list(arrays[name].shape),
                    "dtype": str(np.asarray(arrays[name]).dtype),
                    "sha256": hashlib.sha256(blob).hexdigest(),
                }
                for name, blob in blobs.items()
            },
        }
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise ReferenceIndexError(path, f"cannot write the index ({exc.strerror})") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                with zipfile.ZipFile(handle, "w", zipfile.ZIP_STORED) as archive:
                    archive.writestr("header.json", json.dumps(header, indent=1))
                    for name, blob in blobs.items():
                        archive.writestr(f"{name}.npy", blob)
                handle.flush()
                os.fsync(handle.fileno())
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide the index from others
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise ReferenceIndexError(path, f"cannot write the index ({exc.strerror})") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.path = path
        self.root_from_index = header["root_from_index"]
        self.created = header["created"]
        self.feature_extractor = header["feature_extractor"]
        return path


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _read_header(archive: zipfile.ZipFile, path: Path) -> dict[str, Any]:
    try:
        header = json.loads(archive.read("header.json"))
    except KeyError:
        raise ReferenceIndexError(path, "not a reference index (no header.json)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReferenceIndexError(path, f"corrupted header ({exc})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ReferenceIndexError(path, "not a colorize-exemplar reference index")
    version = header.get("format_version")
    recorded = header.get("feature_extractor") or {}
    if version == 1 or recorded.get("file") == LEGACY_FEATURES_FILE:
        raise ReferenceIndexError(
            path,
            f"built with the former small gray feature net {LEGACY_FEATURES_FILE} (sha256 "
            f"{str(recorded.get('sha256', '?'))[:12]}…, index format version {version!r}); "
            f"this plugin now describes images with the ImageNet backbone "
            f"{backbone_features.BACKBONE}: rebuild it with "
            "`colorize index build REFS_DIR -o FILE --rebuild`",
        )
    if version != FORMAT_VERSION:
        raise ReferenceIndexError(
            path,
            f"index format version {version!r}, this plugin reads version {FORMAT_VERSION}; "
            "rebuild it with `colorize index build REFS_DIR -o FILE --rebuild`",
        )
    installed = backbone_features.extractor()
    if (recorded.get("backbone"), recorded.get("sha256")) != (
        installed["backbone"],
        installed["sha256"],
    ):
        raise ReferenceIndexError(
            path,
            f"built with another feature extractor (backbone {recorded.get('backbone')!r}, "
            f"{recorded.get('file')} sha256 {str(recorded.get('sha256', '?'))[:12]}…; "
            f"installed {installed['backbone']!r}, {installed['file']} sha256 "
            f"{installed['sha256'][:12]}…); rebuild it with "
            "`colorize index build REFS_DIR -o FILE --rebuild`",
        )
    if header.get("settings") != current_settings():
        raise ReferenceIndexError(
            path,
            f"built with other descriptor settings ({header.get('settings')}, expected "
            f"{current_settings()}); rebuild it with `colorize index build ... --rebuild`",
        )
    return header


def load_index(path: str | os.PathLike) -> ReferenceIndex:
    """Read and validate an index file.

    Raises
    ------
    ReferenceIndexError
        Missing or unreadable file, not an index, another format version, another
        feature extractor or settings, or corrupted contents (a checksum or shape that
        does not match the header). The message names the file and the problem.
    """
    path = Path(path)
    if not path.is_file():
        raise ReferenceIndexError(path, "no such reference index file")
    try:
        with zipfile.ZipFile(path) as archive:
            header = _read_header(archive, path)
            arrays = {}
            for name in _ARRAYS:
                spec = header.get("arrays", {}).get(name)
                if not isinstance(spec, dict):
                    raise ReferenceIndexError(path, f"corrupted: header lists no array {name!r}")
                blob = archive.read(f"{name}.npy")
                if hashlib.sha256(blob).hexdigest() != spec.get("sha256"):
                    raise ReferenceIndexError(path, f"corrupted: array {name!r} fails its sha256")
                array = np.load(io.BytesIO(blob), allow_pickle=False)
                if list(array.shape) != spec.get("shape"):
                    raise ReferenceIndexError(path, f"corrupted: array {name!r} has a wrong shape")
                arrays[name] = array
    except ReferenceIndexError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError) as exc:
        raise ReferenceIndexError(path, f"corrupted or not a reference index ({exc})") from None
    except KeyError as exc:
        raise ReferenceIndexError(path, f"corrupted: member {exc} is missing") from None
    except (OSError, ValueError) as exc:
        raise ReferenceIndexError(path, f"cannot read the index ({exc})") from None
    entries = header.get("entries")
    n = len(entries) if isinstance(entries, list) else -1
    if n < 0 or not all(_valid_entry(e) for e in entries):
        raise ReferenceIndexError(path, "corrupted: malformed entries in the header")
    if not (len(arrays["global"]) == len(arrays["local"]) == len(arrays["hist"]) == n):
        raise ReferenceIndexError(path, "corrupted: entries and feature arrays disagree")
    return ReferenceIndex(
        root=Path(header["root"]),
        entries=entries,
        global_features=arrays["global"],
        local_features=arrays["local"],
        histograms=arrays["hist"],
        pca_global=rec.Pca(arrays["pca_global_mean"], arrays["pca_global_components"]),
        pca_local=rec.Pca(arrays["pca_local_mean"], arrays["pca_local_components"]),
        pca_fitted_on=int(header.get("pca_fitted_on", 0)),
        skipped=list(header.get("skipped", [])),
        root_from_index=header.get("root_from_index"),
        path=path,
        created=str(header.get("created", "")),
        feature_extractor=dict(header.get("feature_extractor") or {}),
    )


def _valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("path"), str)
        and not Path(entry["path"]).is_absolute()
        and ".." not in Path(entry["path"]).parts
        and isinstance(entry.get("size"), int)
        and isinstance(entry.get("mtime"), (int, float))
    )


_cache: dict[tuple[str, int, int], ReferenceIndex] = {}
_cache_lock = threading.Lock()


def cached_index(path: str | os.PathLike) -> ReferenceIndex:
    """:func:`load_index`, cached per (path, size, mtime): repeated queries load once."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return load_index(path)  # raises the clear error
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    index = load_index(path)
    with _cache_lock:
        if len(_cache) >= 4:
            _cache.clear()
        _cache[key] = index
    return index


# -- building -------------------------------------------------------------------------


@dataclass
class BuildReport:
    """What :func:`build_index` did.

    ``processed`` lists the files run through the network this time (new or changed);
    ``kept`` the entries reused from the existing index; ``removed`` entries whose file
    is gone; ``skipped`` the unusable files (path and reason), new or known.
    """

    path: Path
    entries: int
    processed: list[str] = field(default_factory=list)
    kept: int = 0
    removed: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    pca_fitted_on: int = 0
    refitted: bool = False


def _scan(root: Path) -> list[tuple[str, Path]]:
    files = [
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and not p.name.startswith(".")
    ]
    return sorted((p.relative_to(root).as_posix(), p) for p in files)


def _stamp(path: Path) -> tuple[int, float]:
    stat = path.stat()
    return stat.st_size, round(stat.st_mtime, 6)


def reference_lightness(rgb: np.ndarray) -> np.ndarray:
    """L* of a colour image at the histogram size (:data:`recommend.HIST_SIZE`, square)."""
    size = rec.HIST_SIZE
    h, w = rgb.shape[:2]
    interp = cv2.INTER_AREA if h * w > size * size else cv2.INTER_LINEAR
    small = cv2.resize(np.clip(rgb, 0, 1).astype(np.float32), (size, size), interpolation=interp)
    return rgb_to_lab(small)[..., 0].astype(np.float32)


def _is_achromatic(rgb: np.ndarray) -> bool:
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 65536)))
    small = rgb[::step, ::step]
    return float(np.abs(small - small.mean(axis=-1, keepdims=True)).max()) < 2.0 / 255.0


def _default_on_skip(path: str, reason: str) -> None:
    warnings.warn(f"{path}: skipped: {reason}", RuntimeWarning, stacklevel=3)


def build_index(
    refs_dir: str | os.PathLike,
    output: str | os.PathLike,
    *,
    features: Callable | None = None,
    rebuild: bool = False,
    progress: bool = True,
    on_skip: Callable[[str, str], None] | None = None,
) -> BuildReport:
    """Build or update the reference index of the colour images below ``refs_dir``.

    Parameters
    ----------
    refs_dir : path
        Folder searched recursively for images (core's image extensions).
    output : path
        Index file. If it exists (and ``rebuild`` is false) only new or changed files
        (size or mtime) are processed, entries of removed files are dropped, and the
        stored PCA bases are kept.
    features : callable, optional
        Backbone levels by name of an L* image (default: the shared gray backbone's
        :meth:`core.backbones.Backbone.features`).
    rebuild : bool
        Ignore an existing ``output`` (also one of another version) and refit the PCA.
    progress : bool
        Show a tqdm progress bar.
    on_skip : callable(path, reason), optional
        Called for each new unusable file (unreadable, corrupt or grayscale); the
        default issues a ``RuntimeWarning``.

    Returns
    -------
    BuildReport

    Raises
    ------
    ReferenceIndexError
        ``output`` exists but cannot be updated (other version, extractor or folder,
        corrupted: use ``rebuild=True``), or no usable colour image was found.
    """
    from tqdm import tqdm

    root = Path(refs_dir).resolve()
    output = Path(output)
    if not root.is_dir():
        raise ReferenceIndexError(root, "no such folder of reference images")
    if features is None:
        features = backbone_features.get().features
    on_skip = on_skip or _default_on_skip
    old = None
    if output.exists() and not rebuild:
        old = load_index(output)
        if old.root != root:
            raise ReferenceIndexError(
                output,
                f"indexes {old.root}, not {root}; choose another -o or pass --rebuild",
            )
    known = {e["path"]: i for i, e in enumerate(old.entries)} if old else {}
    known_skips = {s["path"]: s for s in old.skipped} if old else {}
    report = BuildReport(path=output, entries=0)
    kept_rows: list[int] = []
    kept_entries: list[dict[str, Any]] = []
    todo: list[tuple[str, Path, tuple[int, float]]] = []
    skipped: list[dict[str, Any]] = []
    files = _scan(root)
    present = {rel for rel, _ in files}
    for rel, path in files:
        size, mtime = _stamp(path)
        i = known.get(rel)
        if i is not None and (old.entries[i]["size"], old.entries[i]["mtime"]) == (size, mtime):
            kept_rows.append(i)
            kept_entries.append(old.entries[i])
            continue
        skip = known_skips.get(rel)
        if skip is not None and (skip["size"], skip["mtime"]) == (size, mtime):
            skipped.append(skip)
            continue
        todo.append((rel, path, (size, mtime)))
    report.removed = sorted(set(known) - present)
    report.kept = len(kept_rows)
    new_entries: list[dict[str, Any]] = []
    described: list[rec.Descriptors] = []
    bar = tqdm(todo, desc="index", unit="img", disable=not progress or None)
    for rel, path, (size, mtime) in bar:
        try:
            loaded = load_image(path)
            rgb = loaded.rgb()
            if loaded.is_gray or _is_achromatic(rgb):
                raise InvalidImageError(str(path), "grayscale image: a colour reference is needed")
            descriptors = rec.describe(reference_lightness(rgb), features)
        except (InvalidImageError, OSError, ValueError) as exc:
            reason = exc.problem if isinstance(exc, InvalidImageError) else str(exc)
            skipped.append({"path": rel, "size": size, "mtime": mtime, "reason": reason})
            on_skip(str(path), reason)
            continue
        described.append(descriptors)
        new_entries.append({"path": rel, "size": size, "mtime": mtime, "shape": list(loaded.shape)})
        report.processed.append(rel)
    bar.close()
    report.skipped = skipped
    if not kept_entries and not new_entries:
        raise ReferenceIndexError(root, "no usable colour image found (nothing to index)")
    if old is None:
        pca_global = rec.fit_pca(np.stack([d.global_raw for d in described]), rec.GLOBAL_DIM)
        pca_local = rec.fit_pca(np.concatenate([d.local_raw for d in described]), rec.LOCAL_DIM)
        fitted_on = len(described)
        report.refitted = True
    else:
        pca_global, pca_local, fitted_on = old.pca_global, old.pca_local, old.pca_fitted_on
    glob = [old.global_features[kept_rows]] if old is not None else []
    loc = [old.local_features[kept_rows]] if old is not None else []
    hist = [old.histograms[kept_rows]] if old is not None else []
    if described:
        glob.append(rec.compress(np.stack([d.global_raw for d in described]), pca_global))
        loc.append(
            rec.compress(np.stack([d.local_raw for d in described]), pca_local).astype(np.float16)
        )
        hist.append(np.stack([d.histograms for d in described]).astype(np.float16))
    entries = kept_entries + new_entries
    order = np.argsort([e["path"] for e in entries], kind="stable")
    index = ReferenceIndex(
        root=root,
        entries=[entries[i] for i in order],
        global_features=np.concatenate(glob)[order].astype(np.float32),
        local_features=np.concatenate(loc)[order].astype(np.float16),
        histograms=np.concatenate(hist)[order].astype(np.float16),
        pca_global=pca_global,
        pca_local=pca_local,
        pca_fitted_on=fitted_on,
        skipped=sorted(skipped, key=lambda s: s["path"]),
        created=old.created if old is not None else "",
    )
    index.save(output)
    report.entries = len(index)
    report.pca_fitted_on = fitted_on
    return report


def recommend(
    target: Any,
    index: str | os.PathLike | ReferenceIndex,
    *,
    k: int = 5,
    top_n: int = rec.TOP_N,
    features: Callable | None = None,
) -> list[Candidate]:
    """Recommend ``k`` references for ``target`` from ``index`` (He et al. 2018, §4).

    Parameters
    ----------
    target : path, PIL image or ndarray
        The gray (or colour: only its L* is used) target image.
    index : path or ReferenceIndex
        An index file from :func:`build_index` (cached after the first load).
    k, top_n : int
        Candidates returned; candidates the global ranking keeps for Eq. 8.

    Returns
    -------
    list of Candidate
        Best first, with global, local (semantic), luminance and final (Eq. 8) scores;
        ``path`` is resolved (:meth:`ReferenceIndex.resolve`).
    """
    if not isinstance(index, ReferenceIndex):
        index = cached_index(index)
    loaded = load_image(target)
    space = LabSpace()
    if loaded.is_gray:
        lightness = space.gray_lightness(loaded.pixels)
    else:
        lightness = space.lightness(loaded.pixels)
    candidates = index.query(np.asarray(lightness, np.float32), features, k=k, top_n=top_n)
    return [Candidate(**{**c.__dict__, "path": index.resolve(c.relative_path)}) for c in candidates]
