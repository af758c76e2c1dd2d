"""Command line: ``reenact animate``, ``live``, ``ui``, ``serve``, ``verify``, ``demo``,
``preprocess``, ``train``, ``validate``, ``calibrate`` and ``evaluate``.
Everything is built inside ``main()``; user errors print one line naming the file, frame or value
and exit non-zero, never a traceback."""

import argparse
import atexit
import contextlib
import dataclasses
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

EXIT_USAGE, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_TERMINATED = 2, 3, 130, 143
INTERRUPTED = "reenact: interrupted; no partial output was left at the target path"
TERMINATED = "reenact: terminated (SIGTERM); no partial output was left at the target path"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C so that the same clean-up runs (the part
    file removed, the tracking thread stopped)."""


def _raise_terminated(*_) -> None:
    raise Terminated


def _animate_parser(sub) -> None:
    p = sub.add_parser("animate", help="re-enact a source photo with a driving image or video")
    p.add_argument("--source", "-s", required=True, help="source photo (the identity); faces "
                   "from 56 pixels wide are found, anywhere in the picture")
    p.add_argument("--driving", "-d", required=True, help="driving image or video (the motion); "
                   "faces from 56 pixels wide")
    p.add_argument("--out", "-o", required=True, help="output .png/.jpg (image) or .mp4 (video)")
    _options(p)
    p.add_argument("--reference-frame", type=_reference_frame, metavar="auto|N",
                   help="driving frame relative motion starts from: auto (default: the frame "
                        "nearest the photo in head pose and expression, among the first 10 s) "
                        "or a frame index")
    p.add_argument("--detail", action="store_true", default=None,
                   help="also carry the folds the driver's expression makes (frown lines, "
                        "nasolabial folds) onto the photo, as a ratio image; off by default: "
                        "on smooth, young or drawn faces the folds read as marks")
    p.add_argument("--model", choices=("analytic", "dcggan", "meshgcn"),
                   help="analytic warp (default, no weights) or a learned refiner")
    p.add_argument("--checkpoint", help="weights for --model dcggan or meshgcn")
    _face_model_arguments(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--device", help="where a learned refiner runs: cpu (default), cuda, cuda:N "
                   "or mps (the warp itself runs on the CPU)")
    p.add_argument("--no-server", action="store_true",
                   help="run in this process even where `reenact serve` answers")
    _sign_arguments(p)


def _sign_arguments(p) -> None:
    """How the output is marked as synthetic (``animate`` and ``live``)."""
    p.add_argument("--no-watermark", action="store_true",
                   help="research evaluation only: no invisible watermark in the pixels (the "
                        "metadata still says the output is synthetic)")
    p.add_argument("--sign-key", metavar="KEY.pem",
                   help="also embed C2PA content credentials signed with this private key "
                        "(needs --sign-cert and c2pa-python)")
    p.add_argument("--sign-cert", metavar="CERT.pem", help="the key's certificate chain, PEM")


def _options(p) -> None:
    """The AnimateConfig options ``animate`` and ``live`` share."""
    p.add_argument("--config", help="YAML file of AnimateConfig values (flags override it)")
    p.add_argument("--size", type=int, choices=(256, 512), help="crop resolution (default 256)")
    p.add_argument("--face-index", type=int,
                   help="which face of the photo when it has several: 0 = largest "
                        "(the driver's is always its largest)")
    p.add_argument("--motion", choices=("relative", "absolute"),
                   help="expression transfer (default: relative for videos, absolute for images)")
    p.add_argument("--reference-expression", type=float, metavar="0..1",
                   help="relative motion: how much of the reference frame's own expression the "
                        "photo also takes, mouth and eyes (default 0.5: half of an emotion the "
                        "clip holds throughout; 0: only the driver's changes since it; 1: as "
                        "much as absolute motion)")
    p.add_argument("--head-turn", choices=("relative", "absolute"),
                   help="relative motion: the head takes the driver's pose (absolute, default) "
                        "or turns from the photo's own pose as far as the driver turns after the "
                        "reference frame (relative: a turned photo stays turned)")
    p.add_argument("--alpha", type=float, help="0 = source pose/expression, 1 = driver's (default)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--pose-only", action="store_true", default=None, help="transfer pose only")
    g.add_argument("--expression-only", action="store_true", default=None,
                   help="transfer expression only")
    p.add_argument("--crop-only", action="store_true", default=None,
                   help="write the face crop instead of the full source frame")
    p.add_argument("--on-missing-face", choices=("hold", "error"),
                   help="driving frames without a face: hold the last motion (default) or stop")
    p.add_argument("--no-smooth", dest="smooth", action="store_false", default=None,
                   help="no temporal smoothing of the driving motion")
    p.add_argument("--mouth", choices=("driver", "synthetic"),
                   help="inside an opened mouth: the driver's own teeth and tongue, colour-matched "
                        "(default), or synthetic teeth and shadow")
    p.add_argument("--side-by-side", action="store_true", default=None,
                   help="write source | driving | result panels instead of the result alone")


def _live_parser(sub) -> None:
    p = sub.add_parser("live", help="re-enact a photo with a camera (or a video file played as "
                       "one), live: to a window, a virtual camera and/or a file")
    p.add_argument("--source", "-s", required=True, help="source photo (the identity)")
    p.add_argument("--camera", default="0", metavar="N|FILE",
                   help="a camera number (default 0) or a video file, played at its own rate")
    p.add_argument("--show", action="store_true", help="show the result in a window (q quits)")
    p.add_argument("--virtual-camera", action="store_true",
                   help="send the result to a virtual camera (pyvirtualcam: v4l2loopback, OBS) "
                        "for video calls")
    p.add_argument("--out", "-o", help="also write the result to this .mp4")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--stats-every", type=float, default=5.0, metavar="SECONDS",
                   help="print frames a second and latency this often (0: only at the end)")
    p.add_argument("--seconds", type=float, default=0.0,
                   help="stop after this many seconds (default: until Ctrl-C or the file's end)")
    _sign_arguments(p)
    _options(p)


def _ui_parser(sub) -> None:
    p = sub.add_parser("ui", help="a web page: upload a photo and a driver, or use a webcam")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default 127.0.0.1: this computer only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--share", action="store_true",
                   help="also make a public link through Gradio's share servers (off by default)")
    p.add_argument("--max-upload-mb", type=float, default=200.0,
                   help="refuse uploads larger than this (default 200 MB)")


def _serve_parser(sub) -> None:
    p = sub.add_parser("serve", help="load once and run each `reenact animate` of this user in "
                       "a copy of this process: a one-image command in about half a second "
                       "(Ctrl-C stops)")
    p.add_argument("--socket", metavar="PATH",
                   help="where commands find it (default: $REENACT_SOCKET, else serve.sock in "
                        "~/.cache/reenact); animate uses it when $REENACT_SOCKET names it")


def _verify_parser(sub) -> None:
    p = sub.add_parser("verify", help="say whether images and videos are marked as synthetic "
                       "(exit 0: all are, 1: one is not, 3: one cannot be read)")
    p.add_argument("files", nargs="+", metavar="FILE", help="images or videos")


def _face_model_arguments(p, default: str | None = None) -> None:
    from reenact.config import FACE_MODELS

    p.add_argument("--face-model", choices=FACE_MODELS, default=default,
                   help="whose coefficients carry the motion: the built-in landmark mesh "
                        "(default), or FLAME / BFM from your own files")
    p.add_argument("--face-model-path", metavar="PATH",
                   help="folder with the FLAME or BFM files (see README, Face models)")


def _demo_parser(sub) -> None:
    p = sub.add_parser("demo", help="astronaut driven by grace_hopper: a png and a sweep mp4")
    p.add_argument("--out-dir", default="out", help="folder for demo.png and demo_sweep.mp4")
    p.add_argument("--frames", type=int, default=48, help="frames in the sweep video")


def _preprocess_parser(sub) -> None:
    p = sub.add_parser("preprocess", help="track, crop and fit videos once into a training cache")
    p.add_argument("src", help="a dataset root (FF++, Celeb-DF, VoxCeleb1) or a folder of videos "
                   "or frame folders")
    p.add_argument("--out", "-o", required=True, help="cache folder (shards + index); resumable")
    p.add_argument("--frames", type=int, default=10,
                   help="frames sampled evenly per video (default 10, as DCG-GAN on FF++; 0: all)")
    p.add_argument("--size", type=int, default=256, help="crop size in pixels (default 256)")
    p.add_argument("--margin", type=float, default=2.0, help="crop side / face size (default 2)")
    p.add_argument("--workers", type=int, default=None,
                   help="processes (default: the CPU count, at most 8)")
    p.add_argument("--per-shard", type=int, default=64, help="videos per shard (default 64)")
    _face_model_arguments(p)


def _train_parser(sub) -> None:
    p = sub.add_parser("train", help="train DCG-GAN or the mesh GCN on a preprocessed cache")
    p.add_argument("--config", "-c", required=True, help="run config, e.g. configs/dcggan/tiny.yaml")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="dotted overrides, e.g. run.steps=200 data.batch_size=4")
    _face_model_arguments(p)  # = data.face_model / data.face_model_path


def _validate_parsers(sub) -> None:
    p = sub.add_parser("validate", help="score a training checkpoint against the analytic warp "
                       "on its run's held-out pairs")
    p.add_argument("checkpoint", help="a reenact train checkpoint (last.pt, calibrated.pt, ...)")
    p.add_argument("--pairs", type=int, default=10_000, help="at most this many pairs")
    p.add_argument("--gain", type=float,
                   help="score with this share of the correction of the warp (0: the warp "
                        "itself, 1: all of it) instead of the checkpoint's")
    p.add_argument("--render-size", type=int,
                   help="render the pairs at this size, then shrink them to the training size "
                        "(default: the cache's crop size, as reenact animate's crop reaches a "
                        "refiner; 0: at the training size)")
    p = sub.add_parser("calibrate", help="choose on the run's validation split how much of its "
                       "correction a checkpoint adds to the warp; writes calibrated.pt")
    p.add_argument("checkpoint", help="a reenact train checkpoint")
    p.add_argument("--metric", default="akd",
                   help="validation score to calibrate on: akd (default), psnr_face, ssim, "
                        "pose_error_deg or identity_distance")
    p.add_argument("--out", "-o", help="where to write (default: calibrated.pt beside it)")


def _evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="score systems with the papers' protocols and metrics")
    p.add_argument("data", help="a folder of images and videos, or a preprocessed cache")
    p.add_argument("--out", "-o", required=True, help="results folder (resumable)")
    p.add_argument("--driving", help="another folder or cache for cross-identity drivers "
                   "(cross-dataset); default: DATA itself")
    p.add_argument("--systems", default="copy-source,copy-driver,analytic",
                   help="comma-separated: analytic, copy-source, copy-driver (the reference "
                        "systems: output = the source / the driver), dcggan:CKPT, meshgcn:CKPT "
                        "(NAME=KIND:CKPT to name one); default: copy-source,copy-driver,analytic")
    p.add_argument("--protocols", default="self,self-outside,cross",
                   help="comma-separated: self (the source is the clip's first frame), "
                        "self-outside (the clip starts 2 s after it), cross (default: all three)")
    p.add_argument("--frames", type=int, default=8, help="driving frames per case (default 8)")
    p.add_argument("--clip", type=int, default=16,
                   help="contiguous frames per case for the jitter metric (default 16; 0: off)")
    p.add_argument("--max-cases", type=int, help="at most this many cases per protocol")
    p.add_argument("--split", choices=("test", "all"), default="test",
                   help="for a cache: its identity-disjoint test split (default) or all videos")
    p.add_argument("--size", type=int, choices=(256, 512), default=256,
                   help="crop size of the reenacting systems (default 256)")
    p.add_argument("--identity", choices=("dlib", "arcface"), default="dlib",
                   help="CSIM embedding: dlib's ResNet (default) or ArcFace (--arcface)")
    p.add_argument("--arcface", help="insightface arcface_torch r50 weights for --identity arcface")
    p.add_argument("--pose-net", metavar="HOPENET",
                   help="Hopenet weights (hopenet_robust_alpha1.pkl) for PoseMSE/PRMSE instead "
                        "of the landmark fit's pose")
    p.add_argument("--lpips", nargs=2, metavar=("VGG16", "LIN"),
                   help="LPIPS from torchvision's vgg16 weights and lpips' v0.1/vgg.pth")
    p.add_argument("--fid", metavar="INCEPTION",
                   help="FID from pytorch-fid's pt_inception-2015-12-05 weights")
    _face_model_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reenact", description="One-shot face reenactment.")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for each torch and OpenCV operation (default: 1 for "
                        "animate, whose steps run in threads of their own; up to 2 otherwise)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    _animate_parser(sub)
    _live_parser(sub)
    _ui_parser(sub)
    _serve_parser(sub)
    _verify_parser(sub)
    _demo_parser(sub)
    _preprocess_parser(sub)
    _train_parser(sub)
    _validate_parsers(sub)
    _evaluate_parser(sub)
    return parser


def _reference_frame(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        index = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a frame index, got {text!r}") \
            from None
    if index < 0:
        raise argparse.ArgumentTypeError(f"a frame index is >= 0, got {index}")
    return index


def _config_from_args(args):
    from reenact.config import AnimateConfig, load_config

    keys = [f.name for f in dataclasses.fields(AnimateConfig)]
    overrides = {k: getattr(args, k, None) for k in keys}
    return load_config(AnimateConfig, args.config, **overrides)


def main(argv: list[str] | None = None) -> int:
    """The command line. With ``argv`` None (this process's own ``sys.argv``) the command is the
    process's whole work: what is alive once its imports are done, and again when it ends, is left
    out of the garbage collector's passes (``gc.freeze``). Those imports leave some 200,000 objects
    that every full pass walks, holding the GIL: 90 ms a pass, twice in 300 frames of a video, and
    0.3 s more as the process exits. Frozen objects are still freed when their last reference
    goes; only garbage cycles among them wait for the process's end."""
    ours = threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    whole = argv is None
    if whole:
        gc.disable()  # until the imports are done and frozen (_main)
    if ours:
        signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        code = _main(argv, whole)
    except Terminated:
        print(TERMINATED, file=sys.stderr)
        code = EXIT_TERMINATED
    except KeyboardInterrupt:  # also while torch and the rest import (the first second or two)
        print(INTERRUPTED, file=sys.stderr)
        code = EXIT_INTERRUPTED
    finally:
        if ours:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if whole:
            gc.freeze()  # the exit's collection then skips it all
            gc.enable()  # (had the command not started)
    return code


def run() -> None:
    """The ``reenact`` program (``python -m reenact.cli``): ``main`` on this process's command
    line, then the process ends with its exit status, without the interpreter's teardown where
    nothing is left running (``_exit_without_teardown``)."""
    code = main()
    _exit_without_teardown(code)
    sys.exit(code)


def _exit_without_teardown(code: int) -> None:
    """End this process now with ``code``, skipping the interpreter's teardown of its modules:
    with torch's some 2,000 loaded that took 0.12 s after every command (a process that only
    imports torch, freezes its objects and exits spends as long), freeing memory the operating
    system frees anyway. What the teardown does that matters is done first, in the order the
    interpreter does it: the exit handlers (``atexit``: logging's flush, the removal of temporary
    folders left to it) and the standard streams' flush. While another non-daemon thread runs
    this returns, for the normal exit that waits for it."""
    if any(t is not threading.current_thread() and not t.daemon and t.is_alive()
           for t in threading.enumerate()):
        return
    atexit._run_exitfuncs()  # the handlers the interpreter's exit runs (CPython's own call)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)


@contextlib.contextmanager
def _interrupts_held() -> Iterator[None]:
    """Ctrl-C (or SIGTERM) while torch, OpenCV and mediapipe import is held until the block ends,
    then raised: a KeyboardInterrupt thrown through their native import code aborted the process
    ("terminate called after throwing an instance of 'pybind11::error_already_set'") or left a
    traceback."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield  # not ours to change (a thread, an embedding program, an ignored SIGINT)
        return
    hit: list[int] = []
    held = [signal.SIGINT] + [signal.SIGTERM] * (signal.getsignal(signal.SIGTERM) is
                                                 _raise_terminated)
    previous = {s: signal.signal(s, lambda n, _: hit.append(n)) for s in held}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if hit:
        raise Terminated if signal.SIGTERM in hit else KeyboardInterrupt


def _command(args) -> Callable[[], int | None]:
    """Import the command's module (the slow part of start-up) and return its runner."""
    if args.command == "animate":
        from reenact.app.animate import run_animate

        return lambda: run_animate(args, _config_from_args(args))
    if args.command == "live":
        from reenact.app.live import run_live

        return lambda: run_live(args, _config_from_args(args))
    if args.command == "ui":
        from reenact.app.ui import run_ui

        return lambda: run_ui(args)
    if args.command == "serve":
        from reenact.app.serve import run_serve

        return lambda: run_serve(args, main)
    if args.command == "verify":
        from reenact.app.verify import run_verify

        return lambda: run_verify(args)
    if args.command == "demo":
        from reenact.app.demo import run_demo

        return lambda: run_demo(Path(args.out_dir), args.frames)
    if args.command == "preprocess":
        from reenact.app.preprocess import run_preprocess

        return lambda: run_preprocess(args)
    if args.command == "train":
        from reenact.app.train import run_train

        return lambda: run_train(args)
    if args.command in ("validate", "calibrate"):
        from reenact.app import validate

        return lambda: (validate.run_validate if args.command == "validate" else
                        validate.run_calibrate)(args)
    from reenact.app.evaluate import run_evaluate

    return lambda: run_evaluate(args)


def _default_threads(command: str) -> int:
    """animate's frame path keeps the cores busy with threads of its own (tracking, paste-back,
    encoding): a second thread per torch operation only waits for a core there (256 px pasted,
    19.6 -> 21.5 fps with one, docs/speed.md); ``serve`` runs none itself, and starts no thread
    pool its copies would inherit. Training and scoring run large operations."""
    return 1 if command in ("animate", "serve") else min(2, os.cpu_count() or 1)


def _main(argv: list[str] | None, whole: bool = False) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if whole and args.command == "animate" and not args.no_server:
        from reenact.app.serve import forward

        if (code := forward(sys.argv[1:])) is not None:  # a server ran it: no torch loaded here
            return code
    if whole and args.command == "animate":
        _track_ahead(args)
    from reenact.config import ConfigError

    with _interrupts_held():
        from reenact.app.runtime import configure_runtime
        from reenact.io import InputError

        configure_runtime(_default_threads(args.command) if args.threads is None else args.threads)
    try:
        with _interrupts_held():
            run = _command(args)
            if whole:
                gc.freeze()
                gc.enable()
        return run() or 0
    except ConfigError as exc:  # a --config file: its name, the key and the value
        if args.debug:
            raise
        print(f"reenact: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (InputError, ValueError, FileNotFoundError, FileExistsError) as exc:
        if args.debug:
            raise
        print(f"reenact: error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except Exception as exc:
        if (interrupt := _wrapped_interrupt(exc)) is not None:
            raise interrupt from None  # Ctrl-C that library code wrapped: still Ctrl-C, 130
        if args.debug:
            raise
        print(f"reenact: unexpected error ({type(exc).__name__}): {exc} (rerun with --debug)",
              file=sys.stderr)
        return 1


def _track_ahead(args) -> None:
    """The photo's tracking started in a second process, while this one imports torch
    (``reenact.tracking.ahead``). A --config that does not load is reported later, as before."""
    from reenact.config import ConfigError
    from reenact.tracking import ahead

    try:
        config = _config_from_args(args)
    except (ConfigError, OSError, ValueError):
        return
    ahead.start(args.source, args.driving, config)


def _wrapped_interrupt(exc: BaseException) -> KeyboardInterrupt | None:
    """The KeyboardInterrupt (or Terminated) behind an exception, if any: Python wraps one raised
    while a class is created ("Error calling __set_name__ ...", a RuntimeError, as Ctrl-C during
    matplotlib's import gave), and libraries re-raise with ``from``."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


if __name__ == "__main__":
    run()
