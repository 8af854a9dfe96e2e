"""core.testing: the plugin contract passes for a good method and catches bad ones."""

import numpy as np
import pytest

import core
from core.testing import check_method, method_contract_tests

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
