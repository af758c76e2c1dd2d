"""Turned faces (issue 20): every portrait of tests/eval/turned_faces.tsv re-enacted with four frames
of each driver of tests/eval/turned_drivers.tsv, each output judged by the independent face-layout
check (reenact.eval.face_layout: dlib's detector and 68 points, and a search for a doubled eye).

Prints a per-portrait table and the rejected frames with their reasons, and writes a contact sheet:
one row per portrait, its source crop and then the outputs, rejected ones framed in red.

    python scripts/turned_faces_sheet.py --out turned-faces.png --small docs/turned-faces.png
    python scripts/turned_faces_sheet.py --limit 3 --json /tmp/turned.json

The four frames of a driver are driven as separate images in relative motion against the first
(``is_video=False, reference=frames[0]``): as a four-frame "video", the tracker would follow the
face from one far-apart frame to the next and loses it at large turns, and One-Euro smoothing
would let through only about half of each jump.
"""

import argparse
import csv
import io
import json
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from reenact.config import AnimateConfig
from reenact.eval.face_layout import FaceLayout, FaceLayoutCheck
from reenact.eval.protocols import Item, load_file_frames
from reenact.io import write_image
from reenact.pipeline import Reenactor

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
PORTRAITS = ROOT / "tests" / "eval" / "turned_faces.tsv"
DRIVERS = ROOT / "tests" / "eval" / "turned_drivers.tsv"
SMALL_MAX_BYTES = 1_500_000

# The detector's box for a face, from the re-enacted landmark mesh (mediapipe's 478 points):
# a square of side BOX_SIDE * |chin - nose bridge| around their midpoint moved by BOX_SHIFT of
# that length, fitted to dlib's HOG boxes on the source crops of the turned set.
NOSE_BRIDGE, CHIN = 168, 152
BOX_SIDE = 1.304
BOX_SHIFT = (-0.012, -0.256)


@dataclass
class Driver:
    path: str
    frames: list[int]
    note: str
    images: list[np.ndarray] = field(default_factory=list, repr=False)


@dataclass
class Verdict:
    """One judged image: a source crop (driver and frame None) or an output."""

    portrait: str
    driver: str | None
    frame: int | None
    ok: bool
    reasons: list[str]
    box_source: str
    wander: float
    echo: float


def read_table(path: Path) -> list[dict[str, str]]:
    """A tab-separated table with a header row; lines starting with # are comments."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader((line for line in f if not line.startswith("#")),
                                   delimiter="\t"))
    if not rows:
        raise ValueError(f"{path}: no rows")
    return rows


def load_drivers(path: Path, data: Path) -> list[Driver]:
    """The drivers of ``path`` with their chosen frames decoded (RGB uint8)."""
    drivers = []
    for row in read_table(path):
        d = Driver(row["path"], [int(i) for i in row["frames"].split(",")], row["note"])
        path = str(data / "corpus" / d.path)
        d.images = load_file_frames(Item(d.path, d.path, "video", path, 0), d.frames)
        drivers.append(d)
    return drivers


def expected_box(verts: np.ndarray) -> tuple[float, float, float, float]:
    """(V, 2+) re-enacted mesh points in crop pixels -> (left, top, right, bottom) of the box
    dlib's detector would put around that face."""
    a, b = verts[NOSE_BRIDGE, :2], verts[CHIN, :2]
    length = float(np.linalg.norm(b - a))
    c = (a + b) / 2 + np.array(BOX_SHIFT) * length
    half = BOX_SIDE * length / 2
    return (c[0] - half, c[1] - half, c[0] + half, c[1] + half)


def _verdict(v: FaceLayout, portrait: str, driver: str | None, frame: int | None) -> Verdict:
    return Verdict(portrait, driver, frame, v.ok, list(v.reasons), v.box_source,
                   round(v.wander, 4), round(v.echo, 4))


