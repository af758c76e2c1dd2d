"""``reenact ui``: a Gradio page. Upload a photo and a driving image or video (or take the bundled
examples) and get the re-enacted result to watch and download; or animate the photo live from the
browser's camera.

Both tabs run the code of the command line: ``write_animation`` (``reenact animate``'s writer) and
``LiveLoop`` (``reenact live``'s loop). A photo's preparation is cached by its content, so a
second driver for the same photo starts at once. Runs on 127.0.0.1 unless ``--host`` says
otherwise; no public link unless ``--share``.
"""

import contextlib
import hashlib
import io
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reenact.app.animate import check_paths, reference_note, turned_note, write_animation
from reenact.app.live import LiveLoop
from reenact.config import AnimateConfig
from reenact.io import InputError, read_image
from reenact.io.marking import marking
from reenact.io.native_log import native_stderr_to
from reenact.io.samples import sample_image_path
from reenact.pipeline import Reenactor, Source

TRANSFERS = {"pose and expression": {}, "pose only": {"pose_only": True},
             "expression only": {"expression_only": True}}
MOTIONS = {"auto (relative for videos, absolute for images)": None,
           "relative": "relative", "absolute": "absolute"}
CACHED_PHOTOS = 8  # prepared photos kept in memory (about 10 MB each at 512)
LIVE_IDLE = 5.0  # seconds without a webcam frame after which a session's loop ends
LIVE_WAIT = 0.2  # seconds a webcam frame waits for a newer result before the last is returned


class SourceCache:
    """Prepared photos by content and the options that shape the preparation (crop size, face):
    a second driver for the same photo skips tracking, segmentation and the background fill."""

    def __init__(self, size: int = CACHED_PHOTOS):
        self._items: OrderedDict[tuple, Source] = OrderedDict()
        self._lock = threading.Lock()
        self.size = size

    def get(self, path: str | Path, config: AnimateConfig) -> tuple[Source, bool]:
        """(the prepared photo, whether it came from the cache)."""
        data = Path(path).read_bytes()
        key = (hashlib.sha256(data).hexdigest(), config.size, config.margin, config.face_index)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key], True
        source = Reenactor(config).prepare_source(path, name=Path(path).name)
        with self._lock:
            self._items[key] = source
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return source, False


@dataclass
class LiveSession:
    loop: LiveLoop
    key: tuple  # the photo and options it runs with
    last: int = -1  # the number of the last result returned to the page


