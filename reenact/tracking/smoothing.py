"""Temporal smoothing of fitted face coefficients: the One-Euro filter (Casiez et al., CHI 2012).

A low-pass filter whose cut-off rises with speed: still faces are held steady (little jitter), fast
motion passes with little lag. Rotations are filtered as axis-angle offsets from the previous
filtered rotation, so there is no wrap-around at +-180 degrees. The eyes have their own, quicker
filter: a blink shuts them within a frame or two.
"""

import math
from collections.abc import Callable

import numpy as np
import torch

from reenact.face.base import FaceCoefficients
from reenact.face.topology import EYE_CREASES, NUM_VERTICES, landmark_topology

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
    The filters (``OneEuroFilter``'s steps) and the rotations' logarithm and exponential are one
    loop, ``smooth_step``, compiled by ``reenact.render.compiled`` where ``compiled()`` gives its
    loops (the pipeline's: on the frames' thread, whose every millisecond costs the video's
    frame rate 8 %; docs/speed.md, stop 56), else run as Python with the same bits.
    """

    # Tuned on d3.mp4: pose jitter x0.35 of raw while self-reenactment PSNR stays within 0.1 dB
    # of unsmoothed (stronger smoothing lags and costs up to 0.5 dB).
    def __init__(self, fps: float, min_cutoff: float = 2.5, beta_pose: float = 1.0,
                 beta_shape: float = 6.0, compiled: Callable[[], object | None] = lambda: None):
        self.dt = 1.0 / float(fps)
        # each filter's (min cutoff, beta, derivative cutoff): rotation, position, shape, eyes
        self._params = np.array([[min_cutoff, beta_pose, 1.0], [min_cutoff, 0.01, 1.0],
                                 [min_cutoff, beta_shape, 1.0],
                                 [min_cutoff, EYE_BETA, EYE_D_CUTOFF]], np.float64)
        self._eye_at = eye_coordinates().astype(np.int64)  # the compiled loop takes int64
        self._compiled = compiled
        self._prev: np.ndarray | None = None  # the last filtered rotation
        self._state: tuple[np.ndarray, ...] = ()

    def __call__(self, c: FaceCoefficients, dt: float | None = None) -> FaceCoefficients:
        """The next frame's coefficients, filtered; ``dt``: seconds since the last frame (default
        1 / fps; a live camera's loop, which drops frames, gives the real gap)."""
        dt = self.dt if dt is None else dt
        R = np.ascontiguousarray(c.rotation[0].double().numpy())
        pos = np.r_[c.scale.double().numpy(), c.translation[0].double().numpy()]
        shape = c.identity[0].double().numpy() + c.expression[0].double().numpy()
        eye_at = self._eye_at if shape.size == NUM_VERTICES * 3 else self._eye_at[:0]
        first = self._prev is None
        if first:
            self._prev = R.copy()
            # the filters' last output and derivative: rotation (an offset from the last
            # filtered rotation, so 0), position, shape, eyes
            self._state = tuple(np.zeros(n) for n in (3, pos.size, shape.size, eye_at.size)
                                for _ in range(2))
        out_R, out_pos, out_shape = np.empty((3, 3)), np.empty(pos.size), np.empty(shape.size)
        fast = self._compiled()
        (smooth_step if fast is None else fast.smooth_step)(
            R, self._prev, pos, np.ascontiguousarray(shape).reshape(-1), eye_at, first, dt,
            self._params, *self._state, out_R, out_pos, out_shape)
        dtype = c.identity.dtype
        return FaceCoefficients(
            identity=torch.from_numpy(out_shape.reshape(shape.shape))[None].to(dtype),
            expression=torch.zeros_like(c.expression),
            rotation=torch.from_numpy(out_R)[None].to(c.rotation.dtype),
            scale=torch.tensor([out_pos[0]], dtype=c.scale.dtype),
            translation=torch.from_numpy(out_pos[1:])[None].to(c.translation.dtype))


def smooth_step(R, prev, pos, shape, eye_at, first, dt, params, rot_x, rot_dx, pos_x, pos_dx,
                shape_x, shape_dx, eye_x, eye_dx, out_R, out_pos, out_shape):
    """One frame of ``CoefficientSmoother``: the rotation ``R`` (3, 3) as an offset (axis-angle)
    from the last filtered rotation ``prev`` (updated in place), the position ``pos`` (scale,
    translation), the flat shape ``shape`` and its eyes' coordinates (``eye_at``; their own
    quicker filter's output written over the shape's there), each through a One-Euro filter with
    its row of ``params`` (min cutoff, beta, derivative cutoff) and its state (last output,
    derivative; updated in place). ``first``: the filters start here (their output the input).
    Plain float64 steps in ``OneEuroFilter``'s order, the same bits run as Python or compiled."""
    if first:
        for i in range(3):
            for j in range(3):
                prev[i, j] = R[i, j]
    # the offset's logarithm: prev^T R, its angle (kept off 0 and pi) and axis
    d = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            d[i, j] = prev[0, i] * R[0, j] + prev[1, i] * R[1, j] + prev[2, i] * R[2, j]
    cos = min(max((d[0, 0] + d[1, 1] + d[2, 2] - 1.0) / 2.0, -1.0 + 1e-7), 1.0 - 1e-7)
    theta = math.acos(cos)
    scale = theta / (2.0 * math.sin(theta))
    w = np.empty(3)
    w[0], w[1], w[2] = ((d[2, 1] - d[1, 2]) * scale, (d[0, 2] - d[2, 0]) * scale,
                        (d[1, 0] - d[0, 1]) * scale)
    rot_x[:] = 0.0  # re-based on the last filtered rotation: the offset's filter starts at 0
    w_f = np.empty(3)
    _one_euro(w, rot_x, rot_dx, params[0], dt, False, w_f)
    _one_euro(pos, pos_x, pos_dx, params[1], dt, first, out_pos)
    _one_euro(shape, shape_x, shape_dx, params[2], dt, first, out_shape)
    eyes, eyes_f = np.empty(eye_at.size), np.empty(eye_at.size)
    for i in range(eye_at.size):
        eyes[i] = shape[eye_at[i]]
    _one_euro(eyes, eye_x, eye_dx, params[3], dt, first, eyes_f)
    for i in range(eye_at.size):
        out_shape[eye_at[i]] = eyes_f[i]
    # prev exp(w_f): Rodrigues' formula
    t = math.sqrt(w_f[0] * w_f[0] + w_f[1] * w_f[1] + w_f[2] * w_f[2])
    if t < 1e-6:
        a, b = 1.0 - t * t / 6.0, 0.5 - t * t / 24.0
    else:
        a, b = math.sin(t) / t, (1.0 - math.cos(t)) / (t * t)
    k = np.zeros((3, 3))
    k[0, 1], k[0, 2], k[1, 2] = -w_f[2], w_f[1], -w_f[0]
    k[1, 0], k[2, 0], k[2, 1] = w_f[2], -w_f[1], w_f[0]
    e = np.empty((3, 3))
    for i in range(3):
        for j in range(3):
            kk = k[i, 0] * k[0, j] + k[i, 1] * k[1, j] + k[i, 2] * k[2, j]
            e[i, j] = (1.0 if i == j else 0.0) + a * k[i, j] + b * kk
    for i in range(3):
        for j in range(3):
            out_R[i, j] = prev[i, 0] * e[0, j] + prev[i, 1] * e[1, j] + prev[i, 2] * e[2, j]
    for i in range(3):
        for j in range(3):
            prev[i, j] = out_R[i, j]


def _one_euro(x, last, derivative, params, dt, first, out):
    """``OneEuroFilter.__call__`` over ``x`` (n,), element by element in its operations' order:
    ``last`` and ``derivative`` (the filter's state) updated in place, the output in ``out``."""
    min_cutoff, beta, d_cutoff = params[0], params[1], params[2]
    a_d = 1.0 / (1.0 + (1.0 / (2 * math.pi * d_cutoff)) / dt)  # _alpha
    for i in range(x.size):
        if first:
            out[i], last[i], derivative[i] = x[i], x[i], 0.0
            continue
        dx = a_d * ((x[i] - last[i]) / dt) + (1 - a_d) * derivative[i]
        cutoff = min_cutoff + beta * abs(dx)
        a = 1.0 / (1.0 + (1.0 / (2 * np.pi * cutoff)) / dt)
        out[i] = last[i] = a * x[i] + (1 - a) * last[i]
        derivative[i] = dx


def jitter(series: np.ndarray) -> float:
    """Mean absolute second difference along axis 0 (frame-to-frame acceleration): a jitter measure
    that ignores smooth motion."""
    series = np.asarray(series, dtype=np.float64)
    if len(series) < 3:
        return 0.0
    return float(np.abs(np.diff(series, n=2, axis=0)).mean())
