"""Tracking results made ahead by another process (``reenact.tracking.ahead``), looked up by the
pixels they are for.

``FaceTracker`` (still images) and ``PersonSegmenter`` ask here first: a result for the same
pixels and the same settings is what their own mediapipe run would give (a still's detection is
a function of its pixels alone), so they return it instead of running mediapipe. Keys are a hash
of the pixels, their shape and the settings: anything that differs (another photo, another crop)
is simply not found, and the caller runs mediapipe as before.

The results come over a pipe from the process that makes them, each a NumPy ``.npz`` (no
pickles) behind its length, in the order the command asks for them: a result not there yet is
read when asked for, so the command waits only for what it needs next. A process that fails or
gives nothing usable is as if none had run (the command waits at most WAIT_SECONDS for a record).
"""

import contextlib
import hashlib
import io
import os
import select
import signal

import numpy as np

WAIT_SECONDS = 20.0  # the longest a command waits for the next result (then tracks itself)
_LENGTH = 8  # bytes of each record's length, little-endian, before its ``.npz``

_faces: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}  # key -> points (F, 478, 3), boxes (F, 4)
_masks: dict[bytes, np.ndarray] = {}  # key of a crop -> its (H, W) float32 person mask
_frames: dict[tuple[str, int], np.ndarray] = {}  # (video, index) -> the frame, until asked for
_source: tuple[int, int] | None = None  # (pid, read end of its pipe) while results may come


def key(image: np.ndarray, *settings) -> bytes:
    """The key of ``image``'s pixels under ``settings`` (a 16-byte BLAKE2b: 1 ms for a 512 px
    photo)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((image.shape, image.dtype.str, settings)).encode())
    h.update(np.ascontiguousarray(image).data)
    return h.digest()


def faces_record(k: bytes, points: np.ndarray, boxes: np.ndarray) -> bytes:
    """One record: the faces (points (F, 478, 3), boxes (F, 4)) found for key ``k``."""
    return _record(key=np.frombuffer(k, np.uint8), points=points, boxes=boxes)


def mask_record(k: bytes, mask: np.ndarray) -> bytes:
    """One record: the person mask of the crop with key ``k``."""
    return _record(key=np.frombuffer(k, np.uint8), mask=mask)


def frame_record(video: str, index: int, frame: np.ndarray) -> bytes:
    """One record: frame ``index`` of video file ``video`` (``str`` of its path), decoded."""
    return _record(video=np.frombuffer(video.encode(), np.uint8), index=np.array(index),
                   frame=frame)


def _record(**arrays) -> bytes:
    out = io.BytesIO()
    np.savez(out, **arrays)
    return len(out.getvalue()).to_bytes(_LENGTH, "little") + out.getvalue()


def expect(pid: int, fd: int) -> None:
    """Records will come from process ``pid`` through pipe ``fd``, in the order they are asked
    for (a miss reads on to the end). This module closes ``fd`` and reaps ``pid``."""
    global _source
    finish()
    _source = (pid, fd)


def expecting() -> bool:
    """Whether a process's results may still come."""
    return _source is not None


def finish() -> None:
    """No more will be asked: stop the process (if still at work) and forget what it made."""
    _stop()
    _faces.clear()
    _masks.clear()
    _frames.clear()


def faces(image: np.ndarray, *settings) -> list[tuple[np.ndarray, tuple]] | None:
    """The (points, box) of each face found in ``image`` under ``settings``, or None where no
    result is known for them."""
    if _source is None and not _faces:
        return None
    if (found := _lookup(_faces, key(image, *settings))) is None:
        return None
    points, boxes = found
    return [(p.copy(), tuple(float(v) for v in b)) for p, b in zip(points, boxes, strict=True)]


def mask(image: np.ndarray) -> np.ndarray | None:
    """The person mask known for ``image``, or None."""
    if _source is None and not _masks:
        return None
    found = _lookup(_masks, key(image))
    return None if found is None else found.copy()


def frame(video: str, index: int) -> np.ndarray | None:
    """Frame ``index`` of video file ``video`` as sent, or None; given once (then forgotten)."""
    if _source is None and not _frames:
        return None
    _lookup(_frames, (video, index))
    return _frames.pop((video, index), None)


def _lookup(table: dict, k):
    """``table[k]``, reading records until it comes or none are left; None then."""
    while k not in table and _next():
        pass
    return table.get(k)


def _next() -> bool:
    """File the next record; False (and the process stopped) at its end, after WAIT_SECONDS
    without one, or on anything that is not a record."""
    if _source is None:
        return False
    size = _read(_LENGTH)
    data = None if size is None else _read(int.from_bytes(size, "little"))
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            arrays = {name: z[name] for name in z.files}
        if "frame" in arrays:
            _frames[arrays["video"].tobytes().decode(), int(arrays["index"])] = arrays["frame"]
        elif "mask" in arrays:
            _masks[arrays["key"].tobytes()] = arrays["mask"]
        else:
            _faces[arrays["key"].tobytes()] = arrays["points"], arrays["boxes"]
        return True
    except (TypeError, ValueError, OSError, EOFError, KeyError, UnicodeDecodeError):
        _stop()  # the end, or not a record
        return False


def _stop() -> None:
    global _source
    if _source is not None:
        pid, fd = _source
        _source = None
        os.close(fd)
        with contextlib.suppress(OSError):  # done already, or at work on what none will ask
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(pid, 0)


def _read(n: int) -> bytes | None:
    """``n`` bytes from the pipe, or None at its end or after WAIT_SECONDS without any."""
    fd, data = _source[1], bytearray()
    while len(data) < n:
        if not select.select([fd], [], [], WAIT_SECONDS)[0]:
            return None
        try:
            chunk = os.read(fd, n - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return bytes(data)