class App:
    """The page's handlers, with their state: the photo cache and the webcam sessions."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        self.sources = SourceCache()
        self.sessions: dict[str, LiveSession] = {}
        self._lock = threading.Lock()

    # -- the upload tab -----------------------------------------------------------------------
    def animate(self, photo: str | None, driver: str | None, motion: str, alpha: float,
                transfer: str, size: str, crop_only: bool, side_by_side: bool,
                progress=None):
        """Run one photo and driver; returns (image or None, video or None, the file, notes)."""
        import gradio as gr

        if not photo:
            raise gr.Error("choose a photo (or click the example below)")
        if not driver:
            raise gr.Error("choose a driving image or video (or click the example below)")
        try:
            return self._animate(Path(photo), Path(driver), motion, alpha, transfer, size,
                                 crop_only, side_by_side, progress)
        except (InputError, ValueError, FileNotFoundError) as exc:
            message = str(exc)
            for upload in (Path(photo), Path(driver)):  # the user's file name, not Gradio's copy
                message = message.replace(str(upload), upload.name)
            raise gr.Error(message, print_exception=False) from None
        except Exception as exc:  # noqa: BLE001 - one line on the page, never a traceback
            raise gr.Error(f"unexpected error ({type(exc).__name__}): {exc}",
                           print_exception=False) from None

    def _animate(self, photo: Path, driver: Path, motion: str, alpha: float, transfer: str,
                 size: str, crop_only: bool, side_by_side: bool, progress):
        config = AnimateConfig(size=int(size), motion=MOTIONS[motion], alpha=float(alpha),
                               crop_only=bool(crop_only), side_by_side=bool(side_by_side),
                               **TRANSFERS[transfer])
        job = Path(tempfile.mkdtemp(dir=self.out_dir))
        from reenact.io.video import is_video_file

        out = job / f"reenacted{'.mp4' if is_video_file(driver) else '.png'}"
        check_paths(photo, driver, out, overwrite=False)
        notes = io.StringIO()
        started = time.perf_counter()
        if progress is not None:
            progress(0.0, desc="preparing the photo")
        src, cached = self.sources.get(photo, config)
        reenactor = Reenactor(config)
        notes.write(f"photo {'from the cache' if cached else 'prepared'}"
                    f" ({time.perf_counter() - started:.1f} s)\n")
        if (note := turned_note(src)) is not None:
            notes.write(note + "\n")
        driving = reenactor.open_driving(src, driver)
        if (note := reference_note(reenactor, driving)) is not None:
            notes.write(note + "\n")

        def step(done: int, total: int) -> None:
            if progress is not None and total:
                progress((min(done, total), total), desc="animating", unit="frames")

        with open(os.devnull, "w") as quiet:  # no console progress bar: the page shows one
            for note in write_animation(reenactor, src, driving, out, quiet, step):
                notes.write(note + "\n")
        notes.write(f"done in {time.perf_counter() - started:.1f} s")
        is_video = out.suffix == ".mp4"
        return (None if is_video else str(out), str(out) if is_video else None, str(out),
                notes.getvalue())

    # -- the webcam tab -----------------------------------------------------------------------
    def live(self, photo: str | None, frame: np.ndarray | None, size: str, crop_only: bool,
             request=None):
        """One webcam frame in, the newest re-enacted frame and the figures out."""
        import gradio as gr

        if frame is None:
            return gr.skip(), gr.skip()
        if not photo:
            return gr.skip(), "choose a photo first"
        session_id = getattr(request, "session_hash", None) or "local"
        try:
            session = self._session(session_id, Path(photo), int(size), bool(crop_only))
        except (InputError, ValueError) as exc:
            return gr.skip(), f"**{exc}**"
        session.loop.submit(np.ascontiguousarray(frame[..., :3]))
        newest = session.loop.newest(session.last, LIVE_WAIT)
        if session.loop.error is not None:
            return gr.skip(), f"**{session.loop.error}**"
        if newest is None:
            return gr.skip(), "starting..."
        session.last = newest[0]
        figures = session.loop.stats.figures(time.perf_counter() - 3.0)
        frames = session.loop.frames
        dropped = frames.dropped / frames.submitted if frames.submitted else 0.0
        return newest[1].image, (
            f"{figures['fps']:.1f} frames a second, latency p50 {figures['p50_ms']:.0f} ms "
            f"(arrival at the server to result), {dropped:.0%} of camera frames dropped")

    def _session(self, session_id: str, photo: Path, size: int, crop_only: bool) -> LiveSession:
        config = AnimateConfig(size=size, crop_only=crop_only)
        key = (photo.stat().st_size, str(photo), size, crop_only)
        with self._lock:
            for gone in [k for k, v in self.sessions.items() if not v.loop.alive]:
                del self.sessions[gone]  # ended by themselves (idle): let their photos go
            session = self.sessions.get(session_id)
            if session is not None and session.key == key and session.loop.alive:
                return session
            if session is not None:
                session.loop.close()
            src, _ = self.sources.get(photo, config)
            # watermarked like every output: the page's frames can be recorded from the screen
            loop = LiveLoop(Reenactor(config), src, fps=25.0, idle=LIVE_IDLE,
                            mark=marking(config.model))
            session = LiveSession(loop, key)
            self.sessions[session_id] = session
            return session


def _upload_path(value) -> str | None:
    """The file path of an upload as an event receives it without preprocessing (a FileData
    dict or object, or a path already)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("path")
    return getattr(value, "path", None)


