"""The Starlette application behind ``colorize ui``: one static page and a JSON API.

Endpoints (all on one local server; nothing is fetched from elsewhere):

``GET /``
    The page (``static/index.html``, with ``app.js`` and ``style.css``).
``GET /api/config``
    Installed methods (capabilities, decoders with their names on the page, when to pick
    each, and the "which method" note: :mod:`colorize_ui.wording`), the default method,
    whether the bundled example photo is there, and the page's limits.
``POST /api/images?name=FILE``
    The photo's bytes as the request body (at most ``max_upload_bytes``, streamed to the
    page's temporary folder). Its size is read from the file's header first: more than
    ``max_pixels`` pixels, or more than the memory budget can colorize, is refused with
    413 before anything is decoded. Then it is checked with :func:`core.io.load_image`;
    a bad file is refused with the message ``colorize image`` gives for it (naming the
    file), as ``{"error": ...}`` with status 400.
``POST /api/example``
    Opens the bundled example photo (``core/data/detroit_ca1915.jpg``).
``GET /api/images/{id}/preview.jpg``
    The photo as shown on the page (long side at most :data:`PREVIEW_SIDE`).
``POST /api/colorize``
    ``{"image", "method", "decoder", "seed", "reference", "samples", "vividness",
    "global_hints", "hints"}`` (a JSON body of at most :data:`MAX_JSON_BYTES`;
    ``vividness`` in [0, 1] or null for the method's default, ``global_hints`` null or
    ``{"palette": ["#rrggbb", ...], "strength": 0..1}``); returns one result per sample.
    Predictions are cached per (photo, method, decoder, seed, reference, samples,
    vividness), so a change of palette or hints only re-runs the global hints
    (:meth:`core.Colorization.with_global_hints`), the hint propagation and the
    recombination (:meth:`core.Colorization.with_hints`).
``GET /api/results/{id}/preview.jpg``, ``/uncertainty.png``, ``/full.png``
    The result as shown, its uncertainty map, and the full-resolution PNG (what
    ``colorize image`` writes; ``Content-Disposition: attachment``), written once.
``POST /api/results/{id}/suggest``
    ``{"x", "y", "k"}`` (photo pixels; ``k`` at most :data:`colorize_ui.state.MAX_SUGGESTIONS`,
    default 6): the ``k`` colours the result's method finds most likely there
    (:meth:`core.Colorization.suggest`), most likely first, as ``{"suggestions": [{"color",
    "lab", "probability"}], "source"}``; ``source`` says where they come from
    (``distribution``, ``samples`` or ``estimate``). A heavy job like ``/api/colorize``:
    a sampling method draws 8 colorizations, and a dropped prediction is predicted again.

Every error is ``{"error": message}`` with a 4xx status (5xx only for a busy or broken
server), in the page's words where the core's message is written for Python callers
(:func:`colorize_ui.wording.user_message`). Ids are random (:func:`secrets.token_urlsafe`),
and :class:`colorize_ui.guard.HostGuard` answers only requests addressed to this server by
its own page.

Memory: decoding, colorizing and writing PNGs run on worker threads, at most ``jobs`` at
once, and photos, predictions and results are cached, all within one byte budget for the
whole process (:class:`colorize_ui.budget.MemoryBudget`); what is dropped from the caches
is deleted from the temporary folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from colorize_ui.budget import BusyError, OverBudgetError
from colorize_ui.guard import HostGuard, HostPolicy
from colorize_ui.state import (
    DEFAULT_JOBS,
    DEFAULT_MAX_MEGAPIXELS,
    DEFAULT_MAX_UPLOAD_BYTES,
    MAX_PALETTE,
    MAX_SAMPLES,
    MAX_SUGGESTIONS,
    UiError,
    UiState,
    Upload,
    display_name,
)
from colorize_ui.wording import decoder_label, method_advice, user_message, which_method
from core.errors import ColorizeError

__all__ = ["MAX_JSON_BYTES", "create_app"]

STATIC = Path(__file__).resolve().parent / "static"
#: Largest ``/api/colorize`` body (a few thousand hints fit).
MAX_JSON_BYTES = 256 << 10


async def _read_json(request: Request) -> Any:
    """The request's JSON body, at most :data:`MAX_JSON_BYTES`."""
    over = UiError(f"request body over {MAX_JSON_BYTES >> 10} KiB", 413)
    length = request.headers.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise UiError(f"bad Content-Length {length[:40]!r}")
        if int(length) > MAX_JSON_BYTES:
            raise over
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise over
    try:
        return json.loads(body)
    except RecursionError:
        raise UiError("request body is JSON nested too deeply") from None
    except ValueError:  # also UnicodeDecodeError
        raise UiError("expected a JSON request body") from None


def _file_chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(1 << 20):
            yield chunk


