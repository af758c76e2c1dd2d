"""Does the output's gaze follow the driver's? (issue 21, docs/expressions.md)

Photos driven by videos (relative motion from each video's first frame, every 5th of the first
150 frames scored). Each eye's iris is located with what the pipeline does not use: the centroid
of the darkest 30 % of dlib's eye polygon, as a position between dlib's eye corners (0 outer,
1 inner). Prints the least-squares slope and the correlation of the output's change of that
position since the first frame against the driver's (1 = the gaze fully followed).

    python experiments/gaze.py driving/d0.mp4,driving/d6.mp4 faces/s42.jpg,faces/s1.jpg
"""

import sys
from pathlib import Path

import cv2
import numpy as np

from reenact.config import AnimateConfig
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.io import iter_video_frames, read_image
from reenact.pipeline import Reenactor

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
EYES = ((36, 39, range(36, 42)), (42, 45, range(42, 48)))  # dlib: corners and polygon per eye


def iris_positions(image: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """(2,) each eye's iris between its corners, or None where an eye polygon is too small."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    out = []
    for a, b, polygon in EYES:
        mask = np.zeros(grey.shape, np.uint8)
        cv2.fillPoly(mask, [points[list(polygon)].astype(np.int32)], 1)
        ys, xs = np.nonzero(mask)
        if len(xs) < 10:
            return None
        dark = grey[ys, xs] <= np.percentile(grey[ys, xs], 30)
        centre = np.array([xs[dark].mean(), ys[dark].mean()])
        axis = points[b] - points[a]
        out.append(float((centre - points[a]) @ axis / (axis @ axis)))
    return np.array(out)


def main(videos: list[str], photos: list[str], frames: int = 150, step: int = 5) -> tuple:
    check = FaceLayoutCheck()
    r = Reenactor(AnimateConfig(crop_only=True, motion="relative", reference_frame=0))
    driver_change, output_change = [], []
    for video in videos:
        clip = [f for i, f in enumerate(iter_video_frames(DATA / video)) if i < frames]
        for photo in photos:
            src = r.prepare_source(read_image(DATA / photo), photo)
            outputs = [r.compose(src, w) for w in r.drive(src, clip, 25.0, True,
                                                           reference=clip[0])]
            first = None
            for i in range(0, len(clip), step):
                dp = check.landmarks(clip[i])
                op = check.landmarks(np.ascontiguousarray(outputs[i]))
                if dp is None or op is None:
                    continue
                d, o = iris_positions(clip[i], dp), iris_positions(outputs[i], op)
                if d is None or o is None:
                    continue
                if first is None:
                    first = (d, o)
                    continue
                driver_change.append(d - first[0])
                output_change.append(o - first[1])
    x, y = np.ravel(driver_change), np.ravel(output_change)
    slope, corr = float(x @ y / (x @ x)), float(np.corrcoef(x, y)[0, 1])
    print(f"{len(x)} eye-frames: slope {slope:.2f}, correlation {corr:.2f}")
    return slope, corr


if __name__ == "__main__":
    main(sys.argv[1].split(","), sys.argv[2].split(","))