def build_page(app: App):
    """The Gradio Blocks page."""
    import gradio as gr

    astronaut, hopper = sample_image_path("astronaut"), sample_image_path("grace_hopper")
    with gr.Blocks(title="reenact", analytics_enabled=False) as page:
        gr.Markdown("# reenact\nAnimate one photo with the head pose and expression of another "
                    "face: a driving image, a video, or your webcam. Runs on this computer's "
                    "CPU; nothing is uploaded anywhere else. Every output is a synthetic image "
                    "of the photo's person: use it only with their consent.")
        with gr.Tab("Photo + driver"):
            with gr.Row():
                photo = gr.Image(type="filepath", label="Photo (the identity)",
                                 sources=["upload", "clipboard"], elem_id="photo", height=360)
                driver = gr.File(label="Driving image or video (the motion)",
                                 file_types=["image", "video"], elem_id="driver")
            gr.Examples([[astronaut, hopper]], [photo, driver],
                        label="Example: the astronaut driven by Grace Hopper")
            with gr.Accordion("Options", open=False):
                with gr.Row():
                    motion = gr.Dropdown(list(MOTIONS), value=next(iter(MOTIONS)),
                                         label="Motion")
                    transfer = gr.Radio(list(TRANSFERS), value="pose and expression",
                                        label="Transfer")
                with gr.Row():
                    alpha = gr.Slider(0.0, 1.0, value=1.0, step=0.05,
                                      label="Strength (0: the photo's own pose, 1: the driver's)")
                    size = gr.Radio(["256", "512"], value="256", label="Face crop size")
                with gr.Row():
                    crop_only = gr.Checkbox(False, label="Face crop only")
                    side_by_side = gr.Checkbox(False, label="Side by side (photo | driver | "
                                                           "result)")
            run = gr.Button("Animate", variant="primary", elem_id="run")
            with gr.Row():
                image_out = gr.Image(label="Result", format="png", interactive=False,
                                     elem_id="result-image", height=480)
                video_out = gr.Video(label="Result", interactive=False, elem_id="result-video",
                                     visible=False, height=480)
            with gr.Row():
                file_out = gr.File(label="Download", interactive=False, elem_id="download")
                notes = gr.Textbox(label="Notes", lines=3, interactive=False, elem_id="notes")

            def animate(photo, driver, motion, alpha, transfer, size, crop_only, side_by_side,
                        progress=gr.Progress()):  # noqa: B008 - Gradio's way to ask for one
                # the uploads arrive as files, unread (preprocess=False): a photo Gradio cannot
                # decode gets our one-line message, not Gradio's "could not preprocess"
                image, video, file, notes = app.animate(
                    _upload_path(photo), _upload_path(driver), motion, alpha, transfer, size,
                    crop_only, side_by_side, progress)
                return (gr.update(value=image, visible=video is None),
                        gr.update(value=video, visible=video is not None), file, notes)

            run.click(animate, [photo, driver, motion, alpha, transfer, size, crop_only,
                                side_by_side], [image_out, video_out, file_out, notes],
                      concurrency_id="animate", concurrency_limit=1, preprocess=False,
                      show_progress_on=[image_out, video_out])
        with gr.Tab("Webcam"):
            gr.Markdown("Start the camera, then press record: your head pose and expression "
                        "move the photo. The newest frame is always shown; frames the CPU "
                        "cannot keep up with are dropped.")
            with gr.Row():
                live_photo = gr.Image(type="filepath", value=astronaut, label="Photo",
                                      sources=["upload", "clipboard"], elem_id="live-photo",
                                      height=360)
                # 640 x 480 is ample for a face crop of 256 or 512 and a fraction of what a 720p
                # webcam would send, encode and decode per frame
                camera = gr.Image(sources=["webcam"], streaming=True, label="Your camera",
                                  elem_id="camera", webcam_options=gr.WebcamOptions(
                                      constraints={"video": {"width": {"ideal": 640},
                                                             "height": {"ideal": 480}}}))
                # JPEG: a fifth of a PNG's encoding time per frame, on the CPU the loop needs
                live_out = gr.Image(label="Re-enacted", interactive=False, elem_id="live-result",
                                    format="jpeg")
            with gr.Row():
                live_size = gr.Radio(["256", "512"], value="256", label="Face crop size")
                live_crop = gr.Checkbox(True, label="Face crop only")
            rate = gr.Markdown(elem_id="live-rate")

            # the photo's path, checked when it is chosen (the upload unread by Gradio, so a
            # picture it cannot decode gets our one line, not "could not preprocess")
            live_path = gr.State(astronaut)

            def choose(photo):
                path = _upload_path(photo)
                if not path:
                    return None, "choose a photo"
                try:
                    read_image(path)
                except InputError as exc:
                    return None, f"**{str(exc).replace(str(Path(path)), Path(path).name)}**"
                return path, ""

            live_photo.change(choose, live_photo, [live_path, rate], preprocess=False)

            def live(photo, frame, size, crop_only, request: gr.Request):
                return app.live(photo, frame, size, crop_only, request)

            camera.stream(live, [live_path, camera, live_size, live_crop], [live_out, rate],
                          stream_every=0.04, time_limit=600, concurrency_id="webcam",
                          concurrency_limit=4, show_progress="hidden")
    return page


def run_ui(args) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise InputError("reenact ui needs Gradio: pip install 'reenact[ui]' (or gradio)") \
            from None
    if args.max_upload_mb <= 0:
        raise InputError(f"--max-upload-mb must be positive, got {args.max_upload_mb:g}")
    out_dir = Path(tempfile.mkdtemp(prefix="reenact-ui-"))
    app = App(out_dir)
    page = build_page(app)
    page.queue(default_concurrency_limit=1, max_size=64)
    samples = {str(Path(sample_image_path(n)).parent) for n in ("astronaut", "grace_hopper")}
    # mediapipe's native console lines (one per webcam session) would bury the server's own;
    # --debug keeps them
    with contextlib.ExitStack() as stack:
        console = sys.stderr if getattr(args, "debug", False) else \
            stack.enter_context(native_stderr_to(os.devnull))
        _serve(page, app, args, samples, console)


def _serve(page, app: App, args, samples: set[str], console) -> None:
    try:
        page.launch(server_name=args.host, server_port=args.port, share=args.share,
                    max_file_size=f"{args.max_upload_mb:g}mb", allowed_paths=sorted(samples),
                    ssr_mode=False, show_error=True, quiet=True, prevent_thread_lock=True,
                    inbrowser=False)
        print(f"reenact ui: serving on {page.local_url} (Ctrl-C stops)", file=console,
              flush=True)
        if args.share and page.share_url:
            print(f"reenact ui: public link {page.share_url}", file=console, flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:  # how the page is stopped: not an interrupted job
        print("reenact ui: stopped", file=console)
    except OSError as exc:  # the port is taken, the address cannot be bound
        raise InputError(f"--host {args.host} --port {args.port}: cannot serve there "
                         f"({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(Exception):
            page.close()
        for session in app.sessions.values():
            session.loop.close()
        shutil.rmtree(app.out_dir, ignore_errors=True)
