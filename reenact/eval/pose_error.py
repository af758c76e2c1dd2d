"""Head pose of a face from its tracked landmarks, and PoseMSE / PRMSE between two faces.

The pose is the landmark model's fit (a similarity transform of the stable upper-face vertices,
``LandmarkFaceModel.fit``): no pose network is needed. The papers use Hopenet (DCG-GAN) and the
estimator of [16] (the mesh paper); any estimator with the same signature can replace this one
(``Observer(pose=...)``).
"""

import functools

import numpy as np
import torch

from reenact.geometry import matrix_to_euler


@functools.lru_cache(maxsize=1)
def _model():
    from reenact.face.landmark_model import LandmarkFaceModel

    return LandmarkFaceModel()


def head_pose_deg(points: np.ndarray) -> np.ndarray:
    """(478, 3) landmarks in pixels -> (pitch, yaw, roll) in degrees."""
    c = _model().fit(torch.from_numpy(np.asarray(points, dtype=np.float64))[None])
    return np.degrees(matrix_to_euler(c.rotation)[0].numpy())


def pose_mse(pred_deg: np.ndarray, target_deg: np.ndarray) -> float:
    """PoseMSE: mean over (pitch, yaw, roll) of the squared difference, in degrees squared.

    Example:
        >>> pose_mse(np.array([0.0, 3.0, 0.0]), np.zeros(3))
        3.0
    """
    d = np.asarray(pred_deg, dtype=np.float64) - np.asarray(target_deg, dtype=np.float64)
    return float(np.mean(d**2))


def pose_rmse(pred_deg: np.ndarray, target_deg: np.ndarray) -> float:
    """PRMSE: the root of PoseMSE, in degrees."""
    return float(np.sqrt(pose_mse(pred_deg, target_deg)))
