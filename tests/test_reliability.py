"""Reliability: bad-input matrix, fuzzing, batch faults, plugin faults, load, determinism.

Fast versions run in ``make test``; ``make stress`` runs the same tests with larger
budgets (``COLORIZE_FUZZ_EXAMPLES``, ``COLORIZE_LOAD_CALLS``). Figures and the table of
cases are in docs/reliability.md.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import core
from core.cli import main
from core.errors import InvalidImageError, PluginError
from core.io import load_image

FUZZ_EXAMPLES = int(os.environ.get("COLORIZE_FUZZ_EXAMPLES", "150"))
LOAD_CALLS = int(os.environ.get("COLORIZE_LOAD_CALLS", "200"))


def _png_bytes(mode="L", size=(24, 16)) -> bytes:
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(data).convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    y, x = np.mgrid[0:32, 0:40]
    Image.fromarray((128 + 100 * np.sin(x / 4)).astype(np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


SEEDS = {"png": _png_bytes(), "png_rgb": _png_bytes("RGB"), "jpeg": _jpeg_bytes()}


# -- 1. the bad-input matrix (through the API; the CLI is covered in test_cli.py) ----------


@pytest.mark.parametrize(
    "case,make,outcome",
    [
        ("1x1 pixel", lambda: np.full((1, 1), 0.5, np.float32), (1, 1, 3)),
        ("1xN strip", lambda: np.linspace(0, 1, 57, dtype=np.float32)[None], (1, 57, 3)),
        ("Nx1 strip", lambda: np.linspace(0, 1, 33, dtype=np.float32)[:, None], (33, 1, 3)),
        ("4-D array", lambda: np.zeros((1, 8, 8, 3), np.uint8), "got shape (1, 8, 8, 3)"),
        ("inf array", lambda: np.full((8, 8), np.inf, np.float32), "NaN or infinite"),
        ("negative array", lambda: np.full((8, 8), -1.0, np.float64), "must lie in [0, 1]"),
        ("int32 array", lambda: np.zeros((8, 8), np.int32), "unsupported dtype int32"),
        ("complex array", lambda: np.zeros((8, 8), np.complex64), "unsupported dtype"),
    ],
)
def test_bad_input_matrix_arrays(registry, case, make, outcome):
    if isinstance(outcome, tuple):
        assert core.colorize(make(), "toy").shape == outcome
    else:
        with pytest.raises(InvalidImageError) as info:
            core.colorize(make(), "toy")
        assert "<array>" in str(info.value) and outcome in str(info.value)


def test_reference_of_other_size_and_grayscale_reference(registry):
    gray = np.full((30, 40), 0.5, np.float32)
    ref = np.zeros((7, 300, 3), np.float32)
    ref[..., 2] = 1.0
    assert core.colorize(gray, "toy-reference", reference=ref).shape == (30, 40, 3)
    with pytest.raises(InvalidImageError, match="reference image is grayscale"):
        core.colorize(gray, "toy-reference", reference=np.repeat(ref[..., 2:], 3, -1))


def test_multipage_tiff_first_page(registry, tmp_path):
    pages = [Image.new("L", (20, 10), v) for v in (30, 220)]
    path = tmp_path / "pages.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    result = core.colorize_result(path, "toy")
    assert any("first frame" in n for n in result.metadata["notes"])
    assert result.rgb.shape == (10, 20, 3)


# -- 2. fuzzing -------------------------------------------------------------------------------


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.binary(min_size=0, max_size=2048))
def test_fuzz_random_bytes(tmp_path, data):
    path = tmp_path / "fuzz.jpg"
    path.write_bytes(data)
    try:
        load_image(path)
    except InvalidImageError as exc:
        assert "fuzz.jpg" in str(exc)


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.sampled_from(sorted(SEEDS)),
    flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), min_size=1, max_size=8),
    cut=st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_fuzz_mutated_images_into_colorize(registry, tmp_path, seed, flips, cut):
    data = bytearray(SEEDS[seed])
    for position, value in flips:
        data[position % len(data)] ^= value
    if cut is not None:
        data = data[: cut % len(data)]
    path = tmp_path / f"mutant.{'jpg' if seed == 'jpeg' else 'png'}"
    path.write_bytes(bytes(data))
    try:
        out = core.colorize(path, "toy")
    except InvalidImageError as exc:
        assert "mutant" in str(exc)
    else:
        assert out.size[0] >= 1 and out.size[1] >= 1


# -- 3. batch faults ------------------------------------------------------------------------

SLOW_PLUGIN = """
    import os
    import time
    import numpy as np
    import core

    CALLS = [0]

    class Slow(core.Colorizer):
        name = "slow"
        description = "test-only: sleeps, then predicts a flat tint"
        citation = "none"
        working_size = 16
        def predict(self, lightness, **kw):
            # After the third image, wait (at most 60 s) for the test's gate file: the
            # batch cannot finish before the test's signal, however loaded the machine is.
            CALLS[0] += 1
            gate = os.environ.get("SLOWTEST_GATE")
            deadline = time.monotonic() + 60
            while CALLS[0] > 3 and gate and not os.path.exists(gate):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            time.sleep(0.05)
            return core.Prediction(np.full((*lightness.shape, 2), 20.0, np.float32))

    @core.hookimpl
    def register_methods(register):
        register(Slow())
