"""Video decoding and encoding with PyAV (which ships its own FFmpeg libraries).

Frames are (H, W, 3) uint8 RGB. ``VideoWriter`` encodes H.264 into a temporary file beside the target,
optionally copies the audio stream of another file, and renames into place on ``close()``. A
variable-frame-rate driver's frames keep their timestamps (``TimedFrames``, ``write(frame, time)``)
so that motion and sound stay together.
"""

import contextlib
import os
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from reenact.io.atomic import atomic_path
from reenact.io.errors import InputError
from reenact.io.workers import lower_priority

if TYPE_CHECKING:
    import av

# PyAV is imported where it is used, so training and the front end run where it is not installed
# (a GPU machine that gets only the preprocessed cache, say).

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"}


def is_video_file(path: str | os.PathLike) -> bool:
    """Whether a driving input is read as a video (by its name, before anything is opened)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: Fraction
    num_frames: int  # from the container; 0 when it does not say
    has_audio: bool


def _open(path: Path) -> "av.container.InputContainer":
    import av

    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise InputError(f"{path}: not a readable video ({exc.strerror or exc})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: has no video stream")
    return container


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Read a video's size, frame rate, frame count and whether it has audio."""
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        return VideoInfo(path=path, width=stream.codec_context.width,
                         height=stream.codec_context.height, fps=Fraction(fps),
                         num_frames=int(stream.frames or 0), has_audio=bool(container.streams.audio))


def iter_video_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield every frame of a video as (H, W, 3) uint8 RGB, upright per the stream's rotation.

    Raises:
        InputError: the file cannot be opened, or decoding fails (names the frame), or it has no frame.
    """
    for frame, _ in iter_video_timed(path):
        yield frame


def iter_video_timed(path: str | os.PathLike) -> Iterator[tuple[np.ndarray, float]]:
    """``iter_video_frames`` with each frame's presentation time in seconds from the first (a
    frame without a timestamp: one average frame interval after the one before)."""
    import av
    from av.video.reformatter import VideoReformatter

    path = Path(path)
    # one converter to RGB for the whole video, on the calling thread: ``frame.to_ndarray``
    # makes a new one per frame, and each started swscale's threads anew (two a frame here,
    # 0.6 -> 0.16 ms of CPU a 512 px frame, the same pixels)
    to_rgb = VideoReformatter()
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1 / float(stream.average_rate or stream.guessed_rate or 25)
        index, start, time = 0, None, -step
        try:
            for frame in container.decode(stream):
                rgb = to_rgb.reformat(frame, format="rgb24", threads=1).to_ndarray()
                rotation = int(getattr(frame, "rotation", 0) or 0) % 360
                if rotation:
                    rgb = np.ascontiguousarray(np.rot90(rgb, k=rotation // 90))
                if frame.pts is None or frame.time_base is None:
                    time += step
                else:
                    pts = float(frame.pts * frame.time_base)
                    start = pts if start is None else start
                    time = pts - start
                yield rgb, time
                index += 1
        except av.error.FFmpegError as exc:
            raise InputError(f"{path}: frame {index}: cannot decode ({exc.strerror or exc})") from None
        if index == 0:
            raise InputError(f"{path}: the video has no decodable frame (truncated or corrupt)")


class TimedFrames:
    """A video's frames for one pass (``for frame in TimedFrames(path)``); ``times`` fills with
    each frame's time in seconds as it is read (from any thread)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.times: list[float] = []

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame, time in iter_video_timed(self.path):
            self.times.append(time)
            yield frame


VARIABLE_RATE = 0.25  # a frame interval this far (a share) from the median one: variable frame rate
TIMED_BASE = Fraction(1, 90000)  # the time base of a video written with given frame times


def variable_rate(times) -> tuple[float, float] | None:
    """(lowest, highest) frame rate when the intervals between frames vary by more than
    VARIABLE_RATE of the median one (a screen recording, a phone's video); None when constant."""
    if times is None or len(times) < 3:
        return None
    steps = np.diff(np.asarray(times, dtype=np.float64))
    median = float(np.median(steps))
    if median <= 0 or np.all(np.abs(steps - median) <= VARIABLE_RATE * median):
        return None
    steps = steps[steps > 0]
    return 1 / float(steps.max()), 1 / float(steps.min())


