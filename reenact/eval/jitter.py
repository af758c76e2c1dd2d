"""Temporal jitter of tracked landmarks over a video: how much they shake from frame to frame."""

import numpy as np

from reenact.face.topology import LEFT_EYE_OUTER, RIGHT_EYE_OUTER


def landmark_jitter(points: list[np.ndarray | None]) -> float:
    """Mean acceleration ``|p[t+1] - 2 p[t] + p[t-1]|`` of the landmarks (2D), divided by the
    inter-ocular distance at t, over every three consecutive frames that all have a face.
    Smooth motion (constant velocity) scores 0; NaN when no such triple exists.

    Example:
        >>> base = np.zeros((478, 2)); base[LEFT_EYE_OUTER, 0] = 100.0
        >>> landmark_jitter([base, base + [1.0, 0.0], base])  # a 1 px shake, then back
        0.02
    """
    values = []
    for prev, cur, nxt in zip(points, points[1:], points[2:]):
        if prev is None or cur is None or nxt is None:
            continue
        iod = float(np.linalg.norm(cur[LEFT_EYE_OUTER, :2] - cur[RIGHT_EYE_OUTER, :2]))
        if iod <= 0:
            continue
        acc = nxt[:, :2] - 2 * cur[:, :2] + prev[:, :2]
        values.append(np.linalg.norm(acc, axis=1).mean() / iod)
    return float(np.mean(values)) if values else float("nan")
