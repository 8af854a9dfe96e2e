"""``colorize ui``: the JSON API over HTTP, and the page driven in headless Chromium.

The server is the real command (``python -m core ui --port 0``) in a subprocess; the
browser is Debian's ``chromium`` driven by Selenium through ``/usr/bin/chromedriver``
(nothing is downloaded). Without the ``[ui]`` extra or the browser the tests are skipped
on a developer's machine, and fail under CI (``CI`` set), where ``.ci/run`` installs them.
"""

from __future__ import annotations

import io
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from colorize_devkit.testing import HINT_SCENE, hint_scene
from PIL import Image

import core
from core.colorspaces import rgb_to_lab
from core.hints import parse_color

CHROMIUM = Path(os.environ.get("COLORIZE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("COLORIZE_CHROMEDRIVER", "/usr/bin/chromedriver"))
#: The folder where the browser tests save their screenshots of the page (ui-*.png); set
#: it to docs/figures to refresh the figures of docs/ui.md. Unset: no screenshots.
SCREENSHOTS = os.environ.get("COLORIZE_UI_SCREENSHOTS")
#: The scene of the ``hints`` contract check, three times larger (clicks land precisely).
SCALE = 3
#: The memory budget the server is given (through ``COLORIZE_UI_MEMORY_MIB``).
BUDGET_MIB = 3072
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)


def _missing(what: str) -> None:
    message = f"{what}; `make install` and .ci/run install it"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _region(region: tuple[slice, slice]) -> tuple[slice, slice]:
    return tuple(slice(s.start * SCALE, s.stop * SCALE) for s in region)


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory) -> Path:
    gray, _ = hint_scene()
    big = np.kron(gray, np.ones((SCALE, SCALE), np.float32))
    path = tmp_path_factory.mktemp("ui") / "scene.png"
    Image.fromarray((big * 255 + 0.5).astype(np.uint8), "L").save(path)
    return path


@pytest.fixture(scope="module")
def server():
    """``colorize ui --port 0`` in a subprocess; yields its URL."""
    for module in ("starlette", "uvicorn"):
        try:
            __import__(module)
        except ImportError:
            _missing(f"{module} is not installed (the [ui] extra)")
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "ui", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLORIZE_UI_MEMORY_MIB": str(BUDGET_MIB)},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    try:
        first = lines.get(timeout=180)
    except queue.Empty:
        proc.kill()
        pytest.fail("colorize ui printed no address within 180 s")
    assert first.startswith("colorize ui: serving on http://127.0.0.1:"), first
    url = first.split("serving on ", 1)[1].split()[0]
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _call(url: str, data: bytes | None = None, *, json_body=None, headers=None):
    """(status, body bytes) of a request; JSON bodies are sent as such."""
    headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(
        url, data=data, headers=headers, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _cli_message(tmp_path: Path, name: str, monkeypatch, capsys) -> str:
    """The one-line error ``colorize image NAME`` prints for the file NAME in tmp_path."""
    from core.cli import main

    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["image", name, "-o", "out", "-q"]) == 1
    lines = [line.strip() for line in capsys.readouterr().err.splitlines()]
    failed = [line for line in lines if line.startswith(f"FAILED {name}: ")]
    assert failed, lines
    return failed[0].split(": ", 1)[1]


# -- the JSON API --------------------------------------------------------------------------


def test_config_lists_the_installed_methods(server):
    status, body = _call(server + "api/config")
    assert status == 200
    config = json.loads(body)
    assert {m["name"] for m in config["methods"]} == {m.name for m in core.methods()}
    assert config["default"] == core.default_method()
    assert config["example"] == "detroit_ca1915.jpg"
    status, page = _call(server)
    assert status == 200 and b"Colorize Toolkit" in page


def test_the_limits_and_the_budget_are_reported(server):
    status, body = _call(server + "api/config")
    config = json.loads(body)
    assert config["memory_budget"] == BUDGET_MIB << 20  # from COLORIZE_UI_MEMORY_MIB
    assert config["max_upload_bytes"] == 200 << 20 and config["max_pixels"] == 50_000_000


def test_requests_for_another_host_or_from_another_site_are_refused(server, scene_file):
    """F3 (issue #33): DNS rebinding and cross-site requests, against the real command."""
    status, body = _call(server + "api/images?name=scene.png", scene_file.read_bytes())
    assert status == 200
    preview = server + f"api/images/{json.loads(body)['id']}/preview.jpg"
    assert _call(preview)[0] == 200
    status, body = _call(preview, headers={"Host": "rebind.attacker.example"})
    assert status == 403
    assert json.loads(body)["error"].startswith(
        "request refused: Host 'rebind.attacker.example' is not an address this page serves"
    )
    status, body = _call(
        server + "api/images?name=x.png",
        scene_file.read_bytes(),
        headers={"Origin": "http://evil.example"},
    )
    assert status == 403 and "only this page" in json.loads(body)["error"]


