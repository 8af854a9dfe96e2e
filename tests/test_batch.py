"""Batch colorization on worker processes (core/batch.py, ``colorize image --workers``)."""

from __future__ import annotations

import errno
import multiprocessing
import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import batch, runtime
from core.batch import BatchSettings, plan_jobs, pool_shape, run_batch
from core.cli import main


@pytest.fixture
def folder(tmp_path):
    """Seven small photos in two folders and one corrupt file."""
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    y, x = np.mgrid[0:24, 0:32]
    for i in range(7):
        data = (110 + 70 * np.sin(x / (3.0 + i)) * np.cos(y / 4.0)).astype(np.uint8)
        name = f"p{i}.png" if i % 2 else f"sub/p{i}.jpg"
        Image.fromarray(data, "L").save(src / name)
    (src / "sub" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    return src


@pytest.fixture
def busy_parent(onnx_model_path, monkeypatch):
    """The parent's OpenCV and ONNX Runtime thread pools running before the workers fork
    (as in a long test session or a notebook): the children must not wait for them."""
    import cv2

    big = np.random.default_rng(0).random((1500, 1500, 3), dtype=np.float32)
    cv2.GaussianBlur(cv2.resize(big, (2000, 2000)), (5, 5), 1.0)
    monkeypatch.setenv("COLORIZE_THREADS", "2")
    runtime.get_session(onnx_model_path).run(None, {"L": np.zeros((1, 1, 64, 64), np.float32)})
    monkeypatch.delenv("COLORIZE_THREADS")


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "extra",
    [
        ["-m", "toy-onnx"],  # deterministic, an ONNX Runtime session per worker
        ["-m", "toy", "--seed", "5"],  # seeded
        ["-m", "toy", "--samples", "2", "--seed", "1"],  # diverse samples
    ],
    ids=["onnx", "seed", "samples"],
)
def test_two_workers_write_the_serial_bytes(registry, busy_parent, folder, tmp_path, capsys, extra):
    serial, pooled = tmp_path / "serial", tmp_path / "pooled"
    assert main(["image", str(folder), "-o", str(serial), "--workers", "0", "-q", *extra]) == 1
    serial_err = capsys.readouterr().err
    assert main(["image", str(folder), "-o", str(pooled), "--workers", "2", "-q", *extra]) == 1
    pooled_err = capsys.readouterr().err
    expected = _files(serial)
    assert len(expected) == 7 * (2 if "--samples" in extra else 1)
    assert _files(pooled) == expected
    # the same summary, with the corrupt file reported by name and the rest written
    assert pooled_err.replace(str(pooled), "OUT") == serial_err.replace(str(serial), "OUT")
    assert "colorized 7, skipped 0 (output exists), failed 1 of 8 file(s)" in pooled_err
    assert "FAILED " + str(folder / "sub" / "corrupt.jpg") in pooled_err


def test_the_pool_is_used_and_skips_what_exists(registry, folder, tmp_path):
    out = tmp_path / "out"
    settings = BatchSettings(method="toy-onnx")
    jobs = plan_jobs([folder], out)
    first = run_batch(jobs, settings, output=out, workers=2, progress=False)
    assert (first.workers, first.done, first.skipped, len(first.failed)) == (2, 7, 0, 1)
    assert first.exit_code == 1
    (out / "p1.png").unlink()
    again = run_batch(jobs, settings, output=out, workers=2, progress=False)
    assert (again.done, again.skipped, len(again.failed)) == (1, 6, 1)
    assert again.failed[0][0] == str(folder / "sub" / "corrupt.jpg")
    assert not [p for p in out.rglob(".*")], "no temporary files left"


