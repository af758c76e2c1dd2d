"""``reenact ui`` end to end: a real server, driven in headless Chromium (Debian's ``chromium``, by
Playwright). `.ci/run` installs chromium; elsewhere these tests skip and say why."""

import io
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reenact.io import iter_video_frames, write_image
from reenact.io.samples import sample_image_path
from reenact.io.watermark import detect, embed
from reenact.tracking.mediapipe_tracker import FaceTracker

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _needs_browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium; .ci/run does)")
    for module in ("playwright", "gradio"):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(f"{module} is not installed (pip install -e '.[test]')")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``reenact ui`` in a subprocess, its stderr collected."""

    def __init__(self, *extra: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reenact.cli", "ui", "--port", str(self.port), *extra],
            stderr=subprocess.PIPE, text=True, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "0"})
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 120
        while not any("serving on" in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("reenact ui did not start: " + "".join(self.lines))
            time.sleep(0.2)

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # Ctrl-C: the way a user stops it
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="module")
def server():
    _needs_browser()
    s = Server("--max-upload-mb", "5")
    yield s
    s.stop()
    assert s.proc.returncode == 0, "".join(s.lines)
    assert "Traceback" not in "".join(s.lines)


@pytest.fixture(scope="module")
def playwright():
    _needs_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield b
    b.close()


def _png(page, selector: str) -> np.ndarray:
    """The picture an <img> of the page shows, fetched as the browser would."""
    src = page.locator(selector).first.get_attribute("src")
    body = page.request.get(src).body()
    return np.asarray(Image.open(io.BytesIO(body)).convert("RGB"))


def _face_box(image: np.ndarray) -> tuple[int, int, int, int]:
    with FaceTracker(static=True) as t:
        points = t.detect(image)[0].points
    x0, y0 = points[:, :2].min(0).astype(int)
    x1, y1 = points[:, :2].max(0).astype(int)
    return x0, y0, x1, y1


def _animate(page, server, photo: str | None = None, driver: str | None = None) -> None:
    page.goto(server.url)
    page.wait_for_selector("#run")
    if photo is None:
        page.locator("tr.tr-body").first.click()  # the bundled example
    else:
        page.locator("#photo input[type=file]").set_input_files(photo)
        page.locator("#driver input[type=file]").set_input_files(driver)
    # the file list shows the name (its stem and suffix apart) once the upload is in
    page.locator("#driver").get_by_text(Path(driver or "grace_hopper.jpg").stem).first.wait_for()
    page.click("#run")


def test_the_example_gives_a_real_reenactment(server, browser):
    page = browser.new_page()
    _animate(page, server)
    page.wait_for_selector("#result-image img", timeout=120_000)
    out = _png(page, "#result-image img")
    photo = np.asarray(Image.open(sample_image_path("astronaut")).convert("RGB"))
    assert out.shape == photo.shape
    x0, y0, x1, y1 = _face_box(photo)
    diff = np.abs(out.astype(np.float32) - photo).mean(axis=2)
    assert diff[y0:y1, x0:x1].mean() > 5  # the face took Grace Hopper's pose and expression
    far = np.ones_like(diff, bool)
    w, h = x1 - x0, y1 - y0
    far[max(0, y0 - h):y1 + h, max(0, x0 - w):x1 + w] = False
    mark = detect(out)  # the result is watermarked, as every output
    assert mark.found and mark.day is not None
    marked_photo = embed(photo, mark.day)
    # and nothing far from the face changed but the watermark
    assert np.abs(out.astype(np.float32) - marked_photo).mean(axis=2)[far].mean() < 1
    assert "done in" in page.locator("#notes textarea").input_value()
    download = page.locator("#download a").first.get_attribute("href")
    assert page.request.get(download).ok
    page.close()


@pytest.mark.parametrize("which", ["photo", "driver"])
def test_a_bad_upload_shows_the_one_line_error(server, browser, tmp_path, which):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a picture")
    page = browser.new_page()
    if which == "driver":
        _animate(page, server, sample_image_path("astronaut"), str(broken))
    else:
        page.goto(server.url)
        page.wait_for_selector("#run")
        page.locator("#photo input[type=file]").set_input_files(str(broken))
        page.locator("#driver input[type=file]").set_input_files(sample_image_path("grace_hopper"))
        page.locator("#driver").get_by_text("grace_hopper").first.wait_for()
        page.click("#run")
    # the CLI's line, naming the user's file (not the server's copy of it)
    error = page.get_by_text(re.compile(r"^broken\.jpg: not a readable image"))
    error.first.wait_for(timeout=60_000)
    assert "Traceback" not in page.content() and "preprocess" not in page.content()
    page.close()


def test_an_upload_over_the_limit_is_refused_with_a_message(server, browser, tmp_path):
    big = tmp_path / "big.png"  # over the server's --max-upload-mb 5
    write_image(big, np.random.default_rng(0).integers(0, 255, (1600, 1600, 3), np.uint8))
    assert big.stat().st_size > 5e6
    page = browser.new_page()
    page.goto(server.url)
    page.wait_for_selector("#run")
    page.locator("#driver input[type=file]").set_input_files(str(big))
    refused = page.get_by_text(re.compile(r"exceeds|too large|maximum", re.IGNORECASE))
    refused.first.wait_for(timeout=30_000)
    page.close()


def test_two_users_at_once_each_get_their_own_result(server, browser, tmp_path):
    """Two pages run at the same moment with different photos: queued, not mixed."""
    mirrored = tmp_path / "mirrored.png"
    photo = np.asarray(Image.open(sample_image_path("astronaut")).convert("RGB"))
    write_image(mirrored, np.ascontiguousarray(photo[:, ::-1]))
    pages = [browser.new_page(), browser.new_page()]
    _animate(pages[0], server)
    _animate(pages[1], server, str(mirrored), sample_image_path("grace_hopper"))
    for page, own in zip(pages, (photo, photo[:, ::-1]), strict=True):
        page.wait_for_selector("#result-image img", timeout=180_000)
        out = _png(page, "#result-image img").astype(np.float32)
        # the corners are the page's own photo, not the other page's
        corners = np.r_[out[:60, :60].ravel(), out[-60:, -60:].ravel()]
        own_corners = np.r_[own[:60, :60].ravel(), own[-60:, -60:].ravel()]
        assert np.abs(corners - own_corners).mean() < 2
        page.close()


@pytest.fixture(scope="module")
def fake_camera(tmp_path_factory) -> Path:
    """A .y4m of a real driving video at 960 px wide, as a webcam might send (Chromium's fake
    camera plays it in a loop); the bundled Grace Hopper photo, turning, where ../shared/data is
    absent."""
    import av

    from tests.conftest import DATA

    d = tmp_path_factory.mktemp("camera")
    video = DATA / "driving" / "d3.mp4"
    if video.exists():
        frames = [f for _, f in zip(range(40), iter_video_frames(video), strict=False)]
    else:
        hopper = np.asarray(Image.open(sample_image_path("grace_hopper")).convert("RGB"))
        frames = [np.roll(hopper, 4 * (i % 10), axis=1) for i in range(40)]
    h, w = frames[0].shape[:2]
    k = 960 / max(h, w)
    size = (int(w * k) // 2 * 2, int(h * k) // 2 * 2)
    path = d / "camera.y4m"
    with av.open(str(path), "w", format="yuv4mpegpipe") as out:
        stream = out.add_stream("rawvideo", rate=30)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for f in frames:
            frame = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(*size, "yuv420p")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_the_webcam_tab_streams_reenacted_frames_back(server, playwright, fake_camera):
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS + [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={fake_camera}"])
    page = b.new_context(permissions=["camera"]).new_page()
    page.goto(server.url)
    page.wait_for_selector("#run")
    page.get_by_role("tab", name="Webcam").click()
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#camera").get_by_role("button", name="capture photo").click()
    page.get_by_text(re.compile(r"frames a second")).first.wait_for(timeout=90_000)
    seen = []
    deadline = time.monotonic() + 30
    while len(seen) < 4 and time.monotonic() < deadline:
        src = page.locator("#live-result img").first.get_attribute("src")
        if src and src not in seen:
            seen.append(src)
        time.sleep(0.3)
    assert len(seen) >= 4  # frames keep coming back
    # the page asks the camera for 640 x 480, not the 960 px it could send
    width = page.evaluate("() => document.querySelector('#camera video').videoWidth")
    assert 0 < width <= 640, width
    frames = [_png(page, "#live-result img")]
    time.sleep(1.0)
    frames.append(_png(page, "#live-result img"))
    assert frames[0].shape == (256, 256, 3)  # the face crop, as the tab's default
    photo = np.asarray(Image.open(sample_image_path("astronaut")).convert("RGB"))
    assert frames[0].std() > 20 and photo.std() > 20  # a picture, not a blank
    rate = page.locator("#live-rate").inner_text()
    assert float(re.search(r"([\d.]+) frames a second", rate).group(1)) > 0
    b.close()


def test_a_bad_photo_in_the_webcam_tab_shows_the_one_line_error(server, browser, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a picture")
    page = browser.new_page()
    page.goto(server.url)
    page.wait_for_selector("#run")
    page.get_by_role("tab", name="Webcam").click()
    page.locator("#live-photo button[aria-label=\"Remove Image\"]").first.click()
    page.locator("#live-photo input[type=file]").set_input_files(str(broken))
    page.get_by_text(re.compile(r"broken\.png: not a readable image")).first.wait_for(
        timeout=30_000)
    assert "preprocess" not in page.content()
    page.close()


def test_the_page_needs_gradio_and_says_so(tmp_path):
    """Without Gradio, ``reenact ui`` is one line and exit 3 (its import made to fail)."""
    code = ("import sys, builtins; real = builtins.__import__\n"
            "def imp(name, *a, **k):\n"
            "    if name == 'gradio' or name.startswith('gradio.'): raise ImportError(name)\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = imp\n"
            "from reenact.cli import main; sys.exit(main(['ui', '--port', '1']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       check=False)
    assert r.returncode == 3 and "needs Gradio" in r.stderr and "Traceback" not in r.stderr


def test_a_second_driver_for_the_same_photo_starts_from_the_cache(tmp_path):
    """The page's handler without the browser: the photo is prepared once per content (a copy
    under another name included), and each run writes its own file."""
    pytest.importorskip("gradio")
    from reenact.app.ui import MOTIONS, App

    app = App(tmp_path)
    photo, hopper = sample_image_path("astronaut"), sample_image_path("grace_hopper")
    copy = tmp_path / "copy.png"
    copy.write_bytes(Path(photo).read_bytes())
    runs = [app.animate(p, hopper, next(iter(MOTIONS)), 1.0, "pose and expression", "256",
                        True, False) for p in (photo, str(copy))]
    assert "photo prepared" in runs[0][3] and "photo from the cache" in runs[1][3]
    assert runs[0][2] != runs[1][2]
    a, b = (np.asarray(Image.open(r[0])) for r in runs)
    assert a.shape == (256, 256, 3) and np.array_equal(a, b)
    from reenact.io.marking import read_marking

    assert all(read_marking(r[2]) is not None for r in runs)  # the page's outputs are marked
