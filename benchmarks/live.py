"""The live loop (``reenact live``) on a video file played in real time: frames a second shown,
latency from capture to display (p50, p95) and the share of camera frames dropped, at 256 and 512.

    python benchmarks/live.py [--source S] [--camera D.mp4] [--seconds 10] [--threads 2]

Defaults: ../shared/data/faces/s42.jpg driven by ../shared/data/driving/d3.mp4 (skipped with a
message when absent). The loop is ``reenact live``'s own (``FileCamera`` -> ``live_frames``),
with no window or file: what it costs is the re-enactment. Beside it, in the same run, the floor:
the same camera through decoding and tracking alone (no re-enactment), so each figure can be read
against this machine. Prints a markdown table.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from reenact.app.live import FileCamera, LatestFrames, LiveStats, live_frames
from reenact.app.runtime import configure_runtime
from reenact.config import AnimateConfig
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def live(source: Path, camera: Path, size: int, crop_only: bool, seconds: float) -> dict:
    reenactor = Reenactor(AnimateConfig(size=size, crop_only=crop_only))
    src = reenactor.prepare_source(source)
    cam, frames, stats = FileCamera(camera), LatestFrames(), LiveStats()
    cam.start(frames)
    try:
        for frame in live_frames(reenactor, src, frames, cam.fps, cam.name, stats):
            if time.perf_counter() - frames.start > seconds:
                break
            _ = frame.image
    finally:
        cam.stop()
        frames.close()
    return _row(f"{size} {'crop' if crop_only else 'pasted'}", stats, frames, cam.fps)


def floor(camera: Path, seconds: float) -> dict:
    """Decoding and tracking of the same camera, as the live loop's tracking thread does them,
    with nothing else: the most frames a second any landmark-driven loop could show here."""
    cam, frames, stats = FileCamera(camera), LatestFrames(), LiveStats()
    cam.start(frames)
    try:
        with FaceTracker(static=False) as tracker:
            for i, image in enumerate(frames):
                pick_face(tracker.detect(image))
                now = time.perf_counter()
                stats.add(now, now - (frames.start + frames.times[i]))
                if now - frames.start > seconds:
                    break
    finally:
        cam.stop()
        frames.close()
    return _row("floor: track only", stats, frames, cam.fps)


def _row(name: str, stats: LiveStats, frames: LatestFrames, rate: float) -> dict:
    f = stats.figures()
    return {"name": name, "fps": f["fps"], "p50": f["p50_ms"], "p95": f["p95_ms"],
            "dropped": frames.dropped / max(1, frames.submitted), "shown": f["frames"],
            "camera": rate}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", type=Path, default=DATA / "faces" / "s42.jpg")
    p.add_argument("--camera", type=Path, default=DATA / "driving" / "d3.mp4")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    for f in (args.source, args.camera):
        if not f.exists():
            print(f"skipped: {f} not found (../shared/data is needed)", file=sys.stderr)
            return
    configure_runtime(args.threads)
    rows = [floor(args.camera, args.seconds)]
    for size, crop in ((256, True), (256, False), (512, True), (512, False)):
        rows.append(live(args.source, args.camera, size, crop, args.seconds))
    base = rows[0]["fps"]
    print(f"{args.source.name} driven by {args.camera.name} played at {rows[0]['camera']:.0f} "
          f"fps for {args.seconds:g} s, {args.threads} torch threads\n")
    print("| loop | fps shown | of the floor | latency p50 ms | p95 ms | camera frames dropped |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['fps']:.1f} | {r['fps'] / base:.2f} | {r['p50']:.0f} | "
              f"{r['p95']:.0f} | {r['dropped']:.0%} |")
    if any(np.isnan(r["p50"]) for r in rows):
        print("\n(a loop showed fewer than two frames: no figures)")


if __name__ == "__main__":
    main()
