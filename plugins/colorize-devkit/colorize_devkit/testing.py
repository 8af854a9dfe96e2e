"""Contract tests for method plugins (an opt-in pytest plugin: ``-p colorize_devkit.testing``).

Every method a distribution registers must honour the same contract. A plugin's
test suite gets all the checks with two lines::

    # plugins/colorize-mymethod/tests/test_mymethod_contract.py
    from colorize_devkit.testing import method_contract_tests

    test_contract = method_contract_tests(distribution="colorize-mymethod")

which yields one test per (method, check). The checks:

``metadata``
    Name, description, citation, a registered colour space, a working size, decoders
    consistent with capabilities, model files listed with their sha256.
``model_files``
    Every model file exists and matches the sha256 of its manifest.
``output``
    An odd-sized uint8 gray array gives an (H, W, 3) uint8 array; a float input gives
    floats in [0, 1]; the output has colour.
``lightness``
    The output's lightness equals the input's (Larsson et al. App. A.4), where in gamut.
``seed``
    The same seed gives the same output; diverse methods give different samples for
    different seeds.
``bad_input``
    A NaN array and an empty file raise ``InvalidImageError`` naming the input.
``hints``
    A colour hint on a region of a synthetic scene moves that region's mean chroma (CIE
    a*, b* of the output) at least half-way to the hint's, and a far region of another
    lightness stays within 2 ΔE (CIE76) of the unhinted result (issue #21; the core's
    hint propagation, :mod:`core.hints`, runs on every method's chroma).
``no_torch``
    A fresh process that colorizes with the method never imports torch or onnx.
``shapes`` (marked ``slow``)
    A fresh process colorizes grayscale PNG files of :data:`SHAPES` (1 x 1, thin strips
    of 2 x 5000 and 3 x 20000 pixels both ways round, and 12 MP): each comes back at the
    input's size, or is refused with a one-line ``InvalidImageError`` naming the file,
    never another error; and the process's peak resident memory during each call stays
    within :data:`PEAK_MEMORY_MIB` (the kernel's high-water mark, reset before each call
    through ``/proc/self/clear_refs`` on Linux; elsewhere the process's peak so far).
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CHECKS",
    "HINT_SCENE",
    "PEAK_MEMORY_MIB",
    "SHAPES",
    "SLOW_CHECKS",
    "check_method",
    "hint_effect",
    "hint_scene",
    "method_contract_tests",
    "methods_of",
    "shape_matrix",
    "shape_problems",
]

CHECKS = (
    "metadata",
    "model_files",
    "output",
    "lightness",
    "seed",
    "bad_input",
    "hints",
    "no_torch",
    "shapes",
)
#: Checks that take seconds per method (marked ``slow``; they still run in ``make test``).
SLOW_CHECKS = ("shapes",)
#: Input shapes (height, width) of the ``shapes`` check: degenerate, strip-shaped, 12 MP.
SHAPES = ((1, 1), (2, 5000), (5000, 2), (3, 20000), (20000, 3), (3000, 4000))
#: Bound on the peak resident memory (MiB) of a process colorizing one of :data:`SHAPES`,
#: models and interpreter included.
PEAK_MEMORY_MIB = 1536


def methods_of(distribution: str | None = None) -> list[str]:
    """Names of the installed methods (of one distribution, if given)."""
    import core

    return [m.name for m in core.methods() if distribution is None or m.plugin == distribution]


def _test_image(height: int = 37, width: int = 53) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return (128 + 90 * np.sin(x / 6.0) * np.cos(y / 4.0)).astype(np.uint8)


def _reference():
    rgb = np.zeros((40, 40, 3), np.float32)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 0.8, 0.5, 0.2
    return rgb


def _kwargs(info) -> dict:
    return {"reference": _reference()} if info.capabilities.reference else {}


def _check_metadata(name: str) -> None:
    import core
    from core.plugins import get_registry

    info = core.get_method(name)
    assert info.name == name
    assert info.description.strip(), f"{name}: empty description"
    assert info.citation.strip(), f"{name}: no paper citation"
    assert info.plugin and info.plugin != "?", f"{name}: unknown distribution"
    assert info.colorspace in get_registry().names("colorspace"), (
        f"{name}: colour space {info.colorspace!r} is not registered"
    )
    assert info.working_size is None or info.working_size >= 8
    caps = info.capabilities
    assert caps.automatic or caps.reference, f"{name}: neither automatic nor reference-based"
    if info.decoders:
        assert caps.distribution, f"{name}: has decoders but capabilities.distribution is False"
    for model in info.model_files:
        assert len(model.sha256) == 64, f"{name}: {model.path} has no sha256 in its manifest"


def _check_model_files(name: str) -> None:
    import core
    from core.runtime import verify_model_file

    for model in core.get_method(name).model_files:
        assert Path(model.path).is_file(), f"{name}: missing model file {model.path}"
        assert verify_model_file(model.path) == model.sha256


def _check_output(name: str) -> None:
    import core

    info = core.get_method(name)
    image = _test_image()
    out = core.colorize(image, name, seed=0, **_kwargs(info))
    assert isinstance(out, np.ndarray) and out.shape == (37, 53, 3) and out.dtype == np.uint8
    out_f = core.colorize(image.astype(np.float32) / 255.0, name, seed=0, **_kwargs(info))
    assert out_f.dtype == np.float32 and out_f.min() >= 0.0 and out_f.max() <= 1.0
    spread = np.abs(out.astype(int) - out.astype(int).mean(-1, keepdims=True)).max()
    assert spread > 0, f"{name}: output has no colour at all"


def _check_lightness(name: str) -> None:
    import core
    from core.colorspaces.lab import LabSpace
    from core.plugins import get_registry

    info = core.get_method(name)
    image = _test_image()
    result = core.colorize_result(image, name, seed=0, **_kwargs(info))
    space = get_registry().get("colorspace", info.colorspace)
    expected = space.gray_lightness(image.astype(np.float32) / 255.0)
    achieved = space.lightness(result.rgb)
    in_gamut = np.all((result.rgb > 0.02) & (result.rgb < 0.98), axis=-1)
    if in_gamut.sum() < 50:
        return
    span = space.lightness_channel.high - space.lightness_channel.low
    error = np.abs(achieved - expected)[in_gamut].mean() / span
    assert error < 0.01, f"{name}: lightness changed by {error:.3%} of its range"
    lab = LabSpace()
    lab_error = np.abs(lab.lightness(result.rgb) - lab.gray_lightness(image / 255.0))
    assert lab_error[in_gamut].mean() < 2, f"{name}: CIE L* changed by {lab_error.mean():.2f}"


def _check_seed(name: str) -> None:
    import core

    info = core.get_method(name)
    image = _test_image()
    a = core.colorize(image, name, seed=7, **_kwargs(info))
    b = core.colorize(image, name, seed=7, **_kwargs(info))
    np.testing.assert_array_equal(a, b, err_msg=f"{name}: same seed, different output")
    if info.capabilities.diverse:
        samples = core.sample(image, name, n=2, seed=7, **_kwargs(info))
        assert not np.array_equal(samples[0], samples[1]), f"{name}: samples are identical"


def _check_bad_input(name: str, tmp: Path | None = None) -> None:
    import tempfile

    import core
    from core.errors import InvalidImageError

    info = core.get_method(name)
    try:
        core.colorize(np.full((8, 8), np.nan, np.float32), name, **_kwargs(info))
    except InvalidImageError as exc:
        assert "<array>" in str(exc)
    else:
        raise AssertionError(f"{name}: NaN input was accepted")
    with tempfile.TemporaryDirectory() as folder:
        empty = Path(folder) / "empty.jpg"
        empty.write_bytes(b"")
        try:
            core.colorize(empty, name, **_kwargs(info))
        except InvalidImageError as exc:
            assert "empty.jpg" in str(exc)
        else:
            raise AssertionError(f"{name}: an empty file was accepted")


#: The ``hints`` scene: a dark background (L* 30), region A (L* 55) that gets the hint,
#: region B (L* 85) far away; and the hint's CIE L*a*b* colour.
HINT_SCENE = {
    "shape": (96, 128),
    "region_a": (slice(20, 70), slice(8, 56)),
    "region_b": (slice(30, 80), slice(84, 124)),
    "hint_lab": (55.0, -20.0, -35.0),
    "hint_xy": (32, 45),
}


def hint_scene() -> tuple[np.ndarray, tuple[float, float, float]]:
    """The ``hints`` check's grayscale scene (float32 in [0, 1]) and hint colour (sRGB)."""
    from core.colorspaces import lab_to_rgb

    lightness = np.full(HINT_SCENE["shape"], 30.0)
    lightness[HINT_SCENE["region_a"]] = 55.0
    lightness[HINT_SCENE["region_b"]] = 85.0
    lightness += np.random.default_rng(0).normal(0, 0.7, lightness.shape)
    zeros = np.zeros_like(lightness)
    gray = np.clip(lab_to_rgb(np.stack([lightness, zeros, zeros], -1))[..., 0], 0, 1)
    colour = np.clip(lab_to_rgb(np.array(HINT_SCENE["hint_lab"])), 0, 1)
    return gray.astype(np.float32), tuple(float(c) for c in colour)


