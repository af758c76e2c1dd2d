"""Tracking done ahead in a second process (``reenact.tracking.ahead``) and found by its pixels
(``reenact.tracking.known``): the same results the command's own tracker makes, found where
asked, and nothing found (the command tracks itself) where the process fails."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from reenact.tracking import ahead, known
from reenact.tracking.mediapipe_tracker import FaceTracker
from tests.conftest import data_path

ROOT = Path(__file__).resolve().parents[2]
needs_fork = pytest.mark.skipif(not ahead.available(), reason="the tracking process runs on "
                                "Linux with two cores or more only (reenact.tracking.ahead)")


def _python(code: str, timeout: float = 120) -> str:
    """Run ``code`` in a fresh interpreter (as a command starts: nothing imported), its stdout."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), GLOG_minloglevel="2")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def records(monkeypatch):
    """Feed ``known`` the bytes given, from a process that writes them and exits."""
    monkeypatch.setattr(known, "_faces", {})
    monkeypatch.setattr(known, "_masks", {})
    monkeypatch.setattr(known, "_source", None)

    def feed(data: bytes, delay: float = 0.0) -> None:
        writer = subprocess.Popen([sys.executable, "-c", (
            "import sys, time; data = sys.stdin.buffer.read(); time.sleep(float(sys.argv[1])); "
            "sys.stdout.buffer.write(data)"), str(delay)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE)
        writer.stdin.write(data)
        writer.stdin.close()
        known.expect(writer.pid, os.dup(writer.stdout.fileno()))
        writer.stdout.close()

    yield feed
    known.finish()


def test_records_are_found_by_their_pixels_and_settings(records):
    image = np.random.default_rng(0).integers(0, 255, (40, 30, 3), np.uint8)
    other = image.copy()
    other[0, 0, 0] ^= 1
    points, boxes = np.random.default_rng(1).random((2, 478, 3)), np.array([[1, 2, 3, 4.0]] * 2)
    mask = np.random.default_rng(2).random((40, 30)).astype(np.float32)
    records(known.frame_record("clip.mp4", 3, image) +
            known.faces_record(known.key(image, 4, 0.5), points, boxes) +
            known.mask_record(known.key(image), mask))
    np.testing.assert_array_equal(known.frame("clip.mp4", 3), image)
    assert known.frame("clip.mp4", 3) is None  # given once
    found = known.faces(image, 4, 0.5)
    assert [p.tobytes() for p, _ in found] == [p.tobytes() for p in points]
    assert [b for _, b in found] == [(1.0, 2.0, 3.0, 4.0)] * 2
    np.testing.assert_array_equal(known.mask(image), mask)
    assert known.faces(image, 4, 0.6) is None  # other settings
    assert known.faces(other, 4, 0.5) is None  # one bit of one pixel apart
    assert known.mask(other) is None
    assert known._source is None  # read to its end, the process reaped


def test_a_stream_that_is_not_records_gives_nothing(records):
    image = np.zeros((8, 8, 3), np.uint8)
    good = known.faces_record(known.key(image), np.zeros((0, 478, 3)), np.zeros((0, 4)))
    records(good[:-5])  # cut short: the process died while writing
    assert known.faces(image) is None
    records(b"\x10\x00\x00\x00\x00\x00\x00\x00not an npz file!")
    assert known.faces(image) is None
    assert known._source is None


def test_a_process_that_does_not_answer_is_stopped(records, monkeypatch):
    image = np.zeros((8, 8, 3), np.uint8)
    monkeypatch.setattr(known, "WAIT_SECONDS", 0.3)
    records(known.faces_record(known.key(image), np.zeros((0, 478, 3)), np.zeros((0, 4))),
            delay=30)
    assert known.faces(image) is None
    assert known._source is None


def test_the_tracker_returns_what_is_known_without_mediapipe(records):
    """A still's detection: what ``known`` holds for its pixels and the tracker's settings (an
    empty list too, which is "no face" rather than "not known")."""
    image = np.full((64, 64, 3), 7, np.uint8)
    tracker = FaceTracker(static=True)
    records(known.faces_record(known.key(image, *tracker.settings), np.ones((1, 478, 3)),
                               np.array([[0, 0, 5, 5.0]])))
    (face,) = tracker.detect(image)
    assert face.box == (0.0, 0.0, 5.0, 5.0) and face.points.sum() == 478 * 3
    assert tracker._mp is None  # mediapipe not asked


def test_the_tracker_modules_load_without_torch():
    """The process that tracks ahead imports these: torch would cost it 1.6 s."""
    out = _python("""
        import sys
        import reenact.config, reenact.io.image, reenact.io.video, reenact.tracking.ahead
        import reenact.tracking.crop, reenact.tracking.mediapipe_tracker
        import reenact.tracking.references, reenact.tracking.segmentation
        print(sorted(m for m in ("torch", "scipy") if m in sys.modules))
    """)
    assert out.strip() == "[]"


@needs_fork
def test_a_photo_and_an_image_driver_tracked_ahead_are_what_the_command_makes(tmp_path):
    """A fresh process: tracked ahead, the command imports no mediapipe (every still was found)
    and writes the same pixels as run here, where nothing is tracked ahead."""
    from reenact.cli import main
    from reenact.io import read_image

    photo, driver = data_path("faces", "s42.jpg"), data_path("faces", "d9.jpg")
    args = ["animate", "-s", str(photo), "-d", str(driver), "--no-server", "--no-watermark"]
    out = _python(f"""
        import sys
        sys.argv = ["reenact"] + {args + ["-o", str(tmp_path / "ahead.png")]!r}
        from reenact import cli
        code = cli.main()
        print(code, "mediapipe" in sys.modules)
    """)
    assert out.split() == ["0", "False"]
    assert main(args + ["-o", str(tmp_path / "here.png")]) == 0
    np.testing.assert_array_equal(read_image(tmp_path / "ahead.png"),
                                  read_image(tmp_path / "here.png"))


@needs_fork
@pytest.mark.slow  # 9 s: the 78 frames tracked here too
def test_the_frames_a_video_reference_is_chosen_from_are_tracked_ahead(tmp_path):
    """``--reference-frame auto`` examines a video's frames as stills: each sent ahead with
    its landmarks (not decoded again here), and the same reference chosen as without."""
    from reenact.config import AnimateConfig
    from reenact.pipeline import Reenactor

    photo, driver = data_path("faces", "s42.jpg"), data_path("driving", "d0.mp4")
    out = _python(f"""
        import json, sys
        from reenact.config import AnimateConfig
        from reenact.tracking import ahead, known, references
        assert ahead.start({str(photo)!r}, {str(driver)!r}, AnimateConfig())

        def decoded(*args):
            raise AssertionError("the examined frames were decoded again")

        references.iter_video_frames = decoded  # in this process only (forked before)
        from reenact.pipeline import Reenactor
        r = Reenactor(AnimateConfig())
        src = r.prepare_source({str(photo)!r})
        r.open_driving(src, {str(driver)!r})
        print(json.dumps([r.reference_index, "mediapipe" in sys.modules, len(known._faces)]))
    """)
    index, mediapipe, found = json.loads(out)
    r = Reenactor(AnimateConfig())
    r.open_driving(r.prepare_source(photo), driver)
    assert (index, mediapipe) == (r.reference_index, False)
    assert found > 10  # the examined frames' (all of d0's 78)


def test_the_examined_frames_without_a_tracking_process_are_decoded_here(turning_head):
    """Nothing sent: the video's first frames, decoded here, None for those not examined."""
    from reenact.io import iter_video_frames
    from reenact.tracking.references import examined, examined_frames

    picks = examined(20.0, 80)
    got = list(examined_frames(turning_head, 20.0, 80))
    frames = list(iter_video_frames(turning_head))[:picks.stop]
    assert len(got) == picks.stop == len(frames) and len(picks) < picks.stop
    for i in picks:
        np.testing.assert_array_equal(got[i], frames[i])