class VideoWriter:
    """Encode RGB frames to an H.264 mp4, atomically; optionally mux the audio of ``audio_from``.

    Use as a context manager: the file appears at ``path`` only if the block finishes without error.
    ``timed``: every ``write`` gives its frame's time (seconds), kept in the file (variable frame
    rate); otherwise frames follow each other at ``fps``.
    """

    def __init__(self, path: str | os.PathLike, fps: Fraction | float, *,
                 audio_from: str | os.PathLike | None = None, crf: int = 18,
                 timed: bool = False, marking=None) -> None:
        self.path = Path(path)
        self.marking = marking  # a reenact.io.marking.Marking: the container's tags, the watermark
        self.fps = Fraction(fps).limit_denominator(1001)
        self.audio_from = Path(audio_from) if audio_from else None
        self.crf = crf
        self.timed = timed
        self._last_pts = -1  # timed: the last frame's pts, in TIMED_BASE
        self.duration = 0.0  # seconds of video written (the audio is cut there)
        self._atomic = None
        self._container = None
        self._stream = None
        self._audio_src = None
        self._audio_out = None
        self.frames_written = 0
        self._queue: queue.Queue | None = None  # frames for the encoding thread
        self._encoder: threading.Thread | None = None
        self._failure: BaseException | None = None  # what stopped the encoding thread

    def __enter__(self) -> "VideoWriter":
        import av

        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        try:
            self._container = av.open(str(tmp), mode="w", format="mp4")
            if self.marking is not None:
                self._container.metadata.update(self.marking.video_tags())
        except BaseException as exc:  # SIGTERM or Ctrl-C here: no __exit__ would remove the
            # part file, which had just appeared
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def write(self, frame: np.ndarray, time: float | None = None, owned: bool = False) -> None:
        """Append one (H, W, 3) uint8 RGB frame; H and W must stay constant. ``time``: its
        presentation time in seconds (required when ``timed``, else ignored). The frame is
        encoded later, in the writer's thread, from a copy; ``owned``: the caller hands the
        array over and never changes it again (``Reenactor.run``'s frames, each a new array), so
        it is not copied (0.1 ms of the frames' thread a 512 px frame)."""
        if self.timed and time is None:
            raise ValueError("a timed VideoWriter needs each frame's time")
        if self._stream is None:
            h, w = frame.shape[:2]
            self._stream = self._container.add_stream("libx264", rate=self.fps)
            if self.timed:
                self._stream.codec_context.time_base = TIMED_BASE
                self._stream.time_base = TIMED_BASE
            self._stream.width, self._stream.height = w - w % 2, h - h % 2
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf), "preset": "veryfast"}
            self._add_audio_stream()  # every stream must exist before the first packet is muxed
            # the watermark and the encoding run in a thread of their own: the caller makes the
            # next frame meanwhile (they release the GIL)
            self._queue = queue.Queue(maxsize=4)
            self._encoder = threading.Thread(target=self._encode_frames, name="reenact-encode",
                                             daemon=True)
            self._encoder.start()
        self._raise_failure()
        pts = None
        if self.timed:  # strictly increasing, as the encoder requires
            self._last_pts = pts = max(round(time / TIMED_BASE), self._last_pts + 1)
            self.duration = float(self._last_pts * TIMED_BASE) + 1 / float(self.fps)
        else:
            self.duration = (self.frames_written + 1) / float(self.fps)
        w, h = self._stream.width, self._stream.height
        # a copy, unless handed over: the caller may reuse its array
        frame = np.ascontiguousarray(frame[:h, :w]) if owned else np.array(frame[:h, :w])
        while True:
            try:
                self._queue.put((frame, pts), timeout=0.1)
                break
            except queue.Full:
                self._raise_failure()
        self.frames_written += 1

    def _encode_frames(self) -> None:
        """The encoding thread: each queued (frame, pts) watermarked, encoded and muxed, until
        None; the first error is kept for the writer's thread to raise."""
        import av

        lower_priority()  # libx264's threads, started by the first frame, inherit it
        # the frame's own memory, not a copy (60 us of this thread a 512 px frame, with the GIL
        # held): the queued arrays are the writer's, and the AVFrame holds a reference to its array
        wrap = getattr(av.VideoFrame, "from_numpy_buffer", av.VideoFrame.from_ndarray)
        while (item := self._queue.get()) is not None:
            if self._failure is not None:
                continue  # drain: the writer raises it
            frame, pts = item
            try:
                if self.marking is not None:
                    frame = self.marking.watermarked(frame)
                video_frame = wrap(np.ascontiguousarray(frame), format="rgb24")
                if pts is not None:
                    video_frame.pts, video_frame.time_base = pts, TIMED_BASE
                for packet in self._stream.encode(video_frame):
                    self._container.mux(packet)
            except BaseException as exc:  # noqa: BLE001 - raised in the writer's thread
                self._failure = exc

    def _raise_failure(self) -> None:
        if self._failure is not None:
            with self._writing():
                raise self._failure

    def _finish_encoding(self) -> None:
        """Wait for the encoding thread to take every queued frame (stopped, on an error)."""
        if self._encoder is not None and self._encoder.is_alive():
            self._queue.put(None)
            self._encoder.join()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A failed write (a full disk, a folder gone read-only) names the user's path, not the
        hidden part file."""
        try:
            yield
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise InputError(f"{self.path}: cannot write the video ({reason})") from None

    def _add_audio_stream(self) -> None:
        if self.audio_from is None:
            return
        import av

        self._audio_src = av.open(str(self.audio_from))
        if self._audio_src.streams.audio:
            self._audio_out = self._container.add_stream_from_template(
                self._audio_src.streams.audio[0])

    def _mux_audio(self) -> None:
        in_audio = self._audio_src.streams.audio[0]
        duration = self.duration
        for packet in self._audio_src.demux(in_audio):
            if packet.dts is None:
                continue
            if packet.pts is not None and float(packet.pts * in_audio.time_base) > duration:
                break
            packet.stream = self._audio_out
            self._container.mux(packet)

    def __exit__(self, exc_type, exc, tb) -> None:
        failed = exc
        try:
            self._finish_encoding()
            if exc_type is None:
                if self._stream is None:
                    raise InputError(f"{self.path}: no frame to write")
                self._raise_failure()
                with self._writing():
                    for packet in self._stream.encode():
                        self._container.mux(packet)
                    if self._audio_out is not None:
                        self._mux_audio()
                    self._container.close()
        except BaseException as e:
            failed = e  # the part file must go, not be renamed into place
            raise
        finally:
            with contextlib.suppress(Exception):
                self._container.close()  # closed already on success; again is harmless
            if self._audio_src is not None:
                self._audio_src.close()
            if failed is None:
                with self._writing():
                    self._atomic.__exit__(None, None, None)
            else:
                self._atomic.__exit__(type(failed), failed, failed.__traceback__)
