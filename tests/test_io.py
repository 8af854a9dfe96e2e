"""Image loading, validation and atomic writing (core/io.py)."""

from __future__ import annotations

import io
import os
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from core.errors import InvalidImageError, OutputExistsError
from core.io import (
    finish_temporary,
    load_image,
    open_temporary,
    orient,
    remove_live_temporaries,
    save_image,
    stale_temporaries,
)


def _save(img: Image.Image, path, **kw):
    img.save(path, **kw)
    return path


@pytest.fixture
def rgb8():
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, size=(12, 17, 3), dtype=np.uint8)


# -- refused inputs: every refusal names the input ---------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.jpg"
    with pytest.raises(InvalidImageError, match=r"nope\.jpg: file not found"):
        load_image(path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(InvalidImageError, match=r"empty\.png: empty file"):
        load_image(path)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("hello, I am text")
    with pytest.raises(InvalidImageError, match=r"notes\.jpg: not an image"):
        load_image(path)


@pytest.mark.parametrize("fmt,suffix", [("JPEG", ".jpg"), ("PNG", ".png")])
def test_truncated(tmp_path, rgb8, fmt, suffix):
    buffer = io.BytesIO()
    Image.fromarray(np.kron(rgb8, np.ones((8, 8, 1), np.uint8))).save(buffer, format=fmt)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(InvalidImageError, match=rf"cut\{suffix}: truncated or corrupt"):
        load_image(path)


def test_folder_refused(tmp_path):
    with pytest.raises(InvalidImageError, match="is a folder"):
        load_image(tmp_path)


def test_decompression_bomb_refused(tmp_path, monkeypatch):
    path = _save(Image.new("L", (100, 100)), tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(InvalidImageError, match=r"big\.png: .*(bomb|limit)"):
        load_image(path)
    with pytest.raises(InvalidImageError, match=r"<array>: .*decompression-bomb limit"):
        load_image(np.zeros((100, 100), np.uint8))


@pytest.mark.parametrize(
    "array,match",
    [
        (np.full((4, 4), np.nan, np.float32), "NaN or infinite"),
        (np.full((4, 4), np.inf, np.float64), "NaN or infinite"),
        (np.full((4, 4), -0.5, np.float32), r"\[0, 1\].*min -0.5"),
        (np.full((4, 4, 3), 255.0, np.float32), r"max 255"),
        (np.zeros((4, 4), np.int64), "unsupported dtype int64"),
        (np.zeros((4, 4), bool), "unsupported dtype bool"),
        (np.zeros((1, 4, 4, 3), np.uint8), r"got shape \(1, 4, 4, 3\)"),
        (np.zeros((4, 4, 2), np.uint8), r"got shape \(4, 4, 2\)"),
        (np.zeros((0, 4), np.uint8), "no pixels"),
    ],
)
def test_bad_arrays(array, match):
    with pytest.raises(InvalidImageError, match=f"<array>: .*{match}"):
        load_image(array)


def test_wrong_type():
    with pytest.raises(TypeError, match="expected a path, PIL.Image.Image or numpy array"):
        load_image(42)


# -- accepted inputs ------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16"])
def test_modes(tmp_path, mode):
    base = Image.fromarray(np.linspace(0, 255, 20 * 30).reshape(20, 30).astype(np.uint8))
    img = (
        base.convert(mode)
        if mode != "I;16"
        else Image.fromarray((np.linspace(0, 65535, 600).reshape(20, 30)).astype(np.uint16))
    )
    suffix = ".tif" if mode == "CMYK" else ".png"
    path = _save(img, tmp_path / f"m{suffix}")
    loaded = load_image(path)
    assert loaded.shape == (20, 30)
    assert loaded.pixels.dtype == np.float32
    assert 0.0 <= loaded.pixels.min() and loaded.pixels.max() <= 1.0
    assert (loaded.alpha is not None) == (mode in ("LA", "RGBA"))
    assert loaded.bit_depth == (16 if mode == "I;16" else 8)


def test_palette_with_transparency_keeps_alpha(tmp_path):
    img = Image.new("P", (5, 4))
    img.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    img.info["transparency"] = 0
    path = _save(img, tmp_path / "p.png", transparency=0)
    loaded = load_image(path)
    assert loaded.alpha is not None and loaded.alpha.max() == 0


def test_exif_rotation_applied(tmp_path):
    img = Image.new("L", (30, 10), 128)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° on display
    path = _save(img, tmp_path / "rot.jpg", exif=exif.tobytes())
    assert load_image(path).shape == (30, 10)


def test_multiframe_uses_first_frame_and_says_so(tmp_path):
    frames = [Image.new("L", (8, 6), v) for v in (10, 200)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    loaded = load_image(path)
    assert any("first frame" in n for n in loaded.notes)
    assert loaded.pixels.mean() < 0.2


def test_wrong_extension_loads_by_content(tmp_path, rgb8):
    path = _save(Image.fromarray(rgb8), tmp_path / "really_png.jpg", format="PNG")
    loaded = load_image(path)
    assert loaded.shape == (12, 17)
    assert any("does not match" in n for n in loaded.notes)


def test_sixteen_bit_rgb_png(tmp_path):
    import cv2

    data = (np.random.default_rng(0).integers(0, 65536, (9, 7, 3))).astype(np.uint16)
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), data[..., ::-1])
    loaded = load_image(path)
    assert loaded.bit_depth == 16
    np.testing.assert_allclose(loaded.pixels * 65535.0, data, atol=0.5)


def test_array_forms():
    assert load_image(np.zeros((3, 4, 1), np.uint8)).is_gray
    loaded = load_image(np.zeros((3, 4, 4), np.uint16))
    assert loaded.alpha is not None and loaded.bit_depth == 16 and not loaded.is_gray


def test_a_float_pil_image_comes_back_as_pil():
    """A mode "F" PIL image is a PIL input like any other: the output is a PIL image too."""
    loaded = load_image(Image.fromarray(np.full((3, 4), 0.5, np.float32), mode="F"))
    assert loaded.kind == "pil" and loaded.is_gray


# -- writing -----------------------------------------------------------------------------


def test_save_is_atomic_and_refuses_overwrite(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    save_image(target, np.zeros((4, 5, 3)))
    with pytest.raises(OutputExistsError, match="already exists"):
        save_image(target, np.ones((4, 5, 3)))
    save_image(target, np.ones((4, 5, 3)), overwrite=True)
    assert np.asarray(Image.open(target)).min() == 255

    def explode(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", explode)
    with pytest.raises(OSError, match="disk full"):
        save_image(tmp_path / "partial.png", np.zeros((4, 5, 3)))
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_save_protects_inputs(tmp_path):
    src = _save(Image.new("L", (4, 4)), tmp_path / "in.png")
    with pytest.raises(OutputExistsError, match="is an input file"):
        save_image(src, np.zeros((4, 4, 3)), protect=(src,))


def test_save_never_replaces_an_input_even_with_overwrite(tmp_path):
    src = _save(Image.new("L", (4, 4), 7), tmp_path / "in.png")
    before = src.read_bytes()
    os.link(src, tmp_path / "hard-link.png")
    for target in (src, tmp_path / "hard-link.png"):
        with pytest.raises(OutputExistsError, match="is an input file; write the result elsewhere"):
            save_image(target, np.zeros((4, 4, 3)), protect=(src,), overwrite=True)
    assert src.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["hard-link.png", "in.png"]  # no temporary left


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_get_the_usual_mode_under_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        written = [save_image(tmp_path / f"x{e}", np.zeros((3, 4, 3))) for e in (".png", ".jpg")]
        written.append(save_image(tmp_path / "y.png", np.zeros((3, 4, 3)), bit_depth=16))
        written.append(save_image(written[0], np.ones((3, 4, 3)), overwrite=True))
    finally:
        os.umask(old)
    for path in written:
        assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~umask), path


def test_temporaries_are_tracked_until_renamed_or_removed(tmp_path):
    fd, kept = open_temporary(tmp_path, prefix=".a.", suffix=".png.part")
    os.close(fd)
    fd, dropped = open_temporary(tmp_path, prefix=".b.", suffix=".png.part")
    os.close(fd)
    finish_temporary(kept, tmp_path / "a.png")
    assert sorted(os.listdir(tmp_path)) == [dropped.name, "a.png"]
    remove_live_temporaries()  # what a worker's SIGTERM handler does
    assert os.listdir(tmp_path) == ["a.png"]
    finish_temporary(dropped)  # already gone: not an error


def test_stale_temporaries_match_only_the_writers_names(tmp_path):
    names = [
        ".a.0123456789ab.png.part",  # save_image
        ".a.0123456789ab.part.mp4",  # colorize_video
        ".a.png.part",  # not ours: no random part
        ".ab.0123456789ab.png.part",  # another file's
        ".a.0123456789ab.jpg.part",  # another extension's
        "a.0123456789ab.png.part",  # not hidden
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    found = {p.name for p in stale_temporaries(tmp_path / "a.png")}
    assert found == {names[0]}
    assert {p.name for p in stale_temporaries(tmp_path / "a.mp4")} == {names[1]}
    assert stale_temporaries(tmp_path / "missing" / "a.png") == []


def test_save_sixteen_bit_and_alpha(tmp_path):
    rgb = np.random.default_rng(3).random((6, 5, 3)).astype(np.float32)
    alpha = np.arange(30, dtype=np.uint8).reshape(6, 5)
    path = save_image(tmp_path / "x.png", rgb, alpha=alpha, bit_depth=16)
    loaded = load_image(path)
    assert loaded.bit_depth == 16
    np.testing.assert_allclose(loaded.pixels, rgb, atol=1 / 65535)
    np.testing.assert_allclose(loaded.alpha.astype(float) / 65535 * 255, alpha, atol=0.01)


def test_save_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match="cannot write .xyz"):
        save_image(tmp_path / "a.xyz", np.zeros((2, 2, 3)))


# -- 16-bit orientation and depth, ICC profiles (issue #33, "also" list) ------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orient_matches_pillows_exif_transpose(orientation):
    data = np.random.default_rng(orientation).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    img = Image.fromarray(data)
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.info["exif"] = exif.tobytes()
    expected = np.asarray(ImageOps.exif_transpose(img))
    np.testing.assert_array_equal(orient(data, orientation), expected)


def _png_with_exif(png: bytes, orientation: int) -> bytes:
    """``png`` with an eXIf chunk holding ``orientation``, after IHDR."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    payload = exif.tobytes()[6:]  # without the "Exif\0\0" prefix a JPEG needs
    chunk = b"eXIf" + payload
    chunk = struct.pack(">I", len(payload)) + chunk + struct.pack(">I", zlib.crc32(chunk))
    end_of_ihdr = 8 + 4 + 4 + 13 + 4
    return png[:end_of_ihdr] + chunk + png[end_of_ihdr:]


def test_sixteen_bit_png_follows_its_exif_orientation(tmp_path):
    data = np.random.default_rng(1).integers(0, 65535, (4, 6, 3), dtype=np.uint16)
    ok, png = cv2.imencode(".png", data[..., ::-1])  # OpenCV writes BGR
    assert ok
    path = tmp_path / "rotated16.png"
    path.write_bytes(_png_with_exif(png.tobytes(), 6))  # 6: rotate 90° clockwise to view
    loaded = load_image(path)
    assert loaded.bit_depth == 16 and loaded.pixels.shape == (6, 4, 3)
    expected = np.rot90(data, -1).astype(np.float32) / 65535.0
    np.testing.assert_array_equal(loaded.pixels, expected)


def test_sixteen_bit_tiff_keeps_sixteen_bits(tmp_path):
    data = np.random.default_rng(2).integers(0, 65535, (5, 3, 3), dtype=np.uint16)
    path = tmp_path / "deep.tif"
    assert cv2.imwrite(str(path), data[..., ::-1])
    loaded = load_image(path)
    assert loaded.bit_depth == 16 and loaded.dtype == np.uint16
    np.testing.assert_array_equal(loaded.pixels, data.astype(np.float32) / 65535.0)


def _linear_srgb_profile() -> bytes:
    """A minimal ICC v2 display profile: sRGB primaries (D50-adapted) with gamma 1.0,
    i.e. linear light, so that converting it to sRGB visibly brightens mid-tones."""

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + bytes(4) + s15(x) + s15(y) + s15(z)

    text = b"linear light test\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, 0x0100) + bytes(2)  # gamma 1.0
    tags = [
        (b"desc", desc),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text" + bytes(4) + b"none\0\0\0\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for sig, data in tags:
        data += bytes(-len(data) % 4)
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000)
    header += b"mntrRGB XYZ " + bytes(12) + b"acsp" + bytes(24) + struct.pack(">I", 0)
    header += xyz(0.9642, 1.0, 0.8249)[8:] + bytes(4) + bytes(16)
    header += bytes(128 - len(header))
    return header + table + body


def test_an_embedded_icc_profile_is_converted_to_srgb_and_said(tmp_path):
    path = tmp_path / "linear.png"
    Image.new("RGB", (4, 4), (128, 128, 128)).save(path, icc_profile=_linear_srgb_profile())
    loaded = load_image(path)
    # linear 0.5 is sRGB-encoded 0.735 (188/255)
    np.testing.assert_allclose(loaded.pixels, 0.735, atol=0.01)
    assert any("ICC profile 'linear light test' to sRGB" in note for note in loaded.notes)
    plain = tmp_path / "plain.png"
    Image.new("RGB", (4, 4), (128, 128, 128)).save(plain)
    assert load_image(plain).notes == []
