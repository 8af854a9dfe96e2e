"""What one ``colorize ui`` server holds: photos, predictions, results, and the work on them.

Photos are copied into the server's temporary folder (``i<id>/``) and checked with
:func:`core.io.load_image`; their previews are kept. A colorization keeps its prediction
(the :class:`core.Colorization`, needed to re-colour it with hints) and, for each sample,
a light result: the picture quantized as the download will be (8 or 16 bits), its preview
and its uncertainty map, so a 12 MP result holds about 36 MiB instead of 330 MiB. The
full-size PNG is written on the first download (``r<id>/full.png``), once.

All of it is cached in one :class:`colorize_ui.budget.MemoryBudget`, which runs the heavy
work within the page's memory and deletes the files of what it drops.
"""

from __future__ import annotations

import dataclasses
import io
import secrets
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from colorize_ui import budget as costs
from colorize_ui.budget import MemoryBudget, default_budget
from core.errors import ColorizeError

__all__ = [
    "DEFAULT_JOBS",
    "DEFAULT_MAX_MEGAPIXELS",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "MAX_IMAGES",
    "MAX_NAME_CHARS",
    "MAX_PALETTE",
    "MAX_PREDICTIONS",
    "MAX_PREVIEWS",
    "MAX_RESULTS",
    "MAX_SAMPLES",
    "MAX_SUGGESTIONS",
    "PREVIEW_SIDE",
    "ColorizeRequest",
    "Result",
    "UiError",
    "UiState",
    "Upload",
    "display_name",
]

#: Long side of the pictures shown on the page (the download is always full size).
PREVIEW_SIDE = 1600
#: Photos, results and cached predictions kept by one server (oldest dropped first), at
#: most; the memory budget may keep fewer.
MAX_IMAGES = 64
MAX_RESULTS = 64
MAX_PREDICTIONS = 8
MAX_PREVIEWS = 128
#: Most samples one request may ask for.
MAX_SAMPLES = 6
#: Most colour suggestions one click may ask for.
MAX_SUGGESTIONS = 12
#: Most colours of the page's palette (global hints).
MAX_PALETTE = 8
#: Longest file name of an upload (file systems allow 255 bytes).
MAX_NAME_CHARS = 255
#: Default most pixels of one photo (megapixels; ``colorize ui --max-megapixels``).
DEFAULT_MAX_MEGAPIXELS = 50.0
#: Default upload limit (``colorize ui --max-upload-mib``).
DEFAULT_MAX_UPLOAD_BYTES = 200 << 20
#: Default heavy jobs at once (``colorize ui --jobs``).
DEFAULT_JOBS = 2
_SAFE_SUFFIX = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_SAFE_STEM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


