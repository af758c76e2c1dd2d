"""The driver's brows where its pixels put them: mediapipe's brow points moved by what it missed.

mediapipe's face mesh sees about half of a brow's rise: its prior pulls the brow points towards a
resting brow (issue 21; ``experiments/brow_strength.py``: its brow change over the change the
pixels show, 0.51 and 0.43 on five corpus clips, where dlib's 68 points see 1.01 and 0.81). The
brow is a dark band above each eye, so its move is found in the pixels: above each eye the
brightness profile upwards from the eye corners' line (a band 0.12-0.48 eye distances up, 0.2 wide,
in the eye line's frame: roll and scale removed) is registered against the reference frame's by the
vertical shift that best correlates. What that shift shows beyond the tracked brow points' own
change is added to them, so relative motion carries the brow's whole change. A profile that does
not correlate well (hair over the brow, a hand, blur) or one with no contrast leaves the points as
tracked, and so, fading in from TURNED[0] to TURNED[1] degrees, does a head turned away from the
reference's pose: the profile then sees another part of the brow, from another side. Hand-written:
a 1-D registration of two short profiles in the face's frame, a few lines.
"""

import functools

import cv2
import numpy as np
import torch

from reenact.face.landmark_model import stable_vertices
from reenact.face.topology import (
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    landmark_topology,
)
from reenact.geometry.procrustes import umeyama

EYES = ((RIGHT_EYE_OUTER, RIGHT_EYE_INNER), (LEFT_EYE_INNER, LEFT_EYE_OUTER))  # image left, right
BAND = (0.12, 0.48)  # eye distances above the eye corners' line: the brow and the skin round it
WIDTH = 0.1  # eye distances either side of the eye's middle
STEP = 0.002  # eye distances between profile samples
SEARCH = 0.08  # the largest shift tried, eye distances
MIN_CORRELATION = 0.8  # below it the profiles are not the same brow (hair, a hand, blur)
MIN_CONTRAST = 4.0  # grey levels: the reference profile's spread, below it there is no brow to see
MOST = 0.05  # eye distances: the largest correction made
TURNED = (10.0, 20.0)  # degrees turned from the reference's pose: corrected fully, not at all


@functools.cache
def _brows() -> tuple[np.ndarray, np.ndarray]:
    """Each brow's points (the subject's right brow first: image left)."""
    r = landmark_topology().regions
    return np.asarray(r["right_brow"]), np.asarray(r["left_brow"])


def _frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The eye line's unit vector, its upward normal (image y grows down) and the eye distance."""
    p = points[:, :2]
    u = p[EYES[1][1]] - p[EYES[0][0]]
    iod = float(np.linalg.norm(u))
    u = u / max(iod, 1e-9)
    return u, np.array([u[1], -u[0]]), iod


def brow_heights(points: np.ndarray) -> np.ndarray:
    """(2,): each brow's mean point above its eye corners' line, in eye distances.

    Args:
        points: (478, 2+) mediapipe face mesh points, image pixels.
    """
    p = np.asarray(points, np.float64)[:, :2]
    _, up, iod = _frame(p)
    return np.array([(p[b].mean(0) - p[list(e)].mean(0)) @ up / iod
                     for b, e in zip(_brows(), EYES, strict=True)])


