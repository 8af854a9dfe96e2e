"""Tests of the colorize-plugin-example plugin."""

import numpy as np
from colorize_devkit.testing import method_contract_tests

import core

# The toolkit's contract, over every method this distribution registers.
test_contract = method_contract_tests(distribution="colorize-plugin-example")


def test_discovered_through_its_entry_point():
    info = core.get_method("welsh")
    assert info.plugin == "colorize-plugin-example"
    assert info.capabilities.reference and not info.capabilities.automatic


def test_colour_comes_from_the_reference():
    y, x = np.mgrid[0:40, 0:60]
    gray = (0.3 + 0.4 * (x / 60.0)).astype(np.float32)
    red = np.zeros((30, 30, 3), np.float32)
    red[..., 0], red[..., 1], red[..., 2] = np.linspace(0.4, 1.0, 30)[None, :], 0.1, 0.1
    result = core.colorize_result(gray, "welsh", reference=red)
    assert result.chroma[..., 0].mean() > 20  # red has large positive a*
    blue = red[..., ::-1].copy()
    assert core.colorize_result(gray, "welsh", reference=blue).chroma[..., 1].mean() < -20


def test_same_seed_same_output_and_options_checked():
    gray = np.random.default_rng(0).random((20, 30)).astype(np.float32)
    ref = np.random.default_rng(1).random((25, 25, 3)).astype(np.float32)
    a = core.colorize(gray, "welsh", reference=ref, seed=4)
    np.testing.assert_array_equal(a, core.colorize(gray, "welsh", reference=ref, seed=4))
    try:
        core.colorize(gray, "welsh", reference=ref, flavour=1)
    except TypeError as exc:
        assert "flavour" in str(exc)
    else:
        raise AssertionError("unknown option accepted")