def test_a_full_disk_stops_the_pool_with_one_message(registry, folder, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("core.api.save_image", full)  # forked workers inherit it
    out = tmp_path / "out"
    summary = run_batch(
        plan_jobs([folder], out), BatchSettings(method="toy"), output=out, workers=2, progress=False
    )
    assert summary.fatal == f"cannot write to {out}: No space left on device"
    assert summary.exit_code == 1
    assert summary.done == 0


def test_an_unknown_method_is_reported_once(registry, folder, tmp_path, capsys):
    code = main(["image", str(folder), "-o", str(tmp_path / "o"), "-m", "tyo", "-j", "2", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("FAILED") == 1
    assert "did you mean 'toy'" in err


def test_a_photo_that_crashes_its_worker_is_named_and_the_batch_goes_on(
    registry, toys, tmp_path
):
    """F5: the one photo that kills its worker is found (the files in flight are run again
    one per process), named and failed; every other photo is colorized, on every re-run."""

    class Crashing(toys.ToyColorizer):
        name = "crashing"

        def predict(self, lightness, **kw):
            if float(lightness.mean()) > 90:  # only the brightest photo
                os._exit(3)  # a crash no Python handler sees (like the kernel's OOM killer)
            return super().predict(lightness, **kw)

    registry.add_plugin(toys.ToyPlugin(Crashing()), name="crashing", distribution="d", version="1")
    src = tmp_path / "in"
    src.mkdir()
    for i in range(8):
        Image.new("L", (24, 16), 255 if i == 7 else 20 + 10 * i).save(src / f"p{i}.png")
    out = tmp_path / "out"
    for message in ("the worker process colorizing it died", "in an earlier run; skipped"):
        # the re-run names and skips it without running it (it would run in this process:
        # only one file is left)
        summary = run_batch(
            plan_jobs([src], out),
            BatchSettings(method="crashing"),
            output=out,
            workers=2,
            progress=False,
        )
        assert summary.fatal is None
        assert [name for name, _ in summary.failed] == [str(src / "p7.png")]
        assert message in summary.failed[0][1]
        assert summary.exit_code == 1
    assert sorted(p.name for p in out.iterdir() if p.suffix == ".png") == [
        f"p{i}.png" for i in range(7)
    ]
    assert (out / batch.CRASH_RECORD).is_file()
    (src / "p7.png").write_bytes((src / "p6.png").read_bytes())  # a new file: tried again
    summary = run_batch(
        plan_jobs([src], out), BatchSettings(method="crashing"), output=out, workers=0,
        progress=False,
    )
    assert summary.done == 1 and not summary.failed


def test_a_method_that_crashes_every_worker_stops_the_batch(registry, toys, folder, tmp_path):
    class Dying(toys.ToyColorizer):
        name = "dying"

        def predict(self, lightness, **kw):
            os._exit(3)

    registry.add_plugin(toys.ToyPlugin(Dying()), name="dying", distribution="d", version="1")
    out = tmp_path / "out"
    jobs = plan_jobs([folder], out)
    summary = run_batch(
        jobs, BatchSettings(method="dying"), output=out, workers=2, progress=False
    )
    assert summary.fatal.startswith(f"{batch.MAX_CRASHES_IN_A_ROW} files in a row crashed")
    assert len(summary.failed) == min(len(jobs), batch.MAX_CRASHES_IN_A_ROW)
    assert summary.exit_code == 1


def test_a_worker_killed_while_writing_leaves_no_temporary(
    registry, toys, folder, tmp_path, monkeypatch
):
    from core.io import open_temporary

    def killed_mid_write(path, *args, **kwargs):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, _ = open_temporary(path.parent, prefix=f".{path.stem}.", suffix=".png.part")
        os.write(fd, b"half a PNG")
        os.kill(os.getpid(), signal.SIGKILL)  # nothing in the worker can clean up

    monkeypatch.setattr("core.api.save_image", killed_mid_write)  # the workers fork with it
    out = tmp_path / "out"
    summary = run_batch(
        plan_jobs([folder], out), BatchSettings(method="toy"), output=out, workers=2, progress=False
    )
    assert "crashed their worker process" in summary.fatal
    assert [p.name for p in out.rglob("*") if p.is_file()] == [batch.CRASH_RECORD]


def test_pool_shape_fits_the_cores(monkeypatch):
    monkeypatch.setattr(batch, "usable_cores", lambda: 8)
    monkeypatch.setattr(batch, "_available_mib", lambda: 64 * 1024)
    monkeypatch.delenv("COLORIZE_THREADS", raising=False)
    assert pool_shape(None, 100) == (8, 1)
    assert pool_shape(None, 3) == (3, 2)  # no more workers than files
    assert pool_shape(None, 1) == (0, 0)  # one file: in this process
    assert pool_shape(2, 100) == (2, 4)
    assert pool_shape(4, 2) == (2, 4)  # asked for more workers than files
    assert pool_shape(1, 1) == (0, 0)  # asked for one worker: in this process
    assert pool_shape(0, 100) == (0, 0)
    monkeypatch.setattr(batch, "_available_mib", lambda: 3 * batch.WORKER_MEMORY_MIB)
    assert pool_shape(None, 100) == (3, 2)  # bounded by memory
    monkeypatch.setenv("COLORIZE_THREADS", "4")
    monkeypatch.setattr(batch, "_available_mib", lambda: None)
    assert pool_shape(None, 100) == (2, 4)
    assert pool_shape(3, 100) == (3, 4)  # asked for: COLORIZE_THREADS is kept
    with pytest.raises(ValueError, match="workers must be >= 0"):
        pool_shape(-1)


def test_workers_flag_is_validated(registry, folder, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["image", str(folder), "-o", str(tmp_path / "o"), "--workers", "-2"])
    assert stop.value.code == 2
    assert "expected a number >= 0 or 'auto'" in capsys.readouterr().err


def test_a_forked_child_starts_without_the_parents_sessions(onnx_model_path, monkeypatch):
    monkeypatch.setenv("COLORIZE_THREADS", "2")  # the child would ask for the same key
    session = runtime.get_session(onnx_model_path)
    x = np.zeros((1, 1, 8, 8), np.float32)

    def child(queue):
        fresh = runtime.get_session(onnx_model_path)
        queue.put((fresh is not session, fresh.run(None, {"L": x})[0].shape))

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    process = ctx.Process(target=child, args=(queue,))
    process.start()
    try:
        assert queue.get(timeout=60) == (True, (1, 2, 8, 8))
    finally:
        process.join(timeout=60)
    assert process.exitcode == 0


def test_plan_jobs_refuses_no_samples_and_outputs_on_inputs(folder, tmp_path):
    from core.errors import OutputPathError

    out = tmp_path / "out"
    for samples in (0, -1, True):
        with pytest.raises(ValueError, match="samples must be a positive integer"):
            plan_jobs([folder], out, samples=samples)
    with pytest.raises(OutputPathError, match=f"output folder {folder} is the input folder"):
        plan_jobs([folder], folder)
    photo = folder / "p1.png"
    os.link(photo, tmp_path / "linked.png")  # the same file under another name
    with pytest.raises(OutputPathError, match=f"{photo}: the output would replace this input"):
        plan_jobs([photo], tmp_path / "linked.png", single_file=True)


def test_an_output_folder_inside_an_input_folder_is_not_searched(folder):
    out = folder / "sub" / "colour"
    (out / "deeper").mkdir(parents=True)
    Image.new("L", (8, 8)).save(out / "p1.png")  # an output of an earlier run
    Image.new("L", (8, 8)).save(out / "deeper" / "p3.png")
    sources = [job.source for job in plan_jobs([folder], out)]
    assert len(sources) == 8 and not [s for s in sources if out in s.parents]
    assert len(list(batch.iter_inputs([out], exclude=out))) == 2  # given itself: searched
    assert len(list(batch.iter_inputs([folder]))) == 10  # without exclude: all of them


def test_one_worker_runs_in_this_process(registry, folder, tmp_path, monkeypatch):
    """``--workers 1`` (or a pool cut to one by the number of files) starts no pool: a
    pool of one worker is the serial loop plus a process start and the transfers."""
    monkeypatch.setattr(batch, "usable_cores", lambda: 8)
    monkeypatch.delenv("COLORIZE_THREADS", raising=False)
    assert pool_shape(1, 100) == (0, 0)
    assert pool_shape(4, 1) == (0, 0)  # four asked for, one file
    assert pool_shape(2, 2) == (2, 4)  # two are still a pool
    monkeypatch.setenv("COLORIZE_THREADS", "3")
    assert pool_shape(1, 100) == (0, 3)

    pids = tmp_path / "pids"
    run_file = batch.run_file

    def recording(settings, job):  # a forked worker would inherit it and write its pid
        with open(pids, "a") as f:
            f.write(f"{os.getpid()}\n")
        return run_file(settings, job)

    monkeypatch.setattr(batch, "run_file", recording)
    out = tmp_path / "out"
    summary = run_batch(
        plan_jobs([folder], out), BatchSettings(method="toy"), output=out, workers=1, progress=False
    )
    assert (summary.workers, summary.done, len(summary.failed)) == (0, 7, 1)
    assert pids.read_text().split() == [str(os.getpid())] * 8