def hint_effect(base_rgb: np.ndarray, hinted_rgb: np.ndarray, colour) -> tuple[float, float]:
    """How a hint on region A changed the ``hints`` scene.

    Returns
    -------
    (ratio, delta_e)
        The distance of region A's mean a*, b* to the hint colour's after the hint, as a
        fraction of the distance before (<= 0.5: moved at least half-way); and the
        largest CIE76 ΔE between the two results in region B.
    """
    from core.colorspaces import rgb_to_lab

    a, b = HINT_SCENE["region_a"], HINT_SCENE["region_b"]
    target = rgb_to_lab(np.asarray(colour, np.float64))[1:]
    before, after = rgb_to_lab(base_rgb), rgb_to_lab(hinted_rgb)
    far = np.linalg.norm(before[a][..., 1:].reshape(-1, 2).mean(0) - target)
    near = np.linalg.norm(after[a][..., 1:].reshape(-1, 2).mean(0) - target)
    delta_e = float(np.linalg.norm(before[b] - after[b], axis=-1).max())
    return (float(near / far) if far > 0 else 0.0), delta_e


def _check_hints(name: str) -> None:
    import core
    from core.hints import Hint

    info = core.get_method(name)
    gray, colour = hint_scene()
    x, y = HINT_SCENE["hint_xy"]
    base = core.colorize_result(gray, name, seed=0, **_kwargs(info))
    hinted = core.colorize_result(
        gray, name, seed=0, hints=[Hint(x, y, colour, radius=3)], **_kwargs(info)
    )
    ratio, delta_e = hint_effect(base.rgb, hinted.rgb, colour)
    assert ratio <= 0.5, f"{name}: the hinted region kept {ratio:.0%} of its distance to the hint"
    assert delta_e < 2.0, f"{name}: a far region of other lightness changed by {delta_e:.2f} ΔE"


