"""Eye opening by an estimator the pipeline does not use (issue 21, docs/expressions.md): photos
each driven to one frame of a corpus clip, relative motion from the reference frame
``--reference-frame auto`` picks, as ``animate`` drives them. dlib's 68 points give each eye's
opening over its width; printed: the output's over the photo's, the driving frame's over its
reference's, and the mean absolute difference of the two ratios (both eyes). Beside them, what
the pipeline's side sees: the driving frame's opening over its reference's by mediapipe (static
tracker), and the re-enacted mesh's lid gap over the photo's.

    python experiments/eye_opening.py out.json faces/s1.jpg,faces/s2.jpg \\
        styletalk/happyenglish_clip2.mp4@182,styletalk/Obama_clip1.mp4@84

Photos are relative to ../shared/data, clips to its corpus/videos.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

from reenact.config import AnimateConfig
from reenact.eval.expression_error import dlib_expression_descriptor, expression_descriptor
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.io import iter_video_frames, read_image
from reenact.motion.eyes import lid_gaps
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main(out: str, photos: list[str], clips: list[str]) -> None:
    check, tracker = FaceLayoutCheck(), FaceTracker(static=True)

    def eyes(image: np.ndarray) -> np.ndarray | None:
        points = check.landmarks(np.ascontiguousarray(image))
        return None if points is None else dlib_expression_descriptor(points)[3:5]

    def eyes_mp(image: np.ndarray) -> np.ndarray | None:
        faces = tracker.detect(image)
        return expression_descriptor(faces[0].points)[3:5] if faces else None

    loaded = {}
    for spec in clips:
        name, k = spec.split("@")
        loaded[spec] = (list(itertools.islice(iter_video_frames(DATA / "corpus" / "videos" / name),
                                              int(k) + 1)), int(k))
    rows = []
    for p in photos:
        r = Reenactor(AnimateConfig(crop_only=True))
        src = r.prepare_source(read_image(DATA / p), p)
        for spec, (clip, k) in loaded.items():
            d = r.open_driving(src, clip)
            fps, reference, name = d.fps, d.reference, d.name
            reference = clip[0] if reference is None else reference
            warp = next(iter(r.drive(src, [clip[k]], fps, True, reference, name)))
            got = [eyes(r.compose(src, warp)), eyes(src.crop), eyes(clip[k]), eyes(reference),
                   eyes_mp(clip[k]), eyes_mp(reference)]
            if any(e is None for e in got):
                print(f"{p} {spec}: dlib finds no face, left out")
                continue
            mesh = lid_gaps(r.model, warp.coeffs)[0] / lid_gaps(r.model, src.coeffs)[0]
            rows.append({"photo": p, "clip": spec, "out": (got[0] / got[1]).tolist(),
                         "driver": (got[2] / got[3]).tolist(),
                         "driver_mp": (got[4] / got[5]).tolist(), "mesh": mesh.tolist()})
    Path(out).write_text(json.dumps(rows))
    o, d = np.array([r["out"] for r in rows]), np.array([r["driver"] for r in rows])
    print(f"{len(rows)} outputs: eye opening / the photo's {o.mean():.3f} (the driver's / its "
          f"reference's {d.mean():.3f}); mean absolute difference {np.abs(o - d).mean():.3f}")
    print(f"what the pipeline sees: the driver's by mediapipe "
          f"{np.mean([r['driver_mp'] for r in rows]):.3f}, the re-enacted mesh's lid gap / the "
          f"photo's {np.mean([r['mesh'] for r in rows]):.3f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(","))
