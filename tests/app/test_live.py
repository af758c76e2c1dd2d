"""``reenact live``: the newest frame first, a video file played as a camera into an mp4, figures,
one-line errors, Ctrl-C keeping what was made."""

import itertools
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from reenact.app.live import LatestFrames, LiveLoop, LiveStats
from reenact.cli import EXIT_INPUT, main
from reenact.config import AnimateConfig
from reenact.io import iter_video_timed, read_image, write_image
from reenact.io.marking import marking, read_marking
from reenact.io.watermark import detect, detect_frames
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker


@pytest.fixture(scope="module")
def files(tmp_path_factory, samples, turning_head):
    """The astronaut photo, and a 4 s, 20 fps 'camera' of Grace Hopper turning her head twice."""
    d = tmp_path_factory.mktemp("live")
    write_image(d / "astronaut.png", samples["astronaut"])
    shutil.copy(turning_head, d / "hopper.mp4")
    return d


def test_latest_frames_hand_over_the_newest_and_count_the_dropped():
    frames = LatestFrames()
    got: list[int] = []
    for i in range(3):  # three frames before the loop comes back: only the last is taken
        frames.submit(np.full((2, 2, 3), i, np.uint8))
    it = iter(frames)
    got.append(int(next(it)[0, 0, 0]))
    frames.submit(np.full((2, 2, 3), 7, np.uint8))
    got.append(int(next(it)[0, 0, 0]))
    frames.close()
    assert list(it) == []  # closed and nothing waiting: the input ends
    assert got == [2, 7] and frames.dropped == 2 and frames.submitted == 4
    assert len(frames.times) == 2 and frames.times[0] <= frames.times[1]
    assert not frames.submit(np.zeros((2, 2, 3), np.uint8))  # closed: refused


def test_latest_frames_end_when_idle_and_wake_a_waiting_loop():
    frames = LatestFrames(idle=0.3)
    started = time.perf_counter()
    assert list(frames) == []  # no frame for 0.3 s: ends by itself
    assert 0.25 < time.perf_counter() - started < 2
    frames = LatestFrames()
    later = threading.Timer(0.2, frames.submit, args=(np.ones((2, 2, 3), np.uint8),))
    later.start()
    assert next(iter(frames)).sum() == 12  # waited for it


def test_stats_give_rate_and_latency_percentiles():
    stats = LiveStats()
    for i in range(11):
        stats.add(i * 0.04, 0.05 + 0.01 * (i == 10))
    f = stats.figures()
    assert f["frames"] == 11 and f["fps"] == pytest.approx(25.0)
    assert f["p50_ms"] == pytest.approx(50.0) and 50 < f["p95_ms"] <= 60
    assert stats.figures(since=10.0)["frames"] == 0


def test_live_plays_a_video_file_into_a_reenacted_mp4(files, tmp_path, capfd):
    out = tmp_path / "live.mp4"
    code = main(["live", "-s", str(files / "astronaut.png"), "--camera", str(files / "hopper.mp4"),
                 "--out", str(out), "--stats-every", "0"])
    err = capfd.readouterr().err
    assert code == 0, err
    assert "camera ended" in err and "fps" in err and "latency p50" in err and f"wrote {out}" in err
    assert read_marking(out) is not None  # says it is synthetic
    photo = read_image(files / "astronaut.png")
    frames, times = zip(*iter_video_timed(out), strict=True)
    assert detect_frames(frames).clip.found  # and carries the watermark
    # played in real time: a slow or busy machine drops frames (never queues them), so only a
    # few are certain
    assert 5 <= len(frames) <= 80 and all(f.shape == photo.shape for f in frames)
    assert all(b > a for a, b in itertools.pairwise(times)) and times[-1] > 1.0
    with FaceTracker(static=True) as t:
        face = t.detect(photo)[0].points
    x0, y0 = face[:, :2].min(0).astype(int)
    x1, y1 = face[:, :2].max(0).astype(int)
    stack = np.stack(frames).astype(np.float32)
    inside = stack[:, y0:y1, x0:x1]
    # the face moves with the driver: it differs from the photo and from frame to frame
    assert np.abs(inside - photo[y0:y1, x0:x1]).mean() > 4
    assert inside.std(axis=0).mean() > 3
    # far from the face (the lower half of the picture) the photo is as it was, up to the codec
    assert np.abs(stack[:, 400:] - photo[400:]).mean() < 4


@pytest.mark.parametrize("extra,match", [
    ([], "choose where the frames go"),
    (["--out", "{tmp}/x.mp4", "--camera", "{tmp}/missing.mp4"], "missing.mp4: no such file"),
    (["--out", "{tmp}/x.mp4", "--camera", "{tmp}"], "is a folder"),
    (["--out", "{tmp}/x.mp4", "--camera", "{files}/astronaut.png"], "not a video file"),
    (["--out", "{tmp}/x.png", "--camera", "{files}/hopper.mp4"], "name the output .mp4"),
    (["--out", "{files}/hopper.mp4", "--camera", "{files}/hopper.mp4"], "already exists"),
    (["--show", "--camera", "{files}/hopper.mp4"], "no display here"),
])
def test_bad_live_inputs_get_one_line(files, tmp_path, capfd, monkeypatch, extra, match):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    args = [a.format(tmp=tmp_path, files=files) for a in extra]
    code = main(["live", "-s", str(files / "astronaut.png"), *args])
    err = capfd.readouterr().err
    assert code == EXIT_INPUT and match in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.mp4").exists()


