"""How much of a blink the pipeline's temporal smoothing keeps (docs/expressions.md, "Blinks
that shut in a frame").

Every corpus and shared driving video's first 300 frames are tracked and fitted as the pipeline
does (mediapipe in video mode, the landmark model's fit), then smoothed by
``reenact.tracking.smoothing.CoefficientSmoother`` at 25 fps. Per eye, the lid gap (head units)
over its median in the clip: its mean on the frames where the unsmoothed fit's is under 0.3
(shut frames), raw and smoothed; and the lids' jitter (mean absolute second difference of that
ratio) on the frames at least 5 from any shut frame, where the lids are still or slow.

    python experiments/blink_smoothing.py
"""

import itertools
from pathlib import Path

import numpy as np
import torch

from reenact.face import LandmarkFaceModel
from reenact.face.expression import head_lid_gaps
from reenact.io import iter_video_frames
from reenact.tracking.mediapipe_tracker import FaceTracker
from reenact.tracking.smoothing import CoefficientSmoother, jitter

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FRAMES, SHUT, AWAY = 300, 0.3, 5


def gaps(model: LandmarkFaceModel, coeffs) -> np.ndarray:
    return head_lid_gaps(model.head_vertices(coeffs.identity, coeffs.expression))[0].numpy()


def main() -> None:
    model = LandmarkFaceModel()
    videos = sorted((DATA / "corpus" / "videos").glob("*/*.mp4")) + \
        sorted((DATA / "driving").glob("*.mp4"))
    depth = {"raw": [], "smoothed": []}
    shake = {"raw": [], "smoothed": []}
    for path in videos:
        smoother = CoefficientSmoother(25.0)
        raw, smooth = [], []
        with FaceTracker(static=False, max_faces=1) as tracker:
            for frame in itertools.islice(iter_video_frames(path), FRAMES):
                faces = tracker.detect(frame)
                if not faces:
                    continue
                c = model.fit(torch.from_numpy(faces[0].points)[None])
                raw.append(gaps(model, c))
                smooth.append(gaps(model, smoother(c)))
        if len(raw) < 3:
            continue
        raw, smooth = np.array(raw), np.array(smooth)
        median = np.median(raw, 0)
        shut = raw < SHUT * median
        near = np.zeros(len(raw), bool)
        for i in np.nonzero(shut.any(1))[0]:
            near[max(0, i - AWAY + 1):i + AWAY] = True
        for name, g in (("raw", raw), ("smoothed", smooth)):
            if shut.any():
                depth[name].append(float((g / median)[shut].mean()))
            if (~near).sum() > 2:
                shake[name].append(jitter(g[~near] / median))
        if shut.any():
            print(f"{path.name}: {shut.sum()} shut eye-frames; gap over median there raw "
                  f"{depth['raw'][-1]:.3f}, smoothed {depth['smoothed'][-1]:.3f}", flush=True)
    print(f"{len(depth['raw'])} of {len(shake['raw'])} clips blink: lid gap over its median on "
          f"shut frames raw {np.mean(depth['raw']):.3f}, smoothed {np.mean(depth['smoothed']):.3f};"
          f" lids' jitter away from blinks raw {np.mean(shake['raw']):.4f}, smoothed "
          f"{np.mean(shake['smoothed']):.4f}")


if __name__ == "__main__":
    main()
