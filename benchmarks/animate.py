"""Per-stage ms/frame and end-to-end fps of ``reenact animate`` on a driving video, at 256 and 512,
beside the floor measured in the same run, and the time from command to file for one photo.

    python benchmarks/animate.py [--source S] [--driving D.mp4] [--image I] [--frames N]
        [--rounds 5] [--threads 1]

Defaults: ../shared/data/faces/s42.jpg driven by ../shared/data/driving/d3.mp4 (skipped with a
message when absent), one thread per torch operation as ``animate`` runs. Decoding and encoding
are included, as in the CLI: frames go through the same ``Reenactor.run`` and VideoWriter
(libx264) into a temporary file, marked as ``animate`` marks them (``--no-watermark`` leaves the
pixel watermark out). Prints a markdown table. Decoding and tracking, paste-back ("compose") and
the watermark with libx264 run in threads of their own, so the stages overlap and each stage's
time includes its waits for a core; "encode" is the time ``write`` takes the caller (queuing the
frame).

The floor is what any landmark-driven reenactor pays here, with no reenactment: the same frames
decoded and tracked in a background thread (as ``Reenactor.run`` does), the driver's face cut
out at the crop size (or the frame resized to the pasted output's size) and encoded the same way;
each row's fps is also given as a share of its floor's. Each row and its floor are measured in
``--rounds`` rounds, one after the other in turn (floor first, then the row first, and so on):
this machine runs in spells, some 20-30 % slower for tens of seconds, and a row measured a minute
before its floor took a spell in one but not the other (shares of 0.42 and 0.62 for the same code
an hour apart; three rounds still gave 0.54 and 0.62 in two runs back to back). The table gives
the median round's fps of each, the median of the rounds' shares (each from a row and its floor
measured back to back) and their range. "Command to file" runs ``reenact animate
-s SOURCE -d IMAGE`` in a fresh process (imports, the photo's preparation, one frame, the PNG),
best of three; then the same through a ``reenact serve`` started for it (loaded once; the photo's
preparation, the frame and the PNG in the server's copy of itself), best of three.
"""

import argparse
import contextlib
import gc
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from reenact.app.runtime import configure_runtime
from reenact.config import AnimateConfig
from reenact.io import VideoWriter, iter_video_frames, probe_video, read_image
from reenact.io.marking import marking
from reenact.pipeline import Driving, Reenactor
from reenact.tracking.crop import crop_image, face_crop_box

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
STAGES = ("decode", "track", "fit+mix", "warp", "compose", "encode")


def run(source: Path, driving: Path, size: int, frames: int, crop_only: bool,
        watermark: bool = True) -> dict:
    reenactor = Reenactor(AnimateConfig(size=size, crop_only=crop_only))
    t0 = time.perf_counter()
    src = reenactor.prepare_source(source)
    prepare = time.perf_counter() - t0
    info = probe_video(driving)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        encode = 0.0
        with VideoWriter(Path(tmp) / "o.mp4", info.fps,
                         marking=marking(watermark=watermark)) as writer:
            # the first frames of the video, relative to its first frame (as animate does with
            # --reference-frame 0), through the same Reenactor.run
            clip = Driving(itertools.islice(iter_video_frames(driving), frames), True,
                           float(info.fps), None, str(driving))
            for frame in reenactor.run(src, clip):
                out = frame.image
                t = time.perf_counter()
                writer.write(out, owned=True)  # as animate writes them
                encode += time.perf_counter() - t
        total = time.perf_counter() - start
    n = reenactor.report.frames
    ms = {k: 1000 * v / n for k, v in reenactor.report.seconds.items()}
    ms["encode"] = 1000 * encode / n
    return {"size": size, "frames": n, "prepare_s": prepare, "fps": n / total, "ms": ms,
            "crop": crop_only, "output": f"{'crop' if crop_only else 'full frame'} {out.shape[1]}x{out.shape[0]}"}


def floor(driving: Path, shape: tuple[int, int], crop: bool, frames: int,
          watermark: bool = True) -> float:
    """fps of decode + track (in a background thread, as ``Reenactor.run``) + encode of the same
    frames, with no reenactment: the driver's face cut out at ``shape`` (``crop``), or the whole
    frame resized to ``shape`` (the pasted output's size)."""
    import cv2

    info = probe_video(driving)
    reenactor = Reenactor(AnimateConfig())  # only its decode-and-track thread
    reenactor.report.frames = 0
    with tempfile.TemporaryDirectory() as tmp:
        start, n = time.perf_counter(), 0
        with VideoWriter(Path(tmp) / "o.mp4", info.fps,
                         marking=marking(watermark=watermark)) as writer:
            clip = itertools.islice(iter_video_frames(driving), frames)
            for frame, face, _ in reenactor._tracked(clip, True):
                if crop and face is not None:
                    out = crop_image(frame, face_crop_box(face.points), shape[0])
                else:
                    out = cv2.resize(frame, shape[::-1], interpolation=cv2.INTER_AREA)
                writer.write(out, owned=True)  # a new array, as the row's are
                n += 1
        return n / (time.perf_counter() - start)