def test_virtual_camera_without_a_device_is_one_line(files, capfd):
    """Here no virtual camera device exists (no v4l2loopback); where one does, it runs."""
    code = main(["live", "-s", str(files / "astronaut.png"), "--camera",
                 str(files / "hopper.mp4"), "--virtual-camera", "--seconds", "1",
                 "--stats-every", "0"])
    err = capfd.readouterr().err
    assert code == 0 or (code == EXIT_INPUT and "virtual camera" in err and "Traceback" not in err
                         and err.strip().splitlines()[-1].startswith("reenact: error")), err


@pytest.mark.slow  # 8 s: a live run to a file, read back for the mark
def test_no_watermark_live_warns_and_leaves_the_pixels_unmarked(files, tmp_path, capfd):
    out = tmp_path / "bare.mp4"
    assert main(["live", "-s", str(files / "astronaut.png"), "--camera",
                 str(files / "hopper.mp4"), "--out", str(out), "--stats-every", "0",
                 "--no-watermark", "--seconds", "2"]) == 0
    assert "warning: --no-watermark" in capfd.readouterr().err
    assert read_marking(out) is not None  # the metadata still says it is synthetic
    assert not detect_frames(f for f, _ in iter_video_timed(out)).clip.found


def test_the_pages_live_loop_hands_out_watermarked_frames(files):
    reenactor = Reenactor(AnimateConfig(crop_only=True))
    src = reenactor.prepare_source(files / "astronaut.png")
    loop = LiveLoop(reenactor, src, fps=20.0, idle=2.0, mark=marking())
    try:
        newest = None
        for frame, _ in itertools.islice(iter_video_timed(files / "hopper.mp4"), 20):
            loop.submit(frame)
            newest = loop.newest(timeout=2.0) or newest
        assert newest is not None and loop.error is None
        assert detect(newest[1].image).found
    finally:
        loop.close()


def test_ctrl_c_ends_cleanly_and_keeps_the_file(files, tmp_path):
    out = tmp_path / "kept.mp4"
    p = subprocess.Popen([sys.executable, "-m", "reenact.cli", "live", "-s",
                          str(files / "astronaut.png"), "--camera", str(files / "hopper.mp4"),
                          "--out", str(out), "--stats-every", "0.2"],
                         stderr=subprocess.PIPE, text=True)
    started = p.stderr.readline()  # printed when the camera starts
    assert "Ctrl-C ends" in started, started
    for _ in range(2):  # each printed after a frame has been shown, 0.2 s apart at least
        figures = p.stderr.readline()
        assert "fps" in figures, figures
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "interrupted" in err and "fps" in err and "Traceback" not in err
    assert out.exists() and len(list(iter_video_timed(out))) >= 2


def test_show_opens_a_window_on_a_display(files):
    """``--show`` on a virtual screen (Debian's xvfb-run; skipped where it is not installed)."""
    import shutil

    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run not found (apt-get install xvfb) to give --show a screen")
    r = subprocess.run(["xvfb-run", "-a", sys.executable, "-m", "reenact.cli", "live", "-s",
                        str(files / "astronaut.png"), "--camera", str(files / "hopper.mp4"),
                        "--show", "--stats-every", "0"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    assert "camera ended" in r.stderr and "over" in r.stderr and "Traceback" not in r.stderr
    shown = int(r.stderr.split(" over ")[-1].split()[0])
    assert shown >= 3


def test_live_on_a_shared_driving_video(tmp_path, capfd):
    """A real talking-head clip played as a camera into a real photo: the mouth region moves."""
    from tests.conftest import data_path

    photo, clip = data_path("faces", "s42.jpg"), data_path("driving", "d0.mp4")
    out = tmp_path / "live.mp4"
    code = main(["live", "-s", str(photo), "--camera", str(clip), "--out", str(out),
                 "--stats-every", "0"])
    err = capfd.readouterr().err
    assert code == 0 and "camera ended" in err, err
    frames = [f for f, _ in iter_video_timed(out)]
    source = read_image(photo)
    assert len(frames) >= 5 and all(f.shape == source.shape for f in frames)
    with FaceTracker(static=True) as t:
        mouth = t.detect(source)[0].points[[61, 291, 0, 17], :2]  # mouth corners, lips
    x0, y0 = (mouth.min(0) - 10).astype(int)
    x1, y1 = (mouth.max(0) + 10).astype(int)
    region = np.stack(frames)[:, y0:y1, x0:x1].astype(np.float32)
    assert region.std(axis=0).mean() > 4  # the mouth moves with the driver's speech
    assert np.abs(np.stack(frames)[:, :40].astype(np.float32) - source[:40]).mean() < 4


def test_a_camera_that_fails_leaves_no_part_file(files, tmp_path, capfd, monkeypatch):
    """A camera error mid-run is one line, and the output's part file is taken away."""
    from reenact.app import live
    from reenact.io import InputError

    def failing(self, frames):
        for frame, _ in itertools.islice(iter_video_timed(self.path), 10):
            frames.submit(frame)
            time.sleep(0.05)
        raise InputError(f"{self.path}: frame 10 cannot be decoded")

    monkeypatch.setattr(live.FileCamera, "_capture", failing)
    code = main(["live", "-s", str(files / "astronaut.png"), "--camera", str(files / "hopper.mp4"),
                 "--out", str(tmp_path / "x.mp4"), "--stats-every", "0"])
    err = capfd.readouterr().err
    assert code == EXIT_INPUT and "frame 10 cannot be decoded" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
