"""Every candidate reference frame of a clip, scored (issue 21, docs/expressions.md): why the
auto reference should weigh where the head sits in the picture.

The protocol of ``reference_frame.py`` (photo = frame 0, clip = frames 50 to 128, every second).
For each clip frame k: the auto reference's cost, the placement term, and the distance of k's own
dlib points from the photo's (over the eye distance, in the picture); for every fourth k, the
output's face PSNR and dlib distance to the ground truth on every fourth clip frame with k as the
reference.

    python experiments/reference_scan.py out.json styletalk/KristiNoem.mp4,IP_LAP/129.mp4
"""

import json
import sys
from pathlib import Path

import numpy as np

from reenact.config import AnimateConfig
from reenact.eval.expression_error import dlib_landmark_error
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.face.reference import placement_cost, reference_cost
from reenact.io import iter_video_frames
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_frame import CLIP, VIDEOS, scores


def main(out: str, videos: list[str]) -> None:
    check, rows = FaceLayoutCheck(), []
    with FaceTracker(static=True) as tracker:
        for v in videos:
            frames = list(iter_video_frames(VIDEOS / v))
            photo, clip = frames[0], frames[CLIP]
            r = Reenactor(AnimateConfig(motion="relative"))
            src = r.prepare_source(photo, v)
            photo_dlib = check.landmarks(photo)
            photo_points = pick_face(tracker.detect(photo), 0).points
            scored = list(range(0, len(clip), 4))
            cands = []
            for k, frame in enumerate(clip):
                face = pick_face(tracker.detect(frame), 0)
                if face is None:
                    continue
                c = r._fit(face)
                dk = check.landmarks(frame)
                cand = {"k": k,
                        "cost": float(reference_cost(r._head(src.coeffs), src.coeffs.rotation,
                                                     r._head(c), c.rotation)[0]),
                        "placement": placement_cost(photo_points, photo.shape[1], face.points,
                                                    frame.shape[1]),
                        "dlib_to_photo": None if dk is None or photo_dlib is None
                        else dlib_landmark_error(dk, photo_dlib)}
                if k % 4 == 0:
                    outs = [r.compose(src, w) for w in r.drive(
                        src, [clip[i] for i in scored], 25.0, True, frame, v)]
                    cand["output"] = scores(outs, [clip[i] for i in scored], tracker, check)
                cands.append(cand)
            rows.append({"video": v, "candidates": cands})
            print(v, json.dumps(cands), flush=True)
    with open(out, "w") as f:
        json.dump(rows, f, indent=1)
    for row in rows:
        tried = [c for c in row["candidates"] if "output" in c and c["dlib_to_photo"] is not None]
        if len(tried) > 2:
            r = np.corrcoef([c["dlib_to_photo"] for c in tried], [c["output"][1] for c in tried])
            print(f"{row['video']}: the reference's dlib distance to the photo against the "
                  f"output's to the ground truth, correlation {r[0, 1]:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","))
