"""The public API: input forms, full-resolution policy, results, samples, threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

import core
from core.colorspaces.lab import LabSpace
from core.errors import CapabilityError, ColorizeError, InvalidImageError, UnknownMethodError


class ToyPluginFor:
    def __init__(self, *colorizers):
        self.colorizers = colorizers

    @core.hookimpl
    def register_methods(self, register):
        for c in self.colorizers:
            register(c)


@pytest.fixture
def gray_array():
    y, x = np.mgrid[0:45, 0:70]
    return (0.5 + 0.4 * np.sin(x / 9.0) * np.cos(y / 6.0)).astype(np.float32)


@pytest.mark.parametrize(
    "dtype,scale", [(np.uint8, 255), (np.uint16, 65535), (np.float32, 1.0), (np.float64, 1.0)]
)
@pytest.mark.parametrize("channels", [None, 1, 3])
def test_array_forms_round_trip(registry, gray_array, dtype, scale, channels):
    data = gray_array
    if channels is not None:
        data = np.repeat(data[..., None], channels, axis=-1)
    data = (data * scale).astype(dtype) if scale != 1.0 else data.astype(dtype)
    out = core.colorize(data, "toy")
    assert isinstance(out, np.ndarray)
    assert out.shape == (45, 70, 3) and out.dtype == dtype
    if dtype in (np.float32, np.float64):
        assert 0.0 <= out.min() and out.max() <= 1.0
    # the output is in colour
    assert (
        np.abs(out.astype(float) / scale - out.astype(float).mean(-1, keepdims=True) / scale).max()
        > 0.02
    )


def test_pil_and_path_forms(registry, gray_image):
    out = core.colorize(gray_image, "toy")
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (60, 40)
    pil = Image.open(gray_image)
    out2 = core.colorize(pil, "toy")
    assert isinstance(out2, Image.Image) and out2.size == pil.size
    np.testing.assert_array_equal(np.asarray(out), np.asarray(out2))


def test_lightness_preserved_at_full_resolution(registry, gray_array):
    """Larsson et al. App. A.4: the output's lightness is the input's."""
    result = core.colorize_result(gray_array, "toy")
    lab = LabSpace()
    expected = lab.gray_lightness(gray_array)
    achieved = lab.lightness(result.rgb)
    in_gamut = np.all((result.rgb > 0.01) & (result.rgb < 0.99), axis=-1)
    assert in_gamut.mean() > 0.5
    assert np.abs(achieved - expected)[in_gamut].max() < 0.5
    assert result.chroma.shape == (45, 70, 2)
    assert result.metadata["working_shape"] == (32, 50)


@pytest.mark.parametrize("form", ["array", "pil-L", "png-LA"])
def test_8bit_gray_lightness_is_the_per_pixel_value(registry, gray_array, form, tmp_path):
    """The 256-entry table of an 8-bit gray input gives each pixel's own lightness."""
    from core import api
    from core.plugins import get_registry

    codes = (gray_array * 255).astype(np.uint8)
    codes[0, :3] = (0, 255, 128)  # both ends of the table
    if form == "array":
        image = codes
    elif form == "pil-L":
        image = Image.fromarray(codes, "L")
    else:
        image = tmp_path / "gray-alpha.png"
        Image.fromarray(np.dstack([codes, np.full_like(codes, 200)]), "LA").save(image)
    loaded = core.io.load_image(image)
    assert loaded.samples8 is not None and loaded.samples8.dtype == np.uint8
    np.testing.assert_array_equal(loaded.samples8, codes)
    np.testing.assert_array_equal(loaded.pixels, codes.astype(np.float32) / 255.0)
    registry_ = get_registry()
    for name in registry_.names("colorspace"):
        space = registry_.get("colorspace", name)
        table = api._input_lightness(space, loaded)
        per_pixel = api._stripwise(space.gray_lightness, loaded.pixels)
        assert table.dtype == np.float32 and table.shape == codes.shape
        np.testing.assert_allclose(table, per_pixel, atol=1e-4, err_msg=name)


