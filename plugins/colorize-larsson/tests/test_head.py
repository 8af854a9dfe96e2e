"""colorize_larsson.head: the hypercolumn head over the shared backbone (torch side)."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colorize_larsson.head import (  # noqa: E402
    CHANNELS,
    LEVELS,
    BackboneHead,
    class_weights,
    gather_cells,
    head_loss,
)
from colorize_larsson.variants import VARIANTS  # noqa: E402

STRIDES = {"f4": 4, "f8": 8, "f16": 16, "f32": 32, "head": 32}


def _levels(n=2, size=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    levels = {k: torch.rand(n, CHANNELS[k], size // s, size // s, generator=g) * 3
              for k, s in STRIDES.items()}
    return levels, torch.rand(n, 1, size // 4, size // 4, generator=g) * 100


def test_sparse_hypercolumns_equal_the_dense_prediction_at_those_cells():
    torch.manual_seed(0)
    head = BackboneHead(VARIANTS["larsson-lab"].channels, hidden=32, context=16).eval()
    levels, light = _levels()
    head.rebalance(levels, light)
    positions = torch.stack(
        [torch.randint(0, 16, (2, 20)), torch.randint(0, 16, (2, 20))], dim=-1
    )
    with torch.no_grad():
        dense = head(*[levels[k] for k in LEVELS], light)
        sparse = head(*[levels[k] for k in LEVELS], light, positions)
    torch.testing.assert_close(sparse, gather_cells(dense, positions), rtol=1e-4, atol=1e-5)


def test_class_weights_follow_zhang_eq4():
    counts = np.array([90.0, 9.0, 1.0, 0.0])
    w = class_weights(counts, 0.5)
    p = counts / counts.sum()
    assert w[3] == 0 and np.isclose((p * w).sum(), 1.0)
    assert w[2] > w[1] > w[0]  # rarer cells weigh more
    flat = class_weights(counts, 1.0)
    assert np.allclose(flat[:3], flat[0])  # lambda = 1: uniform over occupied cells


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_loss_is_finite_and_reaches_the_head(name):
    variant = VARIANTS[name]
    head = BackboneHead(variant.channels, hidden=16, context=8)
    levels, light = _levels()
    logits = head(*[levels[k] for k in LEVELS], light)
    rgb4 = torch.rand(2, 3, 16, 16)
    loss, _ = head_loss(variant, logits, rgb4, torch.ones(256))
    loss.backward()
    assert torch.isfinite(loss) and head.pred.weight.grad.abs().sum() > 0


def test_finetune_backbone_trains_both_and_resumes(tmp_path):
    """``--finetune-backbone``: a few end-to-end steps move backbone and head; resume works."""
    from colorize_larsson.head import finetune, load_head
    from PIL import Image

    root = tmp_path / "data"
    (root / "photos").mkdir(parents=True)
    (root / "imagenet_sample" / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray((rng.random((72, 80, 3)) * 255).astype(np.uint8)).save(
            root / "photos" / f"{i}.png"
        )
    kwargs = dict(steps=2, batch=2, crop=64, hidden=16, context=8, samples=8,
                  threads=1, sources=("photos",))
    last = finetune(VARIANTS["larsson-lab"], root, tmp_path / "run", **kwargs)
    state = torch.load(tmp_path / "run" / "backbone.pt", weights_only=True)
    from training.backbone import GrayBackbone, load_pretrained, to_gray

    start = GrayBackbone(to_gray(load_pretrained())).state_dict()
    moved = [k for k, v in state["model"].items() if v.dtype.is_floating_point
             and not torch.equal(v, start[k])]
    assert moved, "the backbone did not change"
    head, saved = load_head(last)
    assert saved["step"] == 2 and saved["config"]["finetune"]
    again = finetune(VARIANTS["larsson-lab"], root, tmp_path / "run", resume=True,
                     **{**kwargs, "steps": 2})
    assert torch.load(again, weights_only=True)["step"] == 2


def test_finetune_from_a_pack_needs_no_data_folder(tmp_path):
    """A GPU round trains from a ``training.pack`` file alone and logs its loss."""
    from colorize_larsson.head import finetune
    from PIL import Image

    from training.pack import build_pack

    rng = np.random.default_rng(1)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray((rng.random((72, 80, 3)) * 255).astype(np.uint8)).save(paths[-1])
    build_pack({"photos": paths}, tmp_path / "pack.npz", short_side=72)
    last = finetune(VARIANTS["larsson"], tmp_path / "no-data-here", tmp_path / "run",
                    pack=tmp_path / "pack.npz", steps=2, batch=2, crop=64, hidden=16,
                    context=8, samples=8, threads=1)
    assert torch.load(last, weights_only=True)["step"] == 2
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text()
               .splitlines()]
    assert records[-1]["step"] == 2 and np.isfinite(records[-1]["loss"])
    assert (tmp_path / "run" / "backbone.pt").is_file()


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_point_estimate_is_differentiable_lab_for_every_variant(name):
    from colorize_larsson.head import point_estimate

    variant = VARIANTS[name]
    head = BackboneHead(variant.channels, hidden=16, context=8)
    levels, light = _levels()
    ab = point_estimate(variant, head(*[levels[k] for k in LEVELS], light), light)
    assert ab.shape == (2, 2, 16, 16)
    assert float(ab.detach().abs().max()) < 130  # Lab a, b units
    ab.square().mean().backward()
    assert head.pred.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("crops", [1, 2])
def test_semantic_tuning_moves_the_head_through_the_colour_classifier(tmp_path, crops):
    """``tune``: the classifier's KL term is finite, logged, and changes the trained head;
    also on a cache of several crops per photo (rows named ``<path>#<crop>``)."""
    import json

    from colorize_larsson.head import load_head, train_head, tune_head
    from PIL import Image

    from training.backbone import EfficientNetLite0, GrayBackbone
    from training.features import build_cache

    torch.manual_seed(0)
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i in range(4):
        paths.append(folder / f"p{i}.png")
        Image.fromarray((rng.random((64, 72, 3)) * 255).astype(np.uint8)).save(paths[-1])
    net = GrayBackbone(EfficientNetLite0(in_channels=1)).eval()
    build_cache(net, paths, tmp_path / "cache", size=64, chunk=4, progress=False, threads=1,
                crops=crops)
    variant = VARIANTS["larsson-lab"]
    trained = train_head(variant, tmp_path / "cache", tmp_path / "head", steps=2, batch=2,
                         hidden=16, context=8, samples=8, val_every=2)
    tuned = tune_head(trained, tmp_path / "cache", tmp_path / "tuned", steps=2, batch=2)
    before, after = load_head(trained)[0], load_head(tuned)
    assert after[1]["config"]["tune"]["steps"] == 2
    assert not torch.equal(before.pred.weight, after[0].pred.weight)
    records = [json.loads(line) for line in (tmp_path / "tuned" / "log.jsonl").open()]
    assert len(records) == 2 and all(np.isfinite(r["semantic"]) for r in records)


def test_head_from_the_shipped_graph_reproduces_its_outputs():
    """``train --init larsson.onnx``: the torch head rebuilt from the shipped graph computes
    what ONNX Runtime computes with that graph, before any training."""
    from pathlib import Path

    import colorize_larsson
    import onnxruntime as ort
    from colorize_larsson.head import _Exported, head_from_onnx

    path = Path(colorize_larsson.__file__).parent / "models" / "larsson.onnx"
    head = head_from_onnx(path)
    assert bool(head.scale_ready) and head.pred.out_channels == VARIANTS["larsson"].channels
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(3)
    for h, w in ((64, 96), (160, 128)):
        feeds = {"lightness": torch.rand(1, 1, h, w, generator=g) * 100}
        for k in LEVELS:
            s = STRIDES[k]
            feeds[k] = torch.rand(1, CHANNELS[k], h // s, w // s, generator=g) * 3
        with torch.no_grad():
            got = _Exported(head)(*feeds.values()).numpy()
        (expected,) = session.run(None, {k: v.numpy() for k, v in feeds.items()})
        np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_head_from_onnx_refuses_another_graph(tmp_path):
    from pathlib import Path

    import colorize_backbone
    from colorize_larsson.head import head_from_onnx, load_init

    gray = Path(colorize_backbone.__file__).parent / "models" / "efficientnet-lite0-gray.onnx"
    with pytest.raises((ValueError, KeyError)):
        head_from_onnx(gray)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        load_init(tmp_path / "missing.onnx")


def test_row_weights_balance_sources():
    from colorize_larsson.head import row_weights

    sources = ["big"] * 90 + ["small"] * 10
    share = lambda w: (float(w[:90].sum()), float(w[90:].sum()))  # noqa: E731
    assert share(row_weights(sources, "none")) == pytest.approx((0.9, 0.1))
    assert share(row_weights(sources, "equal")) == pytest.approx((0.5, 0.5))
    assert share(row_weights(sources, "sqrt")) == pytest.approx((0.75, 0.25))  # 3:1
    with pytest.raises(ValueError, match="unknown source weighting"):
        row_weights(sources, "loud")


def test_training_on_two_caches_from_the_shipped_graph(tmp_path):
    """Several caches, source weighting and ``init`` from the shipped graph: the first
    step's validation loss is the shipped head's, and training moves it."""
    import json
    from pathlib import Path

    import colorize_larsson
    from colorize_larsson.head import head_from_onnx, load_head, train_head
    from PIL import Image

    from training.features import OnnxPyramid, build_cache

    rng = np.random.default_rng(0)
    caches = []
    for name, count in (("a", 3), ("b", 5)):
        folder = tmp_path / f"photos-{name}"
        folder.mkdir()
        paths = []
        for i in range(count):
            paths.append(folder / f"p{i}.png")
            Image.fromarray((rng.random((64, 72, 3)) * 255).astype(np.uint8)).save(paths[-1])
        caches.append(build_cache(OnnxPyramid(threads=1), paths, tmp_path / f"cache-{name}",
                                  size=64, chunk=4, progress=False, threads=1,
                                  sources=[name] * count).folder)
    graph = Path(colorize_larsson.__file__).parent / "models" / "larsson.onnx"
    last = train_head(VARIANTS["larsson"], caches, tmp_path / "head", steps=2, batch=2,
                      samples=8, val_every=2, source_weighting="equal", init=graph)
    trained, state = load_head(last)
    assert state["config"]["init"] == str(graph) and len(state["config"]["cache"]) == 2
    shipped = head_from_onnx(graph)
    assert not torch.equal(trained.pred.weight, shipped.pred.weight)
    torch.testing.assert_close(trained.scale, shipped.scale)  # App. A.1 scales kept
    records = [json.loads(line) for line in (tmp_path / "head" / "log.jsonl").open()]
    assert np.isfinite(records[-1]["val_loss"])


def test_end_to_end_start_from_the_shipped_graphs_reproduces_the_shipped_method():
    """``train --finetune-backbone --backbone efficientnet-lite0-gray.onnx --init-head
    larsson.onnx``: before any step, backbone + head in torch give the logits that the
    shipped graphs give through ONNX Runtime."""
    from pathlib import Path

    import colorize_backbone
    import colorize_larsson
    import onnxruntime as ort
    from colorize_larsson.head import start_end_to_end

    gray = Path(colorize_backbone.__file__).parent / "models" / "efficientnet-lite0-gray.onnx"
    head = Path(colorize_larsson.__file__).parent / "models" / "larsson.onnx"
    model = start_end_to_end(VARIANTS["larsson"], gray, head)
    lightness = torch.rand(1, 1, 96, 128, generator=torch.Generator().manual_seed(5)) * 100
    backbone_session = ort.InferenceSession(str(gray), providers=["CPUExecutionProvider"])
    names = [o.name for o in backbone_session.get_outputs()]
    levels = dict(zip(names, backbone_session.run(None, {"lightness": lightness.numpy()}),
                      strict=True))
    head_session = ort.InferenceSession(str(head), providers=["CPUExecutionProvider"])
    feeds = {i.name: (lightness.numpy() if i.name == "lightness" else levels[i.name])
             for i in head_session.get_inputs()}
    (expected,) = head_session.run(None, feeds)  # logits at the working size
    h4, w4 = 96 // 4, 128 // 4
    cells = torch.arange(h4 * w4)[None]
    positions = torch.stack([cells // w4, cells % w4], dim=-1)
    with torch.no_grad():
        got = model(lightness, positions)[:, :, 0].reshape(1, -1, h4, w4)
    # the graph upsamples the stride-4 logits bilinearly to the working size
    up = torch.nn.functional.interpolate(got, size=(96, 128), mode="bilinear",
                                         align_corners=False)
    np.testing.assert_allclose(up.numpy(), expected, atol=2e-3, rtol=1e-3)


def test_global_context_starts_at_zero_and_survives_export(tmp_path):
    """``--global-context`` added to a shipped head changes nothing before training; a
    trained one exports, and ``head_from_onnx`` reads the branch back."""
    from pathlib import Path

    import colorize_larsson
    import onnxruntime as ort
    from colorize_larsson.head import (
        _Exported,
        export_head,
        head_from_onnx,
        load_head,
        with_global_context,
    )

    graph = Path(colorize_larsson.__file__).parent / "models" / "larsson.onnx"
    plain = head_from_onnx(graph)
    wide = with_global_context(plain)
    levels, light = _levels(n=1, size=64)
    with torch.no_grad():
        torch.testing.assert_close(wide(*[levels[k] for k in LEVELS], light),
                                   plain(*[levels[k] for k in LEVELS], light))
    with torch.no_grad():  # as if trained: a non-zero branch
        wide.glob.weight.normal_(0, 0.01, generator=torch.Generator().manual_seed(0))
    checkpoint = tmp_path / "last.pt"
    config = dict(variant="larsson", hidden=wide.hidden, context=wide.context_width,
                  global_context=True)
    torch.save({"model": wide.state_dict(), "config": config, "step": 1}, checkpoint)
    assert load_head(checkpoint)[0].global_context
    path = export_head(checkpoint, tmp_path / "models")
    back = head_from_onnx(path)
    assert back.global_context
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {"lightness": torch.rand(1, 1, 64, 96) * 100}
    for k in LEVELS:
        s = STRIDES[k]
        feeds[k] = torch.rand(1, CHANNELS[k], 64 // s, 96 // s) * 3
    (expected,) = session.run(None, {k: v.numpy() for k, v in feeds.items()})
    with torch.no_grad():
        got = _Exported(back)(*feeds.values()).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)


def test_score_command_measures_backbone_and_head_on_photos(tmp_path, capsys):
    """``head score``: the loss of (backbone, head) on photos, here the shipped graphs."""
    import json
    from pathlib import Path

    import colorize_backbone
    import colorize_larsson
    from colorize_larsson.head import main
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray((rng.random((70, 90, 3)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    gray = Path(colorize_backbone.__file__).parent / "models" / "efficientnet-lite0-gray.onnx"
    head = Path(colorize_larsson.__file__).parent / "models" / "larsson.onnx"
    args = ["score", "larsson", "--backbone", str(gray), "--head", str(head), "--data",
            str(folder), "--size", "64", "--threads", "1"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["photos"] == 3 and 0 < first["loss"] < 50
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == first  # deterministic


@pytest.mark.parametrize("name", ["larsson", "larsson-lab"])
def test_cast_loss_pulls_the_mean_tone_towards_the_photo(name):
    """``--cast-weight``: the loss is the photo's mean tone error, and following its
    gradient moves the mean predicted a*, b* towards the truth's."""
    from colorize_larsson.head import cast_loss, point_estimate

    variant = VARIANTS[name]
    torch.manual_seed(0)
    head = BackboneHead(variant.channels, hidden=16, context=8)
    levels, light = _levels(n=2, size=64)
    rgb = torch.zeros(2, 3, 16, 16)
    rgb[:, 0], rgb[:, 1], rgb[:, 2] = 0.8, 0.55, 0.3  # a warm, orange photo
    positions = torch.stack([torch.randint(0, 16, (2, 32)), torch.randint(0, 16, (2, 32))], -1)
    light_cells, rgb_cells = gather_cells(light, positions), gather_cells(rgb, positions)
    optimiser = torch.optim.Adam(head.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        logits = head(*[levels[k] for k in LEVELS], light, positions)
        loss = cast_loss(variant, logits, light_cells, rgb_cells)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0]
    with torch.no_grad():
        b = point_estimate(variant, head(*[levels[k] for k in LEVELS], light, positions),
                           light_cells)[:, 1].mean()
    assert float(b) > 10  # towards the photo's warm b* (about 40)


def test_backbone_checkpoints_leave_out_the_unused_classifier(tmp_path):
    """``backbone.pt`` of a fine-tuning holds what the levels use (no ImageNet classifier,
    so a GPU round's result fits 16 MiB); loading refuses a state missing anything else."""
    from training.backbone import GrayBackbone
    from training.backbone_adapt import load_adapted, pyramid_state

    model = GrayBackbone().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    state = pyramid_state(model)
    assert state and not any(k.startswith("net._fc.") for k in state)
    torch.save({"model": state, "step": 3}, tmp_path / "backbone.pt")
    loaded = load_adapted(tmp_path / "backbone.pt")
    x = torch.rand(1, 1, 64, 64) * 100
    with torch.no_grad():
        want, got = model.pyramid(x), loaded.pyramid(x)
    assert all(torch.equal(want[k], got[k]) for k in want)
    del state[next(iter(state))]
    torch.save({"model": state}, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match="broken.pt: not a gray-backbone state"):
        load_adapted(tmp_path / "broken.pt")
