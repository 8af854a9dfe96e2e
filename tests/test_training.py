"""Tests of training/: data, losses going down, exact resume, time budget, DDP, CLI.

Everything runs on tiny synthetic images and a narrow network (a few seconds each).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from PIL import Image  # noqa: E402

from training import data as datalib  # noqa: E402
from training.config import TrainConfig  # noqa: E402
from training.lab import lab_to_rgb, rgb_to_lab  # noqa: E402
from training.recipe import load_recipe  # noqa: E402
from training.trainer import Trainer, load_checkpoint, state_digest, to_batch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY = {"widths": [4, 8, 8, 8, 8, 8, 8, 8, 8]}


def _photo(rng: np.random.Generator, size=(40, 56)) -> np.ndarray:
    """A smooth colourful image: gradients plus a coloured blob."""
    h, w = size
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = rng.uniform(0.2, 0.8, 3)
    img = np.stack([base[0] + 0.3 * x, base[1] + 0.3 * y, base[2] - 0.3 * x * y], -1)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for split, count in (("train", 12), ("val", 3)):
        folder = tmp_path / "photos" / split / "nested"
        folder.mkdir(parents=True)
        for i in range(count):
            Image.fromarray(_photo(rng)).save(folder / f"{split}{i}.jpg", quality=95)
    return tmp_path / "photos"


def _config(**overrides) -> TrainConfig:
    values = dict(
        steps=6,
        batch_size=4,
        lr=3e-3,
        crop=32,
        cache_size=48,
        val_images=3,
        val_every=3,
        ckpt_every=100,
        log_every=1,
        progress=False,
        threads=1,
        options=dict(TINY),
    )
    values.update(overrides)
    return TrainConfig.from_dict(values)


def _sets(photo_dir: Path):
    train, val, _ = datalib.resolve_sources([photo_dir])
    return (
        datalib.load_images(train, short_side=48, progress=False),
        datalib.load_images(val, short_side=48, progress=False),
    )


def test_torch_lab_matches_core():
    from core.colorspaces.lab import lab_to_rgb as core_lab_to_rgb
    from core.colorspaces.lab import rgb_to_lab as core_rgb_to_lab

    rgb = np.random.default_rng(1).random((5, 7, 3)).astype(np.float32)
    ours = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(ours, core_rgb_to_lab(rgb), atol=0.05)
    back = lab_to_rgb(torch.from_numpy(ours).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(back, rgb, atol=1e-3)
    np.testing.assert_allclose(back, np.clip(core_lab_to_rgb(ours), 0, 1), atol=1e-3)


def test_folder_split_and_skips_corrupt_and_gray(photo_dir: Path):
    (photo_dir / "train" / "broken.jpg").write_bytes(b"not a jpeg at all")
    Image.fromarray(np.full((30, 30), 128, np.uint8)).save(photo_dir / "train" / "gray.png")
    Image.fromarray(np.full((30, 30, 3), 90, np.uint8)).save(photo_dir / "train" / "grayrgb.png")
    train, val, sources = datalib.resolve_sources([photo_dir])
    assert len(train) == 15 and len(val) == 3
    assert sources["val"] == [str(photo_dir / "val")]
    with pytest.warns(RuntimeWarning, match="skipped"):
        loaded = datalib.load_images(train, short_side=48, progress=False)
    assert len(loaded) == 12
    assert loaded.summary.skipped_corrupt == 1
    assert loaded.summary.skipped_gray == 2
    assert min(loaded.images[0].shape[:2]) == 40  # never upscaled


def test_split_file_with_labels_gives_aligned_crops(tmp_path: Path):
    rng = np.random.default_rng(2)
    lines = []
    for i in range(3):
        Image.fromarray(_photo(rng, (36, 48))).save(tmp_path / f"im{i}.png")
        label = np.zeros((36, 48), np.uint8)
        label[:, 24:] = 5
        Image.fromarray(label).save(tmp_path / f"lab{i}.png")
        lines.append(f"im{i}.png lab{i}.png")
    (tmp_path / "train.txt").write_text("# camvid-style\n" + "\n".join(lines) + "\n")
    items = datalib.read_split_file(tmp_path / "train.txt")
    loaded = datalib.load_images(items, short_side=None, progress=False)
    images, labels = datalib.Batcher(loaded, batch_size=3, crop=16, seed=3).batch(0)
    assert images.shape == (3, 16, 16, 3) and labels.shape == (3, 16, 16)
    assert set(np.unique(labels)) <= {0, 5}


def test_batches_depend_only_on_seed_and_step(photo_dir: Path):
    train, _ = _sets(photo_dir)
    a = datalib.Batcher(train, batch_size=4, crop=32, seed=7)
    b = datalib.Batcher(train, batch_size=4, crop=32, seed=7)
    np.testing.assert_array_equal(a.batch(5)[0], b.batch(5)[0])
    assert not np.array_equal(a.batch(5)[0], a.batch(6)[0])
    ranks = [datalib.Batcher(train, batch_size=2, seed=7, rank=r, world_size=2) for r in (0, 1)]
    assert not set(ranks[0].indices(0)) & set(ranks[1].indices(0))


@pytest.mark.parametrize("method", ["cnn-classification", "cnn-smoothl1"])
def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(photo_dir: Path, method: str):
    recipe = load_recipe(method)
    train, _ = _sets(photo_dir)
    torch.manual_seed(0)
    model = recipe.build_model(dict(TINY))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batch = to_batch(*datalib.Batcher(train, batch_size=8, crop=32).batch(0), torch.device("cpu"))
    losses = []
    for _ in range(15):
        loss, _ = recipe.loss(model(batch["lightness"]), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0], losses


def test_resume_reproduces_the_uninterrupted_run(photo_dir: Path, tmp_path: Path):
    recipe = load_recipe("cnn-classification")
    train, val = _sets(photo_dir)
    config = _config(options={**TINY, "dropout": 0.2})  # dropout: the torch RNG must resume too
    straight = Trainer(recipe, config, tmp_path / "a", train, val)
    straight.fit()
    first = Trainer(recipe, config, tmp_path / "b", train, val)
    first.fit(until=3)
    assert load_checkpoint(tmp_path / "b" / "last.ckpt")["step"] == 3
    resumed = Trainer(recipe, config, tmp_path / "b", train, val, resume=tmp_path / "b/last.ckpt")
    resumed.fit()
    assert resumed.step == straight.step == 6
    assert state_digest(resumed.model) == state_digest(straight.model)
    ckpt = torch.load(tmp_path / "b" / "last.ckpt", weights_only=True)
    assert ckpt["step"] == 6 and "optimizer" in ckpt and "scheduler" in ckpt
    records = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    val_records = [r for r in records if r.get("split") == "val"]
    assert val_records and {"loss", "psnr", "rmse_ab"} <= set(val_records[-1])


def test_resume_with_another_process_count_is_refused(photo_dir: Path, tmp_path: Path):
    recipe = load_recipe("cnn-regression")
    train, val = _sets(photo_dir)
    config = _config(options=dict(TINY))
    Trainer(recipe, config, tmp_path, train, val).fit(until=1)
    ckpt = load_checkpoint(tmp_path / "last.ckpt")
    ckpt["world_size"] = 2  # as if written by a 2-process torchrun
    torch.save(ckpt, tmp_path / "two.ckpt")
    with pytest.raises(ValueError, match="run of 2 process.*resuming with 1"):
        Trainer(recipe, config, tmp_path / "c", train, val, resume=tmp_path / "two.ckpt")


def test_warm_start_copies_weights_except_the_skipped_layers(photo_dir: Path, tmp_path: Path):
    recipe = load_recipe("cnn-classification")
    train, val = _sets(photo_dir)
    Trainer(recipe, _config(), tmp_path / "a", train, val).fit(until=2)
    source = load_checkpoint(tmp_path / "a" / "last.ckpt")["model"]
    config = _config(seed=7, init_from=str(tmp_path / "a" / "last.ckpt"), init_skip=["head."])
    warm = Trainer(recipe, config, tmp_path / "b", train, val)
    fresh = Trainer(recipe, _config(seed=7), tmp_path / "c", train, val)
    state, fresh_state = warm.model.state_dict(), fresh.model.state_dict()
    assert warm.step == 0  # a new run, not a resume
    for name, value in state.items():
        expected = fresh_state[name] if name.startswith("head.") else source[name]
        assert torch.equal(value, expected), name


def test_warm_start_refuses_missing_or_mismatched_weights(photo_dir: Path, tmp_path: Path):
    train, val = _sets(photo_dir)
    Trainer(load_recipe("cnn-regression"), _config(), tmp_path / "a", train, val).fit(until=1)
    ckpt = str(tmp_path / "a" / "last.ckpt")
    with pytest.raises(ValueError, match="for method 'cnn-regression'"):
        Trainer(
            load_recipe("cnn-classification"), _config(init_from=ckpt), tmp_path / "b", train, val
        )
    wider = _config(init_from=ckpt, options={"widths": [6, 8, 8, 8, 8, 8, 8, 8, 8]})
    with pytest.raises(ValueError, match=r"last\.ckpt: 'features.*has shape"):
        Trainer(load_recipe("cnn-regression"), wider, tmp_path / "c", train, val)


@pytest.mark.parametrize("name", ["cnn-classification", "cnn-regression", "cnn-smoothl1"])
def test_warm_start_from_the_shipped_graph_reproduces_it(name, photo_dir: Path, tmp_path: Path):
    from colorize_cnn.colorizer import MODELS_DIR

    from training.onnx_init import graph_differences

    graph = MODELS_DIR / f"{name}.onnx"
    if not graph.is_file():
        pytest.skip(f"{name} is not shipped")
    recipe = load_recipe(name)
    options = {"bins_low": -110.0} if name == "cnn-classification" else {}
    train, val = _sets(photo_dir)
    config = _config(init_from=str(graph), options=options)
    trainer = Trainer(recipe, config, tmp_path, train, val)
    trainer.model.eval()
    assert trainer.step == 0
    differences = graph_differences(recipe.export_graphs(trainer.model, {}), MODELS_DIR)
    # relative; float32 kernels of torch and ONNX Runtime differ by ~1e-4 depending on the
    # CPU, a wrong or missing weight by far more (the fresh model below: > 1e-2)
    assert differences[graph.name] < 1e-3, differences
    fresh = Trainer(recipe, _config(options=options), tmp_path / "fresh", train, val)
    fresh.model.eval()
    assert graph_differences(recipe.export_graphs(fresh.model, {}), MODELS_DIR)[graph.name] > 1e-2
    wider = _config(init_from=str(graph), options={**options, "widths": [6] + [8] * 8})
    with pytest.raises(ValueError, match=rf"{name}\.onnx: .*has shape"):
        Trainer(recipe, wider, tmp_path / "wider", train, val)
    other = "cnn-smoothl1" if name == "cnn-regression" else "cnn-regression"
    with pytest.raises(ValueError, match=rf"{name}\.onnx: graph is for method '{name}', not"):
        Trainer(load_recipe(other), config, tmp_path / "other", train, val)


def test_time_budget_saves_and_stops(photo_dir: Path, tmp_path: Path):
    train, val = _sets(photo_dir)
    trainer = Trainer(load_recipe("cnn-regression"), _config(max_minutes=0.0), tmp_path, train, val)
    summary = trainer.fit()
    assert summary["event"] == "stop" and summary["step"] == 0
    assert load_checkpoint(tmp_path / "last.ckpt")["step"] == 0


def test_schedule_decays_like_the_report():
    from training.trainer import _Schedule

    schedule = _Schedule(TrainConfig(steps=100, milestones=[0.75], gamma=0.1))
    assert schedule(0) == 1.0 and schedule(74) == 1.0 and schedule(75) == pytest.approx(0.1)


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def test_cli_trains_and_reports_unknown_method(photo_dir: Path, tmp_path: Path):
    base = [sys.executable, "-m", "training"]
    bad = subprocess.run(
        base + ["no-such-method", "--data", str(photo_dir)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "no training recipe" in bad.stderr
    args = [
        "cnn-classification",
        "--data",
        str(photo_dir),
        "--out",
        str(tmp_path / "run"),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--max-minutes",
        "5",
        "--no-progress",
        "--set",
        "options.widths=[4,4,4,4,4,4,4,4,4]",
        "--set",
        "crop=32",
    ]
    done = subprocess.run(base + args, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert load_checkpoint(tmp_path / "run" / "last.ckpt")["step"] == 2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_ddp_two_processes_hold_identical_weights(photo_dir: Path, tmp_path: Path):
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "training",
        "cnn-classification",
        "--data",
        str(photo_dir),
        "--out",
        str(tmp_path / "ddp"),
        "--steps",
        "3",
        "--batch-size",
        "2",
        "--no-progress",
        "--set",
        "options.widths=[4,4,4,4,4,4,4,4,4]",
        "--set",
        "crop=32",
        "--set",
        "threads=1",
    ]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(x) for x in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    final = records[-1]
    assert final["event"] == "done" and final["step"] == 3
    assert len(final["rank_digests"]) == 2
    assert final["rank_digests"][0] == final["rank_digests"][1]
    ckpt = load_checkpoint(tmp_path / "ddp" / "last.ckpt")
    assert ckpt["world_size"] == 2


def test_checkpoint_from_another_version_or_foreign_file_is_refused(tmp_path):
    import pickle

    import torch

    from training.trainer import load_checkpoint

    old = tmp_path / "old.ckpt"
    torch.save({"format": "colorize-checkpoint/0", "model": {}}, old)
    with pytest.raises(ValueError, match="colorize-checkpoint/0 is from a different version"):
        load_checkpoint(old)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="not a colorize training checkpoint"):
        load_checkpoint(foreign)

    class Evil:
        def __reduce__(self):
            return (print, ("pickle code ran",))

    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match="weights_only=True"):
        load_checkpoint(evil)


def test_cnn_bins_can_centre_one_bin_on_the_neutral_axis():
    from colorize_cnn.train import AB_BINS, ab_bins, ab_to_bins, bin_centers

    chroma = torch.tensor([-0.5, 0.5, -10.0, 9.9, -200.0, 200.0]).reshape(1, 2, 1, 3)
    report = ab_to_bins(chroma).flatten().tolist()
    centred = ab_bins(-110.0)
    assert report == [4, 5, 4, 5, 0, 9]  # the report's edge at 0 splits the neutral axis
    assert ab_to_bins(chroma, centred).flatten().tolist() == [5, 5, 5, 5, 0, 9]
    assert bin_centers(spec=centred)[5] == 0.0 and centred["high"] == 90.0
    assert ab_bins() == AB_BINS
    recipe = load_recipe("cnn-classification")
    model = recipe.build_model({**TINY, "bins_low": -110})
    assert recipe.ab_bins == centred and recipe._bins_metadata(None)["low"] == -110.0
    rng = np.random.default_rng(0)
    images = np.stack([_photo(rng, (32, 32)) for _ in range(4)])
    statistics = recipe.data_statistics([to_batch(images, None, torch.device("cpu"))])
    low = np.array(statistics["bin_means"]["a"]) - np.arange(10) * 20
    assert np.all((low >= -110) & (low <= -90))  # every mean inside its own bin
    assert model.head.out_channels == 20
