"""Temporal smoothing of fitted face coefficients: the One-Euro filter (Casiez et al., CHI 2012).

A low-pass filter whose cut-off rises with speed: still faces are held steady (little jitter), fast
motion passes with little lag. Rotations are filtered as axis-angle offsets from the previous
filtered rotation, so there is no wrap-around at +-180 degrees. The eyes have their own, quicker
filter: a blink shuts them within a frame or two.
"""

import math

import numpy as np
import torch

from reenact.face.base import FaceCoefficients
from reenact.face.topology import EYE_CREASES, NUM_VERTICES, landmark_topology
from reenact.geometry import so3_exp, so3_log

# The eyes' vertices (their contours, irises and the crease ring over each upper lid) are filtered
# with EYE_BETA and EYE_D_CUTOFF: with the shape's filter a one-frame blink at 25 fps kept its lids
# at 0.36 of their open gap instead of the fit's 0.20 (too open to draw shut); with these 0.25,
# for 1.26x the lids' jitter while they are still (experiments/blink_smoothing.py, 75 clips).
EYE_BETA, EYE_D_CUTOFF = 20.0, 5.0


def eye_coordinates() -> np.ndarray:
    """Indices into a landmark shape flattened (V * 3) of the eyes' vertices."""
    regions = landmark_topology().regions
    verts = np.unique(np.concatenate([regions["right_eye"], regions["left_eye"], regions["iris"],
                                      *EYE_CREASES]))
    return (verts[:, None] * 3 + np.arange(3)).ravel()


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter over arrays of any shape (each element filtered independently).

    Args:
        min_cutoff: Hz; lower = steadier when still.
        beta: speed coefficient; higher = less lag when moving.
        d_cutoff: Hz, for the derivative estimate.
    """

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.05, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self._x = None
        self._dx = None

    def __call__(self, x: np.ndarray, dt: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx = x.copy(), np.zeros_like(x)
            return x.copy()
        dx = (x - self._x) / dt
        a_d = _alpha(self.d_cutoff, dt)
        self._dx = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        tau = 1.0 / (2 * np.pi * cutoff)
        a = 1.0 / (1.0 + tau / dt)
        self._x = a * x + (1 - a) * self._x
        return self._x.copy()


class CoefficientSmoother:
    """One-Euro smoothing of a stream of single-face coefficients (batch 1), frame by frame.

    Pose (rotation, scale, translation) and the head-frame shape are filtered separately; the shape
    is in head units (inter-ocular distance 1), translation in pixels, so each has its own beta.
    """

    # Tuned on d3.mp4: pose jitter x0.35 of raw while self-reenactment PSNR stays within 0.1 dB
    # of unsmoothed (stronger smoothing lags and costs up to 0.5 dB).
    def __init__(self, fps: float, min_cutoff: float = 2.5, beta_pose: float = 1.0,
                 beta_shape: float = 6.0):
        self.dt = 1.0 / float(fps)
        self._rot = OneEuroFilter(min_cutoff, beta_pose)
        self._pos = OneEuroFilter(min_cutoff, 0.01)
        self._shape = OneEuroFilter(min_cutoff, beta_shape)
        self._eyes = OneEuroFilter(min_cutoff, EYE_BETA, EYE_D_CUTOFF)
        self._eye_at = eye_coordinates()
        self._R_prev = None

    def __call__(self, c: FaceCoefficients, dt: float | None = None) -> FaceCoefficients:
        """The next frame's coefficients, filtered; ``dt``: seconds since the last frame (default
        1 / fps; a live camera's loop, which drops frames, gives the real gap)."""
        dt = self.dt if dt is None else dt
        R = c.rotation[0].double()
        if self._R_prev is None:
            self._R_prev = R
            self._rot._x, self._rot._dx = np.zeros(3), np.zeros(3)
        w = so3_log(self._R_prev.T @ R).numpy()  # offset from the last filtered rotation
        w_f = self._rot(w, dt)
        R_f = self._R_prev @ so3_exp(torch.from_numpy(w_f))
        # Re-base the filter on the new rotation so offsets stay small.
        self._rot._x = np.zeros(3)
        self._R_prev = R_f
        pos = np.r_[c.scale.double().numpy(), c.translation[0].double().numpy()]
        pos_f = self._pos(pos, dt)
        shape = c.identity[0].double().numpy() + c.expression[0].double().numpy()
        shape_f = self._shape(shape, dt)
        if shape.size == NUM_VERTICES * 3:  # the landmark mesh's shape
            shape_f.reshape(-1)[self._eye_at] = self._eyes(shape.reshape(-1)[self._eye_at], dt)
        dtype = c.identity.dtype
        return FaceCoefficients(identity=torch.from_numpy(shape_f)[None].to(dtype),
                                expression=torch.zeros_like(c.expression),
                                rotation=R_f[None].to(c.rotation.dtype),
                                scale=torch.tensor([pos_f[0]], dtype=c.scale.dtype),
                                translation=torch.from_numpy(pos_f[1:])[None].to(c.translation.dtype))


def jitter(series: np.ndarray) -> float:
    """Mean absolute second difference along axis 0 (frame-to-frame acceleration): a jitter measure
    that ignores smooth motion."""
    series = np.asarray(series, dtype=np.float64)
    if len(series) < 3:
        return 0.0
    return float(np.abs(np.diff(series, n=2, axis=0)).mean())
