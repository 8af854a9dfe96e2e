"""training.backbone_onnx: the torch gray backbone rebuilt from its shipped ONNX graph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from training.backbone import LEVELS, GrayBackbone  # noqa: E402
from training.backbone_onnx import gray_backbone_from_onnx  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GRAY = REPO / "plugins/colorize-backbone/colorize_backbone/models/efficientnet-lite0-gray.onnx"
LARSSON = REPO / "plugins/colorize-larsson/colorize_larsson/models/larsson.onnx"

#: Largest |torch - ONNX Runtime| allowed per level. Measured on these inputs (CPU):
#: f2 3.8e-6, f4 3.2e-5, f8 3.7e-5, f16 2.4e-5, f32 1.8e-5, head 2.2e-5 with one thread
#: (f8 2.6e-5, f16 3.8e-5 with two), on features up to ~50 in magnitude: float32 rounding
#: of the same arithmetic in another order. 2e-4 is ~5x the worst of them.
ATOL = 2e-4


@pytest.fixture(scope="module")
def backbone() -> GrayBackbone:
    return gray_backbone_from_onnx()  # the installed graph, i.e. GRAY in this checkout


@pytest.fixture(scope="module")
def session():
    return ort.InferenceSession(str(GRAY), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize(
    ("shape", "seed"), [((2, 1, 64, 96), 0), ((1, 1, 160, 160), 1), ((1, 1, 32, 64), 2)]
)
def test_every_level_matches_the_graph(backbone, session, shape, seed):
    lightness = (np.random.default_rng(seed).random(shape) * 100.0).astype(np.float32)
    lightness[..., :4, :4] = 0.0  # the ends of the range: black and white corners
    lightness[..., -4:, -4:] = 100.0
    expected = session.run(None, {"lightness": lightness})
    with torch.no_grad():
        got = backbone(torch.from_numpy(lightness))
    assert len(got) == len(LEVELS) == len(expected)
    for name, g, e in zip(LEVELS, got, expected, strict=True):
        assert tuple(g.shape) == e.shape, name
        diff = float(np.max(np.abs(g.numpy() - e)))
        assert diff <= ATOL, f"{name}: max |torch - onnx| = {diff:.3g}"
        assert float(np.max(np.abs(e))) > 100 * ATOL, f"{name}: features too small to test"


def test_backbone_is_trainable_and_in_eval_mode(backbone):
    assert not backbone.training
    assert all(p.requires_grad and p.dtype == torch.float32 for p in backbone.parameters())
    norms = [m for m in backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 49
    for norm in norms:  # identity plus the folded bias
        assert torch.all(norm.weight == 1.0) and torch.all(norm.running_mean == 0.0)
        assert torch.all(norm.running_var + norm.eps == 1.0)
    assert not backbone.net._fc.weight.any() and not backbone.net._fc.bias.any()
    head = backbone(torch.full((1, 1, 32, 32), 50.0))[-1]
    head.sum().backward()
    assert backbone.net._conv_stem.weight.grad is not None


def test_explicit_path_gives_the_same_weights(backbone):
    again = gray_backbone_from_onnx(str(GRAY))
    for (name, a), b in zip(
        backbone.state_dict().items(), again.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_head_graph_is_refused():
    with pytest.raises(ValueError, match="larsson.onnx"):
        gray_backbone_from_onnx(LARSSON)


def test_a_convolution_of_another_shape_is_refused(tmp_path):
    from onnx import numpy_helper

    model = onnx.load(str(GRAY))
    stem = next(n for n in model.graph.node if n.op_type == "Conv")
    init = next(i for i in model.graph.initializer if i.name == stem.input[1])
    rgb = np.repeat(numpy_helper.to_array(init), 3, axis=1)  # a three-channel stem
    init.CopyFrom(numpy_helper.from_array(rgb, init.name))
    path = tmp_path / "rgb-stem.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match=r"rgb-stem\.onnx.*Conv node 0.*_conv_stem"):
        gray_backbone_from_onnx(path)


def test_another_input_normalisation_is_refused(tmp_path):
    from onnx import numpy_helper

    model = onnx.load(str(GRAY))
    scale = [
        i
        for i in model.graph.initializer
        if numpy_helper.to_array(i).shape == () and numpy_helper.to_array(i) == 128.0
    ]
    assert len(scale) == 1  # the 128 of (x - 127) / 128
    scale[0].CopyFrom(numpy_helper.from_array(np.float32(64.0), scale[0].name))
    path = tmp_path / "other-normalisation.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ValueError, match=r"other-normalisation\.onnx.*input transform"):
        gray_backbone_from_onnx(path)


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.onnx"):
        gray_backbone_from_onnx(tmp_path / "absent.onnx")