def test_a_bad_file_gets_the_message_the_cli_gives(server, tmp_path, monkeypatch, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    expected = _cli_message(tmp_path, "broken.jpg", monkeypatch, capsys)
    status, body = _call(server + "api/images?name=broken.jpg", bad.read_bytes())
    assert status == 400
    assert json.loads(body)["error"] == expected
    assert expected.startswith("broken.jpg: ")


def test_colorize_with_hints_and_download(server, scene_file):
    status, body = _call(server + "api/images?name=scene.png", scene_file.read_bytes())
    assert status == 200, body
    image = json.loads(body)
    assert (image["width"], image["height"]) == (128 * SCALE, 96 * SCALE)
    request = {"image": image["id"], "method": "cnn-regression"}
    status, body = _call(server + "api/colorize", json_body=request)
    assert status == 200, body
    base = json.loads(body)["results"][0]
    _, colour = hint_scene()
    x, y = HINT_SCENE["hint_xy"]
    hint = {"x": x * SCALE, "y": y * SCALE, "color": core.Hint(0, 0, colour).hex, "radius": 9}
    status, body = _call(server + "api/colorize", json_body={**request, "hints": [hint]})
    assert status == 200, body
    hinted = json.loads(body)["results"][0]
    images = []
    for result in (base, hinted):
        status, png = _call(server + f"api/results/{result['id']}/full.png")
        assert status == 200
        picture = Image.open(io.BytesIO(png))
        assert picture.format == "PNG" and picture.size == (128 * SCALE, 96 * SCALE)
        images.append(np.asarray(picture.convert("RGB"), np.float32) / 255.0)
    target = rgb_to_lab(np.asarray(colour))[1:]
    a, b = _region(HINT_SCENE["region_a"]), _region(HINT_SCENE["region_b"])
    before, after = (rgb_to_lab(im) for im in images)
    far = np.linalg.norm(before[a][..., 1:].reshape(-1, 2).mean(0) - target)
    near = np.linalg.norm(after[a][..., 1:].reshape(-1, 2).mean(0) - target)
    assert near <= 0.5 * far
    assert np.linalg.norm(before[b] - after[b], axis=-1).max() < 2.0
    outside = {**hint, "x": 10_000}
    status, body = _call(server + "api/colorize", json_body={**request, "hints": [outside]})
    assert status == 400
    assert json.loads(body)["error"].startswith(
        "hints: hint 1 at x=10000, y=135 is outside the 384x288 image scene.png"
    )
    status, body = _call(
        server + "api/colorize", json_body={**request, "hints": [{**hint, "color": "#12"}]}
    )
    assert status == 400 and "hint 1: bad colour '#12'" in json.loads(body)["error"]


def test_example_photo_and_samples(server):
    status, body = _call(server + "api/example", b"")
    assert status == 200
    image = json.loads(body)
    assert image["name"] == "detroit_ca1915.jpg"
    diverse = [m.name for m in core.methods() if m.capabilities.diverse]
    if not diverse:
        pytest.skip("no diverse method installed")
    status, body = _call(
        server + "api/colorize",
        json_body={"image": image["id"], "method": diverse[0], "samples": 2, "seed": 3},
    )
    assert status == 200, body
    results = json.loads(body)["results"]
    assert [r["seed"] for r in results] == [3, 4]
    status, body = _call(
        server + "api/colorize", json_body={"image": image["id"], "method": "nope"}
    )
    assert status == 400 and "unknown method 'nope'" in json.loads(body)["error"]


def test_config_names_decoders_for_people_and_says_which_method(server):
    """Issue #32 item 4: decoder names and the "which method" note come with the config."""
    from colorize_ui.wording import DECODER_LABELS

    config = json.loads(_call(server + "api/config")[1])
    methods = {m["name"]: m for m in config["methods"]}
    larsson = methods["larsson"]
    labels = larsson["decoder_labels"]
    assert set(labels) == {*larsson["decoders"], larsson["default_decoder"]}
    assert labels["hue=expectation+fading,chroma=median"] == "Balanced"
    assert all(labels[name] == DECODER_LABELS[name] != name for name in labels)
    assert "BSDS500" in larsson["advice"]
    assert "reference photo" in methods["exemplar"]["advice"]
    assert "several different" in methods["pixcolor"]["advice"]
    assert "fast baselines" in methods["cnn-regression"]["advice"]
    note = {tuple(entry["methods"]): entry["advice"] for entry in config["which_method"]}
    lab = tuple(sorted(name for name in methods if name.startswith("larsson-lab")))
    assert note[("larsson",)] == larsson["advice"] and lab in note
    assert sum(len(names) for names in note) == len(methods)  # each method once


def test_errors_are_in_the_pages_words(server):
    """Issue #32 item 4: no ``reference=...`` on the page; other messages unchanged."""
    from colorize_ui.wording import user_message

    image = json.loads(_call(server + "api/example", b"")[1])
    status, body = _call(
        server + "api/colorize", json_body={"image": image["id"], "method": "exemplar"}
    )
    assert status == 400
    message = json.loads(body)["error"]
    assert message == (
        "This method (exemplar) needs a reference photo: choose one with “Reference photo…”, "
        "or pick another method"
    )
    assert user_message("broken.jpg: not an image file") == "broken.jpg: not an image file"
    assert (
        user_message("method 'larsson' does not offer decoder 'x'; choose from: mode, median")
        == "This method (larsson) has no decoder ‘x’: choose one in the Decoder menu"
    )


def test_suggestions_at_a_point(server):
    """Issue #32 item 2: ``POST /api/results/ID/suggest`` gives the method's likely colours
    there, most likely first; the first is the mode of larsson's histogram (the core's)."""
    from core.cli import DEMO_IMAGE

    image = json.loads(_call(server + "api/example", b"")[1])
    status, body = _call(
        server + "api/colorize", json_body={"image": image["id"], "method": "larsson"}
    )
    assert status == 200, body
    result = json.loads(body)["results"][0]
    url = server + f"api/results/{result['id']}/suggest"
    status, body = _call(url, json_body={"x": 90, "y": 130, "k": 4})
    assert status == 200, body
    reply = json.loads(body)
    assert reply["source"] == "distribution" and reply["method"] == "larsson"
    found = reply["suggestions"]
    assert 2 <= len(found) <= 4
    probabilities = [s["probability"] for s in found]
    assert probabilities == sorted(probabilities, reverse=True)
    expected = core.colorize_result(DEMO_IMAGE, "larsson").suggest(90, 130, k=4)
    assert [s["color"] for s in found] == [s.hex for s in expected]
    # with a hint the suggestions stay the method's own
    hint = {"x": 90, "y": 130, "color": "#c03020", "radius": 6}
    status, body = _call(
        server + "api/colorize",
        json_body={"image": image["id"], "method": "larsson", "hints": [hint]},
    )
    hinted = json.loads(body)["results"][0]
    status, body = _call(
        server + f"api/results/{hinted['id']}/suggest", json_body={"x": 90, "y": 130, "k": 4}
    )
    assert status == 200 and json.loads(body)["suggestions"] == found
    for payload, message in [
        ({"x": 640, "y": 10}, "point x=640, y=10 is outside the 640x354 image"),
        ({"x": "a", "y": 10}, "x must be a number of photo pixels"),
        ({"x": 1, "y": 1, "k": 0}, "k must be a whole number from 1 to 12"),
    ]:
        status, body = _call(url, json_body=payload)
        assert status == 400 and message in json.loads(body)["error"], (payload, body)
    status, body = _call(server + "api/results/nope/suggest", json_body={"x": 1, "y": 1})
    assert status == 404 and "unknown result 'nope'" in json.loads(body)["error"]


def _chroma(lab: np.ndarray) -> float:
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def _mean_ab(lab: np.ndarray) -> np.ndarray:
    """The mean a*, b* of a Lab picture."""
    return lab[..., 1:].reshape(-1, 2).mean(0)


def test_vividness_and_a_palette(server):
    """Issue #32 items 3 and 4, the page's side: ``vividness`` is passed to the method (more
    colourful towards 1) and a ``global_hints`` palette moves the photo's colours towards
    its own; bad values are refused with a message naming them."""
    config = json.loads(_call(server + "api/config")[1])
    assert config["max_palette"] == 8
    described = {info.name: info.vividness for info in core.methods()}
    assert {m["name"]: m["vividness"] for m in config["methods"]} == described
    image = json.loads(_call(server + "api/example", b"")[1])
    request = {"image": image["id"], "method": "larsson"}

    def picture(**fields) -> np.ndarray:
        status, body = _call(server + "api/colorize", json_body={**request, **fields})
        assert status == 200, body
        return _preview(server, json.loads(body)["results"][0]["id"])

    default, muted, vivid = picture(), picture(vividness=0.1), picture(vividness=0.9)
    assert _chroma(muted) < _chroma(default) < _chroma(vivid)
    assert np.array_equal(picture(vividness=0.5), default)  # 0.5: the method's own look
    red = rgb_to_lab(np.asarray(parse_color("#b5442e"), np.float32))[1:]
    towards = picture(global_hints={"palette": ["#b5442e"], "strength": 1})
    assert np.linalg.norm(_mean_ab(towards) - red) < 0.5 * np.linalg.norm(_mean_ab(default) - red)
    half = picture(global_hints={"palette": ["#b5442e"], "strength": 0.5})
    assert np.linalg.norm(_mean_ab(towards) - red) < np.linalg.norm(_mean_ab(half) - red)
    assert np.array_equal(picture(global_hints={"palette": [], "strength": 1}), default)
    for fields, message in [
        ({"vividness": 2}, "vividness must be a number from 0 (muted) to 1"),
        ({"vividness": True}, "vividness must be a number from 0 (muted) to 1"),
        ({"global_hints": {"palette": ["#12"]}}, "bad colour '#12'"),
        ({"global_hints": {"palette": ["#fff"] * 9}}, "at most 8 colours"),
        ({"global_hints": {"palette": ["#fff"], "strength": 2}}, "strength must be a number"),
        ({"global_hints": {"reference": "x.png"}}, 'global_hints must be {"palette"'),
    ]:
        status, body = _call(server + "api/colorize", json_body={**request, **fields})
        assert status == 400 and message in json.loads(body)["error"], (fields, body)


# -- the page in a real browser ------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (the test extra)")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            _missing(f"{path} is missing (Debian packages chromium and chromium-driver)")
    profile = tempfile.mkdtemp(prefix="colorize-ui-chromium-")
    downloads = tempfile.mkdtemp(prefix="colorize-ui-downloads-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs", {"download.default_directory": downloads, "download.prompt_for_download": False}
    )
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not go online
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": downloads}
    )
    driver.downloads = Path(downloads)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        shutil.rmtree(downloads, ignore_errors=True)


