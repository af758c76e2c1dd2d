"""Landmark error normalised by the inter-ocular distance (AKD / NME)."""

import numpy as np

from reenact.face.topology import LEFT_EYE_OUTER, RIGHT_EYE_OUTER


def landmark_error(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean 2D distance between corresponding landmarks (N, >=2), divided by the target's distance
    between the outer eye corners (mediapipe indices 33 and 263).

    Example:
        >>> t = np.zeros((478, 2)); t[263, 0] = 100.0
        >>> landmark_error(t + [2.0, 0.0], t)  # every point 2 px off, eyes 100 px apart
        0.02
    """
    iod = float(np.linalg.norm(target[LEFT_EYE_OUTER, :2] - target[RIGHT_EYE_OUTER, :2]))
    if iod <= 0:
        raise ValueError("the target's eye corners coincide")
    return float(np.linalg.norm(pred[:, :2] - target[:, :2], axis=1).mean() / iod)
