"""The driver's mouth against the synthetic one (issue 21, docs/expressions.md): photos driven by
the most open-mouthed frame of corpus clips (absolute motion, image drivers), scored by dlib's 68
points (not the tracker the pipeline uses): the 7-number expression descriptor's MSE to the
driver's, the mouth-open term alone, and dlib's identity distance to the photo. The unmoved
photo's expression error is printed beside them.

    python experiments/mouth_interior.py \\
        dreamtalk/M030_front_happy_level3_001.mp4,dreamtalk/W009_front_fear_level3_001.mp4 \\
        faces/s2.jpg,corpus/portraits/hallo/7.jpg
"""

import sys
from pathlib import Path

import numpy as np

from reenact.config import AnimateConfig
from reenact.eval.expression_error import dlib_expression_descriptor
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.eval.identity import DlibIdentity
from reenact.io import iter_video_frames, read_image
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
SEARCH = (400, 6)  # the most open mouth among the first 400 frames, every 6th


def most_open_frame(path: Path, tracker: FaceTracker) -> np.ndarray:
    """The frame whose inner lips (mediapipe 13, 14) are furthest apart over the eye distance."""
    best, frame = -1.0, None
    for i, f in enumerate(iter_video_frames(path)):
        if i >= SEARCH[0]:
            break
        if i % SEARCH[1]:
            continue
        faces = tracker.detect(f)
        if not faces:
            continue
        p = faces[0].points
        gap = np.linalg.norm(p[13, :2] - p[14, :2]) / np.linalg.norm(p[33, :2] - p[263, :2])
        if gap > best:
            best, frame = gap, f
    if frame is None:
        raise ValueError(f"{path}: no face in its first {SEARCH[0]} frames")
    return frame


def main(videos: list[str], photos: list[str]) -> dict[str, dict[str, float]]:
    with FaceTracker(static=True) as tracker:
        drivers = [most_open_frame(DATA / "corpus" / "videos" / v, tracker) for v in videos]
    check, identity = FaceLayoutCheck(), DlibIdentity()
    driver_points = [check.landmarks(d) for d in drivers]
    systems = {m: Reenactor(AnimateConfig(crop_only=True, mouth=m))
               for m in ("synthetic", "driver")}
    scores = {m: {"mse": [], "open": [], "identity": []} for m in (*systems, "photo")}
    for photo in photos:
        image = read_image(DATA / photo)
        for mouth, r in systems.items():
            src = r.prepare_source(image, photo)
            photo_points = check.landmarks(src.crop)
            photo_id = identity.embed(src.crop)
            for drv, drv_points in zip(drivers, driver_points):
                if drv_points is None or photo_points is None:
                    continue
                out = np.ascontiguousarray(
                    r.compose(src, next(iter(r.drive(src, [drv], is_video=False)))))
                points = check.landmarks(out)
                if points is None:
                    continue
                target = dlib_expression_descriptor(drv_points)
                got = dlib_expression_descriptor(points)
                scores[mouth]["mse"].append(float(((got - target) ** 2).mean()))
                scores[mouth]["open"].append(abs(got[0] - target[0]))
                emb = identity.embed(out)
                if emb is not None and photo_id is not None:
                    scores[mouth]["identity"].append(identity.distance(emb, photo_id))
                if mouth == "driver":  # the unmoved photo, once
                    still = dlib_expression_descriptor(photo_points)
                    scores["photo"]["mse"].append(float(((still - target) ** 2).mean()))
                    scores["photo"]["open"].append(abs(still[0] - target[0]))
    summary = {m: {k: float(np.mean(v)) for k, v in s.items() if v} | {"n": len(s["mse"])}
               for m, s in scores.items()}
    for m, s in summary.items():
        print(m, " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                          for k, v in s.items()))
    return summary


if __name__ == "__main__":
    main(sys.argv[1].split(","), sys.argv[2].split(","))
