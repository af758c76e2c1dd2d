"""Closed lids against the ground truth (docs/expressions.md, "Closed lids take the lid's colour").

Two parts:

``fit``: for every corpus and shared driving video whose eyes shut in its first 300 frames (one
eye's lid gap under a quarter of its median, tracked by mediapipe), the colour of the shut lid
(the median between the lower lid and the crease ring) against two colours of the same person
with open eyes (the frame nearest the median gap): the skin 0.16 eye widths above the upper lid
and the cheek below the eye (CHEEKS, below). Fits closed = a cheek + b above by least squares on
one identity-disjoint half (people alternated, by the manifest's labels) and reports its error on
the other, beside the rules it replaces.

``self``: self-reenactment of each such video from its frame 0 (the photo and the reference;
skipped where that frame's eyes are not open) up to its shut frame; the output pasted into the
frame is compared with the frame in each eye's lid skin as dlib's 68 points give it on the
ground truth (between the corners, above the lash line: ``lid_region``): the difference of the
regions' median colours and the mean absolute pixel difference, RGB in [0, 1].

    python experiments/closed_lids.py fit
    python experiments/closed_lids.py self
"""

import csv
import itertools
import sys
from pathlib import Path

import cv2
import numpy as np

from reenact.config import AnimateConfig
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.io import iter_video_frames
from reenact.motion.eyes import LIDS
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FRAMES, SHUT, ABOVE = 300, 0.25, 0.16
LID_SKIN = (0.05, 0.4)
# as reenact.motion.eyes.CHEEKS and reenact.face.topology.EYE_CREASES have them, copied so that the
# judge runs against commits before them
CHEEKS = ((117, 118, 119, 120, 101, 100), (346, 347, 348, 349, 330, 329))
CREASE = ((130, 247, 30, 29, 27, 28, 56, 190, 243), (359, 467, 260, 259, 257, 258, 286, 414, 463))
DLIB_EYES = ((36, (37, 38), 39, (40, 41)), (45, (44, 43), 42, (47, 46)))  # corner, upper, corner, lower


def videos() -> list[Path]:
    return sorted((DATA / "corpus" / "videos").glob("*/*.mp4")) + \
        sorted((DATA / "driving").glob("*.mp4"))


def blink(path: Path) -> tuple[list[np.ndarray], list[np.ndarray], int, int] | None:
    """The frames up to the shut one, their mediapipe points (None where no face), the index of
    the frame with the smallest lid gap and of the one nearest the median; None without a blink."""
    frames, points, gaps = [], [], []
    with FaceTracker(static=False, max_faces=1) as tracker:
        for frame in itertools.islice(iter_video_frames(path), FRAMES):
            faces = tracker.detect(frame)
            frames.append(frame)
            p = faces[0].points[:, :2] if faces else None
            points.append(p)
            gaps.append(np.nan if p is None else
                        np.linalg.norm(p[159] - p[145]) / np.linalg.norm(p[33] - p[133]))
    gaps = np.array(gaps)
    if np.isnan(gaps).all():
        return None
    median = np.nanmedian(gaps)
    shut = int(np.nanargmin(gaps))
    if gaps[shut] > SHUT * median:
        return None
    return frames[:shut + 1], points, shut, int(np.nanargmin(np.abs(gaps - median)))