def test_only_8bit_gray_inputs_carry_samples(gray_array):
    assert core.io.load_image((gray_array * 65535).astype(np.uint16)).samples8 is None
    assert core.io.load_image(gray_array).samples8 is None
    rgb = np.repeat((gray_array * 255).astype(np.uint8)[..., None], 3, axis=-1)
    assert core.io.load_image(rgb).samples8 is None


def test_colour_input_is_reduced_to_lightness(registry, gray_array):
    rng = np.random.default_rng(0)
    colour = np.clip(gray_array[..., None] + rng.uniform(-0.2, 0.2, (1, 1, 3)), 0, 1)
    result = core.colorize_result(colour.astype(np.float32), "toy")
    np.testing.assert_allclose(
        result.lightness, LabSpace().lightness(colour.astype(np.float32)), atol=1e-4
    )


def test_alpha_preserved(registry, gray_array, tmp_path):
    alpha = (np.arange(45 * 70).reshape(45, 70) % 256).astype(np.uint8)
    rgba = np.dstack([np.repeat((gray_array * 255).astype(np.uint8)[..., None], 3, -1), alpha])
    out = core.colorize(rgba, "toy")
    assert out.shape == (45, 70, 4)
    np.testing.assert_array_equal(out[..., 3], alpha)
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    pil = core.colorize(path, "toy")
    assert pil.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(pil)[..., 3], alpha)


def test_sixteen_bit_kept(registry, tmp_path, gray_array):
    path = tmp_path / "g16.png"
    Image.fromarray((gray_array * 65535).astype(np.uint16)).save(path)
    result = core.colorize_result(path, "toy")
    out = result.save(tmp_path / "out.png")
    import cv2

    data = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert data.dtype == np.uint16 and data.shape == (45, 70, 3)


def test_input_never_overwritten(registry, gray_image):
    before = gray_image.read_bytes()
    result = core.colorize_result(gray_image, "toy")
    with pytest.raises(ColorizeError, match="is an input file"):
        result.save(gray_image)
    assert gray_image.read_bytes() == before


def test_default_method_configurable(registry, gray_array, monkeypatch):
    assert core.default_method() == "toy"
    core.set_default_method("toy-onnx")
    assert core.colorize_result(gray_array).method == "toy-onnx"
    monkeypatch.setenv("COLORIZE_DEFAULT_METHOD", "toy")
    assert core.default_method() == "toy"
    monkeypatch.setenv("COLORIZE_DEFAULT_METHOD", "nope")
    with pytest.raises(UnknownMethodError):
        core.default_method()
    with pytest.raises(UnknownMethodError):
        core.set_default_method("nope")


