"""core.colorizer: the working shape is bounded on both sides and in pixels (issue #22)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.colorizer import (
    MAX_WORKING_ASPECT,
    MIN_WORKING_SIDE,
    NATIVE_WORKING_PIXELS,
    WORKING_PIXELS_FACTOR,
    Colorizer,
)


def make(size=64, multiple=4, square=False, **attributes) -> Colorizer:
    class Method(Colorizer):
        name = "shape-test"
        working_size = size
        size_multiple = multiple

        def predict(self, lightness, **kw):  # pragma: no cover - never called
            raise AssertionError

    Method.square = square
    for key, value in attributes.items():
        setattr(Method, key, value)
    return Method()


def unbounded(method: Colorizer, height: int, width: int) -> tuple[int, int]:
    """The working shape before issue #22: short side to working_size, no other bound."""
    if method.working_size is None:
        h, w = height, width
    elif method.square:
        h = w = method.working_size
    else:
        scale = method.working_size / min(height, width)
        h, w = max(1, round(height * scale)), max(1, round(width * scale))
    m = max(1, method.size_multiple)
    return max(m, math.ceil(h / m) * m), max(m, math.ceil(w / m) * m)


@pytest.mark.parametrize(
    "size,multiple,shape,expected",
    [
        (64, 4, (321, 481), (64, 96)),  # what the plugins' own tests pin
        (112, 4, (321, 481), (112, 168)),
        (64, 32, (321, 481), (64, 96)),
        (160, 32, (4000, 3000), (224, 160)),
        (64, 4, (3000, 4000), (64, 88)),
        (64, 4, (1, 1), (64, 64)),
        (64, 4, (3, 20000), (8, 256)),  # was (64, 426668): a 63 GB activation
        (64, 4, (20000, 3), (256, 8)),
        (64, 4, (2, 5000), (8, 256)),
        (160, 32, (3, 20000), (32, 640)),
        (128, 1, (1000, 10000), (52, 512)),
    ],
)
def test_working_shapes(size, multiple, shape, expected):
    assert make(size, multiple).working_shape(*shape) == expected


@settings(max_examples=300, deadline=None)
@given(
    size=st.sampled_from([16, 28, 64, 96, 112, 160]),
    multiple=st.sampled_from([1, 4, 16, 32]),
    height=st.integers(1, 4000),
    ratio=st.floats(1.0, 2.0),
    tall=st.booleans(),
)
def test_ordinary_photos_keep_the_unbounded_shape(size, multiple, height, ratio, tall):
    """Up to 2:1 nothing changes: the models' metrics were measured with these shapes."""
    width = max(1, round(height * ratio))
    method = make(size, multiple)
    shape = (width, height) if tall else (height, width)
    assert method.working_shape(*shape) == unbounded(method, *shape)


@settings(max_examples=500, deadline=None)
@given(
    size=st.sampled_from([None, 8, 28, 64, 112, 160]),
    multiple=st.sampled_from([1, 3, 4, 16, 32]),
    square=st.booleans(),
    height=st.integers(1, 10**6),
    width=st.integers(1, 10**6),
)
def test_working_shape_is_always_within_bounds(size, multiple, square, height, width):
    method = make(size, multiple, square)
    low, side, pixels = method.working_bounds()
    h, w = method.working_shape(height, width)
    assert h % multiple == 0 and w % multiple == 0
    assert max(h, w) <= side and h * w <= pixels
    assert (h, w) == unbounded(method, height, width) or min(h, w) >= low
    if size is not None and not square and min(h, w) > low:
        # aspect ratio kept as far as rounding to the multiple allows
        step = multiple / min(h, w) + multiple / max(h, w)
        assert abs(math.log((h / w) / (height / width))) <= 2 * step + 1e-9


def test_default_bounds():
    method = make(64, 4)
    assert method.working_bounds() == (
        MIN_WORKING_SIDE,
        MAX_WORKING_ASPECT * 64,
        WORKING_PIXELS_FACTOR * 64 * 64,
    )
    assert make(160, 32).working_bounds() == (32, 640, 51200)  # shortest side: the multiple


def test_panoramas_shrink_with_their_aspect_ratio():
    method = make(64, 4)
    h, w = method.working_shape(1000, 3000)  # 3:1, over 2 x 64^2 pixels at full size
    assert h * w <= 2 * 64 * 64 and h < 64 and abs(w / h - 3) < 0.1
    h, w = method.working_shape(1000, 10000)  # 10:1: the long side bound (4 x 64) decides
    assert w == 256 and h in (24, 28)  # 25.6 rounded to the multiple of 4


def test_native_size_methods_are_bounded_in_pixels():
    method = make(None, 1)
    assert method.working_shape(300, 200) == (300, 200)
    h, w = method.working_shape(6000, 8000)
    assert h * w <= NATIVE_WORKING_PIXELS and abs(w / h - 4 / 3) < 0.01
    assert max(method.working_shape(3, 100_000)) <= 2 * math.isqrt(NATIVE_WORKING_PIXELS)


def test_square_methods_and_explicit_bounds():
    assert make(64, 4, square=True).working_shape(3, 20000) == (64, 64)
    method = make(64, 4, max_working_side=128, max_working_pixels=4096)
    assert method.working_bounds() == (8, 128, 4096)
    h, w = method.working_shape(100, 300)
    assert max(h, w) <= 128 and h * w <= 4096
    assert make(64, 4, square=True, max_working_pixels=1024).working_shape(5, 5) == (32, 32)


@pytest.mark.parametrize("shape", [(0, 5), (5, -1), (2.5, 4)])
def test_bad_sizes_are_refused(shape):
    with pytest.raises(ValueError, match="positive height and width"):
        make().working_shape(*shape)


def test_docstring_examples():
    import doctest

    import core.colorizer

    result = doctest.testmod(core.colorizer)
    assert result.attempted > 0 and result.failed == 0
