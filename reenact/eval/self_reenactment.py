"""Self-reenactment on one video: source = frame 0, driving = later frames, ground truth = those
frames. Reports face-region PSNR and landmark error (AKD) for the method and for the output-the-
source baseline."""

from dataclasses import dataclass

import numpy as np

from reenact.config import AnimateConfig
from reenact.io import iter_video_frames
from reenact.metrics.face_mask import face_mask
from reenact.metrics.landmark_error import landmark_error
from reenact.metrics.psnr import psnr
from reenact.pipeline import Driving, Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker


@dataclass(frozen=True)
class SelfReenactmentScores:
    frames: int
    psnr_method: float
    psnr_source: float
    akd_method: float
    akd_source: float
    faces_found: float  # fraction of outputs in which the re-tracker found a face


def evaluate_self_reenactment(video: str, config: AnimateConfig | None = None,
                              max_frames: int | None = None, stride: int = 1
                              ) -> SelfReenactmentScores:
    frames = list(iter_video_frames(video))
    frames = frames[: (max_frames + 1) if max_frames else None]
    source, targets = frames[0], frames[1:]
    reenactor = Reenactor(config or AnimateConfig())
    src = reenactor.prepare_source(source, f"{video}: frame 0")
    # relative to the first frame (the source itself), not an automatic reference
    outputs = [f.image for f in reenactor.run(src, Driving(targets, True, 25.0, None, video))]
    p_m, p_s, a_m, a_s, found = [], [], [], [], 0
    with FaceTracker(static=True) as tracker:
        for i in range(0, len(targets), stride):
            gt, out = targets[i], outputs[i]
            gt_faces = tracker.detect(gt)
            if not gt_faces:
                continue
            gt_pts = gt_faces[0].points
            mask = face_mask(gt_pts, gt.shape[:2])
            p_m.append(psnr(out, gt, mask))
            p_s.append(psnr(source, gt, mask))
            out_faces = tracker.detect(out)
            src_faces = tracker.detect(source)
            if out_faces:
                found += 1
                a_m.append(landmark_error(out_faces[0].points[:468], gt_pts[:468]))
            if src_faces:
                a_s.append(landmark_error(src_faces[0].points[:468], gt_pts[:468]))
    n = len(p_m)
    return SelfReenactmentScores(frames=n, psnr_method=float(np.mean(p_m)),
                                 psnr_source=float(np.mean(p_s)),
                                 akd_method=float(np.mean(a_m)), akd_source=float(np.mean(a_s)),
                                 faces_found=found / max(n, 1))
