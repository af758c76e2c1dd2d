"""``reenact live`` and the web page's webcam tab: a camera's frames re-enacted as they come.

Both run ``Reenactor.run`` (the frame path of ``animate``) on ``LatestFrames``: a driving input
that always hands over the newest camera frame and drops the ones the loop could not take in time,
so the output stays live instead of falling behind. ``LiveStats`` measures frames a second and the
latency from capture to display.
"""

import contextlib
import dataclasses
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from reenact.config import AnimateConfig
from reenact.io import InputError, VideoWriter
from reenact.io.marking import Marking, marking
from reenact.io.video import is_video_file
from reenact.pipeline import Driving, Frame, Reenactor, Source

STATS_WINDOW = 5.0  # seconds of frames behind each periodic line


class LatestFrames:
    """A live driving input (``Driving.frames``). ``submit`` hands over a camera frame, replacing
    one not yet taken (counted in ``dropped``); iterating waits for and takes the newest. Ends after
    ``close``, once the frame waiting has been taken, or after ``idle`` seconds without a frame.
    ``times``: each taken frame's capture time in seconds since ``start`` (``Driving.times``)."""

    def __init__(self, idle: float | None = None):
        self._cond = threading.Condition()
        self._pending: tuple[np.ndarray, float] | None = None
        self._closed = False
        self._idle = idle
        self.start = time.perf_counter()
        self.times: list[float] = []
        self.submitted = 0
        self.dropped = 0

    def submit(self, frame: np.ndarray, captured: float | None = None) -> bool:
        """Hand over a frame ((H, W, 3) uint8 RGB) captured at ``captured`` (perf_counter, default
        now); False once closed."""
        captured = time.perf_counter() if captured is None else captured
        with self._cond:
            if self._closed:
                return False
            self.dropped += self._pending is not None
            self._pending = (frame, captured)
            self.submitted += 1
            self._cond.notify_all()
        return True

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            with self._cond:
                waited = time.perf_counter()
                while self._pending is None and not self._closed:
                    self._cond.wait(timeout=0.1)
                    if self._idle is not None and time.perf_counter() - waited > self._idle:
                        self._closed = True
                if self._pending is None:
                    return
                frame, captured = self._pending
                self._pending = None
            self.times.append(captured - self.start)
            yield frame


class LiveStats:
    """Frames shown and their latency (capture to display), overall and over the last window."""

    def __init__(self) -> None:
        self.shown: list[float] = []  # perf_counter when each frame was shown
        self.latency: list[float] = []  # seconds

    def add(self, shown: float, latency: float) -> None:
        self.shown.append(shown)
        self.latency.append(latency)

    def figures(self, since: float | None = None) -> dict[str, float]:
        """fps, latency p50 and p95 (ms) of the frames shown after ``since`` (default all)."""
        first = 0 if since is None else int(np.searchsorted(self.shown, since))
        shown, latency = self.shown[first:], self.latency[first:]
        if len(shown) < 2:
            return {"frames": len(shown), "fps": 0.0, "p50_ms": float("nan"),
                    "p95_ms": float("nan")}
        p50, p95 = np.percentile(np.asarray(latency) * 1000, [50, 95])
        return {"frames": len(shown), "fps": (len(shown) - 1) / (shown[-1] - shown[0]),
                "p50_ms": float(p50), "p95_ms": float(p95)}

    def line(self, frames: LatestFrames, since: float | None = None) -> str:
        f = self.figures(since)
        drop = frames.dropped / frames.submitted if frames.submitted else 0.0
        return (f"{f['fps']:.1f} fps, latency p50 {f['p50_ms']:.0f} ms, p95 {f['p95_ms']:.0f} ms "
                f"(capture to display), {drop:.0%} of {frames.submitted} camera frames dropped")


def live_frames(reenactor: Reenactor, source: Source, frames: LatestFrames, fps: float,
                name: str, stats: LiveStats, mark: Marking | None = None) -> Iterator[Frame]:
    """``Reenactor.run`` on a live input: each finished frame, its latency recorded in ``stats``
    when the caller comes back for the next one (after showing this one). ``mark``: its
    watermark is put in each frame here, once, for every place the frame goes."""
    driving = Driving(frames, True, fps, None, name, live=True)
    for frame in reenactor.run(source, driving):
        if mark is not None and mark.watermark:
            frame = dataclasses.replace(frame, image=mark.watermarked(frame.image))
        yield frame
        now = time.perf_counter()
        stats.add(now, now - (frames.start + frame.time))


