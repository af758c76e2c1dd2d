"""The bad-input table of docs/bad-inputs.md: every case run as a user runs it (``reenact animate``
in a subprocess), with its exit code and what it printed.

    python scripts/bad_inputs.py --out docs/bad-inputs.md

Inputs are built in a temporary folder from the bundled sample photos (and, for the video cases,
frames of ../shared/data/driving/d0.mp4 when it is there). Cases that need a small or read-only
file system mount a tmpfs, and are listed as not run where that is not allowed.
"""

import argparse
import contextlib
import itertools
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reenact.io import VideoWriter, iter_video_frames, write_image
from reenact.io.atomic import atomic_path
from reenact.io.samples import sample_images

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / ".." / "shared" / "data" / "driving" / "d0.mp4"


@dataclass
class Case:
    what: str  # the input, in words
    args: list[str]  # after "reenact animate" (or whole, for other commands), {d} = the folder
    signal_after: float | str | None = None  # seconds, or "writing" (its part file is there),
    # then SIGINT / SIGTERM
    signal_kind: int = signal.SIGINT
    needs: Callable[[Path], str | None] | None = None  # builds a mount; a reason not to run


def _inputs(d: Path) -> None:
    s = sample_images()
    write_image(d / "photo.png", s["astronaut"])
    write_image(d / "driver.jpg", s["grace_hopper"])
    write_image(d / "blank.png", np.full((200, 200, 3), 128, np.uint8))
    write_image(d / "tiny.png", cv2.resize(s["astronaut"], (6, 6)))
    small = s["grace_hopper"][::2, ::2]
    two = np.full((512, 512 + small.shape[1], 3), 255, np.uint8)
    two[:512, :512] = s["astronaut"]
    two[:small.shape[0], 512:] = small
    write_image(d / "two_faces.png", two)
    for name, (w, h) in (("far", (256, 300)), ("speck", (80, 94))):  # faces 92 and 29 px wide
        canvas = np.full((1600, 2000, 3), 200, np.uint8)
        canvas[1250:1250 + h, 1700:1700 + w] = cv2.resize(s["grace_hopper"], (w, h),
                                                          interpolation=cv2.INTER_AREA)
        write_image(d / f"{name}.png", canvas)
    (d / "empty.png").write_bytes(b"")
    (d / "notes.jpg").write_text("not an image")
    (d / "folder.png").mkdir()
    with VideoWriter(d / "wall.mp4", 25) as w:
        for _ in range(8):
            w.write(np.full((240, 320, 3), 128, np.uint8))
    (d / "out_exists.png").write_bytes(b"keep me")
    (d / "bad.yaml").write_text("alpha: 0.5\nsize: [256\n")
    (d / "typed.yaml").write_text("alpha: high\n")
    (d / "unknown.yaml").write_text("alfa: 0.5\n")
    if DRIVER.exists():
        frames = [cv2.resize(f, (320, 240)) for f in itertools.islice(iter_video_frames(DRIVER), 60)]
        with VideoWriter(d / "clip.mp4", 25) as w:
            for f in frames:
                w.write(f)
        _faststart(d / "indexed.mp4", frames[:30])
        data = (d / "indexed.mp4").read_bytes()
        (d / "cut_indexed.mp4").write_bytes(data[:len(data) * 6 // 10])
        data = (d / "clip.mp4").read_bytes()
        (d / "cut.mp4").write_bytes(data[:len(data) // 2])
        # a phone's or a screen recorder's video: bursts at 30 and at 10 frames a second
        times = np.r_[0, np.cumsum(np.where(np.arange(59) % 10 < 5, 1 / 30, 1 / 10))]
        with VideoWriter(d / "vfr.mp4", 25, timed=True) as w:
            for f, t in zip(frames, times, strict=True):
                w.write(f, t)


def _faststart(path: Path, frames: list[np.ndarray]) -> None:
    """An mp4 with its index before the data: cut short, it still says how many frames."""
    import av

    with av.open(str(path), "w", options={"movflags": "+faststart"}) as c:
        stream = c.add_stream("libx264", rate=25)
        stream.pix_fmt, stream.width, stream.height = "yuv420p", 320, 240
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(packet)
        for packet in stream.encode():
            c.mux(packet)


def _tmpfs(options: str) -> Callable[[Path], str | None]:
    def mount(d: Path) -> str | None:
        (d / "fs").mkdir()
        try:
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(d / "fs")],
                               capture_output=True, text=True, check=False)
        except FileNotFoundError:
            return "no mount command"
        return None if r.returncode == 0 else f"cannot mount a tmpfs ({r.stderr.strip()})"
    return mount


def cases() -> list[Case]:
    p, v = ["-s", "{d}/photo.png"], ["-d", "{d}/driver.jpg"]
    return [
        Case("source missing", ["-s", "{d}/missing.png", *v, "-o", "{d}/o.png"]),
        Case("source is a folder", ["-s", "{d}/folder.png", *v, "-o", "{d}/o.png"]),
        Case("--reference-frame with an image driver (fine)", [*p, *v, "-o", "{d}/o6.png",
                                                               "--reference-frame", "5"]),
        Case("--checkpoint without --model", [*p, *v, "-o", "{d}/o.png", "--checkpoint",
                                              "{d}/w.pt"]),
        Case("source file empty", ["-s", "{d}/empty.png", *v, "-o", "{d}/o.png"]),
        Case("source not an image (text named .jpg)", ["-s", "{d}/notes.jpg", *v, "-o", "{d}/o.png"]),
        Case("source 6 x 6 pixels", ["-s", "{d}/tiny.png", *v, "-o", "{d}/o.png"]),
        Case("source without a face", ["-s", "{d}/blank.png", *v, "-o", "{d}/o.png"]),
        Case("source: a face 92 px wide in a 2000 x 1600 picture (fine)",
             ["-s", "{d}/far.png", *v, "-o", "{d}/o7.png"]),
        Case("source: a face 29 px wide in a 2000 x 1600 picture",
             ["-s", "{d}/speck.png", *v, "-o", "{d}/o.png"]),
        Case("source is a video", ["-s", "{d}/wall.mp4", *v, "-o", "{d}/o.png"]),
        Case("two-face photo, --face-index 2", ["-s", "{d}/two_faces.png", *v, "-o", "{d}/o.png",
                                               "--face-index", "2"]),
        Case("two-face photo, --face-index 1, one-face driver (fine)",
             ["-s", "{d}/two_faces.png", *v, "-o", "{d}/o1.png", "--face-index", "1"]),
        Case("driver missing", [*p, "-d", "{d}/missing.jpg", "-o", "{d}/o.png"]),
        Case("driver file empty", [*p, "-d", "{d}/empty.png", "-o", "{d}/o.png"]),
        Case("driver image without a face", [*p, "-d", "{d}/blank.png", "-o", "{d}/o.png"]),
        Case("driver video without a face (a wall)", [*p, "-d", "{d}/wall.mp4", "-o", "{d}/o.mp4"]),
        Case("driver video cut short, index first (30 frames promised)",
             [*p, "-d", "{d}/cut_indexed.mp4", "-o", "{d}/o2.mp4"]),
        Case("driver video cut short, index at the end", [*p, "-d", "{d}/cut.mp4", "-o",
                                                          "{d}/o.mp4"]),
        Case("driver video with a variable frame rate (fine)",
             [*p, "-d", "{d}/vfr.mp4", "-o", "{d}/o8.mp4"]),
        Case("--reference-frame past the last frame", [*p, "-d", "{d}/clip.mp4", "-o",
                                                       "{d}/o.mp4", "--reference-frame", "999"]),
        Case("output is the source", [*p, *v, "-o", "{d}/photo.png", "--overwrite"]),
        Case("output exists", [*p, *v, "-o", "{d}/out_exists.png"]),
        Case("image driver, output named .mp4", [*p, *v, "-o", "{d}/o.mp4"]),
        Case("video driver, output named .png", [*p, "-d", "{d}/clip.mp4", "-o", "{d}/o.png"]),
        Case("output folder read-only", [*p, *v, "-o", "{d}/fs/o.png"], needs=_tmpfs("ro,size=4m")),
        Case("output folder full (256 KB free)", [*p, *v, "-o", "{d}/fs/o.png"],
             needs=_tmpfs("size=256k")),
        Case("--alpha 1.7", [*p, *v, "-o", "{d}/o.png", "--alpha", "1.7"]),
        Case("--size 300", [*p, *v, "-o", "{d}/o.png", "--size", "300"]),
        Case("--model dcggan without --checkpoint", [*p, *v, "-o", "{d}/o.png", "--model",
                                                     "dcggan"]),
        Case("--config: not valid YAML", [*p, *v, "-o", "{d}/o.png", "--config", "{d}/bad.yaml"]),
        Case("--config: alpha: high", [*p, *v, "-o", "{d}/o.png", "--config", "{d}/typed.yaml"]),
        Case("--config: an unknown key", [*p, *v, "-o", "{d}/o.png", "--config",
                                          "{d}/unknown.yaml"]),
        Case("--config file missing", [*p, *v, "-o", "{d}/o.png", "--config", "{d}/none.yaml"]),
        Case("Ctrl-C during start-up (0.5 s)", [*p, *v, "-o", "{d}/o3.png"], signal_after=0.5),
        Case("Ctrl-C while a video is written", [*p, "-d", "{d}/clip.mp4", "-o", "{d}/o4.mp4"],
             signal_after="writing"),
        Case("SIGTERM while a video is written", [*p, "-d", "{d}/clip.mp4", "-o",
                                                  "{d}/o5.mp4"],
             signal_after="writing", signal_kind=signal.SIGTERM),
    ]


def run_case(case: Case, d: Path) -> tuple[int | None, str, str]:
    """(exit code or None when not run, its messages joined by " / ", a note)."""
    if case.needs is not None and (why := case.needs(d)) is not None:
        return None, "", f"not run: {why}"
    if any(x in a for a in case.args for x in ("clip.mp4", "cut", "vfr.mp4")) and not DRIVER.exists():
        return None, "", f"not run: {DRIVER} is not here"
    args = [a.replace("{d}", str(d)) for a in case.args]
    p = subprocess.Popen([sys.executable, "-m", "reenact.cli", "animate", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=d)
    if case.signal_after == "writing":  # a fixed delay outlasted the video as start-up sped up
        while p.poll() is None and not any(".part" in x.name for x in d.iterdir()):
            time.sleep(0.02)
        time.sleep(0.2)
        p.send_signal(case.signal_kind)
    elif case.signal_after is not None:
        time.sleep(case.signal_after)
        p.send_signal(case.signal_kind)
    _, err = p.communicate(timeout=600)
    with contextlib.suppress(Exception):
        if case.needs is not None:
            subprocess.run(["umount", str(d / "fs")], check=False)
            (d / "fs").rmdir()
    # its messages (warnings and errors), else the last line (argparse's usage error)
    lines = [line for line in err.splitlines() if line.startswith(("reenact", "wrote"))] or \
        [line for line in err.splitlines() if line.strip()][-1:]
    left = sorted(x.name for x in d.iterdir() if ".part" in x.name)
    note = f"left: {', '.join(left)}" if left else ""
    return p.returncode, " / ".join(lines).replace(str(d) + "/", ""), note


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/bad-inputs.md")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        _inputs(d)
        for case in cases():
            code, line, note = run_case(case, d)
            shown = " ".join(a.replace("{d}/", "") for a in case.args)
            rows.append(f"| {case.what} | `{shown}` | {'' if code is None else code} | "
                        f"{line.replace('|', '/')} {note} |".replace("  |", " |"))
            print(rows[-1], file=sys.stderr)
    text = ("# Bad input: what `reenact animate` says\n\n"
            "Each case run as a user runs it, its exit code (0 fine, 2 usage or config file, 3 "
            "input or output, 130 Ctrl-C, 143 SIGTERM) and the lines it printed (its messages "
            "start with `reenact`; `wrote PATH` closes a good run). "
            "Regenerate with `python scripts/bad_inputs.py --out docs/bad-inputs.md` "
            "(inputs are built from the bundled sample photos and ../shared/data/driving/d0.mp4; "
            "the full-disk and read-only cases mount a tmpfs, which needs root).\n\n"
            "| input | arguments | exit | what it printed |\n|---|---|---|---|\n"
            + "\n".join(rows) + "\n")
    with atomic_path(args.out) as tmp:
        tmp.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