_NO_TORCH = r"""
import sys
import numpy as np
import core
from colorize_devkit.testing import _kwargs, _test_image
info = core.get_method(sys.argv[1])
core.colorize(_test_image(), sys.argv[1], seed=0, **_kwargs(info))
bad = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx", "onnxscript"))
assert not bad, "inference imported " + ", ".join(bad[:5])
"""


def _check_no_torch(name: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, name], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, f"{name}: {proc.stderr.strip()[-2000:]}"


_SHAPES_PROBE = r"""
import json, resource, sys, tempfile
from pathlib import Path
import numpy as np
from PIL import Image
import core
from core.errors import InvalidImageError
from colorize_devkit.testing import _kwargs, _test_image

def status(key):
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False

def pattern(height, width):
    y = np.sin(np.arange(height, dtype=np.float32) / 37.0)
    x = np.cos(np.arange(width, dtype=np.float32) / 23.0)
    return (127.5 + 100.0 * np.multiply.outer(y, x)).astype(np.uint8)

name, shapes = sys.argv[1], json.loads(sys.argv[2])
kwargs = _kwargs(core.get_method(name))
core.colorize(_test_image(), name, seed=0, **kwargs)  # load models, warm up
results = []
with tempfile.TemporaryDirectory() as folder:
    for height, width in shapes:
        path = Path(folder) / f"gray-{width}x{height}.png"
        Image.fromarray(pattern(height, width), "L").save(path, compress_level=1)
        entry = {"shape": [height, width], "file": path.name, "before_mib": status("VmRSS:")}
        exact = reset_peak()
        try:
            entry["size"] = list(core.colorize(path, name, seed=0, **kwargs).size)
        except InvalidImageError as exc:
            entry["refused"] = str(exc)
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        peak = status("VmHWM:") if exact else None
        if peak is None:  # not Linux: the process's peak so far
            scale = 1.0 if sys.platform == "darwin" else 1024.0
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20
        entry["peak_mib"], entry["peak_reset"] = peak, exact
        results.append(entry)
print(json.dumps(results))
"""


