"""How often the re-enacted iris centre leaves its eye (a smeared eye: the eye opening is drawn by
fans from its contour to the iris centre, which fold over once the centre is outside). Photos
driven by corpus clips as ``animate`` drives them (relative motion from the auto reference); per
pair, the frames where the iris centre of an open eye of the re-enacted mesh (its contour at
least 0.2 of its width tall) lies outside the contour or within 0.05 of the eye's width of it,
and the smallest such distance.

    python experiments/iris_inside.py faces/s1.jpg,faces/s42.jpg \\
        dreamtalk/W009_front_surprised_level3_001.mp4

Photos are relative to ../shared/data, clips to its corpus/videos.
"""

import itertools
import sys
from pathlib import Path

import cv2
import numpy as np

from reenact.config import AnimateConfig
from reenact.face.topology import landmark_topology
from reenact.io import iter_video_frames, read_image
from reenact.motion.eyes import IRISES
from reenact.pipeline import Reenactor

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FRAMES = 150


def inside(verts: np.ndarray) -> float:
    """The smaller of the open eyes' iris centres' signed distances to their eye contours
    (positive inside), over the eye's width; 1 where both eyes are nearly shut."""
    regions = landmark_topology().regions
    out = [1.0]
    for name, (iris, _, a, b) in zip(("right_eye", "left_eye"), IRISES, strict=True):
        pts = verts[regions[name], :2].astype(np.float32)
        u = verts[b, :2] - verts[a, :2]
        width = np.linalg.norm(u)
        tall = np.ptp(pts @ np.array([-u[1], u[0]], np.float32) / width) / width
        if tall < 0.2:
            continue
        hull = cv2.convexHull(pts)  # the eye's opening is near convex
        out.append(cv2.pointPolygonTest(hull, tuple(map(float, verts[iris, :2])), True) / width)
    return min(out)


def main(photos: list[str], clips: list[str]) -> None:
    total, bad = 0, 0
    for clip in clips:
        path = DATA / "corpus" / "videos" / clip
        frames = list(itertools.islice(iter_video_frames(path), FRAMES))
        for photo in photos:
            r = Reenactor(AnimateConfig(crop_only=True))
            src = r.prepare_source(read_image(DATA / photo), photo)
            driving = r.open_driving(src, frames)
            ds = [inside(w.verts[0].numpy()) for w in r.drive(
                src, frames, driving.fps, True, driving.reference, clip)]
            n = sum(x < 0.05 for x in ds)
            total, bad = total + len(ds), bad + n
            print(f"{clip} {photo}: {n}/{len(ds)} frames, least {min(ds):.3f}", flush=True)
    print(f"all: {bad}/{total} frames with an open eye's iris centre at or past its edge")


if __name__ == "__main__":
    main(sys.argv[1].split(","), sys.argv[2].split(","))
