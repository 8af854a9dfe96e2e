"""Video colorization with a temporal-consistency post-process.

Every frame is colorized on its own with the method of your choice (the same
reference image for exemplar methods, as He et al. 2018, Sec. 6.5, do for
movies; the same seed for diverse methods), then the chroma is made
temporally consistent in the spirit of Bonneel et al. 2015's blind temporal
consistency: the previous *output's* chroma is warped to the current frame by
the optical flow between consecutive lightness frames (OpenCV DIS), weighted
by a confidence from forward-backward flow agreement and lightness agreement,
and blended with the frame's own chroma. Lightness is never touched: each
output frame keeps its input frame's lightness, as the core's full-resolution
policy requires (see :mod:`core.api`).

Files are read and written with PyAV (FFmpeg libraries, no ``ffmpeg`` binary):
frame rate, size and audio track are kept (audio packets are copied, not
re-encoded), and the output is written to a temporary file in the destination
folder and renamed at the end, so an interrupted or failed run never leaves a
partial file under the final name.

References
----------
M. He, D. Chen, J. Liao, P. Sander, L. Yuan. Deep Exemplar-based Colorization.
SIGGRAPH 2018, Sec. 6.5.
N. Bonneel, J. Tompkin, K. Sunkavalli, D. Sun, S. Paris, H. Pfister. Blind
Video Temporal Consistency. SIGGRAPH Asia 2015.
T. Kroeger, R. Timofte, D. Dai, L. Van Gool. Fast Optical Flow using Dense
Inverse Search. ECCV 2016.
W.-S. Lai et al. Learning Blind Video Temporal Consistency. ECCV 2018
(the warping-error measure, Eq. 9).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core import api
from core.colorspaces.base import ColorSpace
from core.errors import ColorizeError, InvalidImageError, OutputExistsError
from core.io import (
    LoadedImage,
    finish_temporary,
    load_image,
    open_temporary,
    quantize,
    to_output,
)
from core.plugins import get_registry

__all__ = [
    "InvalidVideoError",
    "TemporalSmoother",
    "VideoResult",
    "colorize_video",
    "colorize_video_file",
    "configure_parser",
    "run",
    "warping_error",
]

#: Containers written, by file extension: (FFmpeg format, default video encoder,
#: audio encoder used when the input's audio codec cannot be copied into the container).
CONTAINERS = {
    ".mp4": ("mp4", "libx264", "aac"),
    ".m4v": ("mp4", "libx264", "aac"),
    ".mov": ("mov", "libx264", "aac"),
    ".mkv": ("matroska", "libx264", "aac"),
    ".webm": ("webm", "libvpx-vp9", "libopus"),
    ".avi": ("avi", "mpeg4", "libmp3lame"),
}


class InvalidVideoError(InvalidImageError):
    """A video file cannot be used (missing, not a video, truncated or corrupt).

    A subclass of :class:`core.errors.InvalidImageError` (so a ``ValueError``);
    the message names the file and says what is wrong.
    """


# -- temporal consistency -----------------------------------------------------


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)`` (bilinear, edges replicated)."""
    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        image,
        grid_x + flow[..., 0],
        grid_y + flow[..., 1],
        interpolation=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def _inside(flow: np.ndarray) -> np.ndarray:
    """Boolean (H, W): does ``x + flow(x)`` land inside the frame?"""
    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    x = grid_x + flow[..., 0]
    y = grid_y + flow[..., 1]
    return (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)


