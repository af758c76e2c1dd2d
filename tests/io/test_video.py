import os
from pathlib import Path

import numpy as np
import pytest

from reenact.io import (
    InputError,
    TimedFrames,
    VideoWriter,
    iter_video_frames,
    probe_video,
    variable_rate,
)
from tests.conftest import data_path


def _frames(n=10, size=64):
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for _ in range(n)]


def test_write_read_round_trip(tmp_path):
    p = tmp_path / "v.mp4"
    with VideoWriter(p, 25) as w:
        for f in _frames():
            w.write(f)
    info = probe_video(p)
    assert (info.width, info.height, info.fps, info.has_audio) == (64, 64, 25, False)
    assert len(list(iter_video_frames(p))) == 10


def test_a_frame_is_encoded_as_written_unless_handed_over(tmp_path):
    """The writer encodes later, in its own thread: a frame the caller changes after ``write``
    is encoded as it was written (a copy is queued); one handed over (``owned``) is queued as it
    is, and one of odd width is still cut to whole even rows."""
    grey = np.full((64, 64, 3), 128, np.uint8)

    def queued(w: VideoWriter) -> list:
        items, put = [], w._queue.put
        w._queue.put = lambda item, **k: (items.append(item and item[0]), put(item, **k))
        return items

    p = tmp_path / "copied.mp4"
    with VideoWriter(p, 25) as w:
        w.write(grey)  # starts the encoder and its queue
        copied, frame = queued(w), grey.copy()
        w.write(frame)
        frame[:] = 0
    assert not np.shares_memory(copied[0], frame)
    assert all(abs(float(f.mean()) - 128) < 3 for f in iter_video_frames(p))
    with VideoWriter(tmp_path / "owned.mp4", 25) as w:
        w.write(grey, owned=True)
        handed, frame = queued(w), grey.copy()
        w.write(frame, owned=True)
    assert np.shares_memory(handed[0], frame)
    odd = np.full((64, 65, 3), 128, np.uint8)
    with VideoWriter(tmp_path / "odd.mp4", 25) as w:
        w.write(odd, owned=True)
        w.write(odd, owned=True)
    assert probe_video(tmp_path / "odd.mp4").width == 64


def test_audio_is_copied_from_the_driver(tmp_path):
    src = data_path("driving", "d3.mp4")
    p = tmp_path / "a.mp4"
    with VideoWriter(p, 30, audio_from=src) as w:
        for f in _frames(30):
            w.write(f)
    assert probe_video(p).has_audio


def test_frame_times_of_constant_and_variable_rate_videos(tmp_path):
    """A constant-rate video's times are i / fps and it is not called variable; a video written
    with irregular times (bursts at 30 and 10 frames a second) keeps them, and is."""
    constant = tmp_path / "c.mp4"
    with VideoWriter(constant, 25) as w:
        for f in _frames(12):
            w.write(f)
    frames = TimedFrames(constant)
    assert len(list(frames)) == 12
    np.testing.assert_allclose(frames.times, np.arange(12) / 25, atol=1e-4)
    assert variable_rate(frames.times) is None
    times = np.r_[0, np.cumsum(np.where(np.arange(11) % 4 < 2, 1 / 30, 1 / 10))]
    timed = tmp_path / "v.mp4"
    with VideoWriter(timed, 20, timed=True) as w:
        for f, t in zip(_frames(12), times, strict=True):
            w.write(f, t)
    frames = TimedFrames(timed)
    assert len(list(frames)) == 12
    np.testing.assert_allclose(frames.times, times, atol=1e-4)
    low, high = variable_rate(frames.times)
    assert abs(low - 10) < 0.01 and abs(high - 30) < 0.01
    with pytest.raises(ValueError, match="time"), VideoWriter(tmp_path / "x.mp4", 20,
                                                               timed=True) as w:
        w.write(_frames(1)[0])


def test_interrupted_write_leaves_nothing(tmp_path):
    p = tmp_path / "v.mp4"
    with pytest.raises(KeyboardInterrupt), VideoWriter(p, 25) as w:
        w.write(_frames(1)[0])
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_frames_are_encoded_as_written_and_a_failure_there_is_the_writers(tmp_path):
    # the watermark and the encoding run in a thread of their own: the frames come out as they
    # were written (a caller may reuse its array), and an error there is raised by the writer,
    # named as the user's file, with nothing left behind
    p = tmp_path / "v.mp4"
    ramp = np.linspace(0, 120, 64)[None, :, None]
    frames = [np.broadcast_to(ramp + 20 * i, (64, 64, 3)).astype(np.uint8) for i in range(6)]
    buffer = np.zeros((64, 64, 3), np.uint8)
    with VideoWriter(p, 25, crf=0) as w:
        for f in frames:
            buffer[:] = f
            w.write(buffer)
    for wrote, read in zip(frames, iter_video_frames(p), strict=True):
        assert np.abs(wrote.astype(int) - read).mean() < 2

    class FullDisk:  # a marking whose watermarking step meets a full disk
        def video_tags(self):
            return {}

        def watermarked(self, frame):
            raise OSError(28, "No space left on device")

    out = tmp_path / "full.mp4"
    with pytest.raises(InputError, match=f"{out}: cannot write the video"), \
            VideoWriter(out, 25, marking=FullDisk()) as w:
        for f in _frames(20):
            w.write(f)
    assert sorted(tmp_path.iterdir()) == [p]


def test_empty_truncated_and_non_video_files(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        probe_video(empty)
    good = tmp_path / "good.mp4"
    with VideoWriter(good, 25) as w:
        for f in _frames(20):
            w.write(f)
    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(good.read_bytes()[:300])
    with pytest.raises(InputError, match="trunc.mp4"):
        list(iter_video_frames(trunc))
    text = tmp_path / "text.mp4"
    text.write_text("hello")
    with pytest.raises(InputError, match="text.mp4"):
        probe_video(text)


def test_training_imports_no_pyav():
    """PyAV is imported where video is read or written, so a training machine that gets only the
    preprocessed cache (a GPU lease, say) needs no PyAV."""
    import subprocess
    import sys

    code = ("import sys, reenact.io, reenact.train.loop, reenact.data.dataset; "
            "print('av' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_interrupt_while_the_writer_opens_leaves_no_part_file(tmp_path, monkeypatch):
    # SIGTERM (raised like Ctrl-C) landing just after the part file appeared, while the
    # container opened, left it behind: the with-block had not begun, so no __exit__ ran
    import av

    def interrupted(*args, **kwargs):
        assert len(list(tmp_path.iterdir())) == 1  # the part file is there by now
        raise KeyboardInterrupt

    monkeypatch.setattr(av, "open", interrupted)
    writer = VideoWriter(tmp_path / "o.mp4", 25)  # kept alive, as the traceback's frames keep it
    with pytest.raises(KeyboardInterrupt):
        writer.__enter__()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc (Linux)")
def test_decoding_starts_no_threads_per_frame(tmp_path):
    """The frames come through one converter to RGB: PyAV's ``to_ndarray`` made one per frame,
    and each started swscale's threads anew (two a frame on two cores)."""
    p = tmp_path / "v.mp4"
    with VideoWriter(p, 25) as w:
        for f in _frames(40, 128):
            w.write(f)
    seen, new = set(os.listdir("/proc/self/task")), set()
    for _ in iter_video_frames(p):
        new |= set(os.listdir("/proc/self/task")) - seen
    assert len(new) < 10  # the decoder's own threads, started once
