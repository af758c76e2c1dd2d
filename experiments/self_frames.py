"""Self-reenactment over whole stretches of corpus clips, scored by what the pipeline does not use
(docs/expressions.md): the photo is a video's frame 0, which is also the reference of relative
motion, and the clip's first 150 frames drive it; every 5th output is compared with its driving
frame (the ground truth) by face PSNR (in the frame's face region), by the distance of dlib's
68 points over the outer eye corners' distance, and by the error of dlib's brow heights (each
brow's mean point above its eye corners' line, eye distances; beside it the unmoved photo's).

    python experiments/self_frames.py dreamtalk/W009_front_surprised_level3_001.mp4,styletalk/Obama_clip1.mp4
"""

import itertools
import sys
from pathlib import Path

import numpy as np
from brow_strength import DLIB_BROWS, DLIB_EYES, brow_heights  # experiments/, run as a script

from reenact.config import AnimateConfig
from reenact.eval.expression_error import dlib_landmark_error
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.io import iter_video_frames
from reenact.metrics.face_mask import face_mask
from reenact.metrics.psnr import psnr
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face


def dlib_brows(points: np.ndarray) -> np.ndarray:
    """(2,) each brow's mean dlib point above its eye corners' line, in eye distances."""
    return brow_heights(points, DLIB_BROWS, DLIB_EYES)


VIDEOS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "corpus" / "videos"
FRAMES, EVERY = 150, 5


def main(videos: list[str]) -> None:
    check = FaceLayoutCheck()  # dlib's detector and 68-point predictor
    totals = {"psnr": [], "dlib": [], "brow": [], "brow0": []}
    with FaceTracker(static=True) as tracker:
        for v in videos:
            clip = list(itertools.islice(iter_video_frames(VIDEOS / v), FRAMES))
            r = Reenactor(AnimateConfig(motion="relative", reference_frame=0))
            src = r.prepare_source(clip[0], v)
            ps, ld, br, br0 = [], [], [], []
            photo = check.landmarks(clip[0])
            for i, warp in enumerate(r.drive(src, clip, 25.0, True, clip[0], v)):
                if i % EVERY or i == 0:
                    continue
                gt = clip[i]
                face, truth = pick_face(tracker.detect(gt), 0), check.landmarks(gt)
                if face is None or truth is None:
                    continue
                out = np.ascontiguousarray(r.compose(src, warp))
                ps.append(psnr(out, gt, face_mask(face.points, gt.shape[:2])))
                got = check.landmarks(out)
                if got is not None:
                    ld.append(dlib_landmark_error(got, truth))
                if got is not None and photo is not None:
                    br.append(np.abs(dlib_brows(got) - dlib_brows(truth)).mean())
                    br0.append(np.abs(dlib_brows(photo) - dlib_brows(truth)).mean())
            print(f"{v}: face PSNR {np.mean(ps):.2f} dB, dlib landmark distance {np.mean(ld):.4f}, "
                  f"brow height error {np.mean(br):.4f} (photo {np.mean(br0):.4f})", flush=True)
            for k, x in zip(totals, (ps, ld, br, br0), strict=True):
                totals[k].append(np.mean(x))
    print(f"mean over {len(videos)} videos: face PSNR {np.mean(totals['psnr']):.2f} dB, dlib "
          f"landmark distance {np.mean(totals['dlib']):.4f}, brow height error "
          f"{np.mean(totals['brow']):.4f} (photo {np.mean(totals['brow0']):.4f})")


if __name__ == "__main__":
    main(sys.argv[1].split(","))
