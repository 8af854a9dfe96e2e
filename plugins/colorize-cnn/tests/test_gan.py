"""Tests of cnn-gan: networks, losses, the two-optimizer training loop, export and the colorizer."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from colorize_cnn import gan  # noqa: E402
from colorize_cnn.colorizer import CNNGan  # noqa: E402
from colorize_cnn.gan_model import (  # noqa: E402
    AB_RANGE,
    PatchDiscriminator,
    UNetGenerator,
    patch_grid,
    receptive_field,
)

from training.trainer import state_digest  # noqa: E402

torch.set_num_threads(1)

#: A small configuration so a step takes milliseconds.
TINY = [
    "batch_size=4",
    "cache_size=48",
    "crop=32",
    "val_images=2",
    "val_every=2",
    "ckpt_every=2",
    "log_every=1",
    'generator={"widths": [8, 16], "dropout": 0.5, "dropout_layers": 1}',
    'discriminator={"widths": [8, 16], "spectral_norm": true}',
]


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Six small colour images with smooth, distinct colours."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:60, 0:80] / 80.0
    for i in range(6):
        base = rng.random(3)
        rgb = np.stack([base[0] * yy, base[1] * xx, base[2] * (1 - yy)], -1)
        Image.fromarray((rgb * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def _config(*extra: str) -> dict:
    return gan.load_config(None, [*TINY, *extra])


# -- networks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "widths", "grid"),
    [
        (64, (32, 64), 30),
        (256, (64, 128, 256, 512), 30),
        (96, (32, 64), 46),
        (64, (32, 64, 128), 14),
    ],
)
def test_discriminator_output_grid_shape(size, widths, grid):
    disc = PatchDiscriminator(widths, spectral_norm=False).eval()
    out = disc(torch.rand(2, 1, size, size) * 100, torch.randn(2, 2, size, size) * 20)
    assert out.shape == (2, 1, grid, grid)
    assert patch_grid(size, widths) == grid


def test_discriminator_score_sees_its_receptive_field_only():
    disc = PatchDiscriminator((8, 16), spectral_norm=True).eval()
    chroma = torch.zeros(1, 2, 64, 64, requires_grad=True)
    scores = disc(torch.full((1, 1, 64, 64), 50.0), chroma)
    scores[0, 0, 10, 10].backward()
    rows, cols = np.nonzero(chroma.grad.abs().sum((0, 1)).numpy())
    # score (10, 10) <- hidden rows 8..14 (two 4x4/1 layers) <- input rows 15..30 (4x4/2)
    assert receptive_field((8, 16)) == 16
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (15, 30, 15, 30)


@pytest.mark.parametrize("shape", [(64, 64), (64, 96), (61, 47)])
def test_generator_keeps_the_size_and_bounds_the_chroma(shape):
    gen = UNetGenerator().eval()
    lightness = torch.rand(2, 1, *shape) * 100
    out = gen(lightness)
    assert out.shape == (2, 2, *shape)
    assert torch.isfinite(out).all() and out.abs().max() <= AB_RANGE
    assert gen.stride == 32


def test_shipped_generator_size_budget():
    params = sum(p.numel() for p in gan.build_generator().parameters())
    assert params <= 1_500_000, params  # <= ~6 MB of float32 ONNX


def test_adversarial_losses():
    scores = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    assert gan.adversarial_loss(scores, True, "lsgan").item() == pytest.approx((1 + 0 + 1 + 4) / 4)
    assert gan.adversarial_loss(scores, False, "lsgan").item() == pytest.approx((0 + 1 + 4 + 1) / 4)
    expected = -torch.log(torch.sigmoid(scores)).mean()
    assert gan.adversarial_loss(scores, True, "bce").item() == pytest.approx(expected.item())
    with pytest.raises(ValueError, match="lsgan"):
        gan.adversarial_loss(scores, True, "wasserstein")


def test_config_overrides_and_typos():
    config = gan.load_config(None, ["discriminator.spectral_norm=false", "steps=7"])
    assert config["steps"] == 7 and config["discriminator"]["spectral_norm"] is False
    assert gan.DEFAULTS["discriminator"]["spectral_norm"] is True  # defaults untouched
    with pytest.raises(KeyError, match="lamda"):
        gan.load_config(None, ["lamda=10"])


# -- training ---------------------------------------------------------------------


def test_a_few_steps_change_both_networks(photos, tmp_path):
    from training import data as datalib

    images = datalib.load_images(
        [(p, None) for p in datalib.find_images(photos)], short_side=48, progress=False
    )
    run = gan._Run(_config(), images, images, {}, tmp_path)
    before = state_digest(run.generator), state_digest(run.discriminator)
    values = [run.train_step() for _ in range(2)]
    assert state_digest(run.generator) != before[0]
    assert state_digest(run.discriminator) != before[1]
    assert run.step == 2
    assert all(np.isfinite(v["loss_d"]) and np.isfinite(v["g_adv"]) for v in values)


def test_l1_warmup_leaves_the_adversarial_term_out(photos, tmp_path):
    from training import data as datalib

    images = datalib.load_images(
        [(p, None) for p in datalib.find_images(photos)], short_side=48, progress=False
    )
    run = gan._Run(_config("l1_warmup_steps=1"), images, None, {}, tmp_path)
    first, second = run.train_step(), run.train_step()
    assert first["adversarial_on"] == 0.0 and second["adversarial_on"] == 1.0
    assert first["loss_g"] == pytest.approx(100.0 * first["g_l1_ab"] / AB_RANGE, rel=1e-5)


def test_resume_reproduces_the_uninterrupted_run(photos, tmp_path):
    from training.trainer import load_checkpoint

    whole = tmp_path / "whole"
    gan.train([photos], [photos], whole, _config("steps=4"), progress=False)
    split = tmp_path / "split"
    gan.train([photos], [photos], split, _config("steps=2"), progress=False)
    gan.train(
        [photos], [photos], split, _config("steps=4"), resume=split / "last.ckpt", progress=False
    )
    a, b = load_checkpoint(whole / "last.ckpt"), load_checkpoint(split / "last.ckpt")
    assert a["step"] == b["step"] == 4
    for key in ("model", "discriminator"):
        for name, tensor in a[key].items():
            torch.testing.assert_close(tensor, b[key][name], rtol=0, atol=0, msg=name)
    records = [json.loads(line) for line in (split / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r.get("event") == "done"] == [2, 4]
    assert {"loss_d", "g_adv", "g_l1_ab"} <= set(records[1])


def test_time_budget_saves_and_stops(photos, tmp_path):
    record = gan.train(
        [photos], None, tmp_path, _config("steps=50", "max_minutes=1e-9"), progress=False
    )
    assert record["event"] == "stop" and record["step"] < 50
    assert (tmp_path / "last.ckpt").is_file()


# -- export and inference --------------------------------------------------------------


def test_exported_generator_matches_torch(photos, tmp_path):
    import onnx
    import onnxruntime as ort

    from core.runtime import MANIFEST_NAME, sha256_file

    run_dir = tmp_path / "run"
    gan.train([photos], None, run_dir, _config("steps=2"), progress=False)
    models = tmp_path / "models"
    path = gan.export_generator(run_dir / "last.ckpt", models, real=photos)
    assert path.name == "cnn-gan.onnx"
    props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    keys = ("colorspace", "working_size", "size_multiple", "method", "parity", "version")
    meta = {key: json.loads(props[key]) for key in keys}
    assert meta["colorspace"] == "lab" and meta["working_size"] == 64
    assert meta["size_multiple"] == 4 and meta["method"] == "cnn-gan"  # 2 levels: stride 4
    assert meta["parity"]["max_abs_diff"] < 1e-2 and meta["version"]
    manifest = json.loads((models / MANIFEST_NAME).read_text())
    assert manifest["files"]["cnn-gan.onnx"]["sha256"] == sha256_file(path)

    from training.trainer import load_checkpoint

    ckpt = load_checkpoint(run_dir / "last.ckpt")
    generator = gan.build_generator(ckpt["options"])
    generator.load_state_dict(ckpt["model"])
    generator.eval()
    lightness = np.random.default_rng(1).uniform(0, 100, (1, 1, 64, 96)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"lightness": lightness})
    with torch.no_grad():
        expected = generator(torch.from_numpy(lightness)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-3)


@pytest.mark.skipif(not CNNGan.shipped(), reason="cnn-gan.onnx is not installed")
def test_shipped_cnn_gan_pads_to_its_stride_and_crops_back():
    method = CNNGan()
    assert method.model.metadata_json("size_multiple") == method.stride == 32
    pred = method.predict(np.linspace(0, 100, 61 * 47, dtype=np.float32).reshape(61, 47))
    assert pred.chroma.shape == (61, 47, 2) and pred.chroma.dtype == np.float32
    assert np.isfinite(pred.chroma).all() and np.abs(pred.chroma).max() <= AB_RANGE
    assert method.working_shape(321, 481) == (64, 96)


@pytest.mark.skipif(not CNNGan.shipped(), reason="cnn-gan.onnx is not installed")
def test_flip_average_is_the_mean_of_the_image_and_its_mirror():
    """Default ``flip_average``: the mean of the output and the mirror image's output,
    mirrored back; so a mirrored input gives exactly the mirrored chroma."""
    method = CNNGan()
    rng = np.random.default_rng(0)
    light = (rng.random((64, 96)) * 100).astype(np.float32)
    single = method.predict(light, flip_average=False).chroma
    mirror = method.predict(np.ascontiguousarray(light[:, ::-1]), flip_average=False).chroma
    averaged = method.predict(light).chroma
    np.testing.assert_allclose(averaged, 0.5 * (single + mirror[:, ::-1]), atol=1e-5)
    assert np.abs(single - mirror[:, ::-1]).max() > 1e-2  # the generator is not symmetric
    flipped = method.predict(np.ascontiguousarray(light[:, ::-1])).chroma
    np.testing.assert_allclose(flipped, averaged[:, ::-1], atol=1e-5)
    with pytest.raises(TypeError, match="flip_average must be True or False"):
        method.predict(light, flip_average="yes")
    with pytest.raises(TypeError, match="unknown option.*accepted: flip_average"):
        method.predict(light, temperature=1.0)


# -- --init: a new run from an exported graph (BatchNorm folded) ---------------------


def _images(photos):
    from training import data as datalib

    return datalib.load_images(
        [(p, None) for p in datalib.find_images(photos)], short_side=48, progress=False
    )


def _graph_vs_generator(graph, generator, images) -> float:
    """Largest |onnxruntime - generator (eval)| on whole photos (off the stride) and noise."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    inputs = [gan._lab_batch(image[None])[0] for image in images.images[:3]]
    inputs.append(torch.linspace(0, 100, 64 * 96).reshape(1, 1, 64, 96))
    generator.eval()
    with torch.no_grad():
        return max(
            float(
                np.abs(session.run(None, {"lightness": x.numpy()})[0] - generator(x).numpy()).max()
            )
            for x in inputs
        )


