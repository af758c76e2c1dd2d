"""An expression descriptor of a face from its tracked landmarks, and ExpMSE between two faces.

The papers compare 3DMM expression coefficients (3DDFA, FaceWarehouse). Without those networks we
measure what such coefficients encode, from the landmarks in the head frame (pose removed by the
landmark model's fit), each distance divided by the inter-ocular distance: mouth opening, mouth
width, mouth-corner lift against the upper lip (smile), each eye's opening (over its width), each
brow's height above its eye, and the chin's drop below the nose. Scale- and pose-free, but like
3DMM coefficients not free of identity: compare it across identities with that in mind."""

import numpy as np
import torch

from reenact.eval.pose_error import _model
from reenact.face.topology import (
    CHIN,
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    LOWER_LIP_INNER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    NOSE_TIP,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    UPPER_LIP_INNER,
)
from reenact.metrics.landmark_error import landmark_error

RIGHT_LID_UPPER, RIGHT_LID_LOWER = 159, 145
LEFT_LID_UPPER, LEFT_LID_LOWER = 386, 374
RIGHT_BROW, LEFT_BROW = 105, 334  # mid-brow points
NAMES = ("mouth_open", "mouth_width", "smile", "right_eye_open", "left_eye_open",
         "right_brow", "left_brow", "jaw")


def expression_descriptor(points: np.ndarray) -> np.ndarray:
    """(478, 3) landmarks in pixels -> (8,) descriptor, in the order of ``NAMES``."""
    c = _model().fit(torch.from_numpy(np.asarray(points, dtype=np.float64))[None])
    h = c.identity[0].reshape(-1, 3).numpy()  # head frame: pose and scale removed

    def d(i, j):
        return float(np.linalg.norm(h[i] - h[j]))

    iod = d(RIGHT_EYE_OUTER, LEFT_EYE_OUTER)
    corners_y = (h[MOUTH_RIGHT, 1] + h[MOUTH_LEFT, 1]) / 2
    return np.array([
        d(UPPER_LIP_INNER, LOWER_LIP_INNER) / iod,
        d(MOUTH_RIGHT, MOUTH_LEFT) / iod,
        (h[UPPER_LIP_INNER, 1] - corners_y) / iod,  # the upper lip: opening barely moves it
        d(RIGHT_LID_UPPER, RIGHT_LID_LOWER) / d(RIGHT_EYE_OUTER, RIGHT_EYE_INNER),
        d(LEFT_LID_UPPER, LEFT_LID_LOWER) / d(LEFT_EYE_OUTER, LEFT_EYE_INNER),
        d(RIGHT_BROW, RIGHT_LID_UPPER) / iod,
        d(LEFT_BROW, LEFT_LID_UPPER) / iod,
        d(CHIN, NOSE_TIP) / iod,
    ])


# dlib's 68 points (iBUG 300-W order)
DLIB_EYE_OUTER = (36, 45)
DLIB_NAMES = ("mouth_open", "mouth_width", "smile", "right_eye_open", "left_eye_open",
              "right_brow", "left_brow")


def dlib_expression_descriptor(points: np.ndarray) -> np.ndarray:
    """(68, 2) dlib points in pixels -> (7,) descriptor in the order of ``DLIB_NAMES``: the same
    measures as ``expression_descriptor`` from an estimator the pipeline does not use (issue 21:
    mediapipe's grade the tracker that drives the warp). In the image plane, in the eye line's
    frame (roll removed), so a turned head foreshortens them."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    u = p[DLIB_EYE_OUTER[1]] - p[DLIB_EYE_OUTER[0]]
    iod = float(np.linalg.norm(u))
    u = u / max(iod, 1e-9)
    v = np.array([-u[1], u[0]])  # towards the chin

    def d(i, j):
        return float(np.linalg.norm(p[i] - p[j]))

    corners_v = (p[48] + p[54]) @ v / 2
    return np.array([
        d(62, 66) / iod,
        d(48, 54) / iod,
        (p[51] @ v - corners_v) / iod,  # the upper lip's middle over the corners: a smile
        (d(37, 41) + d(38, 40)) / 2 / d(36, 39),
        (d(43, 47) + d(44, 46)) / 2 / d(42, 45),
        d(19, 37) / iod,
        d(24, 44) / iod,
    ])


def dlib_landmark_error(pred: np.ndarray, target: np.ndarray) -> float:
    """``landmark_error`` of two sets of dlib's 68 points (the AKD of the papers, from an
    independent estimator)."""
    return landmark_error(pred, target, eyes=DLIB_EYE_OUTER)


def expression_mse(pred: np.ndarray, target: np.ndarray) -> float:
    """ExpMSE: mean squared difference of two descriptors.

    Example:
        >>> expression_mse(np.array([0.1, 0.0]), np.array([0.0, 0.0]))
        0.005
    """
    d = np.asarray(pred, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    return round(float(np.mean(d**2)), 15)