_MEAN_RGB = """
const [id, x0, y0, x1, y1] = arguments;
const img = document.getElementById(id);
const canvas = document.createElement("canvas");
canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
const context = canvas.getContext("2d");
context.drawImage(img, 0, 0);
const data = context.getImageData(x0, y0, x1 - x0, y1 - y0).data;
const sum = [0, 0, 0];
for (let i = 0; i < data.length; i += 4) {
  sum[0] += data[i]; sum[1] += data[i + 1]; sum[2] += data[i + 2];
}
const n = data.length / 4;
return [sum[0] / n / 255, sum[1] / n / 255, sum[2] / n / 255];
"""

#: The images on screen that have not loaded (a broken-image icon each).
_BROKEN_IMAGES = """
return [...document.images]
  .filter((img) => img.getClientRects().length > 0 && getComputedStyle(img).visibility !== "hidden")
  .filter((img) => !img.complete || img.naturalWidth === 0)
  .map((img) => img.id || img.alt || img.outerHTML.slice(0, 80));
"""

#: The bundled example photo's size, and a point on the left hotel's façade: a region the
#: method colours alike, bounded by the sky, the street and the next building.
EXAMPLE_SIZE = (640, 354)
FACADE = (90, 130)


def _mean_lab(driver, region: tuple[slice, slice]) -> np.ndarray:
    rows, cols = region
    rgb = driver.execute_script(
        _MEAN_RGB, "result-img", cols.start, rows.start, cols.stop, rows.stop
    )
    return rgb_to_lab(np.asarray(rgb, np.float64))