def run_portrait(r: Reenactor, check: FaceLayoutCheck, path: Path, name: str,
                 drivers: list[Driver]) -> tuple[np.ndarray, list[np.ndarray], list[Verdict],
                                                 dict[str, float]]:
    """Prepare one portrait, drive it with every driver's frames and judge each output.

    Returns the source crop, the outputs (driver by driver, frame by frame), the verdicts (the
    source crop's first) and seconds per stage."""
    t = time.perf_counter()
    src = r.prepare_source(path, name)
    seconds = {"prepare": time.perf_counter() - t, "drive": 0.0, "check": 0.0}
    t = time.perf_counter()
    photo = check(src.crop, expected_box(src.landmarks))
    verdicts = [_verdict(photo, name, None, None)]
    seconds["check"] += time.perf_counter() - t
    outputs = []
    for d in drivers:
        t = time.perf_counter()
        warps = list(r.drive(src, d.images, is_video=False, reference=d.images[0], name=d.path))
        images = [r.compose(src, w) for w in warps]
        seconds["drive"] += time.perf_counter() - t
        t = time.perf_counter()
        for frame, w, image in zip(d.frames, warps, images):
            box = expected_box(w.verts[0].double().numpy())
            verdicts.append(_verdict(check(image, box, reference=photo), name, d.path, frame))
        seconds["check"] += time.perf_counter() - t
        outputs += images
    return src.crop, outputs, verdicts, seconds