def profiles(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(2, N) float32: the brightness profile above each eye, from BAND[0] - SEARCH to
    BAND[1] + SEARCH eye distances, a sample every STEP.

    Args:
        image: (H, W, 3) uint8 RGB.
        points: (478, 2+) mediapipe face mesh points in ``image``'s pixels.
    """
    p = np.asarray(points, np.float64)[:, :2]
    u, up, iod = _frame(p)
    n = round((BAND[1] - BAND[0] + 2 * SEARCH) / STEP)
    out = []
    for e in EYES:
        # patch (column j, row i) -> image: up STEP eye distances a row, across 2 WIDTH in 24
        origin = p[list(e)].mean(0) + ((BAND[0] - SEARCH) * up - WIDTH * u) * iod
        m = np.stack([u * iod * 2 * WIDTH / 23, up * iod * STEP, origin], 1)  # (2, 3)
        patch = cv2.warpAffine(np.ascontiguousarray(image), m, (24, n),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)  # (n, 24, 3)
        out.append(cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY).astype(np.float32).mean(1))
    return np.stack(out)


def _normalised(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit spread along the last axis: ``(x - mean) / (std + 1e-6)``, with the
    deviation from the mean taken once (``np.std``'s own steps, the same bits)."""
    d = x - x.mean(-1, keepdims=True)
    return d / (np.sqrt((d * d).sum(-1, keepdims=True) / x.shape[-1]) + 1e-6)


def shift(reference: np.ndarray, profile: np.ndarray) -> tuple[float, float]:
    """(shift, correlation): how far up (eye distances) ``profile`` has moved from ``reference``
    (both (N,) from ``profiles``), the best of every STEP within SEARCH, refined between steps by
    a parabola through the best three."""
    k = round(SEARCH / STEP)
    return _shifts(_normalised(reference[None, k:-k]), profile[None])[0]


def _shifts(cores: np.ndarray, profiles: np.ndarray) -> list[tuple[float, float]]:
    """``shift`` of each of M profiles (M, N) given their references' normalised cores (M, n)
    (the middles, SEARCH in from either end), in one call."""
    windows = np.lib.stride_tricks.sliding_window_view(profiles, cores.shape[-1], axis=-1)
    r = (_normalised(windows) * cores[:, None, :]).mean(-1)  # (M, 2k + 1)
    return [_peak(x) for x in r]


def _peak(r: np.ndarray) -> tuple[float, float]:
    """(shift, correlation) at the best of the correlations ``r`` (2k + 1,) over the shifts."""
    k = round(SEARCH / STEP)
    i = int(r.argmax())
    best = float(r[i])
    frac = 0.0
    if 0 < i < len(r) - 1:
        a, b, c = r[i - 1], r[i], r[i + 1]
        frac = float(np.clip(0.5 * (a - c) / min(a - 2 * b + c, -1e-9), -0.5, 0.5))
    return (i - k + frac) * STEP, best


class BrowRegistration:
    """Corrects a video's tracked brow points against its reference frame (see the module).

    Example:
        >>> brows = BrowRegistration(reference_frame, reference_points)  # doctest: +SKIP
        >>> points = brows(frame, points)  # (478, 3), the brow points moved  # doctest: +SKIP
    """

    def __init__(self, image: np.ndarray, points: np.ndarray):
        self.reference = profiles(image, points)
        self.heights = brow_heights(points)
        self.rigid = torch.from_numpy(np.asarray(points, np.float64)[stable_vertices()])[None]
        k = round(SEARCH / STEP)
        self.seen = self.reference[:, k:-k].std(-1) >= MIN_CONTRAST
        self.cores = _normalised(self.reference[:, k:-k])  # what shift needs of it, (2, n)

    def correction(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(2,): each brow's rise the pixels show beyond the points' own, eye distances."""
        _, R, _ = umeyama(self.rigid, torch.from_numpy(
            np.asarray(points, np.float64)[stable_vertices()])[None])
        turned = np.degrees(np.arccos(np.clip((float(torch.trace(R[0])) - 1) / 2, -1, 1)))
        weight = np.clip((TURNED[1] - turned) / (TURNED[1] - TURNED[0]), 0, 1)
        out = np.zeros(2)
        if weight == 0:
            return out
        now = profiles(image, points)
        moved = brow_heights(points) - self.heights
        for side, (s, r) in enumerate(_shifts(self.cores, now)):
            if self.seen[side] and r >= MIN_CORRELATION:
                out[side] = weight * np.clip(s - moved[side], -MOST, MOST)
        return out

    def __call__(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(478, 3) a copy of ``points`` whose brow points are moved up by ``correction``."""
        out = np.array(points, np.float64, copy=True)
        _, up, iod = _frame(out)
        for b, c in zip(_brows(), self.correction(image, out), strict=True):
            out[b, :2] += c * iod * up
        return out
