"""Video colorization: container round trip, temporal consistency, failures."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from colorize_video.video import (  # noqa: E402
    InvalidVideoError,
    TemporalSmoother,
    colorize_video,
    colorize_video_file,
    warping_error,
)

import core  # noqa: E402
from core.errors import InvalidImageError, OutputExistsError  # noqa: E402

WIDTH, HEIGHT, FRAMES, FPS = 64, 48, 12, Fraction(12)


def _texture(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth random gray texture (float32 in [0, 1]) bigger than the frames."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.random((height // 4 + 1, width // 4 + 1)).astype(np.float32)
    big = cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(0.15 + 0.7 * (big - big.min()) / (big.max() - big.min()), 0, 1)


def _pan(frames: int = FRAMES, step: int = 2) -> tuple[list[np.ndarray], np.ndarray]:
    """Gray frames of a texture panned right by ``step`` px per frame, and the true flow."""
    texture = _texture(WIDTH + step * frames, HEIGHT)
    clip = [texture[:, t * step : t * step + WIDTH] for t in range(frames)]
    flow = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    flow[..., 0] = step  # pixel x of frame t shows what frame t-1 shows at x + step
    return clip, flow


def _write_clip(path: Path, *, audio: bool = True, frames: int = FRAMES) -> Path:
    """A small H.264 clip (gray pan) with an AAC sine-wave audio track."""
    clip, _ = _pan(frames)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=16000)
            sound.layout = "mono"
        for i, gray in enumerate(clip):
            rgb = np.repeat((gray * 255).astype(np.uint8)[..., None], 3, -1)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            frame.time_base = 1 / FPS
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            samples = int(16000 * frames / FPS)
            t = np.arange(samples) / 16000
            tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            chunk = 1024
            for i in range(0, samples, chunk):
                a = av.AudioFrame.from_ndarray(tone[:, i : i + chunk], format="flt", layout="mono")
                a.sample_rate, a.pts = 16000, i
                out.mux(sound.encode(a))
            out.mux(sound.encode(None))
    return path


@pytest.fixture
def clip_file(tmp_path) -> Path:
    return _write_clip(tmp_path / "clip.mp4")


def _probe(path: Path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        count = sum(1 for _ in c.decode(v))
        rate = v.average_rate
        size = (v.codec_context.width, v.codec_context.height)
    with av.open(str(path)) as c:
        audio = [
            (
                a.codec_context.name,
                a.sample_rate,
                float(a.duration * a.time_base) if a.duration else c.duration / 1e6,
            )
            for a in c.streams.audio
        ]
    return count, rate, size, audio


def test_file_keeps_frames_size_fps_and_audio(registry, clip_file, tmp_path):
    target = tmp_path / "out" / "colour.mp4"
    result = colorize_video_file(clip_file, target, "toy")
    assert result.frames == FRAMES and result.audio and result.seed == 0
    count, rate, size, audio = _probe(target)
    _, rate_in, _, audio_in = _probe(clip_file)
    assert count == FRAMES
    assert size == (WIDTH, HEIGHT)
    assert rate == rate_in == FPS
    assert [a[:2] for a in audio] == [("aac", 16000)]
    assert audio[0][2] == pytest.approx(audio_in[0][2], abs=0.05)
    with av.open(str(target)) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24").astype(float)
    assert np.abs(first[..., 0] - first[..., 2]).mean() > 2  # it has colour now
    assert [p.name for p in target.parent.iterdir()] == ["colour.mp4"]  # no temp file left


def test_generator_yields_every_frame_and_keeps_lightness(registry, clip_file):
    frames = list(colorize_video(clip_file, "toy", temporal=False))
    assert len(frames) == FRAMES
    assert all(f.shape == (HEIGHT, WIDTH, 3) and f.dtype == np.uint8 for f in frames)
    clip, _ = _pan()
    lab_l = core.colorspaces.rgb_to_lab(frames[3].astype(np.float32) / 255)[..., 0]
    gray_l = core.colorspaces.rgb_to_lab(np.repeat(clip[3][..., None], 3, -1))[..., 0]
    assert np.abs(lab_l - gray_l).mean() < 3.0  # lossy H.264 in between


def test_generator_on_arrays_keeps_their_form(registry):
    clip, _ = _pan(4)
    out = list(colorize_video([(g * 65535).astype(np.uint16) for g in clip], "toy"))
    assert len(out) == 4 and out[0].dtype == np.uint16 and out[0].shape == (HEIGHT, WIDTH, 3)
    with pytest.raises(InvalidImageError, match="differs from the first frame"):
        list(colorize_video([clip[0], clip[1][:, :-2]], "toy"))


def test_exemplar_method_uses_one_reference_for_the_clip(registry):
    clip, _ = _pan(3)
    ref = np.zeros((8, 8, 3), np.float32)
    ref[..., 0] = 0.8
    out = list(colorize_video(clip, "toy-reference", reference=ref, temporal=False))
    assert all(f[..., 0].mean() > f[..., 2].mean() + 0.05 for f in out)  # reddish throughout


class _Recommending(core.Colorizer):
    """Toy method that recommends a red reference (index="red") and counts the calls."""

    name = "toy-video-recommend"
    description = "test-only: recommends its own reference"
    citation = "none"
    capabilities = core.Capabilities(automatic=False, reference=True, recommend=True)
    colorspace = "lab"
    working_size = 16
    recommendations = 0

    def recommend_reference(self, lightness, *, index=None, **options):
        type(self).recommendations += 1
        ref = np.zeros((8, 8, 3), np.float32)
        ref[..., 0] = 0.8
        return ref

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        ab = core.colorspaces.rgb_to_lab(reference)[..., 1:].reshape(-1, 2).mean(0)
        return core.Prediction(np.broadcast_to(ab, (*lightness.shape, 2)).astype(np.float32))


class _OnePlugin:
    def __init__(self, method):
        self.method = method

    @core.hookimpl
    def register_methods(self, register):
        register(self.method)


def test_reference_auto_recommends_once_per_clip(registry):
    registry.add_plugin(_OnePlugin(_Recommending()), name="rec", distribution="rec-dist")
    clip, _ = _pan(4)
    out = list(colorize_video(clip, "toy-video-recommend", reference="auto", index="red"))
    assert all(f[..., 0].mean() > f[..., 2].mean() + 0.05 for f in out)  # reddish throughout
    assert _Recommending.recommendations == 1  # one reference for the whole clip
    # Invalid combinations fail before any frame is read, with the core's messages.
    with pytest.raises(core.errors.CapabilityError, match="cannot recommend"):
        colorize_video(clip, "toy-reference", reference="auto", index="red").__next__()
    with pytest.raises(core.errors.CapabilityError, match="only used with reference='auto'"):
        colorize_video(clip, "toy-reference", reference=np.ones((4, 4, 3)), index="r").__next__()


class _Flicker(core.Colorizer):
    """Toy method whose colours jitter from frame to frame (like a real one)."""

    name = "toy-flicker"
    description = "test-only: noisy chroma"
    citation = "none"
    capabilities = core.Capabilities(automatic=True)
    colorspace = "lab"
    working_size = 32
    calls = 0

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        type(self).calls += 1
        rng = np.random.default_rng(type(self).calls)
        a = 0.5 * lightness - 20 + rng.normal(0, 6, lightness.shape)
        b = 25 - 0.3 * lightness + rng.normal(0, 6)
        return core.Prediction(np.stack([a, b + 0 * a], -1).astype(np.float32))


def test_temporal_smoothing_reduces_warping_error_on_a_pan(registry, toys):
    registry.add_plugin(toys.ToyPlugin(_Flicker()), name="flicker", distribution="t", version="0")
    clip, flow = _pan(10)

    def error(temporal):
        out = [
            f.astype(np.float32) / 255
            for f in colorize_video(clip, "toy-flicker", temporal=temporal)
        ]
        return np.mean([warping_error(a, b, flow) for a, b in zip(out[:-1], out[1:], strict=True)])

    off, on = error(False), error(TemporalSmoother())
    assert on < 0.7 * off


def test_smoother_keeps_static_chroma_and_restarts_at_a_cut():
    smoother = TemporalSmoother(size=64)
    gray = _texture(64, 48)
    chroma = np.full((48, 64, 2), 10.0, np.float32)
    assert np.allclose(smoother(gray, chroma), 10.0)
    assert np.allclose(smoother(gray, chroma), 10.0, atol=1e-3)  # constant stays constant
    other = 1.0 - _texture(64, 48, seed=5)  # a different shot
    out = smoother(other, -chroma)
    assert np.allclose(out, -10.0, atol=1e-3)  # no colour carried across the cut
    with pytest.raises(ValueError, match="strength"):
        TemporalSmoother(strength=1.5)


def test_warping_error_is_zero_for_true_motion_only():
    clip, flow = _pan(2)
    a, b = (np.repeat(g[..., None], 3, -1) for g in clip)
    assert warping_error(a, b, flow) < 1e-4
    assert warping_error(a, b, np.zeros_like(flow)) > 1e-3
    with pytest.raises(ValueError, match="flow"):
        warping_error(a, b, flow[:, :-1])


def test_truncated_video_is_a_clear_error(registry, clip_file, tmp_path):
    data = clip_file.read_bytes()
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(data[: len(data) // 2])
    target = tmp_path / "colour.mp4"
    with pytest.raises(InvalidVideoError, match="broken.mp4") as info:
        colorize_video_file(bad, target, "toy")
    assert isinstance(info.value, InvalidImageError)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["broken.mp4", "clip.mp4"]
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(InvalidVideoError, match="junk.mp4"):
        list(colorize_video(junk, "toy"))
    with pytest.raises(InvalidVideoError, match="file not found"):
        list(colorize_video(tmp_path / "missing.mp4", "toy"))


def test_failure_midway_leaves_no_file_under_the_final_name(
    registry, clip_file, tmp_path, monkeypatch
):
    import colorize_video.video as video

    calls = {"n": 0}
    real = video._ClipColorizer.__call__

    def failing(self, loaded):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(self, loaded)

    monkeypatch.setattr(video._ClipColorizer, "__call__", failing)
    target = tmp_path / "colour.mkv"
    with pytest.raises(KeyboardInterrupt):
        colorize_video_file(clip_file, target, "toy")
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["clip.mp4"]


def test_existing_output_is_not_replaced(registry, clip_file, tmp_path):
    target = tmp_path / "colour.mp4"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError, match="overwrite"):
        colorize_video_file(clip_file, target, "toy")
    assert target.read_bytes() == b"keep me"
    with pytest.raises(ValueError, match="cannot write .gif"):
        colorize_video_file(clip_file, tmp_path / "x.gif", "toy")
    colorize_video_file(clip_file, target, "toy", overwrite=True, temporal=False)
    assert _probe(target)[0] == FRAMES


def test_the_input_is_never_replaced_and_outputs_get_the_usual_mode(registry, clip_file, tmp_path):
    before = clip_file.read_bytes()
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError, match="clip.mp4: is the input file"):
            colorize_video_file(clip_file, clip_file, "toy", overwrite=overwrite)
    assert clip_file.read_bytes() == before
    old = os.umask(0o022)
    try:
        target = colorize_video_file(clip_file, tmp_path / "colour.mp4", "toy").path
    finally:
        os.umask(old)
    assert oct(Path(target).stat().st_mode & 0o777) == oct(0o644)


def test_cli_video(registry, clip_file, tmp_path, capsys):
    from core.cli import main

    target = tmp_path / "colour.webm"
    assert main(["video", str(clip_file), "-o", str(target), "-m", "toy", "-q"]) == 0
    count, rate, size, audio = _probe(target)
    assert (count, rate, size) == (FRAMES, FPS, (WIDTH, HEIGHT))
    assert [a[0] for a in audio] == ["opus"]  # AAC cannot go into WebM: re-encoded
    assert "audio kept" in capsys.readouterr().err
    assert main(["video", str(tmp_path / "nope.mp4"), "-o", str(target), "-m", "toy"]) == 1
    assert "file not found" in capsys.readouterr().err


def test_zero_strength_pass_equals_independent_frames(registry):
    clip, _ = _pan(3)
    off = list(colorize_video(clip, "toy", temporal=False))
    zero = list(colorize_video(clip, "toy", temporal=TemporalSmoother(strength=0.0)))
    for a, b in zip(off, zero, strict=True):
        assert np.abs(a.astype(np.float32) - b.astype(np.float32)).max() < 1e-5


class _Hue(core.Colorizer):
    """Toy method in a space with a circular hue channel."""

    name = "toy-hue"
    description = "test-only: hue/chroma"
    citation = "none"
    capabilities = core.Capabilities(automatic=True)
    colorspace = "huechroma"
    working_size = 32

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        hue = np.where(lightness > 50, 0.98, 0.02)  # reds either side of the wrap
        chroma = np.full_like(lightness, 0.4)
        return core.Prediction(np.stack([hue, chroma], -1).astype(np.float32))


def test_circular_hue_methods_are_smoothed_in_lab(registry, toys):
    registry.add_plugin(toys.ToyPlugin(_Hue()), name="hue", distribution="t", version="0")
    clip, _ = _pan(4)
    for frame in colorize_video(clip, "toy-hue"):
        f = frame.astype(np.float32)
        assert (f[..., 0] >= f[..., 1]).mean() > 0.95  # stays red, never through green


def test_core_colorize_video_names_the_plugin_to_install_when_it_is_missing(monkeypatch):
    import sys

    import core

    # importing it raises ModuleNotFoundError, as when colorize-video is not installed
    monkeypatch.setitem(sys.modules, "colorize_video.video", None)
    with pytest.raises(core.PluginError, match="needs the colorize-video plugin distribution"):
        core.colorize_video("clip.mp4")