def test_bad_image_errors_name_the_input(registry, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    with pytest.raises(InvalidImageError, match="broken.jpg"):
        core.colorize(bad, "toy")
    with pytest.raises(InvalidImageError, match="<array>"):
        core.colorize(np.full((4, 4), np.nan, np.float32), "toy")


def test_reference_rules(registry, gray_array):
    with pytest.raises(CapabilityError, match="needs a colour reference"):
        core.colorize(gray_array, "toy-reference")
    with pytest.raises(CapabilityError, match="does not use a reference.*toy-reference"):
        core.colorize(gray_array, "toy", reference=np.ones((4, 4, 3), np.float32))
    with pytest.raises(InvalidImageError, match="reference image is grayscale"):
        core.colorize(gray_array, "toy-reference", reference=np.ones((8, 9), np.float32))
    ref = np.zeros((20, 10, 3), np.float32)
    ref[..., 0] = 0.8  # red, any size
    out = core.colorize_result(gray_array, "toy-reference", reference=ref)
    assert out.chroma[..., 0].mean() > 20  # red has positive a*


class _RecommendingColorizer(core.Colorizer):
    """Test-only: recommends a red reference when given index="red"."""

    name = "toy-recommend"
    description = "test-only: recommends its own reference"
    citation = "none (test fixture)"
    capabilities = core.Capabilities(automatic=False, reference=True, recommend=True)
    colorspace = "lab"
    working_size = 16

    def __init__(self):
        self.seen_lightness = None

    def recommend_reference(self, lightness, *, index=None, **options):
        if index is None:
            raise CapabilityError(f"{self.name}: reference='auto' needs index=")
        self.seen_lightness = lightness
        if index == "missing":
            return "/nonexistent/reference.jpg"
        ref = np.zeros((12, 10, 3), np.float32)
        ref[..., 0] = 0.8
        return ref

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        ab = core.colorspaces.rgb_to_lab(reference)[..., 1:].reshape(-1, 2).mean(0)
        return core.Prediction(np.broadcast_to(ab, (*lightness.shape, 2)).astype(np.float32))


def test_reference_auto_is_resolved_by_the_method(registry, gray_array):
    method = _RecommendingColorizer()
    registry.add_plugin(ToyPluginFor(method), name="recommend-plugin", distribution="rec-dist")
    out = core.colorize_result(gray_array, "toy-recommend", reference="auto", index="red")
    assert out.chroma[..., 0].mean() > 20  # the recommended red reference was used
    assert method.seen_lightness.shape == gray_array.shape  # full-resolution lightness
    assert out.metadata.get("reference") is None  # an array: no file to name
    with pytest.raises(CapabilityError, match="needs index"):
        core.colorize(gray_array, "toy-recommend", reference="auto")
    with pytest.raises(InvalidImageError, match="reference.jpg"):
        core.colorize(gray_array, "toy-recommend", reference="auto", index="missing")
    with pytest.raises(CapabilityError, match="cannot recommend.*toy-recommend"):
        core.colorize(gray_array, "toy-reference", reference="auto", index="red")
    with pytest.raises(CapabilityError, match="index= is only used with reference='auto'"):
        core.colorize(gray_array, "toy-recommend", reference=np.ones((4, 4, 3)), index="red")
    assert core.get_method("toy-recommend").capabilities.names() == ["reference", "recommend"]


def test_decoder_refused_without_decoders(registry, gray_array):
    with pytest.raises(CapabilityError, match="has no decoders"):
        core.colorize(gray_array, "toy", decoder="mode")


def test_unknown_option_is_a_type_error(registry, gray_array):
    with pytest.raises(TypeError, match="unexpected options"):
        core.colorize(gray_array, "toy", flavour="sour")


def test_samples_reproducible_and_diverse(registry, gray_array):
    a = core.sample(gray_array, "toy", n=3, seed=5)
    b = core.sample(gray_array, "toy", n=3, seed=5)
    assert len(a) == 3
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(a[0], a[1])
    np.testing.assert_array_equal(a[1], core.colorize(gray_array, "toy", seed=6))
    with pytest.raises(CapabilityError, match="does not draw diverse samples.*toy"):
        core.sample(gray_array, "toy-onnx", n=2)
    with pytest.raises(ValueError, match="positive integer"):
        core.sample(gray_array, "toy", n=0)


def test_result_metadata(registry, gray_array):
    result = core.colorize_result(gray_array, "toy-onnx", seed=3)
    meta = result.metadata
    assert meta["method"] == "toy-onnx" and meta["plugin"] == "toy-dist" and meta["seed"] == 3
    assert set(meta["timings"]) == {"load", "predict", "recombine", "total"}
    assert result.to_array(np.uint16).dtype == np.uint16
    assert result.to_pil().size == (70, 45)
    with pytest.raises(CapabilityError, match="no uncertainty"):
        result.uncertainty_image()


def test_concurrent_calls_share_a_session(registry):
    rng = np.random.default_rng(0)
    images = [rng.random((40 + i, 50), dtype=np.float32) for i in range(8)]
    serial = [core.colorize(img, "toy-onnx") for img in images]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda im: core.colorize(im, "toy-onnx"), images * 2))
    for i, out in enumerate(parallel):
        np.testing.assert_array_equal(out, serial[i % len(images)])


def test_large_input_bounded_memory(registry):
    """A 4000x3000 input works; peak extra memory stays a small multiple of the image."""
    image = np.full((3000, 4000), 128, np.uint8)
    tracemalloc.start()
    try:
        out = core.colorize(image, "toy")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (3000, 4000, 3)
    megapixels = image.size / 1e6
    print(f"peak {peak / image.size:.1f} bytes per pixel")
    assert peak / 1e6 < 48 * megapixels  # about a dozen float32 planes, not dozens