@pytest.fixture(scope="module")
def tiny_graph(photos, tmp_path_factory):
    """A TINY generator, random BatchNorm parameters and statistics (some scales < 0), exported."""
    folder = tmp_path_factory.mktemp("tiny_graph")
    run = gan._Run(_config(), _images(photos), None, {}, folder / "run")
    rng = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for module in run.generator.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(torch.randn(n, generator=rng))
                module.bias.copy_(torch.randn(n, generator=rng))
                module.running_mean.copy_(torch.randn(n, generator=rng))
                module.running_var.copy_(torch.rand(n, generator=rng) + 0.5)
    return gan.export_generator(run.save(), folder / "models")


def test_init_rebuilds_a_graph_with_folded_batchnorm(photos, tiny_graph, tmp_path):
    import onnx

    initializers = {init.name for init in onnx.load(str(tiny_graph)).graph.initializer}
    assert "down.1.0.weight" in initializers and "down.1.1.running_mean" not in initializers
    images = _images(photos)
    run = gan._Run(_config(), images, None, {}, tmp_path)
    assert run.init_from(tiny_graph) < 1e-3
    assert _graph_vs_generator(tiny_graph, run.generator, images) < 1e-3
    for module in run.generator.modules():  # scales from statistics, not 1 (fresh) or W's sign
        if isinstance(module, torch.nn.BatchNorm2d):
            torch.testing.assert_close(
                module.weight.detach(), (module.running_var + module.eps).sqrt()
            )
            assert not torch.allclose(module.running_var, torch.ones_like(module.running_var))