class TemporalSmoother:
    """Blind temporal consistency of a chroma sequence, one frame at a time.

    For frame t with lightness ``L_t`` and per-frame chroma ``P_t``, the output
    chroma is ``O_t = P_t + k (warp(O_{t-1}) - P_t)`` with
    ``k = strength * c``, where ``warp`` follows the backward optical flow from
    ``L_t`` to ``L_{t-1}`` and the confidence ``c`` in [0, 1] is the product of

    - forward-backward agreement ``exp(-|b + f(x + b)|^2 / (0.01 (|b|^2 + |f|^2) + tol^2))``
      (Sundaram et al. 2010's occlusion test, made soft),
    - lightness agreement ``exp(-(L_t - warp(L_{t-1}))^2 / sigma^2)``,
    - the warped position lying inside the previous frame.

    This is the closed-form minimiser of Bonneel et al. 2015's energy with the
    gradient term replaced by a data term on ``P_t``. Blending a recursive
    output spreads the smoothing over several frames; where the flow is
    unreliable (occlusions, scene cuts) the frame's own chroma wins. When the
    mean confidence falls below ``cut``, the frame is treated as a scene cut.

    Parameters
    ----------
    strength : float in [0, 1], default 0.85
        Weight of the warped previous output where the flow is fully trusted.
    size : int, default 320
        Flow and blending run with the longer side at most ``size`` pixels
        (chroma of every method is predicted at 64-256 px anyway).
    fb_tolerance : float, default 0.75
        Forward-backward tolerance in pixels (at the working size).
    lightness_sigma : float, default 0.06
        Lightness-agreement scale, on a [0, 1] gray scale.
    cut : float, default 0.25
        Mean confidence below which the frame starts afresh.
    """

    def __init__(
        self,
        *,
        strength: float = 0.85,
        size: int = 320,
        fb_tolerance: float = 0.75,
        lightness_sigma: float = 0.06,
        cut: float = 0.25,
    ) -> None:
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must lie in [0, 1], got {strength!r}")
        if size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {size!r}")
        self.strength = float(strength)
        self.size = int(size)
        self.fb_tolerance = float(fb_tolerance)
        self.lightness_sigma = float(lightness_sigma)
        self.cut = float(cut)
        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.reset()

    def reset(self) -> None:
        """Forget the previous frame (e.g. at a known scene cut)."""
        self._gray: np.ndarray | None = None
        self._chroma: np.ndarray | None = None
        self.last_confidence: np.ndarray | None = None

    def working_shape(self, height: int, width: int) -> tuple[int, int]:
        """(h, w) at which the flow and the blending run for an (H, W) frame."""
        scale = min(1.0, self.size / max(height, width))
        return max(1, round(height * scale)), max(1, round(width * scale))

    def __call__(self, gray: np.ndarray, chroma: np.ndarray) -> np.ndarray:
        """Smooth one frame.

        Parameters
        ----------
        gray : ndarray (H, W) float in [0, 1]
            The frame's gray level (luma), used for the flow.
        chroma : ndarray (h, w, 2) float32
            The frame's own chroma, in a space whose chroma channels blend
            linearly (e.g. Lab a, b), at any resolution.

        Returns
        -------
        ndarray (h', w', 2) float32
            The consistent chroma at :meth:`working_shape`; resize it to the
            frame's size before recombining.
        """
        hs, ws = self.working_shape(*gray.shape[:2])
        small = cv2.resize(np.asarray(gray, np.float32), (ws, hs), interpolation=cv2.INTER_AREA)
        own = np.ascontiguousarray(chroma, np.float32)
        if own.shape[:2] != (hs, ws):
            interp = cv2.INTER_AREA if own.shape[0] > hs else cv2.INTER_LINEAR
            own = cv2.resize(own, (ws, hs), interpolation=interp)
        gray8 = np.clip(np.rint(small * 255.0), 0, 255).astype(np.uint8)
        if self._gray is None or self._gray.shape != gray8.shape or self.strength == 0.0:
            self._gray, self._chroma = gray8, own
            self.last_confidence = np.zeros((hs, ws), np.float32)
            return own
        backward = self._dis.calc(gray8, self._gray, None)  # x in t -> x + b in t-1
        forward = self._dis.calc(self._gray, gray8, None)  # x in t-1 -> x + f in t
        forward_back = _warp(forward, backward)
        mismatch = np.sum((backward + forward_back) ** 2, axis=-1)
        scale = 0.01 * (np.sum(backward**2, -1) + np.sum(forward_back**2, -1))
        confidence = np.exp(-mismatch / (scale + self.fb_tolerance**2))
        previous_light = _warp(self._gray.astype(np.float32), backward) / 255.0
        confidence *= np.exp(-(((small - previous_light) / self.lightness_sigma) ** 2))
        confidence *= _inside(backward)
        confidence = confidence.astype(np.float32)
        self.last_confidence = confidence
        if float(confidence.mean()) < self.cut:  # scene cut: start afresh
            out = own
        else:
            warped = _warp(self._chroma, backward)
            out = own + (self.strength * confidence)[..., None] * (warped - own)
        self._gray, self._chroma = gray8, out.astype(np.float32)
        return self._chroma