def _click(driver, element_id: str, x: float, y: float, size: tuple[int, int]) -> None:
    """Click on the photo at input pixel (x, y) of an image of ``size`` = (w, h)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    stage = driver.find_element(By.ID, element_id)
    box = stage.rect
    dx = (x + 0.5) / size[0] * box["width"] - box["width"] / 2
    dy = (y + 0.5) / size[1] * box["height"] - box["height"] / 2
    ActionChains(driver).move_to_element_with_offset(stage, int(dx), int(dy)).click().perform()


def _state(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").get_attribute("data-state")


def _open_page(driver, server: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(server)
    WebDriverWait(driver, 120).until(lambda d: _state(d) == "ready")


def _wait_result(driver, *, hints: int, previous: str | None) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def done(d):
        if _state(d) == "error":
            raise AssertionError("the page shows an error: " + d.find_element(By.ID, "error").text)
        img = d.find_element(By.ID, "result-img")
        result = img.get_attribute("data-result")
        fresh = result and result != previous and img.get_attribute("data-hints") == str(hints)
        return result if fresh and _state(d) == "ready" else False

    return WebDriverWait(driver, 300).until(done)


def _suggest(driver, stage_id: str, x: float, y: float, size: tuple[int, int]) -> list:
    """Click at (x, y), wait for the suggestions; their swatches (the last: the hint colour)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _click(driver, stage_id, x, y, size)
    box = driver.find_element(By.ID, "suggestions")
    WebDriverWait(driver, 120).until(
        lambda d: box.is_displayed() and box.get_attribute("data-state") in ("ready", "none")
    )
    return driver.find_elements(By.CSS_SELECTOR, "#suggestions .swatch")


