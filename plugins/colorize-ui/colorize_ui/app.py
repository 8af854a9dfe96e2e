"""The Starlette application behind ``colorize ui``: one static page and a JSON API.

Endpoints (all on one local server; nothing is fetched from elsewhere):

``GET /``
    The page (``static/index.html``, with ``app.js`` and ``style.css``).
``GET /api/config``
    Installed methods (capabilities, decoders), the default method, whether the bundled
    example photo is there.
``POST /api/images?name=FILE``
    The photo's bytes as the request body. Checked at once with :func:`core.io.load_image`;
    a bad file is refused with the message ``colorize image`` gives for it (naming the
    file), as ``{"error": ...}`` with status 400.
``POST /api/example``
    Opens the bundled example photo (``core/data/detroit_ca1915.jpg``).
``GET /api/images/{id}/preview.jpg``
    The photo as shown on the page (long side at most :data:`PREVIEW_SIDE`).
``POST /api/colorize``
    ``{"image", "method", "decoder", "seed", "reference", "samples", "hints"}``; returns
    one result per sample. Predictions are cached per (photo, method, decoder, seed,
    reference, samples), so a change of hints only re-runs the hint propagation and the
    recombination (:meth:`core.Colorization.with_hints`).
``GET /api/results/{id}/preview.jpg``, ``/uncertainty.png``, ``/full.png``
    The result as shown, its uncertainty map, and the full-resolution PNG (what
    ``colorize image`` writes; ``Content-Disposition: attachment``).

The colorizations run one at a time on a worker thread (bounded memory); the caches keep
the last few photos and results (:data:`MAX_IMAGES`, :data:`MAX_RESULTS`,
:data:`MAX_PREDICTIONS`).
"""

from __future__ import annotations

import io
import itertools
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from core.errors import ColorizeError

__all__ = ["MAX_IMAGES", "MAX_PREDICTIONS", "MAX_RESULTS", "PREVIEW_SIDE", "create_app"]