class UiError(Exception):
    """A request the page cannot serve; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """A photo opened on the page (its copy and preview live in ``folder``)."""

    id: str
    name: str
    folder: Path
    path: Path
    width: int
    height: int
    depth: int = 8
    preview: bytes = b""

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass
class Result:
    """A colorization shown on the page, without its prediction.

    ``picture`` is the result quantized as the download is written ((H, W, 3) uint8, or
    uint16 for 16-bit photos; the pixels of :meth:`core.Colorization.save`), ``alpha``
    the photo's alpha channel; the full-size PNG is written on the first download.
    """

    id: str
    stem: str
    folder: Path
    method: str
    seed: int | None
    picture: np.ndarray
    alpha: np.ndarray | None
    depth: int
    timings: dict[str, float]
    preview: bytes = b""
    uncertainty_png: bytes | None = None
    png: Path | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    #: The request that made it and which of its samples it is: where its prediction is
    #: found again (or predicted again) for colour suggestions.
    request: ColorizeRequest | None = None
    sample: int = 0

    @classmethod
    def of(
        cls,
        result_id: str,
        stem: str,
        folder: Path,
        colorization: Any,
        depth: int,
        request: ColorizeRequest | None = None,
        sample: int = 0,
    ) -> Result:
        """The result of ``colorization`` of a photo of ``depth`` bits per sample."""
        uncertainty = None
        if colorization.uncertainty is not None:
            uncertainty = _uncertainty_png(colorization)
        return cls(
            result_id,
            stem,
            folder,
            colorization.method,
            colorization.seed,
            colorization.to_array(np.uint16 if depth == 16 else np.uint8),
            colorization.alpha,
            depth,
            colorization.timings,
            _preview(colorization.rgb),
            uncertainty,
            request=request,
            sample=sample,
        )

    @property
    def width(self) -> int:
        return self.picture.shape[1]

    @property
    def height(self) -> int:
        return self.picture.shape[0]

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def save(self, path: Path) -> None:
        """Write the full-size PNG (:func:`core.io.save_image`, as ``colorize image``)."""
        from core.io import save_image

        scale = 65535.0 if self.depth == 16 else 255.0
        rgb = np.divide(self.picture, np.float32(scale), dtype=np.float32)
        save_image(path, rgb, alpha=self.alpha, bit_depth=self.depth, overwrite=True)


@dataclass
class ColorizeRequest:
    """A checked ``POST /api/colorize`` body.

    ``vividness`` (None: the method's default) is part of the prediction; the palette
    (global hints, with their ``strength``) and the hints re-colour it.
    """

    image: str
    method: str | None
    decoder: str | None
    seed: int | None
    samples: int
    reference: str | None
    hints: list
    vividness: float | None = None
    palette: tuple[str, ...] = ()
    strength: float = 1.0

    @property
    def key(self) -> tuple:
        return ("prediction", self.image, self.method, self.decoder, self.seed, self.reference,
                self.samples, self.vividness)  # fmt: skip


def _fraction(value: Any) -> bool:
    """Whether ``value`` is a JSON number in [0, 1]."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and 0 <= value <= 1


def _global_hints(spec: Any) -> tuple[tuple[str, ...], float]:
    """``global_hints`` of a colorize request, ``{"palette": [colours], "strength"}`` or
    null: the palette as ``#rrggbb`` strings (empty: none) and the strength."""
    from core.hints import parse_palette

    if spec is None:
        return (), 1.0
    if not isinstance(spec, dict) or set(spec) - {"palette", "strength"}:
        raise UiError(
            'global_hints must be {"palette": ["#rrggbb", ...], "strength": 0..1} or null'
        )
    colours = spec.get("palette") or []
    if not isinstance(colours, list) or len(colours) > MAX_PALETTE:
        raise UiError(f"palette must be a list of at most {MAX_PALETTE} colours")
    strength = spec.get("strength", 1.0)
    if not _fraction(strength):
        raise UiError(f"palette strength must be a number from 0 to 1, got {strength!r:.40}")
    if not colours:
        return (), 1.0
    try:
        parsed = parse_palette(colours)
    except ValueError as exc:
        raise UiError(str(exc)) from None
    hexes = tuple("#" + "".join(f"{round(v * 255):02x}" for v in c) for c, _ in parsed)
    return hexes, float(strength)


def _preview(rgb: np.ndarray) -> bytes:
    """A JPEG of ``rgb`` ((H, W) or (H, W, 3) float in [0, 1]), long side <= PREVIEW_SIDE.

    Shrunk (area average) before it is converted to 8 bits, so a 12 MP photo costs the
    preview's pixels, not another copy of the photo.
    """
    rgb = np.asarray(rgb)
    height, width = rgb.shape[:2]
    scale = PREVIEW_SIDE / max(height, width)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb.astype(np.float32, copy=False), size, interpolation=cv2.INTER_AREA)
    data = np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(data).convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def display_name(name: str) -> str:
    """The upload's own file name (no folders), refused if longer than a file name can be."""
    shown = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "upload"
    if len(shown) > MAX_NAME_CHARS:
        raise UiError(
            f"file name of {len(shown)} characters ({shown[:40]}...): longer than a file "
            f"name can be (at most {MAX_NAME_CHARS}); rename the file"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in shown):
        raise UiError(f"file name {shown!r} has control characters; rename the file")
    return shown


def _disk_name(name: str) -> str:
    """The server's copy: ``photo`` plus the upload's extension (if short and plain)."""
    suffix = Path(name).suffix.lower()[1:]
    if suffix and len(suffix) <= 5 and set(suffix) <= _SAFE_SUFFIX:
        return f"photo.{suffix}"
    return "photo"


def _stem(name: str) -> str:
    """A file-name stem for downloads: safe characters of the upload's stem, short."""
    stem = "".join(c if c in _SAFE_STEM else "_" for c in Path(name).stem).strip("._")
    return stem[:80] or "photo"