def shape_matrix(
    name: str, shapes: tuple[tuple[int, int], ...] = SHAPES, timeout: float = 1800
) -> list[dict[str, Any]]:
    """Colorize grayscale PNG files of ``shapes`` with method ``name`` in a fresh process.

    Returns one record per shape: ``shape`` (height, width), ``file``, ``size`` (the
    output's (width, height)) or ``refused`` (the ``InvalidImageError`` message) or
    ``error`` (anything else), ``before_mib`` (resident memory before the call),
    ``peak_mib`` (peak resident memory during it) and ``peak_reset`` (whether the peak
    could be reset before the call, i.e. is that call's own).
    """
    proc = subprocess.run(
        [sys.executable, "-c", _SHAPES_PROBE, name, json.dumps([list(s) for s in shapes])],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{name}: shape probe failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def shape_problems(entries: list[dict[str, Any]], peak_mib: float = PEAK_MEMORY_MIB) -> list[str]:
    """What is wrong in :func:`shape_matrix` records (empty when all is well)."""
    problems = []
    for entry in entries:
        height, width = entry["shape"]
        label = f"{width}x{height}"
        if "error" in entry:
            problems.append(f"{label}: not refused clearly: {entry['error']}")
        elif "refused" in entry:
            message = entry["refused"]
            if "\n" in message or entry["file"] not in message:
                problems.append(f"{label}: refusal is not one line naming the file: {message!r}")
        elif tuple(entry["size"]) != (width, height):
            problems.append(f"{label}: output is {entry['size'][0]}x{entry['size'][1]}")
        if entry["peak_mib"] > peak_mib:
            problems.append(
                f"{label}: peak resident memory {entry['peak_mib']:.0f} MiB > {peak_mib:.0f} MiB"
            )
    return problems


def _check_shapes(name: str, peak_mib: float = PEAK_MEMORY_MIB) -> None:
    problems = shape_problems(shape_matrix(name), peak_mib)
    assert not problems, f"{name}: " + "; ".join(problems)


_CHECK_FUNCTIONS: dict[str, Callable[[str], None]] = {
    "metadata": _check_metadata,
    "model_files": _check_model_files,
    "output": _check_output,
    "lightness": _check_lightness,
    "seed": _check_seed,
    "bad_input": _check_bad_input,
    "hints": _check_hints,
    "no_torch": _check_no_torch,
    "shapes": _check_shapes,
}


def check_method(name: str, checks: tuple[str, ...] = CHECKS) -> None:
    """Run contract checks on one installed method; raises ``AssertionError`` on a breach."""
    for check in checks:
        _CHECK_FUNCTIONS[check](name)


def method_contract_tests(
    distribution: str | None = None,
    checks: tuple[str, ...] = CHECKS,
    *,
    peak_mib: float = PEAK_MEMORY_MIB,
):
    """A pytest test function parametrised over (method, check) for a distribution.

    Assign it to a ``test_*`` name in a test module. Fails (rather than passing
    vacuously) when the distribution registers no method. The checks in
    :data:`SLOW_CHECKS` are marked ``slow``; ``peak_mib`` is the memory bound of the
    ``shapes`` check.
    """
    import pytest

    names = methods_of(distribution)
    params = [
        pytest.param(n, c, id=f"{n}-{c}", marks=[pytest.mark.slow] if c in SLOW_CHECKS else [])
        for n in names
        for c in checks
    ]
    if not params:
        params = [pytest.param(None, None, id=f"no-methods-from-{distribution}")]
    functions = dict(_CHECK_FUNCTIONS, shapes=functools.partial(_check_shapes, peak_mib=peak_mib))

    @pytest.mark.parametrize(("method", "check"), params)
    def test_method_contract(method: str | None, check: str | None) -> None:
        assert method is not None, f"distribution {distribution!r} registers no method"
        functions[check](method)

    return test_method_contract


def pytest_configure(config) -> None:  # pragma: no cover - pytest hook
    """Declare the markers used by contract tests."""
    config.addinivalue_line("markers", "colorize_contract: colorize plugin contract test")
    config.addinivalue_line("markers", "slow: longer tests (still part of make test)")
