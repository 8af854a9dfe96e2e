"""Colorizing on a Ray cluster (colorize_ray.distributed): a local cluster on 127.0.0.1.

The cluster runs in a child process (its own process group, with a time limit), so that
Ray's processes, threads and signal handlers never enter the test process, and whatever
happens, nothing is left running. The method is a test-only plugin installed on the
child's PYTHONPATH: the actors are separate processes and find methods by entry point.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

PLUGIN = """
import numpy as np
import core


class RayToy(core.Colorizer):
    name = "raytoy"
    description = "test-only: chroma from lightness, shifted by the seed"
    citation = "none"
    capabilities = core.Capabilities(automatic=True)
    colorspace = "lab"
    working_size = 32

    def predict(self, lightness, *, seed=None, **kw):
        shift = 0.0 if seed is None else float(np.random.default_rng(seed).uniform(-9, 9))
        a = 20.0 * np.sin(lightness / 13.0) + shift
        b = 25.0 - 0.3 * lightness
        return core.Prediction(np.stack([a, b], -1).astype(np.float32))


@core.hookimpl
def register_methods(register):
    register(RayToy())
"""

JOB = """
import json, sys
import numpy as np
import os
import ray
from colorize_ray.distributed import colorize_dataset, colorize_files


def descendants(root):
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().split(") ")[-1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == pid]
        found += kids
        frontier += kids
    return found


src, out = sys.argv[1], sys.argv[2]
ray.init(
    address="local",
    num_cpus=2,
    include_dashboard=False,
    object_store_memory=100 * 2**20,
    log_to_driver=False,
)
try:
    first = colorize_files([src], out, "raytoy", actors=2, seed=3, progress=False)
    again = colorize_files([src], out, "raytoy", actors=2, seed=3, progress=False)
    paths = [f"{src}/p1.png", f"{src}/p3.png", f"{src}/sub/corrupt.jpg"]
    rows = colorize_dataset(paths, "raytoy", actors=2, seed=3).take_all()
    rows.sort(key=lambda row: row["path"])  # Ray Data need not keep the order
    for row in rows:
        np.save(f"{out}.{row['path'].split('/')[-1]}.npy", row["colorized"])
    report = {
        "first": [first.done, first.skipped, first.failed, first.workers],
        "again": [again.done, again.skipped, len(again.failed)],
        "rows": [[row["path"], row["error"]] for row in rows],
        "ray": ray.__version__,
    }
finally:
    children = descendants(os.getpid())
    ray.shutdown()
print(json.dumps({**report, "children": children}))
"""


def _ray_or_skip() -> None:
    if importlib.util.find_spec("ray") is None:
        if os.environ.get("CI"):
            pytest.fail("Ray is not installed: `make test` installs the [ray] extra")
        pytest.skip("needs the [ray] extra (pip install -e '.[ray]')")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def plugin_env(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "colorize_raytoy.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "colorize_raytoy-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: colorize-raytoy\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[colorize]\nraytoy = colorize_raytoy\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    env["COLORIZE_PLUGINS"] = "raytoy"
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env["RAY_worker_niceness"] = "0"  # Ray's default (15) starves the actors on a busy machine
    return env


def test_import_core_never_imports_ray():
    code = (
        "import sys, core, core.cli, core.batch, colorize_ray.distributed; "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_local_ray_cluster_with_two_actors_writes_the_serial_bytes(tmp_path, plugin_env):
    _ray_or_skip()
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    y, x = np.mgrid[0:24, 0:32]
    for i in range(6):
        data = (100 + 80 * np.sin(x / (2.5 + i)) * np.cos(y / 5.0)).astype(np.uint8)
        Image.fromarray(data, "L").save(src / (f"p{i}.png" if i % 2 else f"sub/q{i}.jpg"))
    (src / "sub" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    serial, distributed = tmp_path / "serial", tmp_path / "ray"

    cmd = [sys.executable, "-m", "core", "image", str(src), "-o", str(serial), "-m", "raytoy"]
    proc = subprocess.run(
        [*cmd, "--seed", "3", "--workers", "0", "-q"],
        env=plugin_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr  # the corrupt file

    job = tmp_path / "job.py"
    job.write_text(textwrap.dedent(JOB))
    child = subprocess.Popen(
        [sys.executable, str(job), str(src), str(distributed)],
        env=plugin_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: Ray's head processes join it
    )
    try:
        stdout, stderr = child.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        pytest.fail("the Ray job did not finish within 600 s")
    assert child.returncode == 0, stderr[-4000:]
    report = json.loads(stdout.strip().splitlines()[-1])

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(_alive(p) for p in report["children"]):
        time.sleep(0.1)
    left = [p for p in report["children"] if _alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"Ray left processes running: {left}"

    done, skipped, failed, actors = report["first"]
    assert (done, skipped, actors) == (6, 0, 2)
    assert [name for name, _ in failed] == [str(src / "sub" / "corrupt.jpg")]
    assert report["again"] == [0, 6, 1]  # a re-run skips what exists
    assert len(_files(serial)) == 6 and _files(distributed) == _files(serial)

    # colorize_dataset: arrays back, the corrupt file's row carries its error
    assert [error == "" for _, error in report["rows"]] == [True, True, False]
    assert "corrupt.jpg" in report["rows"][2][1]
    for name in ["p1.png", "p3.png"]:
        array = np.load(f"{distributed}.{name}.npy")
        assert np.array_equal(array, np.asarray(Image.open(serial / name).convert("RGB")))
    assert np.load(f"{distributed}.corrupt.jpg.npy").shape == (0, 0, 3)
