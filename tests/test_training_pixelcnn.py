"""Tests of training/pixelcnn.py: causality, the cached steps against the whole-image pass,
and the small teacher-forcing loop (tiny networks, a few seconds in all)."""

from __future__ import annotations

import argparse
import json

import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from training.pixelcnn import (  # noqa: E402
    GatedStacks,
    RowStep,
    apply_arguments,
    checkpoint,
    lr_factor,
    mean_parts,
    run_loop,
)
from training.trainer import load_checkpoint  # noqa: E402


def _stacks(activation=F.relu) -> GatedStacks:
    torch.manual_seed(0)
    return GatedStacks(
        channels=4, layers=2, first_kernel=5, kernel=3, cond=3, activation=activation
    ).eval()


@pytest.mark.parametrize("activation", [F.relu, F.elu])
def test_features_of_a_pixel_see_only_earlier_pixels(activation):
    net = _stacks(activation)
    h, w = 5, 6
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(1, 2, h, w, generator=gen)
    cond = torch.randn(1, 3, h, w, generator=gen)
    order = torch.arange(h * w).reshape(h, w)
    with torch.no_grad():
        before = net.features(x, cond)
        for r, c in [(0, 0), (1, 4), (3, 0), (4, 5)]:
            changed = x.clone()
            changed[:, :, r, c] += 1.0
            after = net.features(changed, cond)
            upto = order <= r * w + c
            assert torch.equal(before[0][:, upto], after[0][:, upto])
            if r * w + c < h * w - 1:
                assert not torch.equal(before[0][:, ~upto], after[0][:, ~upto])


def test_row_and_pixel_steps_reproduce_the_whole_image_pass():
    """Raster-order decoding from caches gives the features of one whole-image pass."""
    net = _stacks(F.elu)
    n, h, w, c = 2, 4, 5, net.channels
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(n, 2, h, w, generator=gen)
    cond = torch.randn(n, 3, h, w, generator=gen)
    row_step = RowStep(net)
    with torch.no_grad():
        expected = net.features(x, cond)
        cache_in = torch.zeros(n, 2, net.p0, w)
        cache_v = torch.zeros(n, net.layers * c, net.p, w)
        above = torch.zeros(n, net.vertical_width, w)
        for r in range(h):
            cache_x = torch.zeros(n, 2, net.p0)
            cache_h = torch.zeros(n, net.layers * c, net.p)
            for col in range(w):
                feats, cache_h = net.pixel_features(
                    cache_x, cache_h, above[:, :, col], cond[:, :, r, col]
                )
                torch.testing.assert_close(feats, expected[:, :, r, col], rtol=1e-5, atol=1e-5)
                cache_x = torch.cat([cache_x, x[:, :, r, col, None]], dim=2)[:, :, 1:]
            above, cache_in, cache_v = row_step(
                x[:, :, r : r + 1], cond[:, :, r : r + 1], cache_in, cache_v
            )
    assert net.reach == (1 + net.p0 + net.layers * net.p, net.p0 + net.layers * net.p)


def test_parameter_names_are_stable():
    """Checkpoints of the pixcolor and semantic plugins depend on these names."""
    names = set(_stacks().state_dict())
    assert {
        "v_in.weight",
        "h_in.bias",
        "v2h_in.weight",
        "v_conv.1.weight",
        "v_cond.0.bias",
        "h_conv.0.weight",
        "v2h.1.weight",
        "h_cond.1.bias",
        "h_out.0.weight",
        "head_cond.weight",
        "head.bias",
    } <= names
    assert "v2h.0.bias" not in names


def test_learning_rate_warms_up_then_decays_to_the_floor():
    assert lr_factor(0, 1000, 0.1) == pytest.approx(1 / 50)
    assert lr_factor(49, 1000, 0.1) == pytest.approx(1.0)
    assert lr_factor(50, 1000, 0.1) < 1.0
    assert lr_factor(1000, 1000, 0.1) == pytest.approx(0.1)
    assert lr_factor(5000, 1000, 0.05) == pytest.approx(0.05)


def test_arguments_and_dotted_set_override_the_config():
    args = argparse.Namespace(steps=7, seed=None, set=["model.width=3", "lambdas=[1, 2]"])
    config = apply_arguments(
        {"steps": 1, "seed": 5, "model": {"depth": 2}}, args, ("steps", "seed")
    )
    assert config == {"steps": 7, "seed": 5, "model": {"depth": 2, "width": 3}, "lambdas": [1, 2]}


def test_mean_parts():
    assert mean_parts([{"a": 1.0, "b": 4.0}, {"a": 3.0, "b": 0.0}]) == {"a": 2.0, "b": 2.0}


def test_loop_trains_logs_checkpoints_and_keeps(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs = torch.randn(16, 3)
    target = inputs @ torch.tensor([[1.0], [-2.0], [0.5]])
    config = {
        "steps": 6,
        "lr": 0.1,
        "log_every": 2,
        "ckpt_every": 3,
        "keep_every": 4,
        "max_minutes": None,
    }
    averaged = []

    def batch_loss(step):
        loss = F.mse_loss(model(inputs), target)
        return loss, {"loss": loss.item()}

    def validate():
        with torch.no_grad():
            return {"loss": F.mse_loss(model(inputs), target).item()}

    def state(step, elapsed, val):
        return checkpoint("toy", step, elapsed, model, optimizer, val=val)

    first = validate()["loss"]
    record = run_loop(
        config,
        tmp_path,
        model=model,
        optimizer=optimizer,
        step=0,
        elapsed=0.0,
        batch_loss=batch_loss,
        validate=validate,
        state=state,
        clip=10.0,
        lr_floor=0.1,
        desc="toy",
        progress=False,
        after_step=averaged.append,
        log_digits=4,
    )
    assert record["event"] == "done" and record["step"] == 6
    assert record["val"]["loss"] < first
    assert averaged == list(range(6))  # called with the step before it is counted
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "split" not in r and "event" not in r] == [2, 4, 6]
    assert [r["step"] for r in lines if r.get("split") == "val"] == [3, 6]
    ckpt = load_checkpoint(tmp_path / "last.ckpt")
    assert ckpt["method"] == "toy" and ckpt["step"] == 6 and ckpt["val"] == record["val"]
    assert (tmp_path / "step4.ckpt").is_file() and not (tmp_path / "step3.ckpt").exists()
