"""``colorize ui`` under hostile and heavy use, over HTTP (issue #33, F2, F3 and the 500s).

The application runs under uvicorn in a thread of this process, on a free loopback port;
requests go through :mod:`http.client`, which can send any ``Host`` and ``Origin``. Each
case was reproduced against the page before the fix (docs/reliability.md says what it
did then).
"""

from __future__ import annotations

import asyncio
import http.client
import io
import json
import socket
import threading
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

from colorize_ui import budget as costs  # noqa: E402
from colorize_ui.app import MAX_JSON_BYTES, create_app  # noqa: E402
from colorize_ui.budget import BusyError, MemoryBudget, OverBudgetError, held_bytes  # noqa: E402
from colorize_ui.guard import HostPolicy, parse_host  # noqa: E402
from colorize_ui.state import MAX_NAME_CHARS  # noqa: E402

METHOD = "cnn-regression"  # fast


class Page:
    """The application under uvicorn on 127.0.0.1:<free port>, in a daemon thread."""

    def __init__(self, **options) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.app = create_app(host="127.0.0.1", port=self.port, **options)
        self.ui = self.app.state.ui
        config = uvicorn.Config(self.app, log_level="critical", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()
        self.ui.close()

    def call(self, method, path, body=None, *, host=None, headers=(), chunked=False):
        """(status, parsed JSON or raw bytes) of one request; ``host`` replaces Host."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            if host is not False:
                conn.putheader("Host", host or f"127.0.0.1:{self.port}")
            for key, value in headers:
                conn.putheader(key, value)
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            elif body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders()
            if chunked:
                for start in range(0, len(body), 1 << 16):
                    piece = body[start : start + (1 << 16)]
                    conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                conn.send(b"0\r\n\r\n")
            elif body:
                conn.send(body)
            reply = conn.getresponse()
            data = reply.read()
        finally:
            conn.close()
        if reply.getheader("content-type", "").startswith("application/json"):
            return reply.status, json.loads(data)
        return reply.status, data

    def upload(self, png: bytes, name: str = "photo.png", **kw):
        return self.call("POST", f"/api/images?name={name}", png, **kw)

    def colorize(self, image_id: str, **fields):
        body = json.dumps({"image": image_id, "method": METHOD, **fields}).encode()
        return self.call("POST", "/api/colorize", body, headers=[("Content-Type", "json")])


def _png(height: int = 120, width: int = 160, seed: int = 0) -> bytes:
    gray = (np.random.default_rng(seed).random((height, width)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def page():
    served = Page(max_upload_bytes=1 << 20)
    try:
        yield served
    finally:
        served.close()


@pytest.fixture(scope="module")
def photo(page):
    status, image = page.upload(_png())
    assert status == 200, image
    return image


# -- F3: Host, Origin and ids --------------------------------------------------------------


def test_a_rebound_host_is_refused(page, photo):
    """DNS rebinding: the page's answer to its own address is not given to another name."""
    path = f"/api/images/{photo['id']}/preview.jpg"
    status, body = page.call("GET", path)
    assert status == 200 and body[:2] == b"\xff\xd8"
    for host in ("rebind.attacker.example", f"rebind.attacker.example:{page.port}"):
        status, body = page.call("GET", path, host=host)
        assert status == 403, host
        assert "is not an address this page serves" in body["error"]
        assert f"http://127.0.0.1:{page.port}/" in body["error"]
    for host in (f"localhost:{page.port}", f"[::1]:{page.port}", f"LOCALHOST.:{page.port}"):
        assert page.call("GET", path, host=host)[0] == 200, host
    for host in ("127.0.0.1", f"127.0.0.1:{page.port + 1}", "127.0.0.1:x"):
        assert page.call("GET", path, host=host)[0] == 403, host
    assert page.call("GET", path, host=False)[0] == 400  # no Host: refused by uvicorn (h11)
    assert page.call("GET", "/", host="evil.example")[0] == 403


def test_another_site_cannot_use_the_page(page, photo):
    """A browser names the sending page in Origin: only this page's own is answered."""
    own = f"http://127.0.0.1:{page.port}"
    body = json.dumps({"image": photo["id"], "method": METHOD}).encode()
    others = ["http://evil.example", "null", f"https://127.0.0.1:{page.port}"]
    others += [f"http://localhost:{page.port}", f"{own}.evil.example", "http://127.0.0.1"]
    for origin in others:
        status, reply = page.call("POST", "/api/colorize", body, headers=[("Origin", origin)])
        assert status == 403, origin
        assert "only this page" in reply["error"]
    status, reply = page.upload(_png(), headers=[("Origin", "http://evil.example")])
    assert status == 403
    status, reply = page.call("POST", "/api/colorize", body, headers=[("Origin", own)])
    assert status == 200, reply


def test_ids_are_unguessable(page):
    ids = [page.upload(_png(seed=s))[1]["id"] for s in range(3)]
    assert len(set(ids)) == 3
    assert all(len(i) >= 20 and i.replace("-", "").replace("_", "").isalnum() for i in ids)
    assert page.call("GET", "/api/images/1/preview.jpg")[0] == 404


def test_host_policy():
    loopback = HostPolicy.for_bind("127.0.0.1", 8765)
    assert loopback.allows("localhost", 8765) and loopback.allows("::1", 8765)
    assert not loopback.allows("localhost", 80) and not loopback.allows("10.0.0.2", 8765)
    lan = HostPolicy.for_bind("192.168.1.5", 8765, ["Photos.Local"])
    assert lan.allows("192.168.1.5", 8765) and lan.allows("photos.local", 8765)
    assert not lan.allows("localhost", 8765) and not lan.allows("192.168.1.6", 8765)
    every = HostPolicy.for_bind("0.0.0.0", 8765)
    assert every.allows("10.1.2.3", 8765) and every.allows("fe80::1", 8765)
    assert every.allows(socket.gethostname().lower(), 8765)
    assert not every.allows("rebind.attacker.example", 8765)
    assert parse_host("[::1]:8") == ("::1", 8) and parse_host("A.b.:9") == ("a.b", 9)
    for bad in ("", "::1:8", "a:99999", "a:-1", "u@a:1", "a/b", "[::1]x"):
        assert parse_host(bad) is None, bad


def test_suggestions_are_guarded_and_survive_a_dropped_prediction(page, photo):
    """``POST /api/results/ID/suggest`` (issue #32 item 2): refused to another site like
    every route; a job within the budget; a prediction the cache dropped is made again."""
    status, reply = page.colorize(photo["id"], seed=11)
    assert status == 200
    result = reply["results"][0]
    path = f"/api/results/{result['id']}/suggest"
    body = json.dumps({"x": 10, "y": 20, "k": 3}).encode()
    status, reply = page.call("POST", path, body, headers=[("Origin", "http://evil.example")])
    assert status == 403 and "only this page" in reply["error"]
    status, reply = page.call("POST", path, body, host="rebind.attacker.example")
    assert status == 403
    status, first = page.call("POST", path, body)
    assert status == 200, first
    assert first["source"] == "estimate" and len(first["suggestions"]) == 1  # a regression
    key = page.ui.result(result["id"]).request.key
    assert page.ui.budget.get(key) is not None
    counts = page.ui.budget.counts
    saved = counts["prediction"]
    counts["prediction"] = 1
    try:
        assert page.colorize(photo["id"], seed=12)[0] == 200  # drops the first prediction
    finally:
        counts["prediction"] = saved
    assert page.ui.budget.get(key) is None
    status, again = page.call("POST", path, body)
    assert status == 200 and again == first
    assert page.ui.budget.get(key) is not None
    assert page.ui.budget.figures()["reserved"] == 0
    status, reply = page.call("POST", path, b"[" * 100_000)
    assert status == 400 and reply["error"] == "request body is JSON nested too deeply"


# -- the 500s ------------------------------------------------------------------------------


def test_a_5000_character_file_name_is_refused_clearly(page):
    status, reply = page.upload(_png(), name="a" * 4996 + ".png")
    assert status == 400
    assert "file name of 5000 characters (aaaa" in reply["error"]
    assert f"at most {MAX_NAME_CHARS}" in reply["error"]
    longest = "b" * (MAX_NAME_CHARS - 4) + ".png"
    status, reply = page.upload(_png(), name=longest)
    assert status == 200 and reply["name"] == longest
    status, reply = page.colorize(reply["id"])
    assert status == 200
    status, _ = page.call("GET", f"/api/results/{reply['results'][0]['id']}/full.png")
    assert status == 200
    status, reply = page.upload(_png(), name="a%0Ab.png")
    assert status == 400 and "control characters" in reply["error"]


def test_deeply_nested_json_is_refused_clearly(page, photo):
    for body in (b"[" * 100_000, b'{"image": ' * 20_000):
        status, reply = page.call("POST", "/api/colorize", body)
        assert status == 400
        assert reply["error"] == "request body is JSON nested too deeply"
    hints = json.dumps({"image": photo["id"], "hints": [[[[[[1]]]]]]}).encode()
    status, reply = page.call("POST", "/api/colorize", hints)
    assert status == 400 and reply["error"].startswith("hints: hint 1")


def test_bad_fields_are_refused_clearly(page, photo):
    for fields, message in [
        ({"method": ["cnn"]}, "method must be a name"),
        ({"seed": -1}, "seed must be a whole number from 0"),
        ({"seed": 2**70}, "seed must be a whole number from 0"),
        ({"samples": 99}, "samples must be a whole number from 1 to 6"),
        ({"image": {"a": 1}}, "image must be a name"),
        ({"reference": "nope"}, "unknown photo 'nope'"),
        ({"hints": [{"x": 1, "y": 1, "color": "#fff", "radius": 1e300}]}, "hint radius"),
    ]:
        status, reply = page.colorize(photo["id"], **fields)
        assert 400 <= status < 500 and message in reply["error"], (fields, reply)
    status, reply = page.call("POST", "/api/colorize", b"\xff\xfe not json")
    assert status == 400 and reply["error"] == "expected a JSON request body"


def test_concurrent_downloads_of_a_new_result(page, photo):
    status, reply = page.colorize(photo["id"], seed=7)
    assert status == 200
    path = f"/api/results/{reply['results'][0]['id']}/full.png"
    replies = []
    threads = [
        threading.Thread(target=lambda: replies.append(page.call("GET", path))) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in replies] == [200] * 6
    assert len({body for _, body in replies}) == 1
    with Image.open(io.BytesIO(replies[0][1])) as png:
        assert png.size == (160, 120)


# -- F2: bodies, pixels, memory --------------------------------------------------------------


def test_request_bodies_are_limited(page, photo):
    folders = set(page.ui.folder.iterdir())
    status, reply = page.call("POST", "/api/colorize", headers=[("Content-Length", "300000000")])
    assert status == 413 and reply["error"] == f"request body over {MAX_JSON_BYTES >> 10} KiB"
    big = json.dumps({"image": photo["id"], "pad": "x" * MAX_JSON_BYTES}).encode()
    status, reply = page.call("POST", "/api/colorize", big[: MAX_JSON_BYTES + 1], chunked=True)
    assert status == 413
    status, reply = page.call(
        "POST", "/api/images?name=big.png", headers=[("Content-Length", str(2 << 20))]
    )
    assert status == 413
    assert reply["error"] == "big.png: file is over the page's limit of 1 MiB " + (
        "(colorize ui --max-upload-mib)"
    )
    status, reply = page.upload(b"\0" * ((1 << 20) + 1), name="big.png", chunked=True)
    assert status == 413 and "over the page's limit of 1 MiB" in reply["error"]
    assert set(page.ui.folder.iterdir()) == folders  # nothing of the refused uploads kept


def _bomb(width: int, height: int) -> bytes:
    """A PNG of a few KB that decodes to ``width`` x ``height`` pixels."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def test_huge_photos_are_refused_before_decoding(page, monkeypatch):
    import core.io

    def never(*args, **kwargs):
        raise AssertionError("decoded a photo that its header said is too large")

    monkeypatch.setattr(core.io, "load_image", never)
    bomb = _bomb(9400, 9400)  # 88 MP: under Pillow's limit, over the page's
    assert len(bomb) < 200_000
    replies = []
    threads = [
        threading.Thread(target=lambda: replies.append(page.upload(bomb, name="bomb.png")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in replies] == [413] * 8
    assert replies[0][1]["error"] == (
        "bomb.png: image is 9400x9400 = 88.4 MP, over the page's limit of 50 MP per photo "
        "(colorize ui --max-megapixels)"
    )
    status, reply = page.upload(_bomb(20000, 20000), name="b.png")  # over Pillow's limit too
    assert status == 413 and "b.png: refused as a decompression bomb" in reply["error"]


def test_a_photo_the_budget_cannot_colorize_is_refused(tmp_path):
    small = Page(memory_budget=1 << 30)
    try:
        ui = small.ui
        ui.budget.base = ui.budget.limit - ui.budget.headroom - (64 << 20)  # 64 MiB of room
        status, reply = small.upload(_bomb(2000, 1000), name="wide.png")  # 2 MP: over 64 MiB
        assert status == 413
        need = 2_000_000 * costs.COLORIZE_BYTES_PER_PIXEL / (1 << 20)
        assert reply["error"].startswith(
            f"colorizing wide.png (2000x1000) needs about {need:.0f} MiB of memory, more than "
            "the page's memory budget leaves for work (64 MiB of 1024 MiB; the program and "
        )
        assert "colorize ui --memory-mib, or COLORIZE_UI_MEMORY_MIB" in reply["error"]
    finally:
        small.close()


def _room_for(page: Page, nbytes: int) -> None:
    """Leave ``nbytes`` of room for caches and jobs (the measured process set aside)."""
    budget = page.ui.budget
    budget.limit = budget.base + budget.headroom + nbytes


def test_the_cache_stays_under_its_byte_budget_and_evicted_files_are_deleted():
    page = Page()
    try:
        png = _png(300, 400)
        pixels = 300 * 400
        one = pixels * (costs.COLORIZE_BYTES_PER_PIXEL + 1)  # a colorization's reservation
        _room_for(page, 2 * one)
        page.ui.budget._measure = lambda idle: None  # keep the room fixed for the test
        ids, results = [], []
        for seed in range(4):
            status, image = page.upload(png, name=f"p{seed}.png")
            assert status == 200, image
            status, reply = page.colorize(image["id"])
            assert status == 200, reply
            ids.append(image["id"])
            results.append(reply["results"][0]["id"])
            figures = page.ui.budget.figures()
            assert figures["cached"] <= 2 * one
            assert figures["reserved"] == 0 and figures["running"] == 0
        # predictions (about 28 bytes a pixel) go first; results (3) stay
        predictions = [k for k in page.ui.budget._entries if k[0] == "prediction"]
        assert 1 <= len(predictions) < 4
        for result in results:
            assert page.call("GET", f"/api/results/{result}/preview.jpg")[0] == 200
        status, _ = page.call("GET", f"/api/results/{results[0]}/full.png")
        assert status == 200 and (page.ui.folder / f"r{results[0]}" / "full.png").is_file()
        # room for one colorization only (and the photos' previews, which only their count
        # drops): every older result is dropped, its files deleted
        entries = page.ui.budget._entries
        photos = held_bytes(e.value for k, e in entries.items() if k[0] == "image")
        _room_for(page, one + photos + pixels)
        status, reply = page.colorize(ids[0], seed=1)
        assert status == 200, reply
        assert page.ui.budget.figures()["cached"] <= one + photos + pixels
        for gone in results:
            status, reply_gone = page.call("GET", f"/api/results/{gone}/full.png")
            assert status == 404 and "colorize again" in reply_gone["error"]
        assert not (page.ui.folder / f"r{results[0]}").exists()
        newest = reply["results"][0]["id"]
        assert page.call("GET", f"/api/results/{newest}/preview.jpg")[0] == 200
        status, reply = page.call("GET", f"/api/results/{newest}/full.png")
        assert (
            status == 413
            and "MiB it works on, more than the page's memory budget" in (reply["error"])
        )
        _room_for(page, 2 * one)
        assert page.call("GET", f"/api/results/{newest}/full.png")[0] == 200
        # photos are dropped by count, least recently used first, their files with them
        page.ui.budget.counts["image"] = 2
        status, last = page.upload(png, name="last.png")
        folders = {p.name for p in page.ui.folder.iterdir()}
        assert {name for name in folders if name.startswith("i")} == {
            f"i{ids[0]}",
            f"i{last['id']}",
        }
        assert page.call("GET", f"/api/images/{ids[1]}/preview.jpg")[0] == 404
    finally:
        page.close()
    assert not page.ui.folder.exists()


def test_a_result_holds_its_picture_quantized_not_the_prediction(page, photo, tmp_path):
    import core

    status, reply = page.colorize(photo["id"], seed=3)
    assert status == 200
    result = page.ui.result(reply["results"][0]["id"])
    assert result.picture.dtype == np.uint8 and result.picture.shape == (120, 160, 3)
    assert held_bytes([result]) < 160 * 120 * 3 + 64 * 1024  # the picture and the preview
    status, png = page.call("GET", f"/api/results/{result.id}/full.png")
    assert status == 200
    source = tmp_path / "photo.png"
    source.write_bytes(_png())
    written = core.colorize_result(source, METHOD, seed=3).save(tmp_path / "cli.png")
    with Image.open(io.BytesIO(png)) as downloaded, Image.open(written) as expected:
        assert downloaded.mode == expected.mode == "RGB"
        assert np.array_equal(np.asarray(downloaded), np.asarray(expected))


# -- the budget itself -----------------------------------------------------------------------


class _Held:
    def __init__(self, *arrays):
        self.arrays = list(arrays)


def test_held_bytes_counts_shared_arrays_once():
    a = np.zeros((100, 100), np.float32)
    b = np.zeros(1000, np.uint8)
    assert held_bytes([_Held(a, a[10:], b), _Held(a.T), [b, b"xyz"]]) == a.nbytes + 1000 + 3


def _budget(room: int, **options) -> MemoryBudget:
    budget = MemoryBudget(1 << 30, **options)
    budget.base = budget.limit - budget.headroom - room
    budget._measure = lambda idle: None
    return budget


def test_the_budget_bounds_jobs_evicts_oldest_and_refuses_what_cannot_fit():
    dropped = []
    budget = _budget(1000, jobs=2, on_evict=lambda key, value: dropped.append(key))
    running, most = 0, 0

    async def work(number: int) -> None:
        nonlocal running, most
        async with budget.job(lambda values: 300, f"job {number}") as job:
            running += 1
            most = max(most, running)
            await asyncio.sleep(0)  # let the others try to start
            budget.put(number, np.zeros(200, np.uint8), "result", job)
            running -= 1

    async def main() -> None:
        await asyncio.gather(*(work(n) for n in range(8)))

    asyncio.run(main())
    assert most == 2
    assert budget.cached_bytes() <= 1000 and budget.figures()["reserved"] == 0
    assert dropped == sorted(dropped) and len(dropped) >= 3

    async def too_big() -> None:
        async with budget.job(lambda values: 1001, "job"):
            pass

    with pytest.raises(OverBudgetError, match=r"job needs about 0 MiB of memory, more than"):
        asyncio.run(too_big())


def test_values_in_use_are_not_evicted_and_waiters_are_bounded():
    dropped = []
    budget = _budget(1000, jobs=2, max_waiting=2, on_evict=lambda k, v: dropped.append(k))
    budget.put("old", np.zeros(600, np.uint8), "prediction")
    order = []

    async def main() -> str:
        held, release = asyncio.Event(), asyncio.Event()

        async def holder() -> None:
            async with budget.job(lambda values: 0, "hints", ["old"]) as job:
                assert job.values == [budget.get("old")]
                held.set()
                await release.wait()
                order.append("released")

        async def big() -> None:
            await held.wait()
            async with budget.job(lambda values: 900, "big"):
                order.append("big ran")

        async def extra() -> str:
            while budget.figures()["waiting"] < 2:  # both big jobs wait for room
                await asyncio.sleep(0)
            try:
                async with budget.job(lambda values: 1, "extra"):
                    return "ran"
            except BusyError as exc:
                return str(exc)
            finally:
                release.set()

        *_, refused = await asyncio.gather(holder(), big(), big(), extra())
        return refused

    refused = asyncio.run(main())
    assert order == ["released", "big ran", "big ran"]  # "old" stayed while in use
    assert refused.startswith("the page is busy (2 requests waiting for 2 workers)")
    assert dropped == ["old"]


def test_default_budget_is_a_quarter_of_available_memory():
    expected = max(costs.available_memory() // 4, 1 << 30)
    assert abs(costs.default_budget() - expected) < expected // 10


def test_closing_the_page_removes_its_folder():
    """close() removes the temporary folder even with results cached."""
    page = Page()
    status, image = page.upload(_png())
    assert status == 200
    assert page.colorize(image["id"])[0] == 200
    folder = page.ui.folder
    page.close()
    assert not folder.exists()
