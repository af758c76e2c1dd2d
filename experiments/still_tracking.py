"""Meshing a still once (in the region mediapipe's detector gives) or twice (again in the region of
its first mesh, as tracking does: ``reenact.tracking.mediapipe_tracker.SETTLE``), judged two ways.

1. Against the tracked frames relative motion compares a still with: for each corpus video, frames
   0, 10, 30 and 60 meshed as stills, and the same frames as a video-mode tracker sees them
   (tracked from frame 0). Printed: the mean distance of the 478 points over the outer eye
   corners' distance, and how many frames differ by more than 0.02 (a visible false motion).
2. Against dlib's 68 points, which neither mesh uses: over the corpus portraits and the videos'
   first frames, each brow's height above its eye corners' line and each eye's lid gap over its
   width (``brow_strength.brow_heights``), mediapipe's against dlib's. The two define the points
   differently, so printed: the correlation over the images, and the mean absolute difference
   after removing the mean offset.

    python experiments/still_tracking.py [videos] [portraits]    # both by default
"""

import itertools
import sys
from pathlib import Path

import numpy as np
from brow_strength import DLIB_BROWS, DLIB_EYES, MP_BROWS, MP_EYES, brow_heights  # experiments/

import reenact.tracking.mediapipe_tracker as mt
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.io import iter_video_frames, read_image
from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face

CORPUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "corpus"
FRAMES = (0, 10, 30, 60)
MP_LIDS = (((159,), (145,)), ((386,), (374,)))  # (upper, lower) per eye, image left to right
DLIB_LIDS = (((37, 38), (41, 40)), ((43, 44), (47, 46)))


def still(image: np.ndarray, settle: bool) -> np.ndarray | None:
    mt.SETTLE = settle
    with FaceTracker(static=True) as t:
        face = pick_face(t.detect(image), 0)
    return None if face is None else face.points


def iod(p: np.ndarray, eyes) -> float:
    return float(np.linalg.norm(p[eyes[1][1], :2] - p[eyes[0][0], :2]))


def openings(p: np.ndarray, lids, eyes) -> np.ndarray:
    """Each eye's lid gap (upper to lower, mean of the points given) over its corners' distance."""
    out = []
    for (up, low), (a, b) in zip(lids, eyes, strict=True):
        gap = np.linalg.norm(p[list(up), :2].mean(0) - p[list(low), :2].mean(0))
        out.append(gap / np.linalg.norm(p[a, :2] - p[b, :2]))
    return np.array(out)


def against_tracking(videos: list[Path]) -> None:
    dist = {False: [], True: []}
    for v in videos:
        clip = list(itertools.islice(iter_video_frames(v), FRAMES[-1] + 1))
        mt.SETTLE = True  # the video tracker as the pipeline runs it
        with FaceTracker(static=False) as t:
            tracked = [pick_face(t.detect(f), 0) for f in clip]
        for k in FRAMES:
            if k >= len(clip) or tracked[k] is None:
                continue
            ref = tracked[k].points
            for settle in (False, True):
                p = still(clip[k], settle)
                if p is not None:
                    d = np.linalg.norm(p[:, :2] - ref[:, :2], axis=1).mean() / iod(ref, MP_EYES)
                    dist[settle].append(d)
    for settle, d in dist.items():
        d = np.array(d)
        print(f"still meshed {'twice' if settle else 'once '}: {len(d)} frames, mean distance to "
              f"the tracked mesh {d.mean():.4f} eye distances (median {np.median(d):.4f}), "
              f"> 0.02 in {(d > 0.02).sum()}, > 0.05 in {(d > 0.05).sum()}")


def against_dlib(images: list[tuple[str, np.ndarray]]) -> None:
    check = FaceLayoutCheck()
    rows = {False: [], True: []}
    truth = []
    for _name, image in images:
        d = check.landmarks(image)
        got = {s: still(image, s) for s in (False, True)}
        if d is None or any(p is None for p in got.values()):
            continue
        truth.append(np.r_[brow_heights(d, DLIB_BROWS, DLIB_EYES),
                           openings(d, DLIB_LIDS, DLIB_EYES)])
        for s, p in got.items():
            rows[s].append(np.r_[brow_heights(p, MP_BROWS, MP_EYES),
                                 openings(p, MP_LIDS, MP_EYES)])
    truth = np.array(truth)
    print(f"{len(truth)} images with a face for both")
    for s, r in rows.items():
        r = np.array(r)
        out = []
        for name, cols in (("brow height", [0, 1]), ("eye opening", [2, 3])):
            a, b = r[:, cols].ravel(), truth[:, cols].ravel()
            dev = np.abs((a - a.mean()) - (b - b.mean())).mean()
            out.append(f"{name}: correlation {np.corrcoef(a, b)[0, 1]:.3f}, "
                       f"mean |difference - offset| {dev:.4f}")
        print(f"meshed {'twice' if s else 'once '}: " + "; ".join(out))


def main(which: list[str]) -> None:
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS}: the corpus is not here")
    videos = sorted((CORPUS / "videos").rglob("*.mp4"))
    if "videos" in which:
        against_tracking(videos)
    if "portraits" in which:
        images = [(str(v), next(iter(iter_video_frames(v)))) for v in videos]
        images += [(str(p), read_image(p)) for p in sorted((CORPUS / "portraits").rglob("*"))
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
        against_dlib(images)


if __name__ == "__main__":
    main(sys.argv[1:] or ["videos", "portraits"])
