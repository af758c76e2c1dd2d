"""Screenshots of ``reenact ui`` for the docs: idle, running, done and the webcam tab.

    python scripts/ui_screenshots.py --out-dir docs --video ../shared/data/driving/d3.mp4

Starts the page on a free port, drives it in headless Chromium (Debian's ``chromium``) and writes
ui-idle.jpg, ui-running.jpg, ui-done.jpg and ui-webcam.jpg. The webcam is Chromium's fake camera
playing ``--video``.
"""

import argparse
import io
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def _y4m(video: Path, out: Path, frames: int = 150) -> None:
    import av

    from reenact.io import iter_video_frames

    with av.open(str(out), "w", format="yuv4mpegpipe") as y4m:
        stream = None
        for i, f in enumerate(iter_video_frames(video)):
            if i == frames:
                break
            if stream is None:
                h, w = f.shape[:2]
                k = 360 / max(h, w)
                size = (int(w * k) // 2 * 2, int(h * k) // 2 * 2)
                stream = y4m.add_stream("rawvideo", rate=30)
                stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
            frame = av.VideoFrame.from_ndarray(f, format="rgb24").reformat(*size, "yuv420p")
            for packet in stream.encode(frame):
                y4m.mux(packet)
        for packet in stream.encode():
            y4m.mux(packet)


def _save(page, path: Path) -> None:
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    shot.thumbnail((1100, 1400))
    shot.save(path, quality=80)
    print(f"wrote {path}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path("docs"))
    ap.add_argument("--video", type=Path, required=True, help="a driving video (and the webcam)")
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "reenact.cli", "ui", "--port", str(port)],
                              stderr=subprocess.PIPE, text=True)
    assert "serving on" in server.stderr.readline()
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
            camera = Path(tmp) / "camera.y4m"
            _y4m(args.video, camera)
            b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS + [
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}"])
            page = b.new_context(permissions=["camera"],
                                 viewport={"width": 1280, "height": 900}).new_page()
            page.goto(url)
            page.wait_for_selector("#run")
            page.locator("tr.tr-body").first.click()
            page.locator("#driver").get_by_text("grace_hopper").first.wait_for()
            _save(page, args.out_dir / "ui-idle.jpg")
            page.locator("#driver button[aria-label=Clear]").first.click()
            page.locator("#driver input[type=file]").set_input_files(str(args.video))
            page.locator("#driver").get_by_text(args.video.stem).first.wait_for()
            page.click("#run")
            page.get_by_text("animating").first.wait_for(timeout=60_000)
            time.sleep(2)
            _save(page, args.out_dir / "ui-running.jpg")
            page.wait_for_selector("#result-video video", timeout=300_000)
            time.sleep(2)
            _save(page, args.out_dir / "ui-done.jpg")
            page.get_by_role("tab", name="Webcam").click()
            page.get_by_text("Click to Access Webcam").click()
            page.locator("#camera").get_by_role("button", name="capture photo").click()
            page.get_by_text("frames a second").first.wait_for(timeout=60_000)
            time.sleep(4)
            _save(page, args.out_dir / "ui-webcam.jpg")
            b.close()
    finally:
        server.send_signal(2)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
