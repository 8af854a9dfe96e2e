"""``colorize ui`` under load: concurrent clients against a real server process (issue #33).

The server is the real command, ``python -m core ui --port 0 --memory-mib BUDGET``, in a
subprocess on a free loopback port; nothing else is contacted. Each client thread repeats
what a user of the page does until the time is up: open its photo, colorize it, look at the
result, click a colour hint, look again, and download the full-size PNG. No request starts
after the time is up; those under way then are waited for (the wall time says how long).
A sampler reads the server's ``VmRSS`` from ``/proc/PID/status`` every 20 ms, and its
``VmHWM`` (the kernel's high-water mark over the whole life of the process) at the end.

Passes when no request got a 5xx answer and the peak stayed under the budget. A 404 is
allowed: under memory pressure a result can be dropped before its client asks for the PNG
(the page then says "colorize again"); the counts are printed.

Sizes are parameters, small by default (``make test``: 4 clients, 2 s, 1 MP photos, a
1536 MiB budget); ``make stress`` runs 50 clients for 60 s with 12 MP photos:

* ``COLORIZE_UI_LOAD_CLIENTS`` (4), ``COLORIZE_UI_LOAD_SECONDS`` (2),
  ``COLORIZE_UI_LOAD_MEGAPIXELS`` (1), ``COLORIZE_UI_LOAD_BUDGET_MIB`` (1536),
  ``COLORIZE_UI_LOAD_METHOD`` (``cnn-regression``, a fast method);
* ``COLORIZE_UI_LOAD_REPORT``: a file to write the figures to, as JSON.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

CLIENTS = int(os.environ.get("COLORIZE_UI_LOAD_CLIENTS", "4"))
SECONDS = float(os.environ.get("COLORIZE_UI_LOAD_SECONDS", "2"))
MEGAPIXELS = float(os.environ.get("COLORIZE_UI_LOAD_MEGAPIXELS", "1"))
BUDGET_MIB = int(os.environ.get("COLORIZE_UI_LOAD_BUDGET_MIB", "1536"))
METHOD = os.environ.get("COLORIZE_UI_LOAD_METHOD", "cnn-regression")
REPORT = os.environ.get("COLORIZE_UI_LOAD_REPORT")
#: Distinct photos the clients share out (each upload is a new photo to the server anyway).
PHOTOS = 4


def _photo(path: Path, megapixels: float, seed: int) -> Path:
    """A photo-like gray JPEG of ``megapixels`` at 4:3 (smooth shapes plus grain)."""
    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 6 + seed, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 8 + seed, width, dtype=np.float32)[None, :]
    gray = 128 + 60 * np.sin(x + seed) + 40 * np.cos(y * 1.3)
    gray += rng.normal(0, 8, (height, width)).astype(np.float32)
    Image.fromarray(np.clip(gray, 0, 255).astype(np.uint8)).save(path, quality=90)
    return path


def _generic(message: str) -> str:
    """An error message with its ids and numbers taken out (to count alike ones)."""
    words = []
    for word in message.split():
        if any(c.isdigit() for c in word) or (len(word) > 20 and "'" in word):
            word = "#"
        words.append(word)
    return " ".join(words)[:160]


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


class _Server:
    """``colorize ui`` in a subprocess; ``url`` once it printed its address."""

    def __init__(self, budget_mib: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "core", "ui", "--port", "0", "--memory-mib", str(budget_mib)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in self.proc.stdout], daemon=True
        ).start()
        self.errors: list[str] = []
        threading.Thread(
            target=lambda: [self.errors.append(line) for line in self.proc.stderr], daemon=True
        ).start()
        try:
            first = lines.get(timeout=180)
        except queue.Empty:
            self.stop()
            pytest.fail("colorize ui printed no address within 180 s")
        assert first.startswith("colorize ui: serving on http://127.0.0.1:"), first
        self.port = int(first.split("serving on http://127.0.0.1:", 1)[1].split("/", 1)[0])

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _Client:
    """One user of the page: a keep-alive connection and the statuses it got."""

    def __init__(
        self,
        port: int,
        statuses: collections.Counter,
        lock: threading.Lock,
        errors: collections.Counter | None = None,
    ) -> None:
        self.port = port
        self.statuses = statuses
        self.errors = collections.Counter() if errors is None else errors
        self.lock = lock
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def call(self, method: str, path: str, body: bytes | None = None, kind: str = "json"):
        headers = {"Origin": f"http://127.0.0.1:{self.port}"} if method == "POST" else {}
        try:
            self.conn.request(method, path, body=body, headers=headers)
            reply = self.conn.getresponse()
            data = reply.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            with self.lock:
                self.statuses["connection error"] += 1
            return None, None
        with self.lock:
            self.statuses[reply.status] += 1
        if reply.status != 200:
            try:
                message = json.loads(data)["error"]
            except (ValueError, KeyError, TypeError):
                message = data[:80].decode("latin-1")
            where = path.split("?")[0].rsplit("/", 1)[-1]
            with self.lock:  # the message less the ids, which differ
                self.errors[f"{reply.status} {where}: {_generic(message)}"] += 1
            return reply.status, data
        return reply.status, json.loads(data) if kind == "json" else data

    def session(self, photo: bytes, width: int, height: int, deadline: float) -> int:
        """One round of the page's work, no request started after ``deadline``; the
        number of requests made."""
        made = 0

        def call(*args, **kwargs):
            nonlocal made
            if time.monotonic() >= deadline:
                return None, None
            made += 1
            return self.call(*args, **kwargs)

        status, image = call("POST", "/api/images?name=load.jpg", photo)
        if status != 200:
            return made
        request = {"image": image["id"], "method": METHOD}
        status, reply = call("POST", "/api/colorize", json.dumps(request).encode())
        if status != 200:
            return made
        call("GET", f"/api/results/{reply['results'][0]['id']}/preview.jpg", kind="raw")
        hint = {"x": width // 3, "y": height // 3, "color": "#c04030", "radius": 20}
        body = json.dumps({**request, "hints": [hint]}).encode()
        status, reply = call("POST", "/api/colorize", body)
        if status != 200:
            return made
        result = reply["results"][0]["id"]
        call("GET", f"/api/results/{result}/preview.jpg", kind="raw")
        call("GET", f"/api/results/{result}/full.png", kind="raw")
        return made


@pytest.mark.slow
def test_the_page_under_load_stays_within_its_memory_budget(tmp_path):
    photos = [_photo(tmp_path / f"p{i}.jpg", MEGAPIXELS, i) for i in range(PHOTOS)]
    with Image.open(photos[0]) as first:
        size = first.size
    data = [p.read_bytes() for p in photos]
    server = _Server(BUDGET_MIB)
    pid = server.proc.pid
    statuses: collections.Counter = collections.Counter()
    errors: collections.Counter = collections.Counter()
    lock = threading.Lock()
    done = threading.Event()
    samples: list[int] = []
    rounds = [0] * CLIENTS
    requests = [0] * CLIENTS

    def sample() -> None:
        while not done.is_set():
            try:
                samples.append(_status_kib(pid, "VmRSS"))
            except (OSError, KeyError):
                return
            done.wait(0.02)

    def client(number: int, deadline: float) -> None:
        user = _Client(server.port, statuses, lock, errors)
        while time.monotonic() < deadline:
            requests[number] += user.session(data[number % PHOTOS], *size, deadline)
            rounds[number] += 1
        user.conn.close()

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        started = time.monotonic()
        deadline = started + SECONDS
        threads = [threading.Thread(target=client, args=(n, deadline)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.monotonic() - started
        peak_kib = _status_kib(pid, "VmHWM")
        done.set()
        sampler.join()
        status, config = _Client(server.port, collections.Counter(), lock).call(
            "GET", "/api/config"
        )
    finally:
        done.set()
        server.stop()
    figures = {
        "clients": CLIENTS,
        "seconds": SECONDS,
        "wall_seconds": round(wall, 1),
        "megapixels": round(size[0] * size[1] / 1e6, 2),
        "photo_bytes": len(data[0]),
        "method": METHOD,
        "budget_mib": BUDGET_MIB,
        "rss_peak_mib_vmhwm": round(peak_kib / 1024, 1),
        "rss_peak_mib_sampled": round(max(samples) / 1024, 1),
        "rss_samples": len(samples),
        "requests": sum(requests),
        "rounds": sum(rounds),
        "statuses": {str(k): v for k, v in sorted(statuses.items(), key=str)},
        "errors": dict(errors.most_common()),
    }
    print("\ncolorize ui load:", json.dumps(figures))
    if REPORT:
        Path(REPORT).write_text(json.dumps(figures, indent=2) + "\n")
    assert status == 200 and config["memory_budget"] == BUDGET_MIB << 20
    failed = {k: v for k, v in statuses.items() if not isinstance(k, int) or k >= 500}
    assert not failed, (failed, server.errors[-20:])
    assert statuses[200] > 0
    assert peak_kib / 1024 <= BUDGET_MIB, figures
    assert not [line for line in server.errors if "Traceback" in line], server.errors[-40:]