def _set_hint_colour(driver, colour: str) -> None:
    driver.execute_script(
        "const c = document.getElementById('hint-colour'); c.value = arguments[0];"
        "c.dispatchEvent(new Event('input')); c.dispatchEvent(new Event('change'));",
        colour,
    )


def _set_slider(driver, value: int) -> None:
    driver.execute_script(
        "const s = document.getElementById('slider'); s.value = arguments[0];"
        "s.dispatchEvent(new Event('input'));",
        value,
    )


def _select(driver, element_id: str, value: str) -> None:
    driver.execute_script(
        "const s = document.getElementById(arguments[0]); s.value = arguments[1];"
        "s.dispatchEvent(new Event('change'));",
        element_id,
        value,
    )


def _screenshot(driver, name: str, element_id: str | None = None) -> None:
    """``ui-NAME.png`` in ``$COLORIZE_UI_SCREENSHOTS`` (the figures of docs/ui.md), if set:
    the window, or only the element ``element_id``."""
    from selenium.webdriver.common.by import By

    if SCREENSHOTS:
        path = Path(SCREENSHOTS) / f"ui-{name}.png"
        if element_id:
            driver.find_element(By.ID, element_id).screenshot(str(path))
        else:
            driver.save_screenshot(str(path))
        _shrink_screenshot(path)
        assert path.stat().st_size < 200_000, f"{path}: over 200 KB"


def _preview(server: str, result_id: str) -> np.ndarray:
    """The result's picture as the page shows it, in CIE Lab."""
    status, jpeg = _call(server + f"api/results/{result_id}/preview.jpg")
    assert status == 200
    with Image.open(io.BytesIO(jpeg)) as picture:
        return rgb_to_lab(np.asarray(picture.convert("RGB"), np.float32) / 255.0)


def _no_sideways_scroll(driver) -> bool:
    return driver.execute_script(
        "const e = document.documentElement; return e.scrollWidth <= e.clientWidth;"
    )


def test_before_a_photo_nothing_is_broken_and_420_px_do_not_scroll(server, browser):
    """Issue #32 item 4: no broken-image icons before a photo is opened, no download to
    click, and no sideways scrolling in a 420 px wide window (empty, with a result, with
    the suggestions, the "which method" note and an error on screen)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    _open_page(driver, server)
    assert driver.execute_script(_BROKEN_IMAGES) == []
    placeholder = driver.find_element(By.CSS_SELECTOR, "#input-stage .placeholder")
    assert placeholder.is_displayed() and "No photo yet" in placeholder.text
    download = driver.find_element(By.ID, "download")
    assert download.get_attribute("aria-disabled") == "true" and not download.get_attribute("href")
    note = driver.find_element(By.ID, "method-note").text
    assert note.startswith(f"{core.default_method()} (default): ")
    size = driver.get_window_size()
    try:
        driver.set_window_size(420, 900)
        assert _no_sideways_scroll(driver)
        driver.find_element(By.CSS_SELECTOR, "#which-method summary").click()
        items = driver.find_elements(By.CSS_SELECTOR, "#which-method-list li")
        assert any(item.text.startswith("larsson (default): ") for item in items)
        assert _no_sideways_scroll(driver)
        driver.find_element(By.ID, "example-button").click()
        _wait_result(driver, hints=0, previous=None)
        assert driver.execute_script(_BROKEN_IMAGES) == []
        assert _no_sideways_scroll(driver)
        _suggest(driver, "input-stage", *FACADE, EXAMPLE_SIZE)
        assert _no_sideways_scroll(driver)
        _select(driver, "method", "exemplar")
        WebDriverWait(driver, 120).until(lambda d: _state(d) == "error")
        assert _no_sideways_scroll(driver)
        assert driver.execute_script(_BROKEN_IMAGES) == []
    finally:
        driver.set_window_size(size["width"], size["height"])


@pytest.fixture
def figure_window(browser):
    """The browser in the window the figures of docs/ui.md are taken in (1100 x 900: the
    figures stay small), the window's size restored after."""
    size = browser.get_window_size()
    browser.set_window_size(1100, 900)
    try:
        yield browser
    finally:
        browser.set_window_size(size["width"], size["height"])