"""


@pytest.fixture
def slow_plugin_env(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "colorize_slowtest.py").write_text(textwrap.dedent(SLOW_PLUGIN))
    info = site / "colorize_slowtest-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: colorize-slowtest\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[colorize]\nslowtest = colorize_slowtest\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["COLORIZE_PLUGINS"] = "slowtest"
    env["SLOWTEST_GATE"] = str(tmp_path / "gate")  # created by a test to let a batch finish
    return env


@pytest.mark.parametrize("workers", ["0", "2"], ids=["in-process", "2-workers"])
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_batch_leaves_no_partial_files_and_resumes(
    tmp_path, slow_plugin_env, sig, workers
):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(30):
        Image.new("L", (64, 48), 8 * i).save(src / f"img{i:02d}.png")
    cmd = [sys.executable, "-m", "core", "image", str(src), "-o", str(out), "-m", "slow", "-q"]
    cmd += ["--workers", workers]
    proc = subprocess.Popen(cmd, env=slow_plugin_env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 3:
        time.sleep(0.05)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    (tmp_path / "gate").touch()  # the re-run below may finish
    assert proc.returncode == 130, err
    assert "interrupted" in err
    done = sorted(p.name for p in out.iterdir())
    assert all(name.endswith(".png") and not name.startswith(".") for name in done), done
    assert 3 <= len(done) < 30
    for name in done:  # every file under a final name is complete
        Image.open(out / name).load()
    rerun = subprocess.run(cmd, env=slow_plugin_env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"colorized {30 - len(done)}, skipped {len(done)}" in rerun.stderr
    assert len(list(out.iterdir())) == 30



def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie has exited


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_workers_die_with_their_parent(tmp_path, slow_plugin_env):
    """F6: after ``kill -9`` of the batch's process, its workers exit too."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(12):
        Image.new("L", (64, 48), 8 * i).save(src / f"img{i:02d}.png")
    cmd = [sys.executable, "-m", "core", "image", str(src), "-o", str(out), "-m", "slow", "-q"]
    proc = subprocess.Popen([*cmd, "--workers", "2"], env=slow_plugin_env)
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while time.monotonic() < deadline and len(list(out.glob("*.png"))) < 2:
        time.sleep(0.05)
    own = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
    workers = [c for c in _children(proc.pid) if Path(f"/proc/{c}/cmdline").read_bytes() == own]
    assert len(workers) == 2, workers  # forked workers run the parent's command line
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)