def test_inference_never_imports_torch(tmp_path, toys):
    model = toys.make_onnx_model(tmp_path / "m")
    code = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import core
        from core.plugins import Registry, reset_registry
        from core.runtime import OnnxModel

        class M(core.Colorizer):
            name = "m"
            def __init__(self):
                self.net = OnnxModel({str(model)!r})
            def predict(self, lightness, **kw):
                (ab,) = self.net.run(L=(lightness / 100)[None, None].astype(np.float32))
                return core.Prediction(ab[0].transpose(1, 2, 0))

        class P:
            @core.hookimpl
            def register_methods(self, register):
                register(M())

        reg = Registry(load_entry_points=True)
        reg.add_plugin(P(), name="p")
        reset_registry(reg)
        core.colorize(np.zeros((20, 30), np.uint8), "m")
        for name in core.methods():
            pass
        bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "onnxscript"))
        print("IMPORTED:", bad)
        assert not bad, bad
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr + proc.stdout


# -- oddly shaped and large inputs (issue #22) -------------------------------------------


@pytest.mark.parametrize("shape", [(3, 20000), (20000, 3), (2, 5000), (1, 1)])
def test_strip_files_colorize_at_a_bounded_working_shape(registry, tmp_path, shape):
    height, width = shape
    data = (np.arange(height * width) % 251).astype(np.uint8).reshape(shape)
    path = tmp_path / f"strip-{width}x{height}.png"
    Image.fromarray(data, "L").save(path)
    result = core.colorize_result(path, "toy-onnx")
    assert result.rgb.shape == (height, width, 3) and result.to_pil().size == (width, height)
    colorizer = registry.get("method", "toy-onnx")
    _, side, pixels = colorizer.working_bounds()
    wh, ww = result.metadata["working_shape"]
    assert max(wh, ww) <= side and wh * ww <= pixels
    lab = LabSpace()
    error = np.abs(lab.lightness(result.rgb) - lab.gray_lightness(data / 255.0))
    assert np.median(error) < 0.5  # full-resolution lightness kept along the strip


def test_a_working_shape_over_the_bounds_is_refused_naming_the_file(registry, toys, tmp_path):
    """A method that overrides working_shape with the old unbounded formula never gets to
    allocate a 64 x 426 667 working image: the core refuses the input first."""
    calls = []

    class Unbounded(toys.ToyColorizer):
        name = "unbounded"

        def working_shape(self, height, width):
            scale = self.working_size / min(height, width)
            return max(1, round(height * scale)), max(1, round(width * scale))

        def predict(self, lightness, **kw):
            calls.append(lightness.shape)
            return super().predict(lightness, **kw)

    registry.add_plugin(toys.ToyPlugin(Unbounded()), name="unbounded-plugin")
    path = tmp_path / "film-strip.png"
    Image.fromarray(np.full((3, 20000), 90, np.uint8), "L").save(path)
    with pytest.raises(InvalidImageError) as info:
        core.colorize(path, "unbounded")
    message = str(info.value)
    assert "film-strip.png" in message and "\n" not in message and "'unbounded'" in message
    assert "20000x3" in message and calls == []
    assert core.colorize(np.full((30, 40), 0.5, np.float32), "unbounded").shape == (30, 40, 3)


def test_out_of_memory_is_refused_naming_the_file(registry, gray_image, monkeypatch):
    from core import api

    def exhausted(*args):
        raise MemoryError("Unable to allocate 137. MiB for an array with shape (3000, 4000, 3)")

    monkeypatch.setattr(api, "recombine", exhausted)
    with pytest.raises(InvalidImageError, match=r"gray\.jpg: not enough memory .*137\. MiB"):
        core.colorize(gray_image, "toy")
    with pytest.raises(InvalidImageError, match=r"^<array>: not enough memory"):
        core.sample(np.zeros((8, 8), np.uint8), "toy", n=2)