def warping_error(
    previous: np.ndarray, current: np.ndarray, flow: np.ndarray, mask: np.ndarray | None = None
) -> float:
    """Warping error between two consecutive output frames (Lai et al. 2018, Eq. 9).

    ``mean_x M(x) ||current(x) - previous(x + flow(x))||^2 / mean_x M(x)``: lower
    means less flicker.

    Parameters
    ----------
    previous, current : ndarray (H, W, C) float in [0, 1]
    flow : ndarray (H, W, 2) float32
        Backward flow: pixel x of ``current`` shows what ``previous`` shows at
        ``x + flow(x)`` (the true motion for synthetic clips).
    mask : ndarray (H, W) bool or float, optional
        Pixels to count (e.g. not occluded); positions falling outside
        ``previous`` are always left out.

    Returns
    -------
    float
        Mean squared difference per pixel, summed over channels.

    Examples
    --------
    >>> a = np.zeros((4, 6, 3), np.float32); a[:, 3:] = 1.0
    >>> b = np.zeros((4, 6, 3), np.float32); b[:, 2:] = 1.0   # shifted left by one
    >>> flow = np.zeros((4, 6, 2), np.float32); flow[..., 0] = 1.0
    >>> warping_error(a, b, flow)
    0.0
    """
    previous = np.asarray(previous, np.float32)
    current = np.asarray(current, np.float32)
    if previous.shape != current.shape or flow.shape != (*current.shape[:2], 2):
        raise ValueError(
            f"expected frames of equal shape and an (H, W, 2) flow, got {previous.shape}, "
            f"{current.shape} and {flow.shape}"
        )
    weight = _inside(flow).astype(np.float32)
    if mask is not None:
        weight *= np.asarray(mask, np.float32)
    warped = _warp(previous, np.asarray(flow, np.float32))
    diff = (current - warped).reshape(*current.shape[:2], -1)
    total = float(weight.sum())
    if total == 0:
        return float("nan")
    return float((np.sum(diff**2, axis=-1) * weight).sum() / total)


# -- per-frame colorization ---------------------------------------------------