def test_full_disk_gives_one_clear_error(registry, tmp_path, capsys, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        Image.new("L", (20, 20), 50 * i).save(src / f"{i}.png")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("core.api.save_image", full)
    code = main(["image", str(src), "-o", str(tmp_path / "out"), "-m", "toy", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("No space left on device") == 1
    assert "stopped" in err



@pytest.mark.parametrize("where", ["save", "opencv"])
def test_out_of_memory_fails_that_file_and_the_batch_goes_on(
    registry, tmp_path, capsys, monkeypatch, where
):
    """F1: a MemoryError while saving, or OpenCV failing to allocate, fails the one file
    with a clear line; the other files are colorized and the summary is printed."""
    import cv2

    import core.api

    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        Image.new("L", (20, 20), 50 * i).save(src / f"{i}.png")
    real_save = core.api.save_image

    def save(path, *args, **kwargs):
        if Path(path).stem == "2":
            if where == "save":
                raise MemoryError("Unable to allocate 2.47 GiB for an array")
            raise cv2.error("OpenCV(5.1.0) alloc.cpp:73: error: (-4:Insufficient memory)")
        return real_save(path, *args, **kwargs)

    monkeypatch.setattr("core.api.save_image", save)
    code = main(["image", str(src), "-o", str(tmp_path / "out"), "-m", "toy", "-q", "-j", "0"])
    err = capsys.readouterr().err
    assert code == 1
    assert "colorized 3, skipped 0 (output exists), failed 1 of 4" in err
    expected = "not enough memory" if where == "save" else "OpenCV failed"
    assert f"FAILED {src / '2.png'}: {src / '2.png'}: {expected}" in err
    assert "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["0.png", "1.png", "3.png"]


def test_a_broken_model_fails_once_and_stops_the_batch(registry, toys, tmp_path, capsys):
    """A model file that cannot be loaded is one error, not the same error per file."""
    from core.errors import ModelFileError

    class BrokenModel(toys.ToyColorizer):
        name = "broken-model"

        def predict(self, lightness, **kw):
            raise ModelFileError("models/x.onnx: onnxruntime cannot load the model (bad)")

    registry.add_plugin(toys.ToyPlugin(BrokenModel()), name="bm", distribution="bm-dist")
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        Image.new("L", (20, 20), 40 * i).save(src / f"{i}.png")
    code = main(["image", str(src), "-o", str(tmp_path / "out"), "-m", "broken-model", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("cannot load the model") == 1  # one FAILED line, not five
    assert err.count("FAILED") == 1  # which file it names depends on the workers' order
    assert "stopped: 4 other file(s) not colorized" in err

def test_output_names_cannot_escape(registry, tmp_path, capsys):
    from core.batch import confined

    out = tmp_path / "out"
    out.mkdir()
    assert confined(out, out / "a.png")
    assert not confined(out, out / ".." / "a.png")
    os.symlink(tmp_path, out / "link")
    assert not confined(out, out / "link" / "a.png")


# -- 4. plugin faults ---------------------------------------------------------------------------


def test_plugin_raising_during_colorization_is_named(registry, toys):
    class Crashing(toys.ToyColorizer):
        name = "crashing"

        def predict(self, lightness, **kw):
            raise ZeroDivisionError("division by zero deep inside")

    registry.add_plugin(
        toys.ToyPlugin(Crashing()), name="crash", distribution="colorize-crash", version="9.9"
    )
    with pytest.raises(
        PluginError,
        match=r"method 'crashing' \(plugin colorize-crash 9.9\) "
        r"failed: ZeroDivisionError",
    ):
        core.colorize(np.zeros((8, 8), np.uint8), "crashing")


def test_plugin_returning_garbage_is_named(registry, toys):
    class Garbage(toys.ToyColorizer):
        name = "garbage"

        def predict(self, lightness, **kw):
            return core.Prediction(np.full((3, 3, 2), np.nan, np.float32))

    registry.add_plugin(toys.ToyPlugin(Garbage()), name="garbage-plugin")
    with pytest.raises(PluginError, match="method 'garbage' returned chroma of shape"):
        core.colorize(np.zeros((8, 8), np.uint8), "garbage")


def test_plugin_returning_nan_chroma_is_named_with_nan(registry, toys):
    class NotANumber(toys.ToyColorizer):
        name = "nan-method"

        def predict(self, lightness, **kw):
            chroma = np.zeros((*lightness.shape, 2), np.float32)
            chroma[0, :3, 0] = np.nan
            chroma[1, 0, 1] = np.inf
            return core.Prediction(chroma)

    registry.add_plugin(toys.ToyPlugin(NotANumber()), name="nan-plugin", distribution="nan-dist")
    with pytest.raises(PluginError) as info:
        core.colorize(np.zeros((8, 8), np.uint8), "nan-method")
    assert str(info.value).startswith(
        "method 'nan-method' returned chroma with 3 NaN and 1 infinite value(s)"
    )


def test_plugin_raising_during_registration_is_named(toys):
    from core.plugins import Registry

    class Broken:
        @core.hookimpl
        def register_methods(self, register):
            register(toys.ToyColorizer())
            raise RuntimeError("registration exploded")

    reg = Registry(load_entry_points=False, strict=False)
    with pytest.warns(RuntimeWarning, match="plugin 'broken'.*registration exploded"):
        reg.add_plugin(Broken(), name="broken", distribution="colorize-broken", version="1")
    assert reg.names("method") == []  # partial registrations rolled back
    assert reg.failures[0].stage == "register"


def test_truncated_model_refused_before_onnxruntime_parses_it(onnx_model_path, monkeypatch):
    import onnxruntime

    from core.errors import ModelFileError
    from core.runtime import clear_session_cache, get_session

    clear_session_cache()
    onnx_model_path.write_bytes(onnx_model_path.read_bytes()[:50])

    def never(*args, **kwargs):
        raise AssertionError("onnxruntime was asked to parse an unverified file")

    monkeypatch.setattr(onnxruntime, "InferenceSession", never)
    with pytest.raises(ModelFileError, match="does not match the manifest"):
        get_session(onnx_model_path)


# -- 5. load, and 6. determinism -------------------------------------------------------------


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_threads_hammering_shared_sessions(registry):
    rng = np.random.default_rng(1)
    images = [(rng.random((48, 64)) * 255).astype(np.uint8) for _ in range(10)]
    serial = [core.colorize(im, "toy-onnx") for im in images]

    def call(i: int) -> bool:  # compare on the fly: keeping outputs would count as growth
        return np.array_equal(core.colorize(images[i % 10], "toy-onnx"), serial[i % 10])

    with ThreadPoolExecutor(max_workers=8) as pool:
        # warm-up on the same 8 threads: sessions, per-thread allocator arenas
        assert all(pool.map(call, range(1000)))
        before = _rss_mib()
        same = list(pool.map(call, range(LOAD_CALLS)))
        growth = _rss_mib() - before
    assert all(same), f"{same.count(False)} of {LOAD_CALLS} threaded results differ from serial"
    print(f"{LOAD_CALLS} calls on 8 threads: resident memory grew {growth:.1f} MiB")
    assert growth < 10


@pytest.mark.parametrize("threads", ["1", "2"])
def test_seeded_output_identical_across_thread_counts(registry, monkeypatch, threads):
    from core.runtime import clear_session_cache

    image = (np.random.default_rng(2).random((40, 60)) * 255).astype(np.uint8)
    reference = core.colorize(image, "toy-onnx", seed=3)
    clear_session_cache()
    monkeypatch.setenv("COLORIZE_THREADS", threads)
    np.testing.assert_array_equal(core.colorize(image, "toy-onnx", seed=3), reference)
    np.testing.assert_array_equal(
        core.colorize(image, "toy", seed=3), core.colorize(image, "toy", seed=3)
    )


def test_no_pickle_loading_outside_weights_only():
    """Issue #12 item 4: checkpoints only via torch.load(weights_only=True), arrays without
    pickle. Scans the project's own sources (not third-party code) for unsafe loaders."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = [
        path
        for folder in ("core", "training", "onnx_export", "plugins", "scripts", "benchmarks")
        for path in (root / folder).rglob("*.py")
        if "build" not in path.relative_to(root).parts and "tests" not in path.parts
    ]
    assert len(sources) > 30
    unsafe = []
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = ast.unparse(node.func)
            keywords = {k.arg: ast.unparse(k.value) for k in node.keywords}
            if func.endswith("torch.load") and keywords.get("weights_only") != "True":
                unsafe.append(f"{path.relative_to(root)}:{node.lineno} {func}")
            if func in ("np.load", "numpy.load") and keywords.get("allow_pickle") not in (
                None,
                "False",
            ):
                unsafe.append(f"{path.relative_to(root)}:{node.lineno} {func}")
            if func in ("pickle.load", "pickle.loads", "joblib.load"):
                unsafe.append(f"{path.relative_to(root)}:{node.lineno} {func}")
    assert not unsafe, unsafe