class LiveLoop:
    """``live_frames`` in a background thread, for a caller that hands frames in and takes the
    newest result out (the web page's webcam stream). Ends by itself ``idle`` seconds after the
    last frame."""

    def __init__(self, reenactor: Reenactor, source: Source, fps: float = 30.0,
                 name: str = "webcam", idle: float = 5.0, mark: Marking | None = None):
        self.frames = LatestFrames(idle)
        self.stats = LiveStats()
        self.error: Exception | None = None
        self._cond = threading.Condition()
        self._newest: tuple[int, Frame] | None = None
        self._thread = threading.Thread(
            target=self._run, args=(reenactor, source, fps, name, mark), name="reenact-live",
            daemon=True)
        self._thread.start()

    def _run(self, reenactor: Reenactor, source: Source, fps: float, name: str,
             mark: Marking | None) -> None:
        try:
            for i, frame in enumerate(live_frames(reenactor, source, self.frames, fps, name,
                                                  self.stats, mark)):
                with self._cond:
                    self._newest = (i, frame)
                    self._cond.notify_all()
        except Exception as exc:  # noqa: BLE001 - shown to the page's user, not raised here
            self.error = exc
        finally:
            self.frames.close()
            with self._cond:
                self._cond.notify_all()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, frame: np.ndarray) -> None:
        self.frames.submit(frame)

    def newest(self, after: int = -1, timeout: float = 0.0) -> tuple[int, Frame] | None:
        """The newest finished frame (its number, the frame), waiting up to ``timeout`` seconds
        for one newer than number ``after``; None before the first."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while (self._newest is None or self._newest[0] <= after) and self.alive:
                left = deadline - time.perf_counter()
                if left <= 0:
                    break
                self._cond.wait(left)
            return self._newest

    def close(self) -> None:
        self.frames.close()
        self._thread.join(timeout=5)


# -- cameras ----------------------------------------------------------------------------------
class Camera:
    """Captures frames in a background thread into ``LatestFrames``; ``fps`` its rate."""

    name: str
    fps: float

    def __init__(self) -> None:
        self.error: Exception | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, frames: LatestFrames) -> None:
        def capture() -> None:
            try:
                self._capture(frames)
            except Exception as exc:  # noqa: BLE001 - re-raised by the loop's owner
                self.error = exc
            finally:
                frames.close()

        self._thread = threading.Thread(target=capture, name="reenact-camera", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _capture(self, frames: LatestFrames) -> None:
        raise NotImplementedError


class FileCamera(Camera):
    """A video file played at its own rate, as a camera would deliver it (frames the loop misses
    are dropped, not waited for)."""

    def __init__(self, path: Path):
        super().__init__()
        from reenact.io import probe_video

        if path.is_dir():
            raise InputError(f"{path}: is a folder; give a camera number or a video file")
        if not path.is_file():
            raise InputError(f"{path}: no such file (--camera takes a camera number or a video "
                             f"file)")
        if not is_video_file(path):
            raise InputError(f"{path}: not a video file (--camera takes a camera number or a "
                             f"video file)")
        self.path, self.name = path, str(path)
        self.fps = float(probe_video(path).fps)

    def _capture(self, frames: LatestFrames) -> None:
        from reenact.io.video import iter_video_timed

        start = time.perf_counter()
        for frame, t in iter_video_timed(self.path):
            if self._stop.is_set():
                return
            delay = start + t - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            frames.submit(frame)


class DeviceCamera(Camera):
    """A local camera through OpenCV."""

    def __init__(self, index: int):
        super().__init__()
        import cv2

        self.name = f"camera {index}"
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            raise InputError(f"camera {index}: cannot be opened (no such camera, or it is in "
                             f"use; --camera also takes a video file)")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0) or 30.0

    def _capture(self, frames: LatestFrames) -> None:
        import cv2

        try:
            while not self._stop.is_set():
                ok, bgr = self._cap.read()
                if not ok:
                    raise InputError(f"{self.name}: stopped delivering frames")
                frames.submit(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        finally:
            self._cap.release()


def open_camera(spec: str) -> Camera:
    """``--camera``: a number is a local camera, anything else a video file."""
    return DeviceCamera(int(spec)) if spec.isdigit() else FileCamera(Path(spec))


# -- outputs ----------------------------------------------------------------------------------
class Window:
    """``--show``: an OpenCV window; q or Esc ends the loop."""

    TITLE = "reenact live (q to quit)"

    def __init__(self) -> None:
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or
                                                     os.environ.get("WAYLAND_DISPLAY")):
            raise InputError("--show: no display here (DISPLAY is not set); write a file with "
                             "--out instead")

    def show(self, image: np.ndarray) -> bool:
        """Show a frame; False when the user asked to quit."""
        import cv2

        cv2.imshow(self.TITLE, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        return cv2.waitKey(1) & 0xFF not in (ord("q"), 27)

    def close(self) -> None:
        import cv2

        cv2.destroyAllWindows()


class VirtualCamera:
    """``--virtual-camera``: frames to a virtual camera device (pyvirtualcam: v4l2loopback on
    Linux, OBS's on Windows and macOS), opened with the first frame's size."""

    def __init__(self, fps: float):
        try:
            import pyvirtualcam  # noqa: F401 - checked before the loop starts
        except ImportError:
            raise InputError("--virtual-camera needs pyvirtualcam (pip install pyvirtualcam) and "
                             "a virtual camera device") from None
        self.fps, self._cam = fps, None

    def send(self, image: np.ndarray) -> None:
        import pyvirtualcam

        if self._cam is None:
            h, w = image.shape[:2]
            try:
                self._cam = pyvirtualcam.Camera(width=w, height=h, fps=self.fps,
                                                fmt=pyvirtualcam.PixelFormat.RGB)
            except Exception as exc:  # noqa: BLE001 - pyvirtualcam raises RuntimeError & co.
                raise InputError(f"--virtual-camera: no virtual camera device to write to "
                                 f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                                 ) from None
        self._cam.send(np.ascontiguousarray(image))

    def close(self) -> None:
        if self._cam is not None:
            self._cam.close()


# -- the command ------------------------------------------------------------------------------
def run_live(args, config: AnimateConfig) -> None:
    from reenact.app.animate import check_writable, signing_key, watermark_wanted
    from reenact.io.native_log import native_stderr_to

    if not (args.show or args.virtual_camera or args.out):
        raise InputError("choose where the frames go: --show (a window), --virtual-camera "
                         "and/or --out FILE.mp4")
    source = Path(args.source)
    if not source.is_file():
        raise InputError(f"{source}: no such file")
    out = Path(args.out) if args.out else None
    if out is not None:
        if out.suffix.lower() != ".mp4":
            raise InputError(f"{out}: name the output .mp4")
        if out.exists() and not args.overwrite:
            raise InputError(f"{out}: already exists (pass --overwrite to replace it)")
        check_writable(out)
    if out is None and (args.sign_key or args.sign_cert):
        raise InputError("--sign-key signs the file of --out; give one")
    signing = signing_key(args)
    watermark = watermark_wanted(args)
    camera = open_camera(args.camera)
    window = Window() if args.show else None
    virtual = VirtualCamera(camera.fps) if args.virtual_camera else None
    # mediapipe's native console lines would run through the live figures (--debug keeps them)
    with contextlib.ExitStack() as stack:
        console = sys.stderr if args.debug else stack.enter_context(native_stderr_to(os.devnull))
        reenactor = Reenactor(config)
        src = reenactor.prepare_source(source)
        mark = marking(config.model, watermark=watermark)  # every output says it is synthetic
        ended, frames, stats = _loop(reenactor, src, camera, out, window, virtual, args,
                                     console, mark)
        print(f"live: {ended}; {stats.line(frames)} over {len(stats.shown)} frames",
              file=console)
        if out is not None:
            if signing is not None:
                from reenact.io.credentials import sign

                sign(out, signing, mark)
            print(f"wrote {out}", file=console)


def _loop(reenactor: Reenactor, src: Source, camera: Camera, out: Path | None,
          window: Window | None, virtual: VirtualCamera | None, args, console, mark
          ) -> tuple[str, LatestFrames, LiveStats]:
    """Frames from the camera to the outputs until it ends, the user quits or --seconds; returns
    why it ended, the input and the figures."""
    frames, stats = LatestFrames(), LiveStats()
    ended = "the camera ended"
    print(f"live: {src.name} driven by {camera.name}; Ctrl-C ends", file=console)
    every, seconds = args.stats_every, args.seconds
    # the writer's part file is renamed into place when the loop ends (Ctrl-C included) and
    # taken away when it fails (the camera's error included)
    with contextlib.ExitStack() as stack:
        # the frames come watermarked (once, for every sink); the writer adds the metadata
        writer = None if out is None else stack.enter_context(VideoWriter(
            out, camera.fps, timed=True, marking=dataclasses.replace(mark, watermark=False)))
        try:
            camera.start(frames)
            last_line = time.perf_counter()
            for frame in live_frames(reenactor, src, frames, camera.fps, camera.name, stats,
                                     mark):
                if writer is not None:
                    writer.write(frame.image, frame.time)
                if virtual is not None:
                    virtual.send(frame.image)
                if window is not None and not window.show(frame.image):
                    ended = "closed by the user"
                    break
                now = time.perf_counter()
                if every > 0 and now - last_line >= every:
                    print(f"live: {stats.line(frames, now - every)}", file=console)
                    last_line = now
                if seconds and now - frames.start >= seconds:
                    ended = f"--seconds {seconds:g} reached"
                    break
        except KeyboardInterrupt:  # Ctrl-C (or SIGTERM) is how a live run ends: keep the file
            ended = "interrupted"
        finally:
            camera.stop()
            frames.close()
            for sink in (window, virtual):
                if sink is not None:
                    sink.close()
        if camera.error is not None:
            raise camera.error
    return ended, frames, stats