def test_suggestions_appear_on_a_click_and_one_becomes_a_hint(server, figure_window):
    """Issue #32 items 2 and 5: a click shows the method's colours there; Escape or a click
    elsewhere closes them; picking one places a hint that colours the clicked region and
    leaves the photo's far parts as they were. Takes the figures of docs/ui.md."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = figure_window
    _open_page(driver, server)
    driver.find_element(By.ID, "example-button").click()
    before = _wait_result(driver, hints=0, previous=None)
    _screenshot(driver, "before")

    box = driver.find_element(By.ID, "suggestions")
    swatches = _suggest(driver, "input-stage", *FACADE, EXAMPLE_SIZE)
    assert driver.find_element(By.ID, "suggest-head").text == (
        f"Colours {core.default_method()} finds likely here"
    )
    labels = [s.text for s in swatches]
    assert len(swatches) >= 3 and labels[-1] == "yours", labels
    assert all(label.endswith("%") for label in labels[:-1]), labels
    colours = [s.get_attribute("data-color") for s in swatches[:-1]]
    assert len(set(colours)) == len(colours)
    assert driver.find_elements(By.CSS_SELECTOR, "#input-markers .marker.pending")

    # Escape, or a click outside the photo, closes them and places nothing
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    WebDriverWait(driver, 10).until(lambda d: not box.is_displayed())
    _suggest(driver, "input-stage", *FACADE, EXAMPLE_SIZE)
    driver.find_element(By.TAG_NAME, "h1").click()
    WebDriverWait(driver, 10).until(lambda d: not box.is_displayed())
    assert driver.execute_script("return state.hints.length") == 0

    # the most colourful suggestion, picked: a hint of its colour at the click
    swatches = _suggest(driver, "input-stage", *FACADE, EXAMPLE_SIZE)
    _screenshot(driver, "suggestions", "input-pane")

    def chroma(swatch) -> float:
        return float(np.ptp(parse_color(swatch.get_attribute("data-color"))))

    picked = max(swatches[:-1], key=chroma)
    colour = picked.get_attribute("data-color")
    picked.click()
    assert not box.is_displayed()
    after = _wait_result(driver, hints=1, previous=before)
    hints = driver.execute_script("return state.hints")
    assert len(hints) == 1 and hints[0]["color"] == colour
    assert abs(hints[0]["x"] - FACADE[0]) <= 2 and abs(hints[0]["y"] - FACADE[1]) <= 2
    assert len(driver.find_elements(By.CSS_SELECTOR, "#input-markers .marker")) == 1
    assert driver.find_element(By.ID, "hint-list").text.count("Remove") == 1

    # the clicked region moved, the rest did not
    change = np.linalg.norm(_preview(server, after) - _preview(server, before), axis=-1)
    rows, cols = np.mgrid[: change.shape[0], : change.shape[1]]
    distance = np.hypot(cols - hints[0]["x"], rows - hints[0]["y"])
    assert change[distance <= 8].mean() > 4.0
    far = change[distance > 150]
    assert far.mean() < 0.5 and np.mean(far > 5) < 0.01
    _screenshot(driver, "after", "viewer")


def test_an_error_clears_the_result_and_the_download(server, browser):
    """Issue #32 item 4: exemplar without a reference: the message in the page's words,
    no result left on screen, no download; choosing a method that works brings both back."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    _open_page(driver, server)
    driver.find_element(By.ID, "example-button").click()
    first = _wait_result(driver, hints=0, previous=None)
    download = driver.find_element(By.ID, "download")
    assert download.get_attribute("href").endswith(f"/api/results/{first}/full.png")
    _select(driver, "method", "exemplar")
    WebDriverWait(driver, 120).until(lambda d: _state(d) == "error")
    error = driver.find_element(By.ID, "error").text
    assert error.startswith("This method (exemplar) needs a reference photo: choose one")
    assert "reference=" not in error
    result = driver.find_element(By.ID, "result-img")
    assert not result.get_attribute("src") and not result.is_displayed()
    assert not driver.find_element(By.ID, "before-img").is_displayed()
    assert "No result" in driver.find_element(By.ID, "result-placeholder").text
    assert download.get_attribute("aria-disabled") == "true" and not download.get_attribute("href")
    assert not driver.find_element(By.ID, "uncertainty").is_enabled()
    assert driver.execute_script(_BROKEN_IMAGES) == []
    _select(driver, "method", "larsson")
    again = _wait_result(driver, hints=0, previous=None)
    assert not driver.find_element(By.ID, "error").is_displayed()
    assert download.get_attribute("href").endswith(f"/api/results/{again}/full.png")


