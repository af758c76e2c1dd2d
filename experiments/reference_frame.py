"""Which reference frame relative motion should start from (issue 21, docs/expressions.md).

Self-reenactment with the photo outside the clip, as users meet it: the photo is frame 0 of a
corpus video, the clip is frames 50 to 128 (every second one), the ground truth is the clip's own
frames. Compared: relative motion from the clip's first frame, from the frame
``--reference-frame auto`` chooses (with the default ``--reference-expression``, and with 0 as
``auto-r0``), absolute motion, and the unmoved photo; and ``photo-ref``, relative motion from
the photo itself (a bound on what any reference frame can give, not a method: a clip has no
frame exactly like the photo). Scores: face PSNR in
the ground truth's face region, and the distance of dlib's 68 points (not the tracker the pipeline
uses) between output and ground truth over the outer eye corners' distance.

    python experiments/reference_frame.py out.json styletalk/Obama_clip1.mp4,IP_LAP/129.mp4 [auto,absolute]

The optional third argument names the methods to run (default: all).
"""

import json
import sys
from pathlib import Path

import numpy as np

from reenact.config import AnimateConfig
from reenact.eval.expression_error import dlib_landmark_error
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.io import iter_video_frames
from reenact.metrics.face_mask import face_mask
from reenact.metrics.psnr import psnr
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face

VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "corpus" / "videos"
CLIP = slice(50, 130, 2)
METHODS = {"first": AnimateConfig(motion="relative", reference_frame=0),
           "auto": AnimateConfig(motion="relative", reference_frame="auto"),
           "auto-r0": AnimateConfig(motion="relative", reference_expression=0.0),
           "absolute": AnimateConfig(motion="absolute"),
           "photo-ref": AnimateConfig(motion="relative", reference_frame=0)}


def scores(outputs, clip, tracker, dlib_check) -> tuple[float, float]:
    """Mean face PSNR and dlib landmark distance of outputs against the clip's frames."""
    ps, ld = [], []
    for out, gt in zip(outputs, clip, strict=True):
        face = pick_face(tracker.detect(gt), 0)
        if face is None:
            continue
        ps.append(psnr(out, gt, face_mask(face.points, gt.shape[:2])))
        a, b = dlib_check.landmarks(np.ascontiguousarray(out)), dlib_check.landmarks(gt)
        if a is not None and b is not None:
            ld.append(dlib_landmark_error(a, b))
    return float(np.mean(ps)), float(np.mean(ld))


def main(out: str, videos: list[str], methods: list[str]) -> None:
    check = FaceLayoutCheck()  # dlib's detector and 68-point predictor
    rows = []
    with FaceTracker(static=True) as tracker:
        for v in videos:
            frames = list(iter_video_frames(VIDEOS / v))
            photo, clip = frames[0], frames[CLIP]
            row = {"video": v, "photo": scores([photo] * len(clip), clip, tracker, check)}
            for name in methods:
                config = METHODS[name]
                r = Reenactor(config)
                src = r.prepare_source(photo, v)
                reference = photo if name == "photo-ref" else r.open_driving(src, clip).reference
                outputs = [r.compose(src, w) for w in r.drive(src, clip, 25.0, True, reference, v)]
                row[name] = scores(outputs, clip, tracker, check)
                if name == "auto":
                    row["auto_index"] = r.reference_index
            rows.append(row)
            print(json.dumps(row), flush=True)
    Path(out).write_text(json.dumps(rows, indent=1))
    for m in ("photo", *methods):
        print(f"{m:9s} face PSNR {np.mean([r[m][0] for r in rows]):.2f} dB, dlib landmark "
              f"distance {np.mean([r[m][1] for r in rows]):.4f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","),
         sys.argv[3].split(",") if len(sys.argv) > 3 else list(METHODS))