def _luma(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        return pixels
    return pixels @ np.array([0.299, 0.587, 0.114], np.float32)


class _ClipColorizer:
    """Colorizes the frames of one clip with one method, reference and seed."""

    def __init__(
        self,
        method: str | None,
        reference: Any,
        seed: int | None,
        decoder: str | None,
        temporal: bool | TemporalSmoother,
        options: dict[str, Any],
        index: Any = None,
    ) -> None:
        self.method = api.default_method() if method is None else method
        caps = api.get_method(self.method).capabilities
        # Diverse methods: one seed for the whole clip, or the colours would jump.
        self.seed = 0 if seed is None and caps.diverse else seed
        self.reference = None
        #: Where the clip's reference came from (a recommended file, for reference="auto").
        self.reference_source: str | None = None
        self._auto = isinstance(reference, str) and reference == api.AUTO_REFERENCE
        self._index = index
        usable = self._auto and caps.recommend and index is not None
        if (self._auto or index is not None) and not usable:
            # An invalid combination (no recommendation, index without "auto", "auto"
            # without an index): the core's own check raises its usual error before any
            # frame is read.
            api.check_request(self.method, reference=reference, decoder=decoder, index=index)
        if reference is not None and not self._auto:  # load once; api.prepare validates it
            self.reference = load_image(reference).rgb()
        self.decoder = decoder
        self.options = options
        if temporal is True:
            self.smoother: TemporalSmoother | None = TemporalSmoother()
        else:
            self.smoother = temporal or None
        registry = get_registry()
        self._lab: ColorSpace = registry.get("colorspace", "lab")
        self._registry = registry

    def __call__(self, loaded: LoadedImage) -> np.ndarray:
        """Colorize one validated frame; returns (H, W, 3) float32 RGB in [0, 1].

        Runs the core's public pipeline stages (:func:`core.api.prepare`,
        :func:`core.api.predict`, :func:`core.api.recombine`); without a temporal pass the
        frame is exactly what :func:`core.api.colorize_result` gives.
        """
        frame = loaded.pixels
        if self._auto and self.reference is None:
            # He et al. 2018 §6.5 colorize a clip from one reference: recommend it once (§4)
            # from the first frame, then keep it for every frame.
            prep = api.prepare(
                frame,
                self.method,
                reference=api.AUTO_REFERENCE,
                decoder=self.decoder,
                index=self._index,
            )
            self.reference, self.reference_source = prep.reference, prep.reference_source
        else:
            prep = api.prepare(frame, self.method, reference=self.reference, decoder=self.decoder)
        chroma = api.predict(prep, seed=self.seed, **self.options).chroma
        space = prep.space
        if self.smoother is None:
            return api.recombine(space, prep.lightness, chroma, prep.gray)[0]
        gray = _luma(frame)
        if type(space).resize_chroma is ColorSpace.resize_chroma:
            # Linear chroma: smooth the prediction itself and recombine once, exactly as
            # colorize_result would (same lightness, same App. A.4 correction).
            rgb, _ = api.recombine(space, prep.lightness, self.smoother(gray, chroma), prep.gray)
            return rgb
        # A circular (hue) channel does not blend linearly: smooth Lab a, b of the frame
        # colorized as colorize_result would, then recombine in Lab.
        rgb, _ = api.recombine(space, prep.lightness, chroma, prep.gray)
        lab = self._lab
        light = lab.gray_lightness(frame) if loaded.is_gray else lab.lightness(frame)
        smooth = self.smoother(gray, lab.from_rgb(rgb)[1])
        rgb, _ = api.recombine(lab, light.astype(np.float32), smooth, prep.gray)
        return rgb


def _clean(frame: Any, index: int) -> LoadedImage:
    loaded = load_image(frame, name=f"<frame {index}>")
    loaded.alpha = None
    return loaded


def colorize_video(
    video: str | os.PathLike | Iterable[Any],
    method: str | None = None,
    *,
    reference: Any = None,
    index: Any = None,
    seed: int | None = None,
    decoder: str | None = None,
    temporal: bool | TemporalSmoother = True,
    **options: Any,
) -> Iterator[Any]:
    """Colorize a video frame by frame, lazily (a generator, for embedding in apps).

    Parameters
    ----------
    video : path, or iterable of frames
        A video file PyAV (FFmpeg) can read, or frames as accepted by
        :func:`core.colorize` (arrays or PIL images), all of one size.
    method : str, optional
        Method name; ``None`` uses :func:`core.default_method`.
    reference : path, PIL image or ndarray, or "auto", optional
        One colour reference for the whole clip (exemplar methods). ``"auto"``
        (methods with ``capabilities.recommend``) recommends one from ``index``
        for the first frame and keeps it for the whole clip.
    index : path, optional
        Reference index for ``reference="auto"`` (e.g. ``colorize index build``).
    seed : int, optional
        One seed for the whole clip; diverse methods default to 0.
    decoder : str, optional
        Decoder for distribution methods.
    temporal : bool or TemporalSmoother, default True
        The temporal-consistency post-process; ``False`` gives independently
        colorized frames; pass a configured :class:`TemporalSmoother` to tune it.
    **options
        Method-specific options.

    Yields
    ------
    For a file: (H, W, 3) uint8 RGB arrays. For frames: each frame in the form
    it came in (see :func:`core.colorize`), alpha dropped.

    Raises
    ------
    InvalidVideoError
        The file is missing, not a video, truncated or corrupt (raised when the
        bad part is reached).
    core.errors.InvalidImageError
        A frame given as an array or image cannot be used.
    """
    clip = _ClipColorizer(method, reference, seed, decoder, temporal, options, index)
    if isinstance(video, (str, os.PathLike)):
        container, stream = _open_video(Path(video))
        with container:
            for index, frame in enumerate(_decode(container, stream, str(video))):
                loaded = _clean(frame.to_ndarray(format="rgb24"), index)
                yield quantize(clip(loaded), np.uint8)
        return
    shape = None
    for index, frame in enumerate(video):
        loaded = _clean(frame, index)
        if shape is not None and loaded.shape != shape:
            raise InvalidImageError(
                loaded.source, f"frame size {loaded.shape} differs from the first frame's {shape}"
            )
        shape = loaded.shape
        yield to_output(clip(loaded), loaded)


# -- files --------------------------------------------------------------------


def _av():
    try:
        import av
    except ImportError as exc:  # pragma: no cover - av is a base dependency
        raise ColorizeError(f"video needs PyAV ({exc}); `pip install av`") from None
    return av


def _open_video(path: Path):
    av = _av()
    source = str(path)
    if not path.exists():
        raise InvalidVideoError(source, "file not found")
    if path.is_dir():
        raise InvalidVideoError(source, "is a folder, not a video file")
    if path.stat().st_size == 0:
        raise InvalidVideoError(source, "empty file (0 bytes)")
    try:
        container = av.open(source, "r")
    except av.FFmpegError as exc:
        raise InvalidVideoError(
            source, f"not a video file FFmpeg can read, or truncated/corrupt ({exc})"
        ) from None
    if not container.streams.video:
        container.close()
        raise InvalidVideoError(source, "has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _decode(container, stream, source: str) -> Iterator[Any]:
    """Decoded frames of ``stream``; corrupt or missing data is an InvalidVideoError."""
    av = _av()
    count = 0
    try:
        for packet in container.demux(stream):
            for frame in packet.decode():
                yield frame
                count += 1
    except av.FFmpegError as exc:
        raise InvalidVideoError(
            source, f"corrupt video data after frame {count} ({exc}); the file may be truncated"
        ) from None
    _check_count(source, count, stream.frames)


def _check_count(source: str, count: int, expected: int) -> None:
    if count == 0:
        raise InvalidVideoError(source, "no decodable video frames (truncated or corrupt file)")
    if expected and count < expected:
        raise InvalidVideoError(
            source,
            f"truncated or corrupt: decoded {count} of the {expected} frames its header announces",
        )


@dataclass
class VideoResult:
    """What :func:`colorize_video_file` wrote."""

    path: Path
    frames: int
    fps: Fraction | None
    size: tuple[int, int]
    audio: bool
    method: str
    seed: int | None
    temporal: bool
    seconds: float


def colorize_video_file(
    source: str | os.PathLike,
    target: str | os.PathLike,
    method: str | None = None,
    *,
    reference: Any = None,
    index: Any = None,
    seed: int | None = None,
    decoder: str | None = None,
    temporal: bool | TemporalSmoother = True,
    codec: str | None = None,
    crf: int = 18,
    overwrite: bool = False,
    progress: bool = False,
    **options: Any,
) -> VideoResult:
    """Colorize a video file into another, keeping frame rate, size and audio.

    Parameters are those of :func:`colorize_video`, plus:

    target : path
        Output file; the container follows its extension (.mp4, .m4v, .mov,
        .mkv, .webm, .avi). Written to a hidden temporary file in the same
        folder and renamed at the end: a failure or interruption leaves no
        file under this name.
    codec : str, optional
        FFmpeg video encoder (default: libx264; libvpx-vp9 for .webm, mpeg4 for .avi).
    crf : int, default 18
        Constant rate factor for libx264 / libvpx-vp9 (lower = better quality).
    overwrite : bool
        Replace an existing ``target`` (otherwise :class:`core.errors.OutputExistsError`);
        the input itself is never replaced.
    progress : bool
        Show a progress bar (frames, frames/s, ETA).

    Returns
    -------
    VideoResult
    """
    av = _av()
    source, target = Path(source), Path(target)
    suffix = target.suffix.lower()
    if suffix not in CONTAINERS:
        raise ValueError(
            f"{target}: cannot write {suffix or 'files without an extension'}; "
            f"use one of {', '.join(sorted(CONTAINERS))}"
        )
    clip = _ClipColorizer(method, reference, seed, decoder, temporal, options, index)
    start = time.perf_counter()
    container, vin = _open_video(source)
    if target.exists() and source.samefile(target):
        container.close()
        raise OutputExistsError(f"{target}: is the input file; write the result elsewhere")
    if target.exists() and not overwrite:
        container.close()
        raise OutputExistsError(
            f"{target}: exists; pass overwrite=True (--overwrite) to replace it"
        )
    ain = container.streams.audio[0] if container.streams.audio else None
    fmt, default_codec, audio_codec = CONTAINERS[suffix]
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = open_temporary(target.parent, prefix=f".{target.stem}.", suffix=f".part{suffix}")
    os.close(fd)  # created with the usual mode (umask); PyAV reopens it by name
    out = None
    count = 0
    bar = None
    try:
        out = av.open(str(tmp_name), "w", format=fmt)
        width, height = vin.codec_context.width, vin.codec_context.height
        rate = vin.average_rate or vin.guessed_rate or Fraction(25)
        vout = out.add_stream(codec or default_codec, rate=rate)
        vout.width, vout.height = width, height
        even = width % 2 == 0 and height % 2 == 0
        vout.pix_fmt = "yuv420p" if even or vout.codec_context.name == "mpeg4" else "yuv444p"
        name = vout.codec_context.name
        if name in ("libx264", "libx265"):
            vout.options = {"crf": str(crf)}
        elif name.startswith("libvpx"):
            vout.options = {"crf": str(crf), "b": "0"}
        else:
            vout.bit_rate = max(1_000_000, width * height * 8)
        aout, transcode = None, False
        if ain is not None:
            try:  # copy the audio packets untouched where the container takes the codec
                aout = out.add_stream_from_template(ain)
            except (av.FFmpegError, ValueError):
                aout, transcode = out.add_stream(audio_codec, rate=ain.rate), True
                aout.layout = ain.layout
        from tqdm import tqdm

        bar = tqdm(
            total=vin.frames or None,
            unit="frame",
            desc=f"colorize {source.name}",
            disable=not progress,
        )
        streams = [vin] + ([ain] if ain is not None else [])
        try:
            for packet in container.demux(*streams):
                if packet.stream is ain:
                    if transcode:
                        for sound in packet.decode():
                            sound.pts = None
                            out.mux(aout.encode(sound))
                    elif packet.dts is not None:
                        packet.stream = aout
                        out.mux(packet)
                    continue
                for frame in packet.decode():
                    loaded = _clean(frame.to_ndarray(format="rgb24"), count)
                    rgb8 = quantize(clip(loaded), np.uint8)
                    new = av.VideoFrame.from_ndarray(rgb8, format="rgb24")
                    if frame.pts is not None:
                        new.pts, new.time_base = frame.pts, frame.time_base
                    else:
                        new.pts, new.time_base = count, 1 / Fraction(rate)
                    out.mux(vout.encode(new))
                    count += 1
                    bar.update(1)
        except av.FFmpegError as exc:
            raise InvalidVideoError(
                str(source),
                f"corrupt video data after frame {count} ({exc}); the file may be truncated",
            ) from None
        _check_count(str(source), count, vin.frames)
        out.mux(vout.encode(None))
        if transcode:
            out.mux(aout.encode(None))
        out.close()
        out = None
        finish_temporary(tmp_name, target)
    except BaseException:
        if out is not None:
            try:
                out.close()
            except Exception:  # noqa: BLE001 - already failing; the temp file goes anyway
                pass
        finish_temporary(tmp_name)
        raise
    finally:
        container.close()
        if bar is not None:
            bar.close()
    return VideoResult(
        path=target,
        frames=count,
        fps=Fraction(rate) if rate else None,
        size=(width, height),
        audio=ain is not None,
        method=clip.method,
        seed=clip.seed,
        temporal=clip.smoother is not None,
        seconds=time.perf_counter() - start,
    )


# -- command line (`colorize video`) -----------------------------------------


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``colorize video``."""
    parser.description = (
        "Colorize a video file frame by frame with temporal consistency; keeps frame rate, "
        "size and audio."
    )
    parser.add_argument("input", metavar="IN", help="video file (anything FFmpeg reads)")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help=f"output video ({', '.join(sorted(CONTAINERS))})",
    )
    parser.add_argument("--method", "-m", default=None, help="method (default: see `methods`)")
    parser.add_argument(
        "--reference",
        "-r",
        default=None,
        metavar="R",
        help="colour reference image for the whole clip (exemplar methods), or 'auto' "
        "to recommend one from --index for the first frame",
    )
    parser.add_argument(
        "--index",
        default=None,
        metavar="FILE",
        help="reference index for --reference auto (see `colorize index build`)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for the whole clip (diverse methods; default 0)",
    )
    parser.add_argument(
        "--decoder", default=None, metavar="D", help="decoder (distribution methods)"
    )
    parser.add_argument(
        "--no-temporal",
        action="store_true",
        help="colorize frames independently (no temporal-consistency pass)",
    )
    parser.add_argument(
        "--strength",
        type=float,
        default=0.85,
        help="temporal blending strength in [0, 1] (default 0.85)",
    )
    parser.add_argument("--codec", default=None, help="FFmpeg video encoder (default by container)")
    parser.add_argument("--crf", type=int, default=18, help="quality for libx264/vp9 (default 18)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run ``colorize video``; returns the exit code."""
    try:
        temporal = False if args.no_temporal else TemporalSmoother(strength=args.strength)
        result = colorize_video_file(
            args.input,
            args.output,
            args.method,
            reference=args.reference,
            index=args.index,
            seed=args.seed,
            decoder=args.decoder,
            temporal=temporal,
            codec=args.codec,
            crf=args.crf,
            overwrite=args.overwrite,
            progress=not args.quiet,
        )
    except KeyboardInterrupt:
        print("interrupted: no output written (re-run to start again)", file=sys.stderr)
        return 130
    except (ColorizeError, ValueError, OSError) as exc:
        print(f"colorize video: {exc}", file=sys.stderr)
        return 1
    w, h = result.size
    fps = float(result.fps) if result.fps else float("nan")
    print(
        f"colorized {result.frames} frames ({w}x{h}, {fps:.3g} fps"
        f"{', audio kept' if result.audio else ''}) with {result.method!r}"
        f"{f' seed {result.seed}' if result.seed is not None else ''}"
        f"{'' if result.temporal else ', no temporal pass'} in {result.seconds:.1f} s "
        f"-> {result.path}",
        file=sys.stderr,
    )
    return 0
