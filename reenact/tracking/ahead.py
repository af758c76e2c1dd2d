"""The stills' tracking done in a second process while the command imports torch.

A fresh ``reenact animate`` spends its first 1.6 s importing torch, on one core; the other
waits. Much of what follows needs no torch: mediapipe's import, the photo's landmarks, the
segmentation of its crop, an image driver's landmarks, and for a video in relative motion the
landmarks of the frames ``--reference-frame auto`` examines (40 stills' detections, about 2 s
here). ``start`` forks a process before the imports that does this on the other core and streams
its results to ``reenact.tracking.known`` in the order the command asks for them; the command's
own tracker and segmenter find them there by their pixels, the same results they would have
made.

Where it cannot help it is not started: on one core, or off Linux (a fork that runs on without
exec is unsafe on macOS once system libraries are loaded, and absent on Windows). Where it fails
(an unreadable photo, no face) it stops, and the command does and reports everything as before.
"""

import contextlib
import itertools
import os
import signal
import sys
import threading
from pathlib import Path
from queue import Queue

from reenact.config import AnimateConfig
from reenact.tracking import known

NICE = 10  # added to this process's nice value (as reenact.io.workers does for helper threads)


def start(photo: str | Path, driving: str | Path, config: AnimateConfig) -> bool:
    """Fork the process that tracks ``photo`` and ``driving`` as ``reenact animate`` with
    ``config`` will ask. Call it before other threads start (a fork copies only the calling
    thread). Returns whether it started."""
    if not available():
        return False
    read, write = os.pipe()
    command = os.getpid()
    pid = os.fork()
    if pid == 0:  # the tracker's process: never returns
        code = 1
        try:
            os.close(read)
            _detach(command)
            _send(_records(Path(photo), Path(driving), config), write)
            code = 0
        except BaseException:  # noqa: BLE001, S110 - the command tracks what is missing itself
            pass
        finally:
            os._exit(code)
    os.close(write)
    known.expect(pid, read)
    return True


def _send(records, fd: int) -> None:
    """Write ``records`` to pipe ``fd`` from a thread of their own: a pipe holds 64 KB, a crop's
    mask is 0.26-1 MB, and the command reads it only when it asks, after its imports; tracking
    on meanwhile is what this process is for."""
    queue: Queue = Queue()

    def write() -> None:
        with open(fd, "wb", buffering=0) as out:
            while (record := queue.get()) is not None:
                out.write(record)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        for record in records:
            if not writer.is_alive():  # the pipe closed: no one will ask
                return
            queue.put(record)
    finally:
        queue.put(None)
        writer.join()


def available() -> bool:
    """Whether ``start`` starts the process here: on Linux with two cores or more (macOS: a fork
    that goes on without exec, once system libraries are loaded, is unsafe there; untried)."""
    return sys.platform.startswith("linux") and _cores() >= 2


def _cores() -> int:
    with contextlib.suppress(AttributeError, OSError):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _detach(command: int) -> None:
    """Nothing of this process reaches the user: Ctrl-C at the terminal ends it silently (the
    command reports it), and mediapipe's console lines go nowhere. It yields the cores to the
    command (pid ``command``), and on Linux ends when the command does, whichever way."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)
    from reenact.io.workers import signalled_with_parent  # here: the command forks first

    signalled_with_parent(command, signal.SIGKILL)
    with contextlib.suppress(OSError):  # the command's imports first, where the cores are short
        os.nice(NICE)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _records(photo: Path, driving: Path, config: AnimateConfig):
    """What the command will ask mediapipe, in its order, as ``known`` records: the photo's
    faces and its crop's mask (``Reenactor.prepare_source``), then the driver's stills (an
    image, or a video's reference frame or the frames ``choose_reference`` examines, each
    after its pixels where ``references.sent``)."""
    import numpy as np

    from reenact.io.image import read_image
    from reenact.io.video import is_video_file, iter_video_frames, probe_video
    from reenact.tracking.crop import photo_crop
    from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face
    from reenact.tracking.references import examined, sent
    from reenact.tracking.segmentation import PersonSegmenter

    tracker = FaceTracker(static=True)

    def detect(image):
        found = tracker.detect(image)
        points = np.stack([f.points for f in found]) if found else np.zeros((0, 478, 3))
        record = known.faces_record(known.key(image, *tracker.settings), points,
                                    np.array([f.box for f in found]).reshape(-1, 4))
        return found, record

    image = read_image(photo)
    found, record = detect(image)
    yield record
    face = pick_face(found, config.face_index)
    if face is None:
        return
    _, crop = photo_crop(image, face.points, config.margin, config.size)
    with PersonSegmenter() as segmenter:
        yield known.mask_record(known.key(crop), segmenter.mask(crop))
    if not is_video_file(driving):
        yield detect(read_image(driving))[1]
    elif (config.motion or "relative") == "relative" and config.reference_frame == "auto":
        info = probe_video(driving)
        picks = examined(float(info.fps), info.num_frames)
        pixels = sent(info.width, info.height, picks)
        for i, frame in enumerate(itertools.islice(iter_video_frames(driving), picks.stop)):
            if i in picks:
                if pixels:  # the command need not decode them again (references.sent)
                    yield known.frame_record(str(driving), i, frame)
                yield detect(frame)[1]
    elif isinstance(config.reference_frame, int) and config.reference_frame > 0:
        frames = iter_video_frames(driving)
        yield detect(next(itertools.islice(frames, config.reference_frame, None)))[1]