@pytest.mark.skipif(not CNNGan.shipped(), reason="cnn-gan.onnx is not installed")
def test_init_from_the_shipped_graph_starts_a_fresh_run(photos, tmp_path):
    import onnx
    from colorize_cnn.colorizer import MODELS_DIR

    graph = MODELS_DIR / "cnn-gan.onnx"
    props = {p.key: p.value for p in onnx.load(str(graph)).metadata_props}
    widths = json.loads(props["architecture"])["widths"]
    config = _config(f'generator={{"widths": {json.dumps(widths)}}}')
    images = _images(photos)
    run = gan._Run(config, images, None, {}, tmp_path / "init")
    fresh = gan._Run(config, images, None, {}, tmp_path / "fresh")
    rng = torch.get_rng_state()
    assert run.init_from(graph) < 1e-3
    assert torch.equal(torch.get_rng_state(), rng)  # batches and dropout as without init
    assert _graph_vs_generator(graph, run.generator, images) < 1e-3
    assert run.step == 0 and not run.opt_g.state and not run.opt_d.state
    assert state_digest(run.discriminator) == state_digest(fresh.discriminator)
    before = state_digest(run.generator)
    run.generator.train()
    values = run.train_step()
    assert run.step == 1 and state_digest(run.generator) != before
    assert all(np.isfinite(v) for v in values.values())
    assert all(torch.isfinite(p).all() for p in run.generator.parameters())
    # the shipped generator fits the photos far better than the fresh one
    assert values["g_l1_ab"] < fresh.train_step()["g_l1_ab"]