def _thumb(image: np.ndarray, size: int, rejected: bool) -> np.ndarray:
    t = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    if rejected:
        w = max(2, size // 24)
        t[:w], t[-w:], t[:, :w], t[:, -w:] = (255, 0, 0), (255, 0, 0), (255, 0, 0), (255, 0, 0)
    return t


def _band(width: int, height: int, texts: list[tuple[int, str]], room: int) -> np.ndarray:
    """A white band with black texts at the given x positions, each shrunk to fit ``room`` px."""
    band = np.full((height, width, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    for x, text in texts:
        scale = height / 30
        scale *= min(1.0, (room - 6) / cv2.getTextSize(text, font, scale, 1)[0][0])
        cv2.putText(band, text, (x + 3, height - max(3, height // 5)), font, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return band


def contact_sheet(rows: list[tuple[str, np.ndarray, list[np.ndarray], list[Verdict]]],
                  drivers: list[Driver], size: int) -> np.ndarray:
    """Rows of (label, source crop, outputs, verdicts incl. the source's first) -> one RGB image:
    a header naming the columns, a label band above each row, then the source crop and the
    outputs, rejected ones in red."""
    band = max(12, size // 8)
    columns = ["source"] + [f"{Path(d.path).stem[:12]} {i}" for d in drivers for i in d.frames]
    width = size * len(columns)
    lines = [_band(width, band, [(k * size, c) for k, c in enumerate(columns)], size)]
    for label, crop, outputs, verdicts in rows:
        tiles = [_thumb(im, size, not v.ok) for im, v in zip([crop, *outputs], verdicts)]
        row = np.concatenate(tiles, 1)
        lines += [_band(row.shape[1], band, [(0, label)], row.shape[1]), row]
    return np.concatenate(lines, 0)


def write_small(sheet: np.ndarray, path: Path, max_bytes: int = SMALL_MAX_BYTES) -> int:
    """Write ``sheet`` as a 256-colour PNG, shrunk until it fits in ``max_bytes``; returns the
    bytes written."""
    from PIL import Image

    scale = 1.0
    while True:
        h, w = sheet.shape[:2]
        small = cv2.resize(sheet, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_AREA)
        buf = io.BytesIO()
        Image.fromarray(small).quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
            buf, format="PNG", optimize=True)
        if buf.tell() <= max_bytes or scale < 0.3:
            break
        scale *= 0.85
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return buf.tell()


def run_set(data: Path = DATA, portraits: Path = PORTRAITS, drivers: Path = DRIVERS,
            limit: int | None = None, progress: bool = True, keep_images: bool = True):
    """Run the whole set. Returns (table rows of the portraits file, drivers, per-portrait
    (label, crop, outputs, verdicts) or (label, None, [], verdicts) without images, seconds)."""
    table = read_table(portraits)[:limit]
    drv = load_drivers(drivers, data)
    r = Reenactor(AnimateConfig(crop_only=True, motion="relative"))
    check = FaceLayoutCheck()
    results, seconds = [], {"prepare": 0.0, "drive": 0.0, "check": 0.0}
    for row in tqdm(table, desc="portraits", disable=not progress):
        path = data / "corpus" / "portraits" / row["path"]
        crop, outputs, verdicts, secs = run_portrait(r, check, path, row["path"], drv)
        for k, v in secs.items():
            seconds[k] += v
        label = f"{row['path']}  yaw {float(row['yaw']):+.0f}"
        results.append((label, crop, outputs, verdicts) if keep_images
                       else (label, None, [], verdicts))
    return table, drv, results, seconds


def report(table, drivers: list[Driver], results, seconds: dict[str, float]) -> str:
    """The per-portrait table, the rejected frames with reasons, totals and timing."""
    lines = ["| portrait | yaw | source | rejected outputs |", "|---|---:|---|---:|"]
    rejected = []
    n_out = 0
    for row, (_, _, _, verdicts) in zip(table, results):
        src, outs = verdicts[0], verdicts[1:]
        n_out += len(outs)
        bad = [v for v in outs if not v.ok]
        rejected += bad
        lines.append(f"| {row['path']} | {float(row['yaw']):+.0f} | "
                     f"{'ok' if src.ok else 'REJECTED: ' + '; '.join(src.reasons)} | "
                     f"{len(bad)}/{len(outs)} |")
    lines.append("")
    for v in rejected:
        lines.append(f"rejected: {v.portrait} <- {Path(v.driver).stem} frame {v.frame}: "
                     f"{'; '.join(v.reasons)}")
    counts: dict[str, int] = {}
    for v in rejected:
        for reason in v.reasons:  # the reason without its numbers: "second eye at", "N faces"
            kind = " ".join(re.sub(r"\([^)]*\)|[-+]?\d+(\.\d+)?( d)?", "", reason).split())
            kind = "N faces" if kind == "faces" else kind
            counts[kind] = counts.get(kind, 0) + 1
    n_src = sum(not res[3][0].ok for res in results)
    lines += ["", f"rejected outputs: {len(rejected)} of {n_out}"
              + (f" ({', '.join(f'{k}: {n}' for k, n in sorted(counts.items()))})"
                 if counts else ""),
              f"rejected source crops: {n_src} of {len(results)}",
              "seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items())
              + f" ({len(results)} portraits, {n_out} outputs)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument("--portraits", type=Path, default=PORTRAITS)
    parser.add_argument("--drivers", type=Path, default=DRIVERS)
    parser.add_argument("--out", type=Path, default=Path("turned-faces.png"),
                        help="the full contact sheet (PNG)")
    parser.add_argument("--thumb", type=int, default=128, help="tile side of the full sheet")
    parser.add_argument("--small", type=Path, default=None,
                        help="also write a downsized sheet for committing (at most 1.5 MB)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N portraits")
    parser.add_argument("--json", type=Path, default=None, help="write every verdict as JSON")
    args = parser.parse_args(argv)
    for p in (args.portraits, args.drivers, args.data / "corpus"):
        if not p.exists():
            raise FileNotFoundError(f"not found: {p}")

    t0 = time.perf_counter()
    table, drivers, results, seconds = run_set(args.data, args.portraits, args.drivers,
                                               args.limit)
    seconds["total"] = time.perf_counter() - t0
    print(report(table, drivers, results, seconds))
    sheet = contact_sheet(results, drivers, args.thumb)
    write_image(args.out, sheet)
    print(f"wrote {args.out}")
    if args.small is not None:
        n = write_small(contact_sheet(results, drivers, 64), args.small)
        print(f"wrote {args.small} ({n / 1e6:.2f} MB)")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "drivers": [{"path": d.path, "frames": d.frames} for d in drivers],
            "verdicts": [asdict(v) for res in results for v in res[3]],
            "rejected_outputs": sum(not v.ok for res in results for v in res[3][1:]),
            "outputs": sum(len(res[3]) - 1 for res in results),
            "rejected_sources": sum(not res[3][0].ok for res in results),
            "seconds": seconds,
        }
        args.json.write_text(json.dumps(payload, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
