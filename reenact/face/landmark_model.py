"""The landmark-mesh face model: mediapipe's 478-point mesh as an embedded, data-free 3DMM.

Fitting a face: a similarity (Umeyama) from the mean shape's *stable* vertices (forehead, temples,
nose bridge and tip, eye corners: points that expressions barely move) to the tracked landmarks
gives the rigid pose; undoing that pose gives the face's shape in the head frame. From one image the
shape cannot be split into identity and expression, so the fitted identity is that whole shape and
the expression is zero; expressions are then offsets between shapes (``reenact.face.expression``).
"""

import functools

import numpy as np
import torch

from reenact.face.base import FaceCoefficients, pose_vertices
from reenact.face.mean_shape import mean_shape, mirror_index
from reenact.face.topology import (
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    NOSE_TIP,
    NUM_VERTICES,
    REGION,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    Topology,
    landmark_topology,
)
from reenact.geometry import umeyama


@functools.lru_cache(maxsize=1)
def stable_vertices() -> np.ndarray:
    """Indices of vertices that expressions barely move: upper face above the nose tip, away from
    the eyelids and brows, plus the nose and the four eye corners."""
    mean = mean_shape()
    topo = landmark_topology()
    movers = np.concatenate([topo.regions[k] for k in
                             ("right_eye", "left_eye", "right_brow", "left_brow", "iris")])
    dist = np.linalg.norm(mean[:, None, :2] - mean[None, movers, :2], axis=-1).min(1)
    upper = (mean[:, 1] < mean[NOSE_TIP, 1]) & (dist > 0.12)
    upper &= topo.vertex_region != REGION["iris"]
    keep = set(np.flatnonzero(upper)) | set(topo.regions["nose"].tolist())
    keep |= {RIGHT_EYE_OUTER, RIGHT_EYE_INNER, LEFT_EYE_OUTER, LEFT_EYE_INNER}
    return np.array(sorted(keep), dtype=np.int64)


class LandmarkFaceModel:
    """Coefficients <-> vertices for the landmark mesh (478 vertices, see ``landmark_topology``)."""

    def __init__(self, dtype: torch.dtype = torch.float64):
        self.topology: Topology = landmark_topology()
        self.dtype = dtype
        self.mean = torch.from_numpy(mean_shape()).to(dtype)  # (V, 3) head frame
        self.stable = torch.from_numpy(stable_vertices())
        self.mirror = torch.from_numpy(mirror_index())

    @property
    def num_vertices(self) -> int:
        return NUM_VERTICES

    def head_vertices(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        return (identity + expression).reshape(identity.shape[0], NUM_VERTICES, 3)

    def vertices(self, coeffs: FaceCoefficients) -> torch.Tensor:
        return pose_vertices(self.head_vertices(coeffs.identity, coeffs.expression), coeffs)

    def fit(self, landmarks: torch.Tensor) -> FaceCoefficients:
        """Fit tracked landmarks (B, 478, 3), image space, pixels. Returns identity = the face's
        head-frame shape (flattened), expression = 0."""
        if landmarks.ndim != 3 or landmarks.shape[1:] != (NUM_VERTICES, 3):
            raise ValueError(f"expected landmarks of shape (B, {NUM_VERTICES}, 3), got "
                             f"{tuple(landmarks.shape)}")
        lm = landmarks.to(self.dtype)
        B = lm.shape[0]
        src = self.mean[self.stable].expand(B, -1, -1)
        scale, R, t = umeyama(src, lm[:, self.stable])
        head = (lm - t[:, None]) @ R / scale[:, None, None]  # (B, V, 3) = R^T (x - t) / s
        identity = head.reshape(B, -1)
        return FaceCoefficients(identity=identity, expression=torch.zeros_like(identity),
                                rotation=R, scale=scale, translation=t)