def create_app(
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    allow_hosts: tuple[str, ...] = (),
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    max_pixels: int = int(DEFAULT_MAX_MEGAPIXELS * 1e6),
    memory_budget: int | None = None,
    jobs: int = DEFAULT_JOBS,
) -> Starlette:
    """The ``colorize ui`` application (its state is ``app.state.ui``, a :class:`UiState`).

    Parameters
    ----------
    host, port : str, int
        The address the server is bound to: requests naming another ``Host`` are refused
        (:class:`colorize_ui.guard.HostPolicy`). ``allow_hosts`` adds names.
    max_upload_bytes : int
        Largest photo file accepted.
    max_pixels : int
        Most pixels of one photo (width x height).
    memory_budget : int, optional
        Bytes the whole process may hold (default :func:`colorize_ui.budget.default_budget`:
        a quarter of the available memory, at least 1 GiB).
    jobs : int
        Heavy jobs (decoding, colorizing, writing PNGs) running at once.
    """
    ui = UiState(
        max_upload_bytes=max_upload_bytes,
        max_pixels=max_pixels,
        memory_budget=memory_budget,
        jobs=jobs,
    )
    handled = (UiError, ColorizeError, OverBudgetError, BusyError)

    def fail(exc: Exception) -> JSONResponse:
        status = getattr(exc, "status", 400)
        return JSONResponse({"error": user_message(ui.readable(str(exc)))}, status_code=status)

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
        methods = []
        for m in api.methods():
            default_decoder = registry.get("method", m.name).default_decoder
            names = [*m.decoders]
            if default_decoder and default_decoder not in names:
                names.insert(0, default_decoder)
            methods.append(
                {
                    "name": m.name,
                    "description": m.description,
                    "capabilities": m.capabilities.names(),
                    "decoders": list(m.decoders),
                    "default_decoder": default_decoder,
                    "decoder_labels": {name: decoder_label(name) for name in names},
                    "advice": method_advice(m.name),
                    "vividness": m.vividness,
                }
            )
        return JSONResponse(
            {
                "default": default,
                "methods": methods,
                "which_method": which_method([m["name"] for m in methods]),
                "example": DEMO_IMAGE.name if DEMO_IMAGE.is_file() else None,
                "max_samples": MAX_SAMPLES,
                "max_suggestions": MAX_SUGGESTIONS,
                "max_palette": MAX_PALETTE,
                "max_upload_bytes": ui.max_upload_bytes,
                "max_pixels": ui.max_pixels,
                "memory_budget": ui.budget.limit,
            }
        )

    async def upload(request: Request) -> Response:
        try:
            name = display_name(request.query_params.get("name") or "upload")
            image_id, path = await ui.receive(request, name)
            image = await ui.add_image(image_id, name, path)
        except handled as exc:
            return fail(exc)
        except ClientDisconnect:
            return fail(UiError("the upload was interrupted"))
        return JSONResponse(_image_json(image))

    async def example(request: Request) -> Response:
        from core.cli import DEMO_IMAGE

        if not DEMO_IMAGE.is_file():
            return fail(UiError("the bundled example photo is not installed here", 404))
        image_id, path = ui.new_photo(DEMO_IMAGE.name)
        try:
            await run_in_threadpool(shutil.copyfile, DEMO_IMAGE, path)
        except OSError as exc:
            shutil.rmtree(path.parent, ignore_errors=True)
            return fail(UiError(f"cannot copy the example photo: {exc.strerror or exc}", 500))
        try:
            image = await ui.add_image(image_id, DEMO_IMAGE.name, path)
        except handled as exc:
            return fail(exc)
        return JSONResponse(_image_json(image))

    async def image_preview(request: Request) -> Response:
        try:
            image = ui.image(request.path_params["id"])
        except UiError as exc:
            return fail(exc)
        return Response(image.preview, media_type="image/jpeg")

    async def colorize(request: Request) -> Response:
        try:
            payload = await _read_json(request)
            reply = await ui.colorize(ui.parse(payload))
        except handled as exc:
            return fail(exc)
        except ClientDisconnect:
            return fail(UiError("the request was interrupted"))
        return JSONResponse(reply)

    async def suggest(request: Request) -> Response:
        try:
            x, y, k = ui.parse_suggest(await _read_json(request))
            reply = await ui.suggest(request.path_params["id"], x, y, k)
        except handled as exc:
            return fail(exc)
        except ClientDisconnect:
            return fail(UiError("the request was interrupted"))
        return JSONResponse(reply)

    async def result_file(request: Request) -> Response:
        result_id, kind = request.path_params["id"], request.path_params["kind"]
        try:
            if kind == "preview.jpg":
                return Response(ui.preview(result_id), media_type="image/jpeg")
            if kind == "uncertainty.png":
                return Response(ui.uncertainty_png(result_id), media_type="image/png")
            if kind == "full.png":
                result, handle = await ui.full_png(result_id)
                headers = {
                    "Content-Disposition": f'attachment; filename="{result.stem}.png"',
                    "Content-Length": str(os.fstat(handle.fileno()).st_size),
                }
                return StreamingResponse(
                    _file_chunks(handle), media_type="image/png", headers=headers
                )
            raise UiError(f"unknown result file {kind[:40]!r}", 404)
        except handled as exc:
            return fail(exc)

    async def crashed(request: Request, exc: Exception) -> Response:
        message = f"internal error: {type(exc).__name__}: {exc}"
        return JSONResponse({"error": ui.readable(message)}, status_code=500)

    routes = [
        Route("/", page),
        Route("/api/config", config),
        Route("/api/images", upload, methods=["POST"]),
        Route("/api/example", example, methods=["POST"]),
        Route("/api/images/{id}/preview.jpg", image_preview),
        Route("/api/colorize", colorize, methods=["POST"]),
        Route("/api/results/{id}/suggest", suggest, methods=["POST"]),
        Route("/api/results/{id}/{kind}", result_file),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    policy = HostPolicy.for_bind(host, port, allow_hosts)
    app = Starlette(
        routes=routes,
        middleware=[Middleware(HostGuard, policy=policy)],
        exception_handlers={Exception: crashed},
    )
    app.state.ui = ui
    return app


def _image_json(image: Upload) -> dict[str, Any]:
    return {"id": image.id, "name": image.name, "width": image.width, "height": image.height}
