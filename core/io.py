"""Image loading, validation and atomic writing.

Inputs are a path, a ``PIL.Image.Image`` or a numpy array, validated at this boundary: every
refusal is a :class:`core.errors.InvalidImageError` whose message names the input and the
problem. Outputs are written atomically (temporary file + rename) and never replace an
existing file (in particular an input) unless asked.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import secrets
import signal
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.compiled import compiled_kernels
from core.errors import InvalidImageError, OutputExistsError

__all__ = [
    "IMAGE_EXTENSIONS",
    "LoadedImage",
    "finish_temporary",
    "load_image",
    "open_temporary",
    "remove_live_temporaries",
    "save_image",
    "stale_temporaries",
    "to_output",
]

#: File extensions treated as images when a folder is searched.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm"}
)
_WRITABLE = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
_ACCEPTED_DTYPES = (np.uint8, np.uint16, np.float16, np.float32, np.float64)
_INT_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_PIL_FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}


@dataclass
class LoadedImage:
    """A validated input image.

    Attributes
    ----------
    pixels : ndarray, float32
        (H, W) for grayscale or (H, W, 3) for colour, sRGB-encoded, in [0, 1].
    alpha : ndarray (H, W) or None
        The alpha channel in its original dtype, re-attached on output.
    source : str
        Name used in messages: the file path, ``<PIL image>`` or ``<array>``.
    kind : str
        ``"path"``, ``"pil"`` or ``"array"`` (decides the output form).
    dtype : numpy dtype
        For arrays, the input dtype (the output uses it too).
    bit_depth : int
        8 or 16 for integer data; 32 for float arrays.
    notes : list of str
        Things worth telling the user (e.g. first frame of an animation used).
    samples8 : ndarray (H, W) uint8 or None
        The 8-bit samples of a grayscale 8-bit input (``pixels`` is them / 255): a
        per-pixel function of the gray then is a 256-entry table look-up.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None
    source: str
    kind: str
    dtype: np.dtype
    bit_depth: int
    notes: list[str] = field(default_factory=list)
    path: Path | None = None
    samples8: np.ndarray | None = None

    @property
    def is_gray(self) -> bool:
        return self.pixels.ndim == 2

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape[:2]

    def rgb(self) -> np.ndarray:
        """The image as (H, W, 3) float32 (gray repeated)."""
        return np.repeat(self.pixels[..., None], 3, axis=-1) if self.is_gray else self.pixels


def _check_size(source: str, height: int, width: int) -> None:
    if height < 1 or width < 1:
        raise InvalidImageError(source, f"image has no pixels (size {width}x{height})")
    limit = None if Image.MAX_IMAGE_PIXELS is None else int(Image.MAX_IMAGE_PIXELS)
    if limit is not None and height * width > limit:
        raise InvalidImageError(
            source,
            f"image is {width}x{height} = {height * width} pixels, over the decompression-bomb "
            f"limit of {limit} (PIL.Image.MAX_IMAGE_PIXELS); "
            "raise that limit if you trust the file",
        )


