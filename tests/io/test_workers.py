"""Helper threads give way to the thread that makes the frames (``reenact.io.workers``)."""

import os
import sys
import threading

import pytest

from reenact.io.workers import NICE, lower_priority


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's nice value is Linux's")
def test_a_helper_lowers_its_own_priority_and_the_threads_it_starts_inherit_it():
    base, seen = _nice(), {}

    def child():
        seen["child"] = _nice()

    def helper():
        lower_priority()
        seen["helper"] = _nice()
        t = threading.Thread(target=child)  # as mediapipe's and libx264's threads are started
        t.start()
        t.join()
        lower_priority()  # again: never past 19
        seen["twice"] = _nice()

    t = threading.Thread(target=helper)
    t.start()
    t.join()
    assert seen["helper"] == seen["child"] == min(19, base + NICE)
    assert seen["helper"] > base or base == 19
    assert seen["twice"] == min(19, base + 2 * NICE)
    assert _nice() == base  # the caller's own is untouched


def test_the_video_writers_encoding_thread_gives_way(tmp_path, monkeypatch):
    import numpy as np

    import reenact.io.video
    from reenact.io import VideoWriter

    lowered = []
    monkeypatch.setattr(reenact.io.video, "lower_priority",
                        lambda: lowered.append(threading.current_thread().name))
    with VideoWriter(tmp_path / "o.mp4", 25) as w:
        for _ in range(3):
            w.write(np.zeros((32, 32, 3), np.uint8))
    assert lowered == ["reenact-encode"]