def test_the_vividness_slider_and_the_palette(server, browser):
    """Issue #32 items 3 and 4, in the browser: the slider makes the result more colourful,
    a palette colour moves it towards that colour, and removing it gives back the result
    without (the prediction is cached: the same picture)."""
    from selenium.webdriver.common.by import By

    driver = browser
    _open_page(driver, server)
    label = driver.find_element(By.ID, "vividness-label").get_attribute("title")
    assert label.startswith(f"What vividness does for {core.default_method()}: ")
    driver.find_element(By.ID, "example-button").click()
    first = _wait_result(driver, hints=0, previous=None)
    assert driver.find_element(By.ID, "vividness-value").text == "default"
    driver.execute_script(
        "const s = document.getElementById('vividness'); s.value = 0.9;"
        "s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change'));"
    )
    vivid = _wait_result(driver, hints=0, previous=first)
    assert driver.find_element(By.ID, "vividness-value").text == "0.90"
    assert _chroma(_preview(server, vivid)) > _chroma(_preview(server, first))

    strength = driver.find_element(By.ID, "palette-strength")
    assert not strength.is_enabled()
    driver.find_element(By.ID, "palette-add").click()
    toned = _wait_result(driver, hints=0, previous=vivid)
    colour = driver.find_element(By.CSS_SELECTOR, "#palette-colours input[type=color]")
    target = rgb_to_lab(np.asarray(parse_color(colour.get_attribute("value")), np.float32))[1:]
    before, after = _preview(server, vivid), _preview(server, toned)
    assert np.linalg.norm(_mean_ab(after) - target) < np.linalg.norm(_mean_ab(before) - target)
    assert strength.is_enabled()
    driver.find_element(By.CSS_SELECTOR, "#palette-colours .palette-remove").click()
    back = _wait_result(driver, hints=0, previous=toned)
    assert np.array_equal(_preview(server, back), before)
    assert not strength.is_enabled()


def test_the_controls_stay_in_place(server, browser, scene_file, tmp_path):
    """Issue #32 item 4: a long file name, the spinner, the download link and palette
    colours move no control."""
    from selenium.webdriver.common.by import By

    driver = browser
    _open_page(driver, server)
    ids = ("method", "decoder", "seed", "vividness", "palette-add", "reference-label",
           "hint-colour", "colorize-button", "download", "uncertainty")  # fmt: skip

    def places():
        return {i: driver.find_element(By.ID, i).location for i in ids}

    empty = places()
    driver.find_element(By.ID, "example-button").click()
    first = _wait_result(driver, hints=0, previous=None)
    assert places() == empty
    long_name = tmp_path / ("scan_of_the_family_album_page_" + "7" * 60 + "_1923.png")
    shutil.copyfile(scene_file, long_name)
    driver.find_element(By.ID, "photo-input").send_keys(str(long_name))
    _wait_result(driver, hints=0, previous=first)
    assert places() == empty
    name = driver.find_element(By.ID, "photo-name")
    assert name.get_attribute("title").startswith(long_name.name)
    driver.execute_script("busy('Colorizing with larsson…')")
    assert places() == empty
    driver.execute_script("idle()")
    previous = driver.find_element(By.ID, "result-img").get_attribute("data-result")
    driver.find_element(By.ID, "palette-add").click()
    previous = _wait_result(driver, hints=0, previous=previous)
    driver.find_element(By.ID, "palette-add").click()
    _wait_result(driver, hints=0, previous=previous)
    assert places() == empty


