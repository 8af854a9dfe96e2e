"""Colour hints (core.hints): parsing, refusal of bad hints, and propagation for every method."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from colorize_devkit.testing import HINT_SCENE, hint_effect, hint_scene

import core
from core.colorspaces import HueChromaSpace, LabSpace, lab_to_rgb, rgb_to_lab
from core.errors import InvalidHintsError
from core.hints import (
    MIN_DIFFERENCE,
    Hint,
    Suggestion,
    apply_hints,
    check_hints,
    load_hints,
    parse_color,
    parse_hints,
    solve_shape,
)

ROOT = Path(__file__).resolve().parents[1]

GRAY, COLOUR = hint_scene()
HEIGHT, WIDTH = HINT_SCENE["shape"]
REGION_A, REGION_B = HINT_SCENE["region_a"], HINT_SCENE["region_b"]
HINT_X, HINT_Y = HINT_SCENE["hint_xy"]


# -- parsing -------------------------------------------------------------------------------


def test_parse_color_forms():
    assert parse_color("#ff8000") == (1.0, 128 / 255, 0.0)
    assert parse_color("F80") == parse_color("#ff8800")
    assert parse_color([0, 255, 51]) == (0.0, 1.0, 0.2)
    assert Hint(1, 2, parse_color("#3a6ec8")).hex == "#3a6ec8"


@pytest.mark.parametrize(
    "bad", ["red", "#12345", "#ggg000", [0, 0], [0, 0, 256], [0, -1, 0], None, 3, [True, 0, 0]]
)
def test_parse_color_refuses(bad):
    with pytest.raises(ValueError, match="bad colour"):
        parse_color(bad)


def test_parse_hints_both_forms_and_round_trip():
    items = [
        {"x": 3, "y": 4.5, "color": "#102030", "radius": 2},
        {"x": 0, "y": 0, "colour": [255, 0, 0]},
    ]
    hints = parse_hints({"hints": items})
    assert hints == parse_hints(items)
    assert hints[0] == Hint(3, 4.5, parse_color("#102030"), 2)
    assert hints[1].radius is None
    assert parse_hints([h.to_dict() for h in hints]) == hints


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"points": []}, r'expected \{"hints"'),
        ("x=1", "expected a list of hints"),
        ([{"x": 1, "y": 2}], "hint 1: missing field.*color"),
        ([{"x": 1, "y": 2, "color": "#fff"}, {"y": 2, "color": "#fff"}], "hint 2: missing.*x"),
        ([{"x": 1, "y": 2, "color": "#fff", "size": 3}], "hint 1: unknown field.*'size'"),
        ([{"x": "1", "y": 2, "color": "#fff"}], "hint 1: hint x must be a number"),
        ([{"x": float("nan"), "y": 2, "color": "#fff"}], "finite"),
        ([{"x": 1, "y": 2, "color": "#fff", "radius": -1}], "radius must be a finite number"),
        ([{"x": 1, "y": 2, "color": "blue"}], "hint 1: bad colour 'blue'"),
        ([{"x": 1, "y": 2, "color": "#fff", "radius": 1e300}], r"radius .* got 1e\+300"),
        ([{"x": 1, "y": 2, "color": "#fff", "radius": 10**400}], r"radius .* got 1000000"),
        ([{"x": 1e300, "y": 2, "color": "#fff"}], r"hint 1: hint x .* got 1e\+300"),
        ([{"x": 1, "y": -1e19, "color": "#fff"}], r"hint 1: hint y .* got -1e\+19"),
    ],
)
def test_parse_hints_refuses_with_the_hint_named(data, message):
    with pytest.raises(InvalidHintsError, match=message) as info:
        parse_hints(data, source="request")
    assert str(info.value).startswith("request: ")


def test_load_hints_names_the_file(tmp_path):
    good = tmp_path / "hints.json"
    good.write_text(json.dumps({"hints": [{"x": 1, "y": 2, "color": "#00ff00"}]}))
    assert load_hints(good) == [Hint(1, 2, (0.0, 1.0, 0.0))]
    broken = tmp_path / "broken.json"
    broken.write_text('{"hints": [')
    with pytest.raises(InvalidHintsError, match=r"broken\.json: not valid JSON"):
        load_hints(broken)
    with pytest.raises(InvalidHintsError, match=r"missing\.json: cannot read it"):
        load_hints(tmp_path / "missing.json")
    colour = tmp_path / "colour.json"
    colour.write_text('[{"x": 1, "y": 2, "color": "#12"}]')
    with pytest.raises(InvalidHintsError, match=r"colour\.json: hint 1: bad colour"):
        load_hints(colour)


def test_check_hints_refuses_points_outside():
    check_hints([Hint(0, 0, (0, 0, 0)), Hint(59.5, 39.9, (0, 0, 0))], (40, 60))
    for x, y in [(60, 0), (0, 40), (-0.1, 3)]:
        with pytest.raises(InvalidHintsError, match="hint 2 .* outside the 60x40 image a.png"):
            check_hints([Hint(1, 1, (0, 0, 0)), Hint(x, y, (0, 0, 0))], (40, 60), image="a.png")


def test_solve_shape_is_bounded_and_keeps_aspect():
    assert solve_shape((50, 70)) == (50, 70)
    for shape in [(3000, 4000), (20000, 3), (3, 20000), (8000, 8000)]:
        h, w = solve_shape(shape, 1 << 16)
        assert h * w <= 1 << 16 and h >= 1 and w >= 1
        assert abs(h / w - shape[0] / shape[1]) < 0.05 or min(h, w) <= 2


# -- propagation ---------------------------------------------------------------------------


def test_apply_hints_spreads_within_the_region_and_not_across_edges():
    lightness = LabSpace().gray_lightness(GRAY)
    ab = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    colour = COLOUR
    out = apply_hints(lightness, ab, [Hint(HINT_X, HINT_Y, colour, radius=3)], LabSpace())
    target = rgb_to_lab(np.asarray(colour))[1:]
    region = out[REGION_A].reshape(-1, 2).mean(0)
    assert np.linalg.norm(region - target) < 0.5 * np.linalg.norm(target)
    assert np.abs(out[REGION_B]).max() < 0.5
    assert apply_hints(lightness, ab, [], LabSpace()) is ab


def test_apply_hints_on_a_reduced_solve_grid():
    lightness = LabSpace().gray_lightness(np.kron(GRAY, np.ones((4, 4), np.float32)))
    ab = np.full((HEIGHT * 4, WIDTH * 4, 2), 10.0, np.float32)
    colour = COLOUR
    out = apply_hints(lightness, ab, [Hint(128, 180, colour)], LabSpace(), max_pixels=4096)
    target = rgb_to_lab(np.asarray(colour))[1:]
    a = (slice(80, 280), slice(32, 224))
    b = (slice(120, 320), slice(336, 496))
    assert np.linalg.norm(out[a].reshape(-1, 2).mean(0) - target) < 0.5 * np.linalg.norm(
        ab[0, 0] - target
    )
    assert np.abs(out[b] - ab[b]).max() < 0.5


def test_apply_hints_in_a_circular_space():
    space = HueChromaSpace()
    gray = GRAY
    lightness = space.gray_lightness(gray)
    chroma = np.zeros((HEIGHT, WIDTH, 2), np.float32)
    chroma[..., 0], chroma[..., 1] = 0.95, 0.2  # reddish everywhere (hue near 1)
    colour = (0.2, 0.8, 0.2)  # green: hue 1/3
    out = apply_hints(lightness, chroma, [Hint(HINT_X, HINT_Y, colour, radius=3)], space)
    hue = out[REGION_A][..., 0]
    assert np.median(hue) == pytest.approx(1 / 3, abs=0.08)
    assert np.abs(out[REGION_B] - chroma[REGION_B]).max() < 1e-2


# -- the API, with test-only methods -------------------------------------------------------


def test_colorize_result_with_hints(registry, tmp_path):
    gray = GRAY
    colour = COLOUR
    base = core.colorize_result(gray, "toy")
    item = {"x": HINT_X, "y": HINT_Y, "color": [round(c * 255) for c in colour], "radius": 3}
    res = core.colorize_result(gray, "toy", hints=[item])
    ratio, delta_e = hint_effect(base.rgb, res.rgb, parse_color(item["color"]))
    assert ratio < 0.5 and delta_e < 2.0
    assert res.metadata["hints"][0]["x"] == HINT_X and "hints" in res.timings
    again = base.with_hints(
        [Hint(HINT_X, HINT_Y, parse_color(res.metadata["hints"][0]["color"]), 3)]
    )
    assert np.abs(again.rgb - res.rgb).max() < 1e-6
    assert core.colorize(gray, "toy", hints=[]).shape == (HEIGHT, WIDTH, 3)
    path = tmp_path / "hints.json"
    path.write_text(json.dumps([{"x": 500, "y": 2, "color": "#ffffff"}]))
    with pytest.raises(InvalidHintsError, match=r"hints\.json: hint 1 at x=500.*128x96"):
        core.colorize_result(gray, "toy", hints=path)


def test_samples_and_reference_methods_take_hints(registry):
    gray = GRAY
    colour = COLOUR
    hints = [Hint(HINT_X, HINT_Y, colour, radius=3)]
    for base, res in zip(
        core.api.sample_results(gray, "toy", 2, seed=1),
        core.api.sample_results(gray, "toy", 2, seed=1, hints=hints),
        strict=True,
    ):
        assert hint_effect(base.rgb, res.rgb, colour)[0] < 0.5
    ref = np.dstack([gray, gray * 0.8, gray * 0.5]).astype(np.float32)
    base = core.colorize_result(gray, "toy-reference", reference=ref)
    res = core.colorize_result(gray, "toy-reference", reference=ref, hints=hints)
    ratio, delta_e = hint_effect(base.rgb, res.rgb, colour)
    assert ratio < 0.5 and delta_e < 2.0


def test_a_method_declaring_hints_receives_them_at_working_resolution(registry, toys):
    seen = {}

    class Hinted(toys.ToyColorizer):
        name = "toy-hinted"
        capabilities = core.Capabilities(automatic=True, hints=True)

        def predict(self, lightness, *, hints=None, **kwargs):
            seen["shape"], seen["hints"] = lightness.shape, hints
            return super().predict(lightness, **kwargs)

    registry.add_plugin(toys.ToyPlugin(Hinted()), name="hinted", distribution="d", version="1")
    core.colorize_result(GRAY, "toy-hinted", hints=[Hint(64, 48, (1, 0, 0), radius=8)])
    wh, ww = seen["shape"]
    (hint,) = seen["hints"]
    assert hint.x == pytest.approx(64 * ww / WIDTH) and hint.y == pytest.approx(48 * wh / HEIGHT)
    assert hint.radius == pytest.approx(8 * ww / WIDTH)


# -- the command line ----------------------------------------------------------------------


def test_cli_hints_file(registry, tmp_path, capsys):
    from PIL import Image

    from core.cli import main

    photo = tmp_path / "scene.png"
    Image.fromarray((GRAY * 255).astype(np.uint8), "L").save(photo)
    good = tmp_path / "hints.json"
    good.write_text(json.dumps({"hints": [{"x": HINT_X, "y": HINT_Y, "color": "#3a6ec8"}]}))
    out = tmp_path / "out.png"
    assert main(["image", str(photo), "-o", str(out), "-m", "toy", "--hints", str(good)]) == 0
    hinted = np.asarray(Image.open(out), np.float32) / 255
    base = core.colorize_result(photo, "toy").rgb
    assert hint_effect(base, hinted, parse_color("#3a6ec8"))[0] < 0.5

    bad = tmp_path / "bad.json"
    bad.write_text('{"hints": [{"x": 1, "y": 2, "color": "#3a6ec"}]}')
    capsys.readouterr()
    code = main(
        ["image", str(photo), "-o", str(tmp_path / "b.png"), "-m", "toy", "--hints", str(bad)]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"colorize image: {bad}: hint 1: bad colour '#3a6ec': " + (
        "expected '#rrggbb', '#rgb' or [r, g, b]"
    )
    assert not (tmp_path / "b.png").exists()

    outside = tmp_path / "outside.json"
    outside.write_text('[{"x": 128, "y": 2, "color": "#ffffff"}]')
    code = main(
        [
            "image",
            str(photo),
            "-o",
            str(tmp_path / "c.png"),
            "-m",
            "toy",
            "-q",
            "--hints",
            str(outside),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and f"{outside}: hint 1 at x=128, y=2 is outside the 128x96 image" in err
    assert not (tmp_path / "c.png").exists()
    assert main(["image", str(photo), "-o", str(tmp_path / "d.png"), "-O", "hints=[]"]) == 2


def test_cli_refuses_an_absurd_radius_naming_it(registry, tmp_path, capsys):
    from PIL import Image

    from core.cli import main

    photo = tmp_path / "scene.png"
    Image.fromarray((GRAY * 255).astype(np.uint8), "L").save(photo)
    huge = tmp_path / "huge.json"
    huge.write_text('[{"x": 10, "y": 20, "color": "#3a6ec8", "radius": 1e300}]')
    out = tmp_path / "out.png"
    code = main(["image", str(photo), "-o", str(out), "-m", "toy", "-q", "--hints", str(huge)])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith(f"colorize image: {huge}: hint 1: hint radius must be")
    assert err.endswith("got 1e+300")
    assert not out.exists()


def test_largest_radius_covers_the_image_without_overflow():
    from core.hints import MAX_COORDINATE

    lightness = np.full((20, 30), 50, np.float32)
    ab = np.zeros((20, 30, 2), np.float32)
    red = parse_color("#c03030")
    out = apply_hints(lightness, ab, [Hint(3, 4, red, radius=MAX_COORDINATE)], LabSpace())
    expected = rgb_to_lab(np.array(red, np.float32)[None, None])[0, 0, 1:]
    np.testing.assert_allclose(out, np.broadcast_to(expected, out.shape), atol=1e-3)


# -- locality ------------------------------------------------------------------------------


def _photo_like_scene():
    """A photo-like lightness scene (L*, 120 x 160), its regions and a method's chroma.

    ``near`` (L* 55 with a 12 L* shading ramp) gets the hint; ``across`` (L* 75) touches it
    across an edge; ``far`` has ``near``'s lightness but is not connected to it (a darker
    background, L* 30, lies between). Slight blur and sensor noise as in a photo.
    """
    lightness = np.full((120, 160), 30.0, np.float32)
    near = (slice(20, 80), slice(10, 70))
    across = (slice(20, 80), slice(70, 100))
    far = (slice(30, 90), slice(115, 150))
    columns = np.arange(160, dtype=np.float32)[None, 10:70]
    lightness[near] = 55.0 + 6.0 * (columns - 40.0) / 30.0
    lightness[across] = 75.0
    lightness[far] = 55.0
    lightness = cv2.GaussianBlur(lightness, (0, 0), 0.8)
    lightness += np.random.default_rng(1).normal(0, 1.5, lightness.shape).astype(np.float32)
    chroma = np.zeros((120, 160, 2), np.float32)
    chroma[...] = (6.0, 18.0)  # the method's brownish guess, the same everywhere
    return lightness, chroma, near, across, far


def test_a_hint_fills_its_region_and_stops_at_edges():
    lightness, chroma, near, across, far = _photo_like_scene()
    colour = tuple(float(c) for c in np.clip(lab_to_rgb(np.array([55.0, -10.0, -40.0])), 0, 1))
    target = rgb_to_lab(np.asarray(colour))[1:]
    out = apply_hints(lightness, chroma, [Hint(40, 50, colour, radius=3)], LabSpace())
    start = np.linalg.norm(chroma[0, 0] - target)
    # the hinted region moved at least half-way to the hint ...
    assert np.linalg.norm(out[near].reshape(-1, 2).mean(0) - target) < 0.5 * start
    # ... the region across a 14 L* edge kept at least 90 % of its distance ...
    change = np.linalg.norm(out - chroma, axis=-1)
    assert change[across].mean() < 0.1 * start
    # ... and a far region of the same lightness, not connected to it, did not change
    assert change[far].max() < 0.05


def test_hints_of_two_colours_in_one_region_blend_between_them():
    lightness, chroma, near, _, far = _photo_like_scene()
    red, blue = parse_color("#c03030"), parse_color("#3050c0")
    hints = [Hint(20, 50, red, radius=3), Hint(60, 50, blue, radius=3), Hint(132, 60, red, 3)]
    out = apply_hints(lightness, chroma, hints, LabSpace())
    red_ab, blue_ab = rgb_to_lab(np.asarray(red))[1:], rgb_to_lab(np.asarray(blue))[1:]
    left = out[20:80, 12:25].reshape(-1, 2).mean(0)
    right = out[20:80, 55:68].reshape(-1, 2).mean(0)
    assert np.linalg.norm(left - red_ab) < np.linalg.norm(left - blue_ab)
    assert np.linalg.norm(right - blue_ab) < np.linalg.norm(right - red_ab)
    middle = out[40:60, 39:42].reshape(-1, 2).mean(0)  # where they meet: between the two
    assert np.linalg.norm(middle - red_ab) < np.linalg.norm(red_ab - blue_ab)
    assert np.linalg.norm(middle - blue_ab) < np.linalg.norm(red_ab - blue_ab)
    # the far region took its own hint's colour only
    assert np.linalg.norm(out[far].reshape(-1, 2).mean(0) - red_ab) < 0.5 * np.linalg.norm(
        chroma[0, 0] - red_ab
    )


def _hint_locality():
    spec = importlib.util.spec_from_file_location(
        "hint_locality", ROOT / "scripts" / "hint_locality.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.data
def test_hints_stay_local_on_camvid_photos():
    # scripts/hint_locality.py on 5 of the 30 photos it reports on (docs/ui.md)
    root = os.environ.get("COLORIZE_DATA")
    if not root or not (Path(root) / "camvid" / "test.txt").is_file():
        pytest.skip("COLORIZE_DATA with camvid/ is needed (the shared datasets folder)")
    if "larsson" not in [m.name for m in core.methods()]:
        pytest.skip("the larsson method is not installed")
    locality = _hint_locality()
    records = locality.camvid(Path(root), 5, "larsson", progress=False)
    summary = locality.summary(records)["all"]
    assert summary["cases"] >= 10
    assert summary["move"] >= 0.5, records
    assert summary["far_de"] <= 2.0, records


# -- suggestions ---------------------------------------------------------------------------


def _small_photo() -> np.ndarray:
    from PIL import Image

    with Image.open(ROOT / "core" / "data" / "detroit_ca1915.jpg") as image:
        return np.asarray(image.convert("L").resize((160, 120)), np.float32) / 255.0


def test_larsson_top_suggestion_is_the_mode_of_the_pixel_distribution():
    if "larsson" not in [m.name for m in core.methods()]:
        pytest.skip("the larsson method is not installed")
    from colorize_larsson.colorizer import huechroma_to_ab

    res = core.colorize_result(_small_photo(), "larsson")
    hue, chroma = res.distributions["hue"], res.distributions["chroma"]
    (height, width), (h, w) = res.lightness.shape, hue.shape
    for x, y in [(20, 100), (80, 60), (150, 10), (5, 5), (120, 90)]:
        got = res.suggest(x, y)
        i, j = int((y + 0.5) * h / height), int((x + 0.5) * w / width)
        ph, pc = hue.probs[i, j], chroma.probs[i, j]
        light = res.lightness[y, x]
        ab = huechroma_to_ab(
            np.array([[light]], np.float32),
            np.array([[hue.bins.centers[ph.argmax()]]], np.float32),
            np.array([[chroma.bins.centers[pc.argmax()]]], np.float32),
        )
        expected = rgb_to_lab(LabSpace().recombine(np.array([[light]]), ab))[0, 0]
        assert np.abs(np.asarray(got[0].lab) - expected).max() < 0.05, (x, y)
        mode = float(ph.max() * pc.max() / (ph.sum() * pc.sum()))
        assert got[0].probability == pytest.approx(mode, rel=1e-4)
        assert [s.probability for s in got] == sorted((s.probability for s in got), reverse=True)
        assert 1 <= len(got) <= 6


@pytest.fixture
def distribution_method(registry, toys):
    """A test-only method with marginal a, b histograms: a* peaks at 40, b* at -20."""
    from core.binning import uniform_bins
    from core.colorizer import Prediction
    from core.distributions import Distribution

    bins = uniform_bins(-110.0, 110.0, 11)  # centres -100, -80, ..., 100

    class Histograms(toys.ToyColorizer):
        name = "toy-histograms"
        capabilities = core.Capabilities(automatic=True, distribution=True)

        def predict(self, lightness, **kwargs):
            h, w = lightness.shape
            a = np.zeros((h, w, 11), np.float32)
            a[..., 7], a[..., 5], a[..., 8] = 0.5, 0.3, 0.2  # a* 40, 0, 60
            b = np.zeros((h, w, 11), np.float32)
            b[..., 4], b[..., 5] = 0.6, 0.4  # b* -20, 0
            dists = {
                "a": Distribution(a, bins, "lab", "a"),
                "b": Distribution(b, bins, "lab", "b"),
            }
            chroma = np.broadcast_to(np.float32([40.0, -20.0]), (h, w, 2)).copy()
            return Prediction(chroma, distributions=dists)

    registry.add_plugin(toys.ToyPlugin(Histograms()), name="hist", distribution="d", version="1")
    return "toy-histograms"


def test_suggest_lists_the_histogram_bins_by_probability(distribution_method):
    res = core.colorize_result(np.full((40, 50), 0.55, np.float32), distribution_method)
    got = res.suggest(10, 20, k=4)
    assert all(isinstance(s, Suggestion) for s in got) and len(got) == 4
    assert got[0].lab[1:] == pytest.approx((40.0, -20.0), abs=0.5)  # the mode, a*=40, b*=-20
    assert got[0].probability == pytest.approx(0.5 * 0.6)
    assert [s.probability for s in got] == sorted((s.probability for s in got), reverse=True)
    labs = np.array([s.lab for s in got])
    gaps = np.linalg.norm(labs[:, None] - labs[None], axis=-1) + np.eye(len(got)) * 1e9
    assert gaps.min() >= MIN_DIFFERENCE
    assert parse_color(got[0].hex) == pytest.approx(got[0].color, abs=1 / 255)
    assert got[0].to_dict()["color"] == got[0].hex
    assert len(res.suggest(10, 20, k=1)) == 1


def test_suggest_from_samples_gives_shares_of_the_drawn_colours(registry):
    res = core.colorize_result(np.full((40, 50), 0.55, np.float32), "toy", seed=3)
    got = res.suggest(25, 10, samples=8)
    assert sum(s.probability for s in got) == pytest.approx(1.0)
    assert all(round(s.probability * 8, 6) == round(s.probability * 8) for s in got)
    assert [s.probability for s in got] == sorted((s.probability for s in got), reverse=True)
    assert res.suggest(25, 10, samples=8) == got  # drawn once per result


def test_suggest_for_a_point_estimate_is_the_result_colour(registry):
    res = core.colorize_result(GRAY, "toy-onnx")
    (only,) = res.suggest(30, 40, k=6)
    assert only.probability == 1.0
    assert only.color == pytest.approx(tuple(res.rgb[40, 30]), abs=1e-6)


@pytest.mark.parametrize(
    ("x", "y", "k", "message"),
    [
        (128, 5, 6, r"x=128, y=5 is outside the 128x96 image \(x must be in \[0, 128\)"),
        (3, -1, 6, "outside the 128x96 image"),
        (float("nan"), 3, 6, "outside"),
        ("3", 3, 6, "x must be a number"),
        (3, 3, 0, "k must be a positive integer"),
    ],
)
def test_suggest_refuses_bad_points(registry, x, y, k, message):
    res = core.colorize_result(GRAY, "toy-onnx")
    with pytest.raises(ValueError, match=message):
        res.suggest(x, y, k)


# -- global hints --------------------------------------------------------------------------

BLUE = "#3366cc"


def _mean_ab(rgb: np.ndarray) -> np.ndarray:
    return rgb_to_lab(np.asarray(rgb, np.float32))[..., 1:].reshape(-1, 2).mean(0)


def _warm_reference() -> np.ndarray:
    """A colour photo stand-in: a* from 0 to 40 across, b* from 10 to 60 down, L* 35-75."""
    y, x = np.mgrid[0:60, 0:80].astype(np.float32)
    lab = np.stack([35 + 40 * y / 59, 40 * x / 79, 10 + 50 * y / 59], -1)
    return np.clip(lab_to_rgb(lab), 0, 1).astype(np.float32)


def _chi2(rgb: np.ndarray, reference: np.ndarray) -> float:
    """Symmetric chi-squared distance of the joint a*, b* histograms (16-unit bins)."""
    edges = np.arange(-80.0, 81.0, 16.0)
    p, q = (
        np.histogram2d(*rgb_to_lab(x)[..., 1:].reshape(-1, 2).T, bins=(edges, edges))[0].ravel()
        for x in (rgb, reference)
    )
    p, q = p / p.sum(), q / q.sum()
    return float(np.sum((p - q) ** 2 / np.maximum(p + q, 1e-12)))


def test_parse_palette_forms():
    from core.hints import parse_palette

    red, blue = parse_color("#aa3322"), parse_color(BLUE)
    assert parse_palette("#aa3322,#3366cc") == [(red, 0.5), (blue, 0.5)]
    assert parse_palette(" #aa3322:3 , 3366cc") == [(red, 0.75), (blue, 0.25)]
    assert parse_palette(["#aa3322", [0x33, 0x66, 0xCC]]) == [(red, 0.5), (blue, 0.5)]
    assert parse_palette([("#aa3322", 1), (BLUE, 3)]) == [(red, 0.25), (blue, 0.75)]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("#aa3322,#zz", r"bad palette '#aa3322,#zz': colour 2: bad colour '#zz'"),
        ("", "bad palette '': no colours"),
        ("#aa3322:-1", "colour 1: weight must be a positive number, got -1.0"),
        ("#aa3322:lots", "colour 1: weight must be a positive number, got 'lots'"),
        ([255, 0, 0], r"one RGB colour is \[\[r, g, b\]\]"),
        (3, "bad palette 3: expected"),
        (",".join(["#000"] * 65), "65 colours, at most 64"),
    ],
)
def test_parse_palette_refuses_naming_the_value(value, message):
    from core.hints import parse_palette

    with pytest.raises(ValueError, match=message):
        parse_palette(value)


def test_a_blue_palette_pulls_the_colours_to_blue_and_keeps_the_lightness(registry):
    base = core.colorize_result(GRAY, "toy")
    blue = rgb_to_lab(np.float32(parse_color(BLUE)))[1:]
    before = np.linalg.norm(_mean_ab(base.rgb) - blue)
    half = base.with_global_hints(palette=BLUE, strength=0.5)
    full = base.with_global_hints(palette=BLUE)
    assert np.linalg.norm(_mean_ab(full.rgb) - blue) < 0.2 * before
    assert 0.3 * before < np.linalg.norm(_mean_ab(half.rgb) - blue) < 0.7 * before
    lightness = rgb_to_lab(base.rgb)[..., 0]
    assert np.abs(rgb_to_lab(full.rgb)[..., 0] - lightness).mean() < 0.5
    assert full.metadata["global_hints"] == {
        "strength": 1.0,
        "palette": [{"color": BLUE, "weight": 1.0}],
    }
    assert "global_hints" in full.timings


def test_global_hints_with_strength_zero_change_nothing(registry):
    base = core.colorize_result(GRAY, "toy")
    assert base.with_global_hints(palette=BLUE, strength=0) is base
    same = core.colorize_result(GRAY, "toy", global_hints={"palette": BLUE, "strength": 0.0})
    np.testing.assert_array_equal(same.rgb, base.rgb)


def test_a_reference_photo_histogram_is_matched_better_after(registry):
    reference = _warm_reference()
    base = core.colorize_result(GRAY, "toy")
    res = base.with_global_hints(reference=reference)
    assert _chi2(res.rgb, reference) < 0.7 * _chi2(base.rgb, reference)
    eval_metrics = pytest.importorskip("colorize_eval.metrics")
    before = np.mean(eval_metrics.histogram_intersection(base.rgb, reference))
    assert np.mean(eval_metrics.histogram_intersection(res.rgb, reference)) > before + 0.2


def test_global_hints_through_colorize_result_then_the_local_hints(registry):
    colour = parse_color(Hint(0, 0, COLOUR).hex)  # 8-bit, as metadata["hints"] keeps it
    hint = Hint(HINT_X, HINT_Y, colour, radius=3)
    spec = {"palette": BLUE, "strength": 0.8}
    res = core.colorize_result(GRAY, "toy", hints=[hint], global_hints=spec)
    base = core.colorize_result(GRAY, "toy")
    again = base.with_global_hints(palette=BLUE, strength=0.8).with_hints([hint])
    np.testing.assert_allclose(res.rgb, again.rgb, atol=1e-6)
    # global hints added to a result that has local ones go under them: same result
    under = base.with_hints([hint]).with_global_hints(palette=BLUE, strength=0.8)
    np.testing.assert_allclose(under.rgb, res.rgb, atol=1e-6)
    # the hinted pixel keeps the hint's colour, the rest moved towards blue
    wanted = rgb_to_lab(np.float32(colour))[1:]
    assert np.abs(rgb_to_lab(res.rgb[HINT_Y, HINT_X])[1:] - wanted).max() < 1.0
    assert res.metadata["hints"][0]["x"] == HINT_X and res.metadata["global_hints"]["strength"]
    samples = core.api.sample_results(GRAY, "toy", 2, seed=1, global_hints=spec)
    singles = [core.colorize_result(GRAY, "toy", seed=s, global_hints=spec) for s in (1, 2)]
    for drawn, single in zip(samples, singles, strict=True):
        np.testing.assert_allclose(drawn.rgb, single.rgb, atol=1e-6)


def test_global_hints_of_a_method_with_histograms_use_eq6(registry):
    """Larsson's Eq. 6 bias on the method's own distributions (the histogram path)."""
    from core.binning import uniform_bins
    from core.distributions import Distribution
    from core.hints import apply_global_hints, global_target

    bins = uniform_bins(-110.0, 110.0, 11)
    probs = np.full((12, 16, 11), 1.0 / 11, np.float32)  # undecided: every bin alike
    dists = {"a": Distribution(probs, bins, "lab", "a"), "b": Distribution(probs, bins, "lab", "b")}
    lightness = np.full((24, 32), 50.0, np.float32)
    chroma = np.zeros((24, 32, 2), np.float32)
    target = global_target(palette=BLUE)
    out = apply_global_hints(
        lightness, chroma, LabSpace(), target, distributions=dists, decoder="expectation"
    )
    blue = rgb_to_lab(np.float32(parse_color(BLUE)))[1:]
    mean = out.reshape(-1, 2).mean(0)
    assert np.linalg.norm(mean - blue) < 0.5 * np.linalg.norm(blue)
    assert np.ptp(out.reshape(-1, 2), axis=0).max() < 1e-3  # one bias for the whole image


def test_larsson_global_hints_move_towards_the_palette_and_the_reference():
    if "larsson" not in [m.name for m in core.methods()]:
        pytest.skip("the larsson method is not installed")
    base = core.colorize_result(_small_photo(), "larsson")
    blue = rgb_to_lab(np.float32(parse_color(BLUE)))[1:]
    res = base.with_global_hints(palette=BLUE)
    before = np.linalg.norm(_mean_ab(base.rgb) - blue)
    assert np.linalg.norm(_mean_ab(res.rgb) - blue) < 0.7 * before
    assert np.abs(rgb_to_lab(res.rgb)[..., 0] - rgb_to_lab(base.rgb)[..., 0]).mean() < 0.5
    reference = _warm_reference()
    warm = base.with_global_hints(reference=reference)
    assert _chi2(warm.rgb, reference) < 0.7 * _chi2(base.rgb, reference)


def test_bad_global_hints_are_refused_naming_them(registry, tmp_path):
    from core.errors import InvalidImageError

    base = core.colorize_result(GRAY, "toy")
    with pytest.raises(ValueError, match="bad palette '#3366cc,red': colour 2: bad colour 'red'"):
        base.with_global_hints(palette="#3366cc,red")
    with pytest.raises(ValueError, match="bad palette 'blue'"):
        core.colorize_result(tmp_path / "never-read.png", "toy", global_hints={"palette": "blue"})
    missing = tmp_path / "missing.jpg"
    with pytest.raises(InvalidImageError, match="missing.jpg"):
        base.with_global_hints(reference=missing)
    gray_ref = np.dstack([GRAY] * 3)
    with pytest.raises(InvalidImageError, match="grayscale; a colour reference is needed"):
        base.with_global_hints(reference=gray_ref)
    with pytest.raises(ValueError, match="a palette or a reference image"):
        base.with_global_hints(palette=BLUE, reference=_warm_reference())
    with pytest.raises(ValueError, match="a palette or a reference image"):
        base.with_global_hints()
    with pytest.raises(ValueError, match=r"strength must be a number in \[0, 1\], got 1.5"):
        base.with_global_hints(palette=BLUE, strength=1.5)
    with pytest.raises(ValueError, match="global_hints must be a dict"):
        core.colorize_result(GRAY, "toy", global_hints={"colours": BLUE})


def test_cli_palette_round_trip_and_refusals(registry, tmp_path, capsys):
    from PIL import Image

    from core.cli import main

    photo = tmp_path / "scene.png"
    Image.fromarray((GRAY * 255).astype(np.uint8), "L").save(photo)
    out = tmp_path / "out.png"
    args = ["image", str(photo), "-o", str(out), "-m", "toy", "-q"]
    assert main([*args, "--palette", BLUE, "--global-strength", "0.7"]) == 0
    written = np.asarray(Image.open(out), np.float32) / 255
    expected = core.colorize_result(photo, "toy", global_hints={"palette": BLUE, "strength": 0.7})
    assert np.abs(written - expected.rgb).max() <= 1 / 255 + 1e-6
    base = core.colorize_result(photo, "toy").rgb
    blue = rgb_to_lab(np.float32(parse_color(BLUE)))[1:]
    assert np.linalg.norm(_mean_ab(written) - blue) < 0.5 * np.linalg.norm(_mean_ab(base) - blue)

    reference = tmp_path / "warm.png"
    Image.fromarray((_warm_reference() * 255).astype(np.uint8)).save(reference)
    warm = tmp_path / "warm-out.png"
    assert main([*args[:3], str(warm), *args[4:], "--global-reference", str(reference)]) == 0

    capsys.readouterr()
    for extra, message in [
        (["--palette", "#3366cc,#zz"], "bad palette '#3366cc,#zz': colour 2: bad colour '#zz'"),
        (["--global-reference", str(tmp_path / "nope.jpg")], "nope.jpg"),
        (["--palette", BLUE, "--global-reference", str(reference)], "not both"),
        (["--global-strength", "0.5"], "--global-strength needs --palette or --global-reference"),
        (["-O", "global_hints=1"], "use the command's own flag"),
    ]:
        bad = tmp_path / "bad.png"
        assert main([*args[:3], str(bad), *args[4:], *extra]) == 2, extra
        err = capsys.readouterr().err
        assert err.startswith("colorize image: ") and message in err, err
        assert not bad.exists()
    with pytest.raises(SystemExit) as info:
        main([*args, "--palette", BLUE, "--global-strength", "2"])
    assert info.value.code == 2
    assert "--global-strength: expected a number in [0, 1], got '2'" in capsys.readouterr().err