def test_strips_resize_by_area_along_their_length(registry):
    """A 3 x 20000 strip shrinks 39x along its length and grows across it: the working
    lightness averages each run of columns instead of sampling one of them."""
    from core import api

    stripes = np.tile(np.array([0.0, 100.0], np.float32), (3, 10000))  # 1-px stripes
    working = api._resize_lightness(stripes, (8, 256))
    assert working.shape == (8, 256) and working.dtype == np.float32
    np.testing.assert_allclose(working, 50.0, atol=2.0)


def test_recombination_threads_do_not_change_the_result(registry, monkeypatch):
    y, x = np.mgrid[0:1500, 0:1600]
    image = (0.5 + 0.45 * np.sin(x / 50.0) * np.cos(y / 70.0)).astype(np.float32)
    outputs = []
    for threads in ("1", "3"):
        monkeypatch.setenv("COLORIZE_THREADS", threads)
        outputs.append(core.colorize(image, "toy", seed=1))
    np.testing.assert_array_equal(outputs[0], outputs[1])


# -- the public pipeline stages (core.api.prepare / predict / recombine) ----------------


def _stages(image, method, *, seed=None, **request):
    """``colorize_result``'s pixels composed from the public stages."""
    from core import api

    prep = api.prepare(image, method, **request)
    pred = api.predict(prep, seed=seed)
    rgb, chroma = api.recombine(prep.space, prep.lightness, pred.chroma, prep.gray)
    return prep, pred, rgb, chroma


@pytest.mark.parametrize("form", ["uint8", "float-colour", "path"])
def test_pipeline_stages_give_exactly_colorize_results_pixels(
    registry, gray_array, gray_image, form
):
    if form == "uint8":
        image = (gray_array * 255).astype(np.uint8)
    elif form == "float-colour":
        image = np.dstack([gray_array, gray_array * 0.9, gray_array * 0.8]).astype(np.float32)
    else:
        image = gray_image
    prep, pred, rgb, chroma = _stages(image, "toy", seed=3)
    result = core.colorize_result(image, "toy", seed=3)
    np.testing.assert_array_equal(rgb, result.rgb)
    np.testing.assert_array_equal(chroma, result.chroma)
    np.testing.assert_array_equal(prep.lightness, result.lightness)
    assert prep.working.shape == result.metadata["working_shape"]
    assert pred.chroma.shape == (*prep.working.shape, 2) and pred.chroma.dtype == np.float32
    assert (prep.gray is None) == (form == "float-colour")
    assert prep.colorizer.name == "toy" and prep.space.name == result.colorspace
    out = core.io.to_output(rgb, prep.loaded)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(result.output()))


def test_pipeline_stages_pass_the_reference(registry, gray_array):
    ref = np.zeros((8, 8, 3), np.float32)
    ref[..., 0] = 0.8
    prep, _, rgb, _ = _stages(gray_array, "toy-reference", reference=ref)
    assert prep.reference is not None and prep.reference.shape == (8, 8, 3)
    np.testing.assert_array_equal(
        rgb, core.colorize_result(gray_array, "toy-reference", reference=ref).rgb
    )


@pytest.mark.parametrize(
    "method,request_",
    [
        ("nope", {}),
        ("toy", {"reference": np.ones((4, 4, 3), np.float32)}),
        ("toy-reference", {}),
        ("toy", {"decoder": "mode"}),
        ("toy", {"reference": "auto", "index": "refs.index"}),
        ("toy-reference", {"reference": np.ones((4, 4, 3), np.float32), "index": "x"}),
    ],
)
def test_stages_refuse_requests_with_colorizes_errors(registry, gray_array, method, request_):
    from core import api

    with pytest.raises((CapabilityError, UnknownMethodError)) as expected:
        core.colorize(gray_array, method, **request_)
    for stage in (api.prepare, lambda _, *args, **kw: api.check_request(*args, **kw)):
        with pytest.raises(type(expected.value)) as got:
            stage(gray_array, method, **request_)
        assert str(got.value) == str(expected.value)


