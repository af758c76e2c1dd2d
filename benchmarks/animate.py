"""Per-stage ms/frame and end-to-end fps of ``reenact animate`` on a driving video, at 256 and 512.

    python benchmarks/animate.py [--source S] [--driving D.mp4] [--frames N] [--threads 2]

Defaults: ../shared/data/faces/s42.jpg driven by ../shared/data/driving/d3.mp4 (skipped with a
message when absent). Decoding and encoding are included, as in the CLI: frames go through the same
``Reenactor.run`` and VideoWriter (libx264) into a temporary file, marked as ``animate`` marks them
(the "encode" stage includes the pixel watermark; ``--no-watermark`` leaves it out). Prints a
markdown table.
"""

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

import torch

from reenact.app.runtime import configure_runtime
from reenact.config import AnimateConfig
from reenact.io import VideoWriter, iter_video_frames, probe_video
from reenact.io.marking import marking
from reenact.pipeline import Driving, Reenactor

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
                writer.write(out)
                encode += time.perf_counter() - t
        total = time.perf_counter() - start
    n = reenactor.report.frames
    ms = {k: 1000 * v / n for k, v in reenactor.report.seconds.items()}
    ms["encode"] = 1000 * encode / n
    return {"size": size, "frames": n, "prepare_s": prepare, "fps": n / total, "ms": ms,
            "output": f"{'crop' if crop_only else 'full frame'} {out.shape[1]}x{out.shape[0]}"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, default=DATA / "faces" / "s42.jpg")
    p.add_argument("--driving", type=Path, default=DATA / "driving" / "d3.mp4")
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-watermark", action="store_true",
                   help="frames written without the pixel watermark (metadata only)")
    args = p.parse_args()
    for path in (args.source, args.driving):
        if not path.exists():
            sys.exit(f"skipped: {path} not found (pass --source/--driving)")
    configure_runtime(args.threads)  # what the CLI does: threads and allocator
    rows = [run(args.source, args.driving, size, args.frames, crop_only,
                not args.no_watermark)
            for size in (256, 512) for crop_only in (True, False)]
    print(f"source {args.source.name}, driving {args.driving.name}, {args.threads} threads, "
          f"torch {torch.__version__}\n")
    print("| size | output | " + " | ".join(f"{s} ms" for s in STAGES) + " | end-to-end fps |")
    print("|---|---|" + "---|" * (len(STAGES) + 1))
    for r in rows:
        cells = " | ".join(f"{r['ms'].get(s, 0.0):.1f}" for s in STAGES)
        print(f"| {r['size']} | {r['output']} | {cells} | {r['fps']:.1f} |")
    prep = ", ".join(f"{r['size']}: {r['prepare_s']:.2f} s" for r in rows[::2])
    print(f"\n(source preparation, once per source: {prep})")


if __name__ == "__main__":
    main()
