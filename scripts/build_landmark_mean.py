"""Build reenact/face/data/landmark_mean.npz: the landmark mesh's mean shape and mirror map.

Tracks the faces in ../shared/data (portraits and every 15th video frame) plus scikit-image's
astronaut and matplotlib's grace_hopper with mediapipe, aligns them by generalised Procrustes, and
symmetrises the mean (the mirror map pairs each vertex with its reflection by optimal assignment).
The mean's orientation is the average orientation of these mostly frontal faces.

    python scripts/build_landmark_mean.py [--data ../shared/data]
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from reenact.face.topology import LEFT_EYE_OUTER, RIGHT_EYE_OUTER
from reenact.geometry import umeyama
from reenact.io import iter_video_frames, read_image
from reenact.io.samples import sample_images
from reenact.tracking.mediapipe_tracker import FaceTracker


def _align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    s, R, t = umeyama(torch.from_numpy(src)[None], torch.from_numpy(dst)[None])
    return (s[0] * torch.from_numpy(src) @ R[0].T + t[0]).numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[1] / "../shared/data")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).parents[1] / "reenact/face/data/landmark_mean.npz")
    args = parser.parse_args()

    images = list(sample_images().values())
    if (args.data / "faces").is_dir():
        images += [read_image(p) for p in sorted((args.data / "faces").glob("*.jpg"))]
    if (args.data / "driving").is_dir():
        for video in sorted((args.data / "driving").glob("*.mp4")):
            images += [f for i, f in enumerate(iter_video_frames(video)) if i % 15 == 0]
    with FaceTracker(static=True) as tracker:
        shapes = [faces[0].points for faces in map(tracker.detect, images) if faces]
    print(f"{len(shapes)} faces tracked")

    ref = shapes[0] - shapes[0].mean(0)
    for _ in range(5):
        aligned = np.stack([_align(s, ref) for s in shapes])
        ref = aligned.mean(0)
        ref -= ref.mean(0)
        ref /= np.linalg.norm(ref[LEFT_EYE_OUTER] - ref[RIGHT_EYE_OUTER])

    # Mirror map: reflect x (the faces are roughly frontal), pair vertices by optimal assignment,
    # then refine the reflection plane with those pairs and pair again.
    reflected = ref * np.array([-1.0, 1.0, 1.0])
    mirrored = reflected
    for _ in range(3):
        cost = np.linalg.norm(ref[:, None] - mirrored[None], axis=-1)  # ref[i] vs mirrored[j]
        _, mirror = linear_sum_assignment(cost + cost.T)
        mirrored = _align(reflected[mirror], ref)[np.argsort(mirror)]
    bad = np.flatnonzero(mirror[mirror] != np.arange(len(mirror)))
    if len(bad):
        raise RuntimeError(f"mirror map is not an involution at vertices {bad.tolist()}")
    sym = 0.5 * (ref + mirrored[mirror])
    # Put the symmetry plane at x = 0 with the x axis along its normal.
    pairs = sym[mirror] - sym
    wide = np.abs(pairs[:, 0]).argsort()[-50:]
    normal = (pairs[wide] * np.sign(pairs[wide, :1])).mean(0)
    normal /= np.linalg.norm(normal)
    up = np.array([0.0, 1.0, 0.0]) - normal[1] * normal
    up /= np.linalg.norm(up)
    R = np.stack([normal, up, np.cross(normal, up)])
    sym = (sym - sym.mean(0)) @ R.T
    sym /= np.linalg.norm(sym[LEFT_EYE_OUTER] - sym[RIGHT_EYE_OUTER])
    if sym[LEFT_EYE_OUTER, 0] < sym[RIGHT_EYE_OUTER, 0]:
        raise RuntimeError("unexpected handedness: the subject's left eye should be at image right")
    residual = np.abs(sym[mirror] * [-1, 1, 1] - sym).max()
    print(f"symmetry residual {residual:.2e}, eye distance 1, {len(sym)} vertices")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, mean=sym.astype(np.float32), mirror=mirror.astype(np.int16))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