def test_prepare_refuses_bad_images_like_colorize(registry, tmp_path):
    from core import api

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(InvalidImageError) as expected:
        core.colorize(bad, "toy")
    with pytest.raises(InvalidImageError) as got:
        api.prepare(bad, "toy")
    assert str(got.value) == str(expected.value) and "broken.png" in str(got.value)


class _Misbehaving(core.Colorizer):
    """Test-only method whose prediction is set per test."""

    name = "misbehaving"
    description = "test-only"
    citation = "none"
    capabilities = core.Capabilities(automatic=True)
    colorspace = "lab"
    working_size = 16
    returns = None

    def predict(self, lightness, *, reference=None, seed=None, decoder=None, **options):
        if isinstance(type(self).returns, Exception):
            raise type(self).returns
        return type(self).returns(lightness)


@pytest.mark.parametrize(
    "returns,match",
    [
        (lambda w: core.Prediction(np.full((*w.shape, 2), np.nan, np.float32)), "NaN and 0 inf"),
        (lambda w: core.Prediction(np.zeros((3, 3, 2), np.float32)), "chroma of shape"),
        (lambda w: np.zeros((*w.shape, 2), np.float32), "returned ndarray, expected"),
        (RuntimeError("boom"), r"plugin mis-dist 0\.1.*RuntimeError: boom"),
    ],
)
def test_predict_refuses_what_colorize_refuses(registry, gray_array, monkeypatch, returns, match):
    from core import api
    from core.errors import PluginError

    registry.add_plugin(
        ToyPluginFor(_Misbehaving()), name="mis", distribution="mis-dist", version="0.1"
    )
    monkeypatch.setattr(_Misbehaving, "returns", returns)
    with pytest.raises(PluginError, match=match) as expected:
        core.colorize(gray_array, "misbehaving")
    prep = api.prepare(gray_array, "misbehaving")
    with pytest.raises(PluginError) as got:
        api.predict(prep)
    assert str(got.value) == str(expected.value)


def test_predict_hands_on_a_float32_copy(registry, gray_array, monkeypatch):
    from core import api

    own = []

    def float64(lightness):
        own.append(np.zeros((*lightness.shape, 2), np.float64))
        return core.Prediction(own[-1])

    registry.add_plugin(ToyPluginFor(_Misbehaving()), name="mis", distribution="d")
    monkeypatch.setattr(_Misbehaving, "returns", float64)
    pred = api.predict(api.prepare(gray_array, "misbehaving"))
    assert pred.chroma.dtype == np.float32 and not np.shares_memory(pred.chroma, own[0])


def test_predict_passes_options_and_the_prepared_decoder(registry, gray_array):
    from core import api

    prep = api.prepare(gray_array, "toy")
    with pytest.raises(TypeError, match="unexpected options"):
        api.predict(prep, strength=2)
    assert prep.decoder is None
    a, b = api.predict(prep, seed=1).chroma, api.predict(prep, seed=1).chroma
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, api.predict(prep, seed=2).chroma)


def test_recombine_refuses_bad_shapes(registry):
    from core import api

    lab = LabSpace()
    light = np.full((6, 8), 50.0, np.float32)
    with pytest.raises(ValueError, match=r"expected \(H, W\) lightness, got shape \(6, 8, 1\)"):
        api.recombine(lab, light[..., None], np.zeros((3, 4, 2)))
    with pytest.raises(ValueError, match=r"expected \(h, w, 2\) chroma, got shape \(3, 4, 3\)"):
        api.recombine(lab, light, np.zeros((3, 4, 3)))
    with pytest.raises(ValueError, match=r"gray of the lightness's shape \(6, 8\), got \(6, 7\)"):
        api.recombine(lab, light, np.zeros((3, 4, 2)), np.zeros((6, 7), np.float32))
    rgb, full = api.recombine(lab, light, np.zeros((3, 4, 2)))
    assert rgb.shape == (6, 8, 3) and full.shape == (6, 8, 2) and rgb.dtype == np.float32
    np.testing.assert_allclose(rgb, rgb[..., :1].repeat(3, -1), atol=1e-4)  # zero chroma: gray