STATIC = Path(__file__).resolve().parent / "static"
#: Long side of the pictures shown on the page (the download is always full size).
PREVIEW_SIDE = 1600
#: Photos, results and cached predictions kept by one server (oldest dropped first).
MAX_IMAGES = 16
MAX_RESULTS = 32
MAX_PREDICTIONS = 4
#: Most samples one request may ask for.
MAX_SAMPLES = 6
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class UiError(Exception):
    """A request the page cannot serve; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Upload:
    """A photo opened on the page."""

    id: str
    name: str
    path: Path
    width: int
    height: int


@dataclass
class Result:
    """A colorization shown on the page."""

    id: str
    colorization: Any
    stem: str


def _bounded_put(cache: OrderedDict, key: Any, value: Any, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


def _preview(rgb: np.ndarray) -> bytes:
    """A JPEG of ``rgb`` ((H, W) or (H, W, 3) float in [0, 1]), long side <= PREVIEW_SIDE."""
    data = np.clip(np.asarray(rgb, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    image = Image.fromarray(data)
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class UiState:
    """Photos, results and cached predictions of one ``colorize ui`` server."""

    def __init__(self, max_upload_bytes: int) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="colorize-ui-"))
        self.max_upload_bytes = max_upload_bytes
        self.images: OrderedDict[str, Upload] = OrderedDict()
        self.results: OrderedDict[str, Result] = OrderedDict()
        self.predictions: OrderedDict[tuple, list] = OrderedDict()
        self.work = threading.Lock()  # one colorization at a time
        self.state = threading.Lock()  # the caches
        self._ids = itertools.count(1)

    def new_id(self) -> str:
        return f"{next(self._ids):x}"

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- messages ----------------------------------------------------------------------

    def _readable(self, message: str) -> str:
        """Name uploads by their own file names in messages (not the server's copies)."""
        with self.state:
            uploads = list(self.images.values())
        for upload in uploads:
            message = message.replace(str(upload.path), upload.name)
        return message.replace(str(self.folder) + os.sep, "")

    # -- photos ------------------------------------------------------------------------

    def add_image(self, name: str, data: bytes | None = None, source: Path | None = None) -> Upload:
        """Store and check a photo (``data``, or a copy of the file ``source``)."""
        from core.io import load_image

        image_id = self.new_id()
        safe = _SAFE.sub("_", Path(name).name).strip("._") or "upload"
        folder = self.folder / image_id
        folder.mkdir()
        path = folder / safe
        if source is not None:
            shutil.copyfile(source, path)
        else:
            path.write_bytes(data or b"")
        upload = Upload(image_id, Path(name).name or safe, path, 0, 0)
        try:
            loaded = load_image(path)
        except ColorizeError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise UiError(str(exc).replace(str(path), upload.name)) from None
        upload.height, upload.width = loaded.shape
        preview = _preview(loaded.pixels)
        (folder / "preview.jpg").write_bytes(preview)
        with self.state:
            _bounded_put(self.images, image_id, upload, MAX_IMAGES)
        return upload

    def image(self, image_id: Any) -> Upload:
        with self.state:
            upload = self.images.get(str(image_id))
        if upload is None:
            raise UiError(f"unknown photo {image_id!r}; open the photo again", 404)
        return upload

    def result(self, result_id: str) -> Result:
        with self.state:
            result = self.results.get(result_id)
        if result is None:
            raise UiError(f"unknown result {result_id!r}; colorize again", 404)
        return result

    # -- colorizing --------------------------------------------------------------------

    def colorize(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run one ``POST /api/colorize`` request (on a worker thread)."""
        from core import api
        from core.hints import check_hints, parse_hints

        if not isinstance(request, dict):
            raise UiError("expected a JSON object")
        upload = self.image(request.get("image"))
        method = request.get("method") or None
        decoder = request.get("decoder") or None
        seed = request.get("seed")
        if seed in ("", None):
            seed = None
        elif isinstance(seed, bool) or not isinstance(seed, int):
            raise UiError(f"seed must be a whole number, got {seed!r}")
        samples = request.get("samples") or 1
        if (
            isinstance(samples, bool)
            or not isinstance(samples, int)
            or not (1 <= samples <= MAX_SAMPLES)
        ):
            raise UiError(f"samples must be a whole number from 1 to {MAX_SAMPLES}")
        reference = request.get("reference") or None
        reference_path = self.image(reference).path if reference is not None else None
        hints = parse_hints(request.get("hints") or [], source="hints")
        check_hints(hints, (upload.height, upload.width), source="hints", image=upload.name)
        key = (upload.id, method, decoder, seed, reference, samples)
        started = time.perf_counter()
        with self.work:
            with self.state:
                bases = self.predictions.get(key)
            if bases is None:
                if samples == 1:
                    bases = [
                        api.colorize_result(
                            upload.path,
                            method,
                            reference=reference_path,
                            seed=seed,
                            decoder=decoder,
                        )
                    ]
                else:
                    bases = api.sample_results(
                        upload.path,
                        method,
                        samples,
                        seed=0 if seed is None else seed,
                        reference=reference_path,
                    )
                with self.state:
                    _bounded_put(self.predictions, key, bases, MAX_PREDICTIONS)
            finals = [base.with_hints(hints) if hints else base for base in bases]
            stored = []
            for result in finals:
                result_id = self.new_id()
                stem = f"{Path(upload.name).stem}_{result.method}"
                if samples > 1:
                    stem += f"_sample{len(stored)}"
                entry = Result(result_id, result, stem)
                (self.folder / f"r{result_id}").mkdir()
                (self.folder / f"r{result_id}" / "preview.jpg").write_bytes(_preview(result.rgb))
                stored.append(entry)
            with self.state:
                for entry in stored:
                    _bounded_put(self.results, entry.id, entry, MAX_RESULTS)
                live = set(self.results)
            for folder in self.folder.glob("r*"):
                if folder.name[1:] not in live:
                    shutil.rmtree(folder, ignore_errors=True)
        seconds = time.perf_counter() - started
        return {
            "results": [
                {
                    "id": entry.id,
                    "method": entry.colorization.method,
                    "seed": entry.colorization.seed,
                    "width": entry.colorization.size[0],
                    "height": entry.colorization.size[1],
                    "uncertainty": entry.colorization.uncertainty is not None,
                    "download": f"{entry.stem}.png",
                    "timings": entry.colorization.timings,
                }
                for entry in stored
            ],
            "hints": len(hints),
            "seconds": seconds,
        }


def create_app(*, max_upload_bytes: int = 200 << 20) -> Starlette:
    """The ``colorize ui`` application (its state is ``app.state.ui``, a :class:`UiState`)."""
    ui = UiState(max_upload_bytes)

    def fail(exc: Exception) -> JSONResponse:
        status = exc.status if isinstance(exc, UiError) else 400
        return JSONResponse({"error": ui._readable(str(exc))}, status_code=status)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def config(request: Request) -> Response:
        from core import api
        from core.cli import DEMO_IMAGE
        from core.plugins import get_registry

        registry = get_registry()
        try:
            default = api.default_method()
        except ColorizeError:
            default = None
        methods = [
            {
                "name": m.name,
                "description": m.description,
                "capabilities": m.capabilities.names(),
                "decoders": list(m.decoders),
                "default_decoder": registry.get("method", m.name).default_decoder,
            }
            for m in api.methods()
        ]
        return JSONResponse(
            {
                "default": default,
                "methods": methods,
                "example": DEMO_IMAGE.name if DEMO_IMAGE.is_file() else None,
                "max_samples": MAX_SAMPLES,
            }
        )

    async def upload(request: Request) -> Response:
        name = request.query_params.get("name") or "upload"
        size = int(request.headers.get("content-length") or 0)
        if size > ui.max_upload_bytes:
            return fail(UiError(f"{Path(name).name}: file is over the page's limit", 413))
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > ui.max_upload_bytes:
                return fail(UiError(f"{Path(name).name}: file is over the page's limit", 413))
        try:
            image = await run_in_threadpool(ui.add_image, name, bytes(body))
        except (UiError, ColorizeError) as exc:
            return fail(exc)
        return JSONResponse(_image_json(image))

    async def example(request: Request) -> Response:
        from core.cli import DEMO_IMAGE

        if not DEMO_IMAGE.is_file():
            return fail(UiError("the bundled example photo is not installed here", 404))
        try:
            image = await run_in_threadpool(ui.add_image, DEMO_IMAGE.name, None, DEMO_IMAGE)
        except (UiError, ColorizeError) as exc:
            return fail(exc)
        return JSONResponse(_image_json(image))

    async def image_preview(request: Request) -> Response:
        try:
            image = ui.image(request.path_params["id"])
        except UiError as exc:
            return fail(exc)
        return FileResponse(image.path.parent / "preview.jpg", media_type="image/jpeg")

    async def colorize(request: Request) -> Response:
        try:
            payload = await request.json()
        except ValueError:
            return fail(UiError("expected a JSON request body"))
        try:
            reply = await run_in_threadpool(ui.colorize, payload)
        except (UiError, ColorizeError, TypeError, ValueError) as exc:
            return fail(exc)
        return JSONResponse(reply)

    async def result_file(request: Request) -> Response:
        try:
            result = ui.result(request.path_params["id"])
        except UiError as exc:
            return fail(exc)
        kind = request.path_params["kind"]
        folder = ui.folder / f"r{result.id}"
        if kind == "preview.jpg":
            return FileResponse(folder / "preview.jpg", media_type="image/jpeg")
        if kind == "uncertainty.png":
            colorization = result.colorization
            if colorization.uncertainty is None:
                return fail(UiError(f"method {colorization.method!r} has no uncertainty map"))
            return Response(
                await run_in_threadpool(_uncertainty_png, colorization), media_type="image/png"
            )
        if kind == "full.png":
            target = folder / f"{result.stem}.png"
            if not target.exists():
                await run_in_threadpool(result.colorization.save, target)
            return FileResponse(target, media_type="image/png", filename=target.name)
        return fail(UiError(f"unknown result file {kind!r}", 404))

    routes = [
        Route("/", page),
        Route("/api/config", config),
        Route("/api/images", upload, methods=["POST"]),
        Route("/api/example", example, methods=["POST"]),
        Route("/api/images/{id}/preview.jpg", image_preview),
        Route("/api/colorize", colorize, methods=["POST"]),
        Route("/api/results/{id}/{kind}", result_file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.ui = ui
    return app


def _image_json(image: Upload) -> dict[str, Any]:
    return {"id": image.id, "name": image.name, "width": image.width, "height": image.height}


def _uncertainty_png(colorization: Any) -> bytes:
    """The uncertainty map as a small PNG (bright: uncertain), long side <= PREVIEW_SIDE."""
    u = colorization.uncertainty_image()
    image = Image.fromarray(np.clip(u * 255.0 + 0.5, 0, 255).astype(np.uint8))
    image.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