def _header_size(path: Path, name: str) -> tuple[int, int] | None:
    """(width, height) from the file's header, without decoding; None if not an image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except Image.DecompressionBombError as exc:
        raise UiError(f"{name}: refused as a decompression bomb ({exc})", 413) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return None  # core.io.load_image gives the message the CLI gives


class UiState:
    """Photos, results and cached predictions of one ``colorize ui`` server."""

    def __init__(
        self,
        *,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        max_pixels: int = int(DEFAULT_MAX_MEGAPIXELS * 1e6),
        memory_budget: int | None = None,
        jobs: int = DEFAULT_JOBS,
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="colorize-ui-"))
        self.max_upload_bytes = max_upload_bytes
        self.max_pixels = max_pixels
        self.budget = MemoryBudget(
            default_budget() if memory_budget is None else memory_budget,
            jobs=jobs,
            counts={
                "image": MAX_IMAGES,
                "result": MAX_RESULTS,
                "prediction": MAX_PREDICTIONS,
                "preview": MAX_PREVIEWS,
            },
            on_evict=self._evicted,
            # predictions can be computed again, results cannot; a result's preview outlives
            # its picture (the page still shows it); a photo holds only its preview
            evict_for_room=("prediction", "result", "preview"),
            evict_when_busy=("prediction",),  # else wait: results are what the user sees
        )

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(16)

    def close(self) -> None:
        self.budget.clear()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _evicted(self, key: Hashable, value: Any) -> None:
        """Delete a dropped photo's or result's files."""
        if isinstance(value, (Upload, Result)):
            shutil.rmtree(value.folder, ignore_errors=True)

    def readable(self, message: str) -> str:
        """Messages never show the server's temporary folder."""
        return message.replace(str(self.folder), "<page>")

    # -- photos ------------------------------------------------------------------------

    def image(self, image_id: Any) -> Upload:
        upload = self.budget.get(("image", str(image_id)))
        if upload is None:
            raise UiError(f"unknown photo {str(image_id)[:40]!r}; open the photo again", 404)
        return upload

    def new_photo(self, name: str) -> tuple[str, Path]:
        """A new id, and the path of its copy in a new folder of its own."""
        image_id = self.new_id()
        folder = self.folder / f"i{image_id}"
        folder.mkdir()
        return image_id, folder / _disk_name(name)

    async def receive(self, request: Request, name: str) -> tuple[str, Path]:
        """Stream an upload's body into a new folder; refuse it past the size limit."""
        limit = self.max_upload_bytes
        over = UiError(
            f"{name}: file is over the page's limit of {limit / (1 << 20):g} MiB "
            "(colorize ui --max-upload-mib)",
            413,
        )
        length = request.headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise UiError(f"bad Content-Length {length[:40]!r}")
            if int(length) > limit:
                raise over
        image_id, path = self.new_photo(name)
        try:
            size = 0
            with open(path, "wb") as handle:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > limit:
                        raise over
                    handle.write(chunk)
        except BaseException:
            shutil.rmtree(path.parent, ignore_errors=True)
            raise
        return image_id, path

    async def add_image(self, image_id: str, name: str, path: Path) -> Upload:
        """Check and open the photo stored at ``path`` (its folder is removed on failure)."""
        try:
            size = await run_in_threadpool(_header_size, path, name)
            pixels = size[0] * size[1] if size else 0
            if size and pixels > self.max_pixels:
                raise UiError(
                    f"{name}: image is {size[0]}x{size[1]} = {pixels / 1e6:.1f} MP, over the "
                    f"page's limit of {self.max_pixels / 1e6:g} MP per photo (colorize ui "
                    "--max-megapixels)",
                    413,
                )
            if size:
                self.budget.fits_alone(
                    pixels * costs.COLORIZE_BYTES_PER_PIXEL,
                    f"colorizing {name} ({size[0]}x{size[1]})",
                )
            cost = max(pixels, 1 << 16) * costs.DECODE_BYTES_PER_PIXEL
            async with self.budget.job(lambda _: cost, f"opening {name}") as job:
                upload = await run_in_threadpool(self._open, image_id, name, path)
                self.budget.put(("image", image_id), upload, "image", job)
        except BaseException:
            shutil.rmtree(path.parent, ignore_errors=True)
            raise
        return upload

    def _open(self, image_id: str, name: str, path: Path) -> Upload:
        from core.io import load_image

        try:
            loaded = load_image(path)
        except ColorizeError as exc:
            raise UiError(str(exc).replace(str(path), name)) from None
        except MemoryError:
            raise UiError(f"{name}: not enough memory to open it now; try again", 503) from None
        height, width = loaded.shape
        depth = 16 if loaded.bit_depth == 16 else 8
        preview = _preview(loaded.pixels)
        return Upload(image_id, name, path.parent, path, width, height, depth, preview)

    # -- colorizing --------------------------------------------------------------------

    def parse(self, payload: Any) -> ColorizeRequest:
        """Check a ``POST /api/colorize`` body (types and ranges; the hints against the photo)."""
        from core.hints import check_hints, parse_hints

        if not isinstance(payload, dict):
            raise UiError(f"expected a JSON object, got {type(payload).__name__}")

        def text(key: str) -> str | None:
            value = payload.get(key)
            if value in ("", None):
                return None
            if not isinstance(value, str) or len(value) > 200:
                raise UiError(f"{key} must be a name (a short string), got {type(value).__name__}")
            return value

        image = text("image")
        if image is None:
            raise UiError("image is missing: open a photo first")
        upload = self.image(image)
        seed = payload.get("seed")
        if seed in ("", None):
            seed = None
        elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise UiError(f"seed must be a whole number from 0 to 2^63-1, got {seed!r:.40}")
        samples = payload.get("samples") or 1
        if (
            isinstance(samples, bool)
            or not isinstance(samples, int)
            or not 1 <= samples <= MAX_SAMPLES
        ):
            raise UiError(f"samples must be a whole number from 1 to {MAX_SAMPLES}")
        reference = text("reference")
        if reference is not None:
            self.image(reference)
        hints = parse_hints(payload.get("hints") or [], source="hints")
        check_hints(hints, (upload.height, upload.width), source="hints", image=upload.name)
        vividness = payload.get("vividness")
        if vividness is not None and not _fraction(vividness):
            raise UiError(
                "vividness must be a number from 0 (muted) to 1 (most vivid; 0.5: the "
                f"method's default), got {vividness!r:.40}"
            )
        palette, strength = _global_hints(payload.get("global_hints"))
        return ColorizeRequest(
            image, text("method"), text("decoder"), seed, samples, reference, hints,
            None if vividness is None else float(vividness), palette, strength,
        )  # fmt: skip

    @staticmethod
    def _job_keys(request: ColorizeRequest) -> list[Hashable]:
        """The cached values a job on ``request``'s prediction uses: the photo, the
        prediction (None until predicted) and the reference photo."""
        keys: list[Hashable] = [("image", request.image), request.key]
        if request.reference is not None:
            keys.append(("image", request.reference))
        return keys

    @staticmethod
    def _predicting_cost(request: ColorizeRequest, values: list[Any]) -> tuple[int, int]:
        """Bytes of predicting ``request`` (0 when its prediction is cached) and of keeping it."""
        upload, bases = values[0], values[1]
        if upload is None or bases is not None:
            return 0, 0
        pixels, samples = upload.pixels, request.samples
        predicting = pixels * costs.COLORIZE_BYTES_PER_PIXEL
        predicting += (samples - 1) * pixels * costs.SAMPLE_BYTES_PER_PIXEL
        if request.reference is not None and values[2] is not None:
            predicting += values[2].pixels * costs.REFERENCE_BYTES_PER_PIXEL
        return predicting, samples * pixels * costs.PREDICTION_BYTES_PER_PIXEL

    @staticmethod
    def _job_values(request: ColorizeRequest, job: Any, name: str) -> tuple[Upload, Any, Any]:
        """The photo, cached prediction (or None) and reference photo a job was given."""
        upload, bases = job.values[0], job.values[1]
        reference = job.values[2] if request.reference is not None else None
        if upload is None:
            raise UiError(f"photo {name!r} was dropped meanwhile; open it again", 404)
        if request.reference is not None and reference is None:
            raise UiError("the reference photo was dropped meanwhile; open it again", 404)
        return upload, bases, reference

    async def colorize(self, request: ColorizeRequest) -> dict[str, Any]:
        """Run one checked colorize request (a heavy job within the memory budget)."""

        def cost(values: list[Any]) -> int:
            if values[0] is None:
                return 0
            pixels, samples = values[0].pixels, request.samples
            predicting, kept = self._predicting_cost(request, values)
            per_pixel = costs.HINTS_BYTES_PER_PIXEL if request.hints or request.palette else 0
            if request.hints and request.palette:
                per_pixel += costs.GLOBAL_HINTS_BYTES_PER_PIXEL
            hinting = kept + samples * pixels * per_pixel if per_pixel else 0
            return max(predicting, hinting) + pixels  # and the previews

        name = self.image(request.image).name
        async with self.budget.job(cost, f"colorizing {name}", self._job_keys(request)) as job:
            upload, bases, reference = self._job_values(request, job, name)
            return await run_in_threadpool(self._colorize, request, job, upload, bases, reference)

    def _predictions(
        self, request: ColorizeRequest, job: Any, upload: Upload, bases: Any, reference: Any
    ) -> list[Any]:
        """``request``'s predictions (one :class:`core.Colorization` per sample, without
        hints): the cached ones, or predicted now and cached."""
        from core import api

        if bases is not None:
            return bases
        reference_path = reference.path if reference is not None else None
        if request.samples == 1:
            bases = [
                api.colorize_result(
                    upload.path,
                    request.method,
                    reference=reference_path,
                    seed=request.seed,
                    decoder=request.decoder,
                    vividness=request.vividness,
                )
            ]
        else:
            bases = api.sample_results(
                upload.path,
                request.method,
                request.samples,
                seed=0 if request.seed is None else request.seed,
                reference=reference_path,
                vividness=request.vividness,
            )
        self.budget.put(request.key, bases, "prediction", job)
        return bases

    @staticmethod
    def _core_error(exc: ColorizeError, upload: Upload, reference: Any) -> UiError:
        """A core error as the page shows it: the photos by their names, not their copies."""
        message = str(exc).replace(str(upload.path), upload.name)
        if reference is not None:
            message = message.replace(str(reference.path), reference.name)
        return UiError(message)

    def _colorize(
        self, request: ColorizeRequest, job: Any, upload: Upload, bases: Any, reference: Any
    ) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            bases = self._predictions(request, job, upload, bases, reference)
            finals = [_recoloured(base, request) for base in bases]
        except ColorizeError as exc:
            raise self._core_error(exc, upload, reference) from None
        except MemoryError:
            raise UiError(
                f"{upload.name}: not enough memory to colorize it now; try again", 503
            ) from None
        stored = []
        plain = dataclasses.replace(request, hints=[], palette=(), strength=1.0)
        for number, colorization in enumerate(finals):
            result_id = self.new_id()
            stem = f"{_stem(upload.name)}_{colorization.method}"
            if request.samples > 1:
                stem += f"_sample{number}"
            folder = self.folder / f"r{result_id}"
            entry = Result.of(
                result_id, stem, folder, colorization, upload.depth, request=plain, sample=number
            )
            self.budget.put(("result", result_id), entry, "result", job)
            self.budget.put(("preview", result_id), entry.preview, "preview", job)
            stored.append(entry)
        seconds = time.perf_counter() - started
        return {
            "results": [
                {
                    "id": entry.id,
                    "method": entry.method,
                    "seed": entry.seed,
                    "width": entry.width,
                    "height": entry.height,
                    "uncertainty": entry.uncertainty_png is not None,
                    "download": f"{entry.stem}.png",
                    "timings": entry.timings,
                }
                for entry in stored
            ],
            "hints": len(request.hints),
            "seconds": seconds,
        }

    # -- suggestions -------------------------------------------------------------------

    @staticmethod
    def parse_suggest(payload: Any) -> tuple[float, float, int]:
        """Check a ``POST /api/results/{id}/suggest`` body: ``{"x", "y", "k"}``."""
        if not isinstance(payload, dict):
            raise UiError(f"expected a JSON object, got {type(payload).__name__}")
        point = []
        for name in ("x", "y"):
            value = payload.get(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UiError(f"{name} must be a number of photo pixels, got {value!r:.40}")
            point.append(value)
        k = payload.get("k", 6)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_SUGGESTIONS:
            raise UiError(f"k must be a whole number from 1 to {MAX_SUGGESTIONS}, got {k!r:.40}")
        return point[0], point[1], k

    async def suggest(self, result_id: str, x: float, y: float, k: int) -> dict[str, Any]:
        """The ``k`` colours the result's method finds most likely at photo pixel (x, y).

        From the result's prediction (:meth:`core.Colorization.suggest`; its hints do not
        matter), predicted again first if the cache has dropped it.
        """
        result = self.result(result_id)
        request = result.request
        if request is None:
            raise UiError(f"result {result_id[:40]!r} has no prediction to ask; colorize again")
        name = self.image(request.image).name

        def cost(values: list[Any]) -> int:
            return sum(self._predicting_cost(request, values)) + costs.SUGGEST_BYTES

        async with self.budget.job(cost, "suggesting colours", self._job_keys(request)) as job:
            upload, bases, reference = self._job_values(request, job, name)
            return await run_in_threadpool(
                self._suggest, result, job, upload, bases, reference, x, y, k
            )

    def _suggest(
        self,
        result: Result,
        job: Any,
        upload: Upload,
        bases: Any,
        reference: Any,
        x: float,
        y: float,
        k: int,
    ) -> dict[str, Any]:
        from core.plugins import get_registry

        assert result.request is not None
        try:
            base = self._predictions(result.request, job, upload, bases, reference)[result.sample]
            found = base.suggest(x, y, k)
        except ColorizeError as exc:
            raise self._core_error(exc, upload, reference) from None
        except ValueError as exc:  # a point outside the photo
            raise UiError(str(exc)) from None
        except MemoryError:
            raise UiError("not enough memory to suggest colours now; try again", 503) from None
        if base.distributions:
            source = "distribution"
        else:
            caps = get_registry().get("method", base.method).capabilities
            source = "samples" if caps.diverse and caps.automatic else "estimate"
        return {
            "x": x,
            "y": y,
            "method": base.method,
            "source": source,
            "suggestions": [s.to_dict() for s in found],
        }

    # -- results -----------------------------------------------------------------------

    def result(self, result_id: str) -> Result:
        result = self.budget.get(("result", result_id))
        if result is None:
            raise UiError(f"unknown result {result_id[:40]!r}; colorize again", 404)
        return result

    async def full_png(self, result_id: str) -> tuple[Result, BinaryIO]:
        """The result's full-size PNG, opened (written first if it is not yet)."""
        result = self.result(result_id)
        if result.png is None:

            def cost(values: list[Any]) -> int:
                found = values[0]
                if found is None or found.png is not None:
                    return 0
                return found.pixels * costs.SAVE_BYTES_PER_PIXEL

            async with self.budget.job(
                cost, f"writing {result.stem}.png", [("result", result_id)]
            ) as job:
                if job.values[0] is None:
                    raise UiError(f"result {result_id[:40]!r} was dropped; colorize again", 404)
                await run_in_threadpool(self._write_png, result)
        try:
            return result, open(result.png, "rb")  # noqa: SIM115 (closed by the stream)
        except FileNotFoundError:
            raise UiError(f"result {result_id[:40]!r} was dropped; colorize again", 404) from None

    @staticmethod
    def _write_png(result: Result) -> None:
        with result.lock:  # concurrent downloads: one writes, the others wait for it
            if result.png is not None:
                return
            result.folder.mkdir(exist_ok=True)
            target = result.folder / "full.png"
            try:
                result.save(target)
            except MemoryError:
                raise UiError("not enough memory to write the PNG now; try again", 503) from None
            result.png = target

    def preview(self, result_id: str) -> bytes:
        """A result's preview (kept longer than the result: small, and on the page)."""
        preview = self.budget.get(("preview", result_id))
        if preview is None:
            raise UiError(f"unknown result {result_id[:40]!r}; colorize again", 404)
        return preview

    def uncertainty_png(self, result_id: str) -> bytes:
        result = self.result(result_id)
        if result.uncertainty_png is None:
            raise UiError(f"method {result.method!r} has no uncertainty map")
        return result.uncertainty_png


def _recoloured(base: Any, request: ColorizeRequest) -> Any:
    """A prediction with the request's palette (global hints), then its hints, on top."""
    if request.palette:
        base = base.with_global_hints(palette=list(request.palette), strength=request.strength)
    return base.with_hints(request.hints) if request.hints else base


def _uncertainty_png(colorization: Any) -> bytes:
    """The uncertainty map as a small PNG (bright: uncertain), long side <= PREVIEW_SIDE."""
    u = colorization.uncertainty_image()
    height, width = u.shape
    scale = PREVIEW_SIDE / max(height, width)
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        u = cv2.resize(u, size, interpolation=cv2.INTER_AREA)
    image = Image.fromarray(np.clip(u * 255.0 + 0.5, 0, 255).astype(np.uint8))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
