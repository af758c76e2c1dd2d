"""The landmark-mesh face model: mediapipe's 478-point mesh as an embedded, data-free 3DMM.

Fitting a face: a similarity (Umeyama) from the mean shape's *stable* vertices (forehead, temples,
nose bridge and tip, eye corners: points that expressions barely move) to the tracked landmarks
gives the rigid pose; undoing that pose gives the face's shape in the head frame. From one image the
shape cannot be split into identity and expression, so the fitted identity is that whole shape and
the expression is zero; expressions are then offsets between shapes (``reenact.face.expression``).
"""

import functools
import math

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
from reenact.geometry import procrustes, umeyama


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
        self._mean = np.ascontiguousarray(self.mean.double().numpy())  # for ``fit_points``
        self._stable = np.ascontiguousarray(self.stable.numpy(), np.int64)

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

    def fit_points(self, points: np.ndarray, compiled=None) -> FaceCoefficients:
        """``fit`` of one face's tracked points (478, 3), image pixels, by ``fit_loop``: the
        video's per-frame fit, on the frames' thread, where its twenty NumPy and torch steps
        took 0.36 ms a frame (docs/speed.md, stop 56). ``compiled``: ``reenact.render.compiled``'s
        loops (``fit_loop`` compiled), or None to run it as Python (the same bits). The rotation
        is Horn's (Umeyama's, to rounding)."""
        p = np.ascontiguousarray(points, np.float64)
        if p.shape != (NUM_VERTICES, 3):
            raise ValueError(f"expected landmarks of shape ({NUM_VERTICES}, 3), got {p.shape}")
        R, t, head = np.empty((3, 3)), np.empty(3), np.empty((NUM_VERTICES, 3))
        scale = (fit_loop if compiled is None else compiled.fit_loop)(p, self._mean, self._stable,
                                                                       R, t, head)
        identity = torch.from_numpy(head).reshape(1, -1).to(self.dtype)
        return FaceCoefficients(identity=identity, expression=torch.zeros_like(identity),
                                rotation=torch.from_numpy(R)[None].to(self.dtype),
                                scale=torch.tensor([scale], dtype=self.dtype),
                                translation=torch.from_numpy(t)[None].to(self.dtype))


def fit_loop(points, mean, stable, R, t, head):
    """``LandmarkFaceModel.fit`` of one face as plain float64 steps, compiled by numba where
    ``reenact.render.compiled`` has loaded (the same bits run as Python): the similarity taking
    the ``mean`` shape's ``stable`` points to ``points``' (their centroids; the rotation by
    Horn's quaternion, ``procrustes.horn_quaternion``; the scale as Umeyama's), into ``R``
    (3, 3) and ``t`` (3,); every point taken back into the head frame, ``head`` (V, 3) =
    R^T (p - t) / scale. Returns the scale."""
    k = stable.shape[0]
    ms, md = np.zeros(3), np.zeros(3)
    for i in range(k):
        for c in range(3):
            ms[c] += mean[stable[i], c]
            md[c] += points[stable[i], c]
    for c in range(3):
        ms[c], md[c] = ms[c] / k, md[c] / k
    s, spread = np.zeros((3, 3)), 0.0
    for i in range(k):
        for r in range(3):
            a = mean[stable[i], r] - ms[r]
            spread += a * a
            for c in range(3):
                s[r, c] += a * (points[stable[i], c] - md[c])
    q = np.empty(4)
    n = math.sqrt(procrustes.horn_quaternion(s, q))
    w, x, y, z = q[0] / n, q[1] / n, q[2] / n, q[3] / n
    R[0, 0], R[0, 1], R[0, 2] = 1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)
    R[1, 0], R[1, 1], R[1, 2] = 2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)
    R[2, 0], R[2, 1], R[2, 2] = 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)
    trace = 0.0  # trace(R^T cov), cov the points' cross-covariance (Umeyama's scale)
    for r in range(3):
        for c in range(3):
            trace += R[r, c] * s[c, r]
    scale = trace / spread
    for r in range(3):
        t[r] = md[r] - scale * (R[r, 0] * ms[0] + R[r, 1] * ms[1] + R[r, 2] * ms[2])
    for v in range(points.shape[0]):
        d0, d1, d2 = points[v, 0] - t[0], points[v, 1] - t[1], points[v, 2] - t[2]
        for c in range(3):
            head[v, c] = (d0 * R[0, c] + d1 * R[1, c] + d2 * R[2, c]) / scale
    return scale
