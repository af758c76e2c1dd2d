"""mediapipe face mesh with iris refinement: 478 landmarks per face, in image space (pixels).

mediapipe returns x, y normalised by the image width and height and z normalised by the width
(smaller is closer); we scale all three to pixels so the landmarks are metric in image space.
Still images use static mode (detect every call); videos use tracking mode, where mediapipe reuses
the previous frame's face region (faster and steadier).
"""

import os
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrackedFace:
    points: np.ndarray  # (478, 3) float64, image space, pixels
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the landmarks, pixels

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])


def _quiet_mediapipe() -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # absl is a mediapipe dependency; stay quiet only if present
        pass


class FaceTracker:
    """Wraps ``mediapipe.solutions.face_mesh.FaceMesh``.

    Args:
        static: True for independent still images, False for consecutive video frames.
        max_faces: how many faces mediapipe looks for.
        min_confidence: mediapipe's detection (and, in video mode, tracking) confidence.
    """

    def __init__(self, static: bool = True, max_faces: int = 4, min_confidence: float = 0.5):
        _quiet_mediapipe()
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static, max_num_faces=max_faces, refine_landmarks=True,
            min_detection_confidence=min_confidence, min_tracking_confidence=min_confidence)

    def detect(self, image: np.ndarray) -> list[TrackedFace]:
        """All faces in an (H, W, 3) uint8 RGB image, largest first."""
        h, w = image.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(image))
        faces = []
        for lms in result.multi_face_landmarks or []:
            pts = np.array([(p.x * w, p.y * h, p.z * w) for p in lms.landmark], dtype=np.float64)
            box = (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
            faces.append(TrackedFace(points=pts, box=tuple(float(b) for b in box)))
        return sorted(faces, key=lambda f: -f.area)

    def close(self) -> None:
        self._mesh.close()

    def __enter__(self) -> "FaceTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def pick_face(faces: list[TrackedFace], index: int = 0,
              previous: TrackedFace | None = None) -> TrackedFace | None:
    """Choose a face: the one nearest the previous frame's face when there is one, else by size
    rank (0 = largest). Returns None when there is no face or fewer than ``index + 1`` faces."""
    if not faces:
        return None
    if previous is not None:
        return min(faces, key=lambda f: float(np.linalg.norm(f.center - previous.center)))
    return faces[index] if index < len(faces) else None