def measured(args: argparse.Namespace, size: int, crop_only: bool, photo: tuple[int, int]
             ) -> dict:
    """One row of the table: ``run`` and its ``floor`` in ``args.rounds`` rounds, back to back
    (which goes first alternates); the median round's row (its stages and fps), the median
    floor, and the median and every one of the rounds' shares."""
    shape = (size, size) if crop_only else photo
    mark = not args.no_watermark
    rows, floors = [], []
    for k in range(max(1, args.rounds)):
        for what in ("floor", "row") if k % 2 == 0 else ("row", "floor"):
            if what == "row":
                rows.append(run(args.source, args.driving, size, args.frames, crop_only, mark))
            else:
                floors.append(floor(args.driving, shape, crop_only, args.frames, mark))
    shares = [r["fps"] / f for r, f in zip(rows, floors, strict=True)]
    row = sorted(rows, key=lambda r: r["fps"])[len(rows) // 2]
    return {**row, "floor": statistics.median(floors), "share": statistics.median(shares),
            "shares": shares}


def command_to_file(source: Path, image: Path, repeats: int = 3, served: bool = False
                    ) -> float:
    """Seconds from ``reenact animate -s source -d image -o out.png`` to the file, best of
    ``repeats`` fresh processes; ``served``: through a ``reenact serve`` started first (not
    timed), else run in the process itself (``--no-server``)."""
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp, _server(Path(tmp), served) as env:
        for k in range(repeats):
            out = Path(tmp) / f"o{k}.png"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "reenact.cli", "animate", "-s", str(source),
                            "-d", str(image), "-o", str(out)] + ["--no-server"] * (not served),
                           check=True, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            best = min(best, time.perf_counter() - t)
    return best


@contextlib.contextmanager
def _server(folder: Path, wanted: bool):
    """The environment of a command that finds a ``reenact serve`` socket in ``folder``,
    started and loaded here (or none, where not ``wanted``)."""
    env = dict(os.environ, REENACT_SOCKET=str(folder / "s.sock"))
    if not wanted:
        yield env
        return
    log = folder / "serve.log"
    with open(log, "w") as err:
        p = subprocess.Popen([sys.executable, "-m", "reenact.cli", "serve"], env=env,
                             stdout=subprocess.DEVNULL, stderr=err)
    try:
        while "serving animate" not in log.read_text():
            if p.poll() is not None:
                sys.exit(f"reenact serve failed: {log.read_text()}")
            time.sleep(0.05)
        yield env
    finally:
        p.terminate()
        p.wait()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, default=DATA / "faces" / "s42.jpg")
    p.add_argument("--driving", type=Path, default=DATA / "driving" / "d3.mp4")
    p.add_argument("--image", type=Path, default=DATA / "faces" / "d9.jpg",
                   help="the image driver of the command-to-file time")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--rounds", type=int, default=5,
                   help="rounds of each row and its floor, back to back (the medians are shown)")
    p.add_argument("--threads", type=int, default=1)  # what animate runs with (reenact.cli)
    p.add_argument("--no-watermark", action="store_true",
                   help="frames written without the pixel watermark (metadata only)")
    args = p.parse_args()
    for path in (args.source, args.driving, args.image):
        if not path.exists():
            sys.exit(f"skipped: {path} not found (pass --source/--driving)")
    configure_runtime(args.threads)  # what the CLI does: threads and allocator,
    gc.freeze()  # and its imports left out of the garbage collector's passes (reenact.cli.main)
    photo = read_image(args.source).shape[:2]
    rows = [measured(args, size, crop_only, photo)
            for size in (256, 512) for crop_only in (True, False)]
    seconds = command_to_file(args.source, args.image)
    served = command_to_file(args.source, args.image, served=True)
    print(f"source {args.source.name}, driving {args.driving.name}, {args.threads} threads, "
          f"torch {torch.__version__}\n")
    print(f"(the median of {args.rounds} rounds, each a row and its floor back to back)\n")
    print("| size | output | " + " | ".join(f"{s} ms" for s in STAGES)
          + " | end-to-end fps | floor fps | share of the floor | shares' range |")
    print("|---|---|" + "---|" * (len(STAGES) + 4))
    for r in rows:
        cells = " | ".join(f"{r['ms'].get(s, 0.0):.1f}" for s in STAGES)
        print(f"| {r['size']} | {r['output']} | {cells} | {r['fps']:.1f} | {r['floor']:.1f} | "
              f"{r['share']:.2f} | {min(r['shares']):.2f}-{max(r['shares']):.2f} |")
    prep = ", ".join(f"{r['size']}: {r['prepare_s']:.2f} s" for r in rows[::2])
    print(f"\n(source preparation, once per source: {prep})")
    print(f"command to file, {args.source.name} driven by {args.image.name}: {seconds:.2f} s "
          f"(best of 3 fresh processes); through reenact serve: {served:.2f} s (best of 3)")


if __name__ == "__main__":
    main()