def test_the_page_in_chromium(server, browser, scene_file, tmp_path, monkeypatch, capsys):
    """Issue #21: open a photo, colorize it, place a hint, see the region move toward it,
    download the full-size PNG; the uncertainty map and its legend; a bad file shows the
    CLI's message."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    _open_page(driver, server)
    method = driver.find_element(By.ID, "method").get_attribute("value")
    assert method == core.default_method()
    decoder = driver.find_element(By.CSS_SELECTOR, "#decoder option:checked")
    registry_default = core.plugins.get_registry().get("method", method).default_decoder
    assert decoder.get_attribute("title") == registry_default
    assert decoder.text.endswith(" (default)") and registry_default not in decoder.text

    # the scene, through the file picker; a hint of the Hint colour ("yours")
    driver.find_element(By.ID, "photo-input").send_keys(str(scene_file))
    base = _wait_result(driver, hints=0, previous=None)
    a, b = _region(HINT_SCENE["region_a"]), _region(HINT_SCENE["region_b"])
    before_a, before_b = _mean_lab(driver, a), _mean_lab(driver, b)
    _, colour = hint_scene()
    hex_colour = core.Hint(0, 0, colour).hex
    _set_hint_colour(driver, hex_colour)
    x, y = HINT_SCENE["hint_xy"]
    swatches = _suggest(driver, "input-stage", x * SCALE, y * SCALE, (128 * SCALE, 96 * SCALE))
    assert swatches[-1].get_attribute("data-color") == hex_colour
    swatches[-1].click()
    hinted = _wait_result(driver, hints=1, previous=base)
    after_a, after_b = _mean_lab(driver, a), _mean_lab(driver, b)
    target = rgb_to_lab(np.asarray(parse_color(hex_colour)))[1:]
    assert np.linalg.norm(after_a[1:] - target) <= 0.5 * np.linalg.norm(before_a[1:] - target)
    assert np.linalg.norm(after_b - before_b) < 2.0
    markers = driver.find_elements(By.CSS_SELECTOR, "#input-markers .marker")
    assert len(markers) == 1

    # the uncertainty map, where the method has one, with its legend
    box = driver.find_element(By.ID, "uncertainty")
    legend = driver.find_element(By.ID, "uncertainty-legend")
    assert not legend.is_displayed()
    if box.is_enabled():
        box.click()
        WebDriverWait(driver, 60).until(
            lambda d: d.find_element(By.ID, "uncertainty-img").is_displayed()
        )
        assert legend.is_displayed() and legend.text.split() == ["low", "high", "uncertainty"]
        box.click()
        WebDriverWait(driver, 60).until(lambda d: not legend.is_displayed())

    # the download: the full-resolution PNG
    link = driver.find_element(By.ID, "download")
    assert link.get_attribute("href").endswith(f"/api/results/{hinted}/full.png")
    link.click()
    name = f"scene_{method}.png"
    WebDriverWait(driver, 120).until(lambda d: (d.downloads / name).exists())
    with Image.open(driver.downloads / name) as picture:
        assert picture.format == "PNG" and picture.size == (128 * SCALE, 96 * SCALE)

    # a file over the upload limit: the message the server gives, before sending it
    driver.execute_script("state.config.max_upload_bytes = 1048576;")
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * (2 << 20))
    driver.find_element(By.ID, "photo-input").send_keys(str(big))
    WebDriverWait(driver, 120).until(lambda d: _state(d) == "error")
    assert driver.find_element(By.ID, "error").text == (
        "big.png: file is over the page's limit of 1 MiB (colorize ui --max-upload-mib)"
    )
    driver.execute_script(
        "state.config.max_upload_bytes = 209715200; clearError(); setState('ready');"
    )

    # a bad file: the message the CLI gives for it
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image at all")
    expected = _cli_message(tmp_path, "broken.jpg", monkeypatch, capsys)
    driver.find_element(By.ID, "photo-input").send_keys(str(bad))
    WebDriverWait(driver, 120).until(lambda d: _state(d) == "error")
    assert driver.find_element(By.ID, "error").text == expected


def _shrink_screenshot(path: Path) -> None:
    """Keep the figure small (it is checked in under docs/): the blank page below the
    content cropped off, a 128-colour palette PNG (docs/figures/ keeps each under 200 KB;
    64 colours already shift the swatches' colours visibly)."""
    with Image.open(path) as shot:
        rgb = shot.convert("RGB")
    pixels = np.asarray(rgb).astype(int)
    rows = np.flatnonzero(np.abs(pixels - pixels[-1:, :1]).sum(-1).max(1) > 8)
    if rows.size:
        rgb = rgb.crop((0, 0, rgb.width, min(rgb.height, int(rows[-1]) + 16)))
    rgb.quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(path, optimize=True)
