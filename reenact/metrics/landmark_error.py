"""Landmark error normalised by the inter-ocular distance (AKD / NME), whole face or by region."""

import functools

import numpy as np

from reenact.face.topology import LEFT_EYE_OUTER, RIGHT_EYE_OUTER, landmark_topology


def landmark_error(pred: np.ndarray, target: np.ndarray, subset: np.ndarray | None = None,
                   eyes: tuple[int, int] = (RIGHT_EYE_OUTER, LEFT_EYE_OUTER)) -> float:
    """Mean 2D distance between corresponding landmarks (N, >=2), divided by the target's distance
    between the outer eye corners (``eyes``: mediapipe's 33 and 263 by default; dlib's 68 points
    have them at 36 and 45). ``subset``: indices of the landmarks to average over (the
    normalisation stays the whole face's).

    Example:
        >>> t = np.zeros((478, 2)); t[263, 0] = 100.0
        >>> landmark_error(t + [2.0, 0.0], t)  # every point 2 px off, eyes 100 px apart
        0.02
    """
    iod = float(np.linalg.norm(target[eyes[1], :2] - target[eyes[0], :2]))
    if iod <= 0:
        raise ValueError("the target's eye corners coincide")
    if subset is not None:
        pred, target = pred[subset], target[subset]
    return float(np.linalg.norm(pred[:, :2] - target[:, :2], axis=1).mean() / iod)


@functools.lru_cache(maxsize=1)
def landmark_groups() -> dict[str, np.ndarray]:
    """Named landmark sets for the error by region: the face oval (the jaw and cheek contour),
    eyes (lids; no irises, as in AKD), brows, nose and lips (outer and inner)."""
    r = landmark_topology().regions
    return {"oval": r["face_oval"],
            "eyes": np.concatenate([r["right_eye"], r["left_eye"]]),
            "brows": np.concatenate([r["right_brow"], r["left_brow"]]),
            "nose": r["nose"],
            "lips": np.concatenate([r["outer_lip"], r["inner_lip"]])}