def median_in(image: np.ndarray, polygon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The median colour of an image (H, W, 3) in [0, 1] inside a polygon, and the mask."""
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return np.median(image[mask > 0], 0), mask > 0


def fit() -> None:
    with open(DATA / "corpus" / "MANIFEST.tsv") as f:
        people = {row["file"]: row["person"] for row in csv.DictReader(f, delimiter="\t")}
    rows, who = [], []
    for path in videos():
        found = blink(path)
        if found is None:
            continue
        frames, points, shut, open_ = found
        closed_im = frames[shut].astype(np.float64) / 255
        open_im = next(itertools.islice(iter_video_frames(path), open_, None)).astype(float) / 255
        p, q = points[shut], points[open_]
        for e in range(2):
            upper, lower = LIDS[e]
            shut_lid, _ = median_in(closed_im, np.r_[p[list(CREASE[e])], p[list(lower)][::-1]])
            w = np.linalg.norm(q[33] - q[133])
            ij = np.round(q[list(upper[1:-1])] - [0, ABOVE * w]).astype(int)
            above = open_im[ij[:, 1], ij[:, 0]].mean(0)
            ij = np.round(q[list(CHEEKS[e])]).astype(int)
            cheek = np.median(np.concatenate([open_im[y - 1:y + 2, x - 1:x + 2].reshape(-1, 3)
                                              for x, y in ij]), 0)
            rows.append(np.r_[shut_lid, cheek, above])
            rel = str(path.relative_to(DATA / "corpus")) if "corpus" in path.parts else path.name
            who.append(people.get(rel, path.name))
        print(f"{path.name}: shut at frame {shut}, open at {open_}", flush=True)
    a = np.array(rows)
    shut_lid, cheek, above = a[:, :3], a[:, 3:6], a[:, 6:]
    order = sorted(set(who))
    half = np.array([order.index(w) % 2 for w in who])
    print(f"{len(a)} eyes of {len(order)} people")
    for train in (0, 1):
        m, t = half == train, half != train
        x = np.stack([cheek[m].ravel(), above[m].ravel()], 1)
        (ca, cb), *_ = np.linalg.lstsq(x, shut_lid[m].ravel(), rcond=None)

        def err(pred: np.ndarray, sel: np.ndarray = t) -> float:
            return float(np.abs(pred[sel] - shut_lid[sel]).mean())

        print(f"fit on half {train} ({m.sum()} eyes): closed = {ca:.3f} cheek + {cb:.3f} above; "
              f"on the other half's {t.sum()} eyes: mean |error| {err(ca * cheek + cb * above):.4f}"
              f" (0.7 above, the old rule: {err(0.7 * above):.4f}; above: {err(above):.4f}; "
              f"0.75 cheek: {err(0.75 * cheek):.4f})")
    x = np.stack([cheek.ravel(), above.ravel()], 1)
    (ca, cb), *_ = np.linalg.lstsq(x, shut_lid.ravel(), rcond=None)
    print(f"fit on all: closed = {ca:.3f} cheek + {cb:.3f} above")


def lid_region(points: np.ndarray, e: int) -> np.ndarray:
    """dlib's (68, 2) points of a shut eye -> the polygon of its lid skin: from its corners, the
    lash line (the upper lid's points) lifted LID_SKIN[0] to LID_SKIN[1] eye widths (the crease
    of an open eye lies about 0.26 eye widths over its lashes, and a shut lid adds its opening)."""
    c0, up, c1, _ = DLIB_EYES[e]
    w = np.linalg.norm(points[c1] - points[c0])
    lash = points[list(up)]
    return np.r_[points[[c0]], lash - [0, LID_SKIN[1] * w], points[[c1]],
                 lash[::-1] - [0, LID_SKIN[0] * w]]


def self_() -> None:
    check = FaceLayoutCheck()
    colour, pixels = [], []
    for path in videos():
        found = blink(path)
        if found is None:
            continue
        frames, points, shut, _ = found
        p0 = points[0]
        if p0 is None or np.linalg.norm(p0[159] - p0[145]) < 0.2 * np.linalg.norm(p0[33] - p0[133]):
            print(f"{path.name}: frame 0's eyes not open; skipped")
            continue
        truth = check.landmarks(frames[shut])
        if truth is None:
            print(f"{path.name}: dlib finds no face in frame {shut}; skipped")
            continue
        r = Reenactor(AnimateConfig(motion="relative", reference_frame=0))
        src = r.prepare_source(frames[0], path.name)
        *_, warp = r.drive(src, frames, 25.0, True, frames[0], path.name)
        out = np.ascontiguousarray(r.compose(src, warp)).astype(np.float64) / 255
        gt = frames[shut].astype(np.float64) / 255
        c, px = [], []
        for e in range(2):
            region = lid_region(truth, e)
            m_out, mask = median_in(out, region)
            m_gt, _ = median_in(gt, region)
            c.append(np.abs(m_out - m_gt).mean())
            px.append(np.abs(out[mask] - gt[mask]).mean())
        colour.append(np.mean(c))
        pixels.append(np.mean(px))
        print(f"{path.name} frame {shut}: lid colour error {colour[-1]:.4f}, "
              f"pixel error {pixels[-1]:.4f}", flush=True)
    print(f"mean over {len(colour)} videos: lid colour error {np.mean(colour):.4f}, "
          f"pixel error {np.mean(pixels):.4f}")


if __name__ == "__main__":
    {"fit": fit, "self": self_}[sys.argv[1]]()
