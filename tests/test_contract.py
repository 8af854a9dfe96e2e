"""colorize_devkit.testing: the plugin contract passes for a good method and catches bad ones."""

import numpy as np
import pytest
from colorize_devkit.testing import check_method, method_contract_tests

import core

# the toy methods of conftest.py honour the contract (no_torch needs an installed plugin)
FAST = ("metadata", "model_files", "output", "lightness", "seed", "bad_input")


@pytest.mark.parametrize("name", ["toy", "toy-onnx", "toy-reference"])
def test_toy_methods_pass(registry, name):
    check_method(name, FAST)


def test_contract_catches_a_method_that_ignores_the_seed(registry, toys):
    class Noisy(toys.ToyColorizer):
        name = "noisy"

        def predict(self, lightness, **kw):
            pred = super().predict(lightness)
            pred.chroma += np.random.default_rng().normal(0, 5, pred.chroma.shape)
            return pred

    registry.add_plugin(toys.ToyPlugin(Noisy()), name="noisy-plugin", distribution="noisy")
    with pytest.raises(AssertionError, match="same seed, different output"):
        check_method("noisy", ("seed",))


def test_contract_catches_missing_citation(registry, toys):
    class Anonymous(toys.ToyColorizer):
        name = "anon"
        citation = ""

    registry.add_plugin(toys.ToyPlugin(Anonymous()), name="anon-plugin", distribution="anon")
    with pytest.raises(AssertionError, match="no paper citation"):
        check_method("anon", ("metadata",))


def test_generator_fails_for_a_distribution_without_methods(registry):
    test = method_contract_tests(distribution="nothing-here")
    marks = test.pytestmark[0].args[1]
    assert [p.id for p in marks] == ["no-methods-from-nothing-here"]
    with pytest.raises(AssertionError, match="registers no method"):
        test(None, None)
    assert core.methods()  # registry untouched


def test_shape_check_is_slow_and_in_the_default_checks():
    from colorize_devkit.testing import CHECKS, SLOW_CHECKS

    assert "shapes" in CHECKS and "shapes" in SLOW_CHECKS
    test = method_contract_tests(distribution=None, checks=("metadata", "shapes"))
    params = test.pytestmark[0].args[1]
    marks = {p.id.rsplit("-", 1)[1]: {m.name for m in p.marks} for p in params}
    assert marks["shapes"] == {"slow"} and marks["metadata"] == set()


def test_shape_problems_name_each_failure():
    from colorize_devkit.testing import shape_problems

    def entry(shape, **fields):
        return {
            "shape": shape,
            "file": f"gray-{shape[1]}x{shape[0]}.png",
            "peak_mib": 100.0,
            **fields,
        }

    good = [
        entry([3, 20000], size=[20000, 3]),
        entry([1, 1], refused="/tmp/x/gray-1x1.png: too small to colorize (1x1)"),
    ]
    assert shape_problems(good) == []
    bad = [
        entry(
            [3, 20000], error="PluginError: method 'm' failed: RuntimeException: Failed to allocate"
        ),
        entry([2, 5000], refused="gray-5000x2.png: no\nsecond line"),
        entry([5000, 2], refused="some other file: refused"),
        entry([20000, 3], size=[3, 3]),
        entry([3000, 4000], size=[4000, 3000], peak_mib=4000.0),
    ]
    problems = shape_problems(bad, peak_mib=1536)
    assert len(problems) == 5
    assert "20000x3: not refused clearly: PluginError" in problems[0]
    assert "one line naming the file" in problems[1] and "one line naming" in problems[2]
    assert "3x20000: output is 3x3" in problems[3]
    assert "4000x3000: peak resident memory 4000 MiB > 1536 MiB" in problems[4]