def _validate_array(array: np.ndarray, source: str) -> LoadedImage:
    if array.dtype not in _ACCEPTED_DTYPES:
        raise InvalidImageError(
            source, f"unsupported dtype {array.dtype}; expected uint8, uint16 or float in [0, 1]"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise InvalidImageError(
            source,
            f"expected (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array, got shape {array.shape}",
        )
    _check_size(source, array.shape[0], array.shape[1])
    alpha = None
    if array.ndim == 3 and array.shape[2] == 4:
        alpha = array[..., 3].copy()
        array = array[..., :3]
    samples8 = None
    if array.dtype in (np.uint8, np.uint16):
        depth = 8 * array.dtype.itemsize
        # array.astype(float32) / 255 (or 65535) in one pass, the same float32 values
        pixels = np.divide(array, np.float32((1 << depth) - 1), dtype=np.float32)
        if depth == 8 and array.ndim == 2:
            samples8 = np.ascontiguousarray(array)
    else:
        if not np.all(np.isfinite(array)):
            bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
            raise InvalidImageError(source, f"array contains {bad} NaN or infinite value(s)")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise InvalidImageError(
                source,
                f"float values must lie in [0, 1], got min {low:g} and max {high:g} "
                "(divide 8-bit data by 255)",
            )
        pixels, depth = array.astype(np.float32), 32
    if alpha is not None and alpha.dtype.kind == "f" and not np.all(np.isfinite(alpha)):
        raise InvalidImageError(source, "alpha channel contains NaN or infinite values")
    return LoadedImage(
        np.ascontiguousarray(pixels), alpha, source, "array", array.dtype, depth, samples8=samples8
    )


def _from_pil(img: Image.Image, source: str, kind: str, notes: list[str]) -> LoadedImage:
    """Read the first frame of ``img``, EXIF orientation and ICC profile applied, as an
    8- or 16-bit array checked by :func:`_validate_array`."""
    _check_size(source, img.height, img.width)
    frames = getattr(img, "n_frames", 1) or 1
    if frames > 1:
        img.seek(0)
        notes.append(f"multi-frame image ({frames} frames): only the first frame is colorized")
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # broken EXIF must not stop us; the pixels are still good
        notes.append("EXIF orientation could not be read; image used as stored")
    img = _to_srgb(img, notes)
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    mode, alpha = img.mode, None
    if mode == "F":
        data = np.asarray(img, dtype=np.float32)
    elif mode in _INT_MODES:
        data = np.asarray(img)
        if mode == "I" and data.size and (data.min() < 0 or data.max() > 65535):
            raise InvalidImageError(source, "32-bit integer image with values outside 0..65535")
        data = data.astype(np.uint16)
    elif mode in ("LA", "La"):
        data = np.asarray(img.convert("LA"))
        data, alpha = data[..., 0], data[..., 1].copy()
    else:
        target = {"1": "L", "L": "L", "RGBA": "RGBA", "RGBa": "RGBA", "PA": "RGBA"}.get(mode, "RGB")
        if target == "RGB" and mode != "RGB":  # CMYK, YCbCr, LAB, HSV ...
            notes.append(f"{mode} image converted to RGB")
        data = np.asarray(img.convert(target))
    loaded = _validate_array(data, source)
    loaded.kind, loaded.notes = kind, notes
    if alpha is not None:
        loaded.alpha = alpha
    return loaded


def _sixteen_bit_colour(path: Path, img: Image.Image) -> bool:
    """A 16-bit colour PNG or TIFF, which Pillow would cut to 8 bits (it has no 16-bit
    RGB mode): OpenCV reads those."""
    if img.mode in (*_INT_MODES, "L", "F"):
        return False
    if img.format == "PNG":  # the IHDR chunk's bit depth
        try:
            with open(path, "rb") as handle:
                header = handle.read(26)
        except OSError:
            return False
        return header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR" and header[24] == 16
    if img.format == "TIFF":
        bits = getattr(img, "tag_v2", {}).get(258)  # BitsPerSample
        bits = bits if isinstance(bits, tuple) else (bits,)
        return len(bits) >= 3 and all(b == 16 for b in bits)
    return False


def orient(data: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8; others leave ``data`` as is) to an (H, W[, C]) array,
    as :func:`PIL.ImageOps.exif_transpose` does to an image."""
    if orientation not in range(2, 9):
        return data
    if orientation >= 5:  # 5-8 are 1-4 after a transpose
        data = data.swapaxes(0, 1)
    flip = (orientation - 1) % 4  # 0: none, 1: columns, 2: both, 3: rows
    rows, cols = (-1 if flip >= 2 else 1), (-1 if flip in (1, 2) else 1)
    return np.ascontiguousarray(data[::rows, ::cols])


def _load_16bit(path: Path, source: str, img: Image.Image, notes: list[str]) -> LoadedImage:
    """A 16-bit colour file (:func:`_sixteen_bit_colour`) read by OpenCV, with the EXIF
    orientation of ``img`` (none where unreadable, as in :func:`_from_pil`)."""
    try:
        orientation = int(img.getexif().get(0x0112, 1))
    except Exception:
        orientation = 1
    data = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if data is None or data.dtype != np.uint16:
        raise InvalidImageError(source, "truncated or corrupt 16-bit image data")
    if data.ndim == 3:
        data = cv2.cvtColor(data, cv2.COLOR_BGRA2RGBA if data.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    loaded = _validate_array(orient(data, orientation), source)
    loaded.kind, loaded.notes, loaded.path = "path", notes, path
    return loaded


def _to_srgb(img: Image.Image, notes: list[str]) -> Image.Image:
    """Convert an 8-bit RGB/RGBA/CMYK image with an embedded ICC profile to sRGB; say so,
    and say when a profile cannot be applied (it is then read as sRGB)."""
    icc = img.info.get("icc_profile")
    if not icc:
        return img
    try:
        from PIL import ImageCms

        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        described = ImageCms.getProfileDescription(profile).strip() or "unnamed"
    except Exception as exc:  # noqa: BLE001 - a broken profile must not stop us
        notes.append(f"embedded ICC profile unreadable ({exc}); colours read as sRGB")
        return img
    if described.lower().startswith("srgb"):  # "sRGB IEC61966-2.1", "sRGB built-in" ...
        return img
    if img.mode not in ("RGB", "RGBA", "CMYK"):
        notes.append(f"embedded ICC profile {described!r} not applied to a {img.mode} image")
        return img
    out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
    try:
        converted = ImageCms.profileToProfile(
            img, profile, ImageCms.createProfile("sRGB"), outputMode=out_mode
        )
    except Exception as exc:  # noqa: BLE001 - littlecms refuses some profiles
        notes.append(f"embedded ICC profile {described!r} could not be applied ({exc})")
        return img
    notes.append(f"colours converted from the embedded ICC profile {described!r} to sRGB")
    return converted


def _load_path(path: Path) -> LoadedImage:
    source = str(path)
    if not path.exists():
        raise InvalidImageError(source, "file not found")
    if path.is_dir():
        raise InvalidImageError(source, "is a folder, not an image file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidImageError(source, f"cannot read file ({exc.strerror})") from None
    if size == 0:
        raise InvalidImageError(source, "empty file (0 bytes)")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                if _sixteen_bit_colour(path, img):
                    _check_size(source, img.height, img.width)
                    if img.info.get("icc_profile"):
                        notes.append("embedded ICC profile of a 16-bit image not applied")
                    return _load_16bit(path, source, img, notes)
                img.load()
                loaded = _from_pil(img, source, "path", notes)
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(source, f"refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise InvalidImageError(source, "not an image file that Pillow can read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidImageError(source, f"truncated or corrupt image data ({exc})") from None
    suffix, real = path.suffix.lower(), (img.format or "").lower()
    if real and suffix and _PIL_FORMATS.get(suffix, suffix[1:]).lower() != real:
        loaded.notes.append(f"file extension {suffix} does not match its content ({img.format})")
    loaded.path = path
    return loaded


def load_image(image: Any, *, name: str | None = None) -> LoadedImage:
    """Load and validate an image from a path, a PIL image or a numpy array.

    Parameters
    ----------
    image : str, os.PathLike, PIL.Image.Image or ndarray
        Arrays are (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) in uint8, uint16, or float in
        [0, 1]. Files may be in any mode Pillow reads (1, L, LA, P, RGB, RGBA, I;16, CMYK,
        ...); EXIF orientation is applied; multi-frame files use their first frame; 16-bit
        data stays 16-bit.
    name : str, optional
        Name to use in error messages (default: the path, ``<PIL image>`` or ``<array>``).

    Returns
    -------
    LoadedImage

    Raises
    ------
    InvalidImageError
        The input cannot be used; the message names it and says why.
    TypeError
        ``image`` is of an unsupported type.
    """
    if isinstance(image, (str, os.PathLike)):
        loaded = _load_path(Path(image))
    elif isinstance(image, Image.Image):
        source = name or "<PIL image>"
        try:
            image.load()
        except Exception as exc:
            raise InvalidImageError(source, f"cannot read PIL image data ({exc})") from None
        loaded = _from_pil(image, source, "pil", [])
    elif isinstance(image, np.ndarray):
        loaded = _validate_array(image, name or "<array>")
    else:
        raise TypeError(
            f"expected a path, PIL.Image.Image or numpy array, got {type(image).__name__}"
        )
    if name is not None:
        loaded.source = name
    return loaded


def to_output(rgb: np.ndarray, loaded: LoadedImage, alpha: np.ndarray | None = None) -> Any:
    """Convert a float RGB result to the form the input came in: arrays with the input's
    dtype and range ((H, W, 3), or (H, W, 4) when it had alpha), PIL images and paths as an
    8-bit ``PIL.Image`` in mode RGB or RGBA (Pillow has no 16-bit RGB mode: use
    :meth:`core.Colorization.save` to write 16-bit files)."""
    alpha = loaded.alpha if alpha is None else alpha
    if loaded.kind == "array":
        out = quantize(rgb, loaded.dtype)
        return out if alpha is None else np.dstack([out, alpha.astype(loaded.dtype)])
    out8 = quantize(rgb, np.uint8)
    if alpha is not None:
        a8 = _alpha_to(alpha, np.uint8)[..., None]
        return Image.fromarray(np.concatenate([out8, a8], axis=-1), "RGBA")
    return Image.fromarray(out8, "RGB")


def quantize(rgb: np.ndarray, dtype: Any) -> np.ndarray:
    """Clip float ``rgb`` to [0, 1] and convert to ``dtype`` (integers scaled to their full
    range, rounded half to even), in strips to keep temporaries small, or in one pass of the
    C kernel (:mod:`core.compiled`) for float32 to uint8/uint16."""
    dtype = np.dtype(dtype)
    out = np.empty(rgb.shape, dtype)
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(dtype)
    kernels = compiled_kernels()
    if kernels is not None and scale is not None and rgb.dtype == np.float32:
        kernels.quantize(np.ascontiguousarray(rgb), out)  # one pass, same rounding
        return out
    rows = max(1, (1 << 20) // max(1, int(np.prod(rgb.shape[1:]))))
    for top in range(0, rgb.shape[0], rows):
        part = np.clip(rgb[top : top + rows], 0.0, 1.0)
        if scale is not None:
            part *= scale
            np.rint(part, out=part)
        out[top : top + rows] = part
    return out


def _alpha_to(alpha: np.ndarray, dtype: type) -> np.ndarray:
    if alpha.dtype == dtype:
        return alpha
    value = alpha.astype(np.float64)
    if alpha.dtype.kind != "f":
        value /= np.iinfo(alpha.dtype).max
    return np.rint(np.clip(value, 0, 1) * np.iinfo(dtype).max).astype(dtype)


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (any more)
        return False


def open_temporary(folder: str | os.PathLike, *, prefix: str, suffix: str) -> tuple[int, Path]:
    """Create a new, empty file ``folder/<prefix><random><suffix>`` for an atomic write
    (``folder``: the final file's, so that :func:`os.replace` is a rename) and return a file
    descriptor open for binary writing and its path; ``OSError`` where it cannot be created.
    Unlike :func:`tempfile.mkstemp` (mode ``0o600``) it has mode ``0o666`` less the umask,
    the mode of any new file once renamed."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    for _ in range(100):
        path = Path(folder) / f"{prefix}{secrets.token_hex(6)}{suffix}"
        with _signals_held():  # created and recorded, or neither, when a signal arrives
            try:
                fd = os.open(path, flags, 0o666)
            except FileExistsError:
                continue
            _live_temporaries.add(str(path))
        return fd, path
    raise FileExistsError(errno.EEXIST, f"no free temporary file name in {folder}")


#: Temporary files of this process not yet renamed or removed (see :func:`open_temporary`).
_live_temporaries: set[str] = set()
_HELD_SIGNALS = frozenset(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Delay SIGINT / SIGTERM / SIGHUP (POSIX, main thread) until the block ends."""
    main = threading.current_thread() is threading.main_thread()
    if not (main and hasattr(signal, "pthread_sigmask")):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def finish_temporary(path: str | os.PathLike, target: str | os.PathLike | None = None) -> None:
    """Rename a file from :func:`open_temporary` to ``target``, or remove it (``None``; one
    already gone is no error); either way it is no longer one of the live temporaries."""
    with _signals_held():
        if target is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        else:
            os.replace(path, target)
        _live_temporaries.discard(str(path))


def remove_live_temporaries() -> None:
    """Remove every temporary file this process created and has not finished: what the
    SIGTERM handler of a worker stopped in the middle of a write calls before exiting."""
    for name in list(_live_temporaries):
        with contextlib.suppress(OSError):
            os.unlink(name)
        _live_temporaries.discard(name)


def stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Temporary files an atomic write of ``target`` left behind (a killed process cannot
    remove its own; the batch runner removes its dead workers'): names of the two forms
    ``.<stem>.<12 hex digits><suffix>.part`` and ``.<stem>.<12 hex digits>.part<suffix>``."""
    target = Path(target)
    stem, suffix = re.escape(target.stem), re.escape(target.suffix)
    pattern = re.compile(rf"\.{stem}\.[0-9a-f]{{12}}(?:{suffix}\.part|\.part{suffix})")
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    return [p for p in entries if pattern.fullmatch(p.name) and p.is_file()]


def save_image(
    path: str | os.PathLike,
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    overwrite: bool = False,
    protect: tuple[str | os.PathLike, ...] = (),
    quality: int = 95,
) -> Path:
    """Write float (H, W, 3) ``rgb`` in [0, 1] atomically to ``path`` (format from the
    extension: .png, .jpg, .tif, .webp, .bmp, else ``ValueError``) and return it, with the
    mode of a new file; a failure leaves no partial file. ``alpha`` (H, W) is kept by PNG,
    TIFF and WebP; ``bit_depth=16`` writes 16-bit PNG/TIFF (others 8 bits). An existing
    ``path`` raises :class:`~core.errors.OutputExistsError` unless ``overwrite``, and always
    when it is (a link to) one of the ``protect`` files (the inputs)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _WRITABLE:
        raise ValueError(
            f"{path}: cannot write {suffix or 'files without an extension'}; "
            f"use one of {', '.join(sorted(_WRITABLE))}"
        )
    if path.exists():
        if any(_same_file(p, path) for p in protect):
            raise OutputExistsError(f"{path}: is an input file; write the result elsewhere")
        if not overwrite:
            raise OutputExistsError(
                f"{path}: already exists; pass overwrite=True (--overwrite) to replace it"
            )
    rgb = np.clip(np.asarray(rgb, dtype=np.float32), 0.0, 1.0)
    sixteen = bit_depth == 16 and suffix in (".png", ".tif", ".tiff")
    dtype = np.uint16 if sixteen else np.uint8
    data = np.rint(rgb * (65535.0 if sixteen else 255.0)).astype(dtype)
    if alpha is not None and suffix in (".png", ".tif", ".tiff", ".webp"):
        data = np.concatenate([data, _alpha_to(alpha, dtype)[..., None]], axis=-1)
    rgba = data.shape[-1] == 4
    if sixteen:
        bgr = cv2.cvtColor(data, cv2.COLOR_RGBA2BGRA if rgba else cv2.COLOR_RGB2BGR)
        ok, encoded = cv2.imencode(suffix, bgr)
        if not ok:
            raise OSError(f"{path}: OpenCV could not encode the image")
        payload = encoded.tobytes()
    else:  # encoded in memory: a failure leaves nothing on disk
        fmt = _PIL_FORMATS.get(suffix, suffix[1:].upper())
        params = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
        buffer = io.BytesIO()
        Image.fromarray(data, "RGBA" if rgba else "RGB").save(buffer, format=fmt, **params)
        payload = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = open_temporary(path.parent, prefix=f".{path.stem}.", suffix=f"{suffix}.part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if not overwrite and path.exists():
            raise OutputExistsError(f"{path}: appeared while writing; not replaced")
        finish_temporary(tmp_name, path)
    except BaseException:
        finish_temporary(tmp_name)
        raise
    return path