def test_recombine_threads_follow_the_environment(monkeypatch):
    from core import api

    monkeypatch.setenv("COLORIZE_THREADS", "3")
    assert api.recombine_threads() == 3
    monkeypatch.setenv("COLORIZE_THREADS", "0")
    assert 1 <= api.recombine_threads() <= 8
    monkeypatch.setenv("COLORIZE_THREADS", "many")
    with pytest.raises(ValueError, match="COLORIZE_THREADS must be an integer"):
        api.recombine_threads()


def test_pipeline_stages_are_public_under_core_api():
    from core import api

    stages = {"Prepared", "check_request", "prepare", "predict", "recombine", "recombine_threads"}
    assert stages <= set(api.__all__)
    assert not stages & set(core.__all__)  # kept under core.api, not top-level
    for name in stages:
        assert getattr(api, name).__doc__, name


# -- vividness -----------------------------------------------------------------------------


def _detroit() -> Image.Image:
    from core.cli import DEMO_IMAGE

    with Image.open(DEMO_IMAGE) as image:
        return image.convert("L").copy()


def test_vividness_scales_the_chroma_by_default(registry, gray_array):
    from core.metrics import colourfulness

    base = core.colorize_result(gray_array, "toy")
    looks = {v: core.colorize_result(gray_array, "toy", vividness=v) for v in (0, 0.5, 1)}
    np.testing.assert_array_equal(looks[0.5].rgb, base.rgb)
    values = [colourfulness(looks[v].rgb) for v in (0, 0.5, 1)]
    assert values[0] < values[1] < values[2]
    np.testing.assert_allclose(looks[0].chroma, 0.5 * base.chroma, atol=1e-4)
    assert looks[1].metadata["vividness"] == {"value": 1.0, "options": {}, "chroma_scale": 1.5}
    assert "vividness" not in base.metadata
    drawn = core.api.sample_results(gray_array, "toy", 2, seed=3, vividness=0.0)
    single = core.colorize_result(gray_array, "toy", seed=4, vividness=0.0)
    np.testing.assert_array_equal(drawn[1].rgb, single.rgb)
    info = core.get_method("toy").to_dict()
    assert info["vividness"] == core.Colorizer.vividness and "0.5 + vividness" in info["vividness"]


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_vividness_outside_zero_to_one_is_refused(registry, gray_array, bad):
    with pytest.raises(ValueError, match=r"vividness must be a number in \[0, 1\] .* got"):
        core.colorize_result(gray_array, "toy", vividness=bad)


def test_a_method_maps_vividness_to_its_own_options(registry, toys, gray_array):
    seen = []

    class Tempered(toys.ToyColorizer):
        name = "toy-tempered"
        vividness = "temperature 0.5 + v"

        def vividness_options(self, vividness, *, decoder=None):
            return {"temperature": 0.5 + vividness}

        def predict(self, lightness, *, temperature=1.0, **kwargs):
            seen.append(temperature)
            return super().predict(lightness, **kwargs)

    registry.add_plugin(toys.ToyPlugin(Tempered()), name="tempered", distribution="t")
    res = core.colorize_result(gray_array, "toy-tempered", vividness=0.25)
    assert seen == [0.75] and res.metadata["vividness"]["options"] == {"temperature": 0.75}
    assert core.get_method("toy-tempered").vividness == "temperature 0.5 + v"
    with pytest.raises(ValueError, match="vividness sets temperature .* not both"):
        core.colorize_result(gray_array, "toy-tempered", vividness=0.25, temperature=2.0)


@pytest.mark.parametrize("method", ["larsson", "cnn-classification"])
def test_colourfulness_grows_with_vividness_and_half_is_the_default(method):
    from core.metrics import colourfulness

    if method not in [m.name for m in core.methods()]:
        pytest.skip(f"the {method} method is not installed")
    photo = _detroit()
    base = core.colorize_result(photo, method)
    looks = [core.colorize_result(photo, method, vividness=v) for v in (0.0, 0.5, 1.0)]
    np.testing.assert_array_equal(looks[1].rgb, base.rgb)
    values = [colourfulness(r.rgb) for r in looks]
    assert values[0] < 0.8 * values[1] and values[2] > 1.25 * values[1], values