def test_train_with_init_logs_the_difference(photos, tiny_graph, tmp_path):
    from training.trainer import load_checkpoint

    record = gan.train(
        [photos], None, tmp_path, _config("steps=1"), init=tiny_graph, progress=False
    )
    assert record["step"] == 1 and load_checkpoint(tmp_path / "last.ckpt")["step"] == 1
    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    (init,) = [r for r in records if r.get("event") == "init"]
    assert init["graph"] == str(tiny_graph) and 0 <= init["max_difference"] < 1e-3


def test_init_refuses_resume_another_architecture_and_a_missing_graph(photos, tiny_graph, tmp_path):
    with pytest.raises(ValueError, match="resume"):
        gan.train([photos], None, tmp_path, _config(), init=tiny_graph, resume=tmp_path / "x")
    with pytest.raises(SystemExit):
        gan.main(["train", "--data", str(photos), "--init", str(tiny_graph), "--resume"])
    images = _images(photos)
    other = _config('generator={"widths": [8, 24]}')
    with pytest.raises(ValueError, match=re.escape(str(tiny_graph)) + ".*another architecture"):
        gan._Run(other, images, None, {}, tmp_path).init_from(tiny_graph)
    deeper = _config('generator={"widths": [8, 16, 16]}')
    with pytest.raises(ValueError, match=re.escape(str(tiny_graph))):
        gan._Run(deeper, images, None, {}, tmp_path).init_from(tiny_graph)
    with pytest.raises(FileNotFoundError, match="nothing.onnx"):
        gan._Run(_config(), images, None, {}, tmp_path).init_from(tmp_path / "nothing.onnx")
    if CNNGan.shipped():
        from colorize_cnn.colorizer import MODELS_DIR

        with pytest.raises(ValueError, match="cnn-gan.onnx"):
            gan._Run(_config(), images, None, {}, tmp_path).init_from(MODELS_DIR / "cnn-gan.onnx")
