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

It runs in the tracking thread, beside the warp, and what it does holding the interpreter's lock
holds back the frames' thread: as some thirty NumPy and torch steps a frame it cost 5-6 % of the
frame rate at 256 px pasted, where the same CPU time without the lock cost under 1 % (docs/speed.md,
stop 56). So its arithmetic is two plain loops here, which ``reenact.render.compiled`` compiles
(the pipeline hands ``BrowRegistration`` the compiled ones once numba has loaded): the face's
geometry (``brow_geometry``: the bands' frames, the brows' heights, the head's turn by Horn's
quaternion) and the registration (``brow_peaks``); the bands themselves are OpenCV's, which lets
the lock go. A profile's samples are sums of grey levels and its correlations come from integer
sums, exact in any order, so the NumPy steps here (the first frames', before numba loads) give
the compiled loop's bits.
"""

import functools
import math
from collections.abc import Callable

import cv2
import numpy as np

from reenact.face.landmark_model import stable_vertices
from reenact.face.topology import (
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    landmark_topology,
)
from reenact.geometry import procrustes

EYES = ((RIGHT_EYE_OUTER, RIGHT_EYE_INNER), (LEFT_EYE_INNER, LEFT_EYE_OUTER))  # image left, right
BAND = (0.12, 0.48)  # eye distances above the eye corners' line: the brow and the skin round it
WIDTH = 0.1  # eye distances either side of the eye's middle
ACROSS = 24  # samples across the band: their grey levels' sum is one sample of a profile
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


@functools.cache
def _indices() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """What ``brow_geometry`` reads: the eye corners (EYES in order), the brows' points (2, k),
    the stable points, and (BAND[0] - SEARCH, WIDTH, STEP, ACROSS - 1)."""
    return (np.array([i for e in EYES for i in e], np.int64),
            np.ascontiguousarray(np.stack(_brows()), np.int64),
            np.ascontiguousarray(stable_vertices(), np.int64),
            np.array([BAND[0] - SEARCH, WIDTH, STEP, ACROSS - 1], np.float64))


def _geometry(points: np.ndarray, rigid: np.ndarray, fast: object | None = None) -> np.ndarray:
    """(20,) ``brow_geometry`` of ``points`` (478, 3+) against the reference's stable points
    ``rigid`` (less their mean): ``fast``'s compiled loop where given, else run as Python (the
    same bits)."""
    eyes, brows, stable, params = _indices()
    p = np.ascontiguousarray(np.asarray(points, np.float64)[:, :3])
    out = np.empty(20)
    (brow_geometry if fast is None else fast.brow_geometry)(p, eyes, brows, rigid, stable,
                                                            params, out)
    return out


def brow_geometry(points, eyes, brows, rigid, stable, params, out):
    """``reenact.tracking.brows``' geometry of one face, into ``out`` (20,) float64: the eye
    line's unit vector (0, 1), its upward normal (2, 3) and the eye distance (4); the head's turn
    from the reference's pose, degrees (5); each brow's height above its eye corners, eye
    distances (6, 7); each band's affine map (2, 3) from its patch to the image (8-13, 14-19).
    ``points`` (478, 3), ``eyes`` the corners (right outer, right inner, left inner, left outer),
    ``brows`` (2, k) each brow's points, ``rigid`` the reference's ``stable`` points less their
    mean, ``params`` (the band's start below the eye line less the search, its half width, the
    step, the samples across less one). Plain float64 steps, which give the same bits run as
    Python (before numba loads) or compiled (``reenact.render.compiled``)."""
    lo, width, step, last = params[0], params[1], params[2], params[3]
    ux = points[eyes[3], 0] - points[eyes[0], 0]
    uy = points[eyes[3], 1] - points[eyes[0], 1]
    iod = math.sqrt(ux * ux + uy * uy)
    ux, uy = ux / max(iod, 1e-9), uy / max(iod, 1e-9)
    upx, upy = uy, -ux
    out[0], out[1], out[2], out[3], out[4] = ux, uy, upx, upy, iod
    for side in range(2):
        e0, e1 = eyes[2 * side], eyes[2 * side + 1]
        mx, my = (points[e0, 0] + points[e1, 0]) / 2.0, (points[e0, 1] + points[e1, 1]) / 2.0
        m = 8 + 6 * side
        out[m], out[m + 1] = ux * iod * 2.0 * width / last, upx * iod * step
        out[m + 2] = mx + (lo * upx - width * ux) * iod
        out[m + 3], out[m + 4] = uy * iod * 2.0 * width / last, upy * iod * step
        out[m + 5] = my + (lo * upy - width * uy) * iod
        bx, by = 0.0, 0.0
        for i in range(brows.shape[1]):
            bx += points[brows[side, i], 0]
            by += points[brows[side, i], 1]
        n = brows.shape[1]
        out[6 + side] = ((bx / n - mx) * upx + (by / n - my) * upy) / iod
    # the head's turn: the angle of the rotation that best takes the reference's stable points
    # to these (Horn's quaternion: the rotation Umeyama's SVD finds, without LAPACK)
    k = stable.shape[0]
    cx, cy, cz = 0.0, 0.0, 0.0
    for i in range(k):
        cx += points[stable[i], 0]
        cy += points[stable[i], 1]
        cz += points[stable[i], 2]
    cx, cy, cz = cx / k, cy / k, cz / k
    s = np.zeros((3, 3))
    for i in range(k):
        b = (points[stable[i], 0] - cx, points[stable[i], 1] - cy, points[stable[i], 2] - cz)
        for r in range(3):
            for col in range(3):
                s[r, col] += rigid[i, r] * b[col]
    q = np.empty(4)
    norm = procrustes.horn_quaternion(s, q)
    cos = 2.0 * q[0] * q[0] / norm - 1.0
    out[5] = math.acos(min(max(cos, -1.0), 1.0)) * (180.0 / math.pi)


def brow_peaks(grey, cores, k, step, out):
    """The registration's loop, into ``out`` (M, 2) float64: each band ``grey`` (M, N, C) uint8
    summed along its rows to a profile, its Pearson correlation with its reference's core
    ``cores`` (M, n) int64 at each of its N - n + 1 places, and the best place refined by a
    parabola -> the shift ((place - ``k`` + the parabola's fraction) times ``step``) and the
    correlation there. The sums in int64 (exact in any order), the rest in float64 with
    ``_correlations``' and ``_peak``'s operations in their order: their bits, compiled."""
    n, places = cores.shape[1], grey.shape[1] - cores.shape[1] + 1
    profile, r = np.empty(grey.shape[1], np.int64), np.empty(places)
    for s in range(grey.shape[0]):
        for i in range(grey.shape[1]):
            t = 0
            for j in range(grey.shape[2]):
                t += np.int64(grey[s, i, j])
            profile[i] = t
        sq, sq2 = 0, 0
        for i in range(n):
            sq += cores[s, i]
            sq2 += cores[s, i] * cores[s, i]
        core_spread = np.float64(n * sq2 - sq * sq)
        for at in range(places):
            sw, sw2, cross = 0, 0, 0
            for i in range(n):
                w = profile[at + i]
                sw += w
                sw2 += w * w
                cross += w * cores[s, i]
            spread = np.float64(n * sw2 - sw * sw) * core_spread
            r[at] = np.float64(n * cross - sw * sq) / np.sqrt(spread) if spread > 0 else 0.0
        i = 0
        for at in range(1, places):  # the first of the best, as argmax
            if r[at] > r[i]:
                i = at
        frac = 0.0
        if 0 < i < places - 1:
            a, b, c = r[i - 1], r[i], r[i + 1]
            frac = min(max(0.5 * (a - c) / min(a - 2 * b + c, -1e-9), -0.5), 0.5)
        out[s, 0], out[s, 1] = (i - k + frac) * step, r[i]


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
    """(2, N) int64: the brightness profile above each eye, from BAND[0] - SEARCH to
    BAND[1] + SEARCH eye distances, a sample every STEP, each the sum of ACROSS grey levels
    across the band.

    Args:
        image: (H, W, 3) uint8 RGB.
        points: (478, 2+) mediapipe face mesh points in ``image``'s pixels.
    """
    p = np.zeros((len(points), 3))
    p[:, :2] = np.asarray(points, np.float64)[:, :2]
    rigid = np.zeros((len(_indices()[2]), 3))  # (the turn is not used here)
    return _bands(image, _geometry(p, rigid)).sum(-1, dtype=np.int64)


def _bands(image: np.ndarray, geometry: np.ndarray) -> np.ndarray:
    """(2, N, ACROSS) uint8: the grey levels of the band above each eye, a row every STEP, where
    ``geometry`` (``_geometry``) maps them into ``image`` (H, W, 3) uint8 RGB."""
    n = round((BAND[1] - BAND[0] + 2 * SEARCH) / STEP)
    image = np.ascontiguousarray(image)
    out = np.empty((2, n, ACROSS), np.uint8)
    for side in range(2):
        patch = cv2.warpAffine(image, geometry[8 + 6 * side:14 + 6 * side].reshape(2, 3),
                               (ACROSS, n), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)  # (n, ACROSS, 3)
        cv2.cvtColor(patch, cv2.COLOR_RGB2GRAY, dst=out[side])
    return out


def _correlations(profiles: np.ndarray, cores: np.ndarray) -> np.ndarray:
    """(M, 2k + 1) float64: each of M profiles (M, N)'s Pearson correlation with its reference's
    core (M, n; the middle, SEARCH in from either end) at each of the core's places along it.
    Integer profiles are summed in int64, exactly (``brow_peaks`` sums them in another order);
    others in float64."""
    exact = np.issubdtype(profiles.dtype, np.integer) and np.issubdtype(cores.dtype, np.integer)
    kind = np.int64 if exact else np.float64
    P, Q = profiles.astype(kind), cores.astype(kind)
    n = Q.shape[-1]
    start = np.zeros((len(P), 1), kind)
    c1 = np.concatenate([start, P.cumsum(-1)], -1)
    c2 = np.concatenate([start, (P * P).cumsum(-1)], -1)
    sw, sw2 = c1[:, n:] - c1[:, :-n], c2[:, n:] - c2[:, :-n]  # each place's sums
    sq, sq2 = Q.sum(-1, keepdims=True), (Q * Q).sum(-1, keepdims=True)
    cross = np.stack([np.correlate(a, b, "valid") for a, b in zip(P, Q, strict=True)])
    num = n * cross - sw * sq
    spread = (n * sw2 - sw * sw).astype(np.float64) * (n * sq2 - sq * sq).astype(np.float64)
    out = np.zeros(num.shape)
    np.divide(num, np.sqrt(spread), out=out, where=spread > 0)  # no contrast: no correlation
    return out


def shift(reference: np.ndarray, profile: np.ndarray) -> tuple[float, float]:
    """(shift, correlation): how far up (eye distances) ``profile`` has moved from ``reference``
    (both (N,) from ``profiles``), the best of every STEP within SEARCH, refined between steps by
    a parabola through the best three."""
    k = round(SEARCH / STEP)
    return _peak(_correlations(profile[None], reference[None, k:-k])[0])


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

    def __init__(self, image: np.ndarray, points: np.ndarray,
                 compiled: Callable[[], object | None] = lambda: None):
        """``compiled()``: ``reenact.render.compiled``'s loops once they are ready, else None
        (the pipeline's; the default runs them as Python and NumPy, with the same bits)."""
        self.compiled = compiled
        rigid = np.asarray(points, np.float64)[_indices()[2]]
        self.rigid = np.ascontiguousarray(rigid - rigid.mean(0))
        geometry = _geometry(points, self.rigid, compiled())
        self.reference = _bands(image, geometry).sum(-1, dtype=np.int64)
        self.heights = geometry[6:8]
        k = round(SEARCH / STEP)
        self.cores = np.ascontiguousarray(self.reference[:, k:-k])  # what the shifts are of
        self.seen = self.cores.std(-1) >= MIN_CONTRAST * ACROSS

    def correction(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(2,): each brow's rise the pixels show beyond the points' own, eye distances."""
        fast = self.compiled()
        return self._correction(image, _geometry(points, self.rigid, fast), fast)

    def _correction(self, image: np.ndarray, geometry: np.ndarray, fast: object | None
                    ) -> np.ndarray:
        turned = geometry[5]
        weight = min(max((TURNED[1] - turned) / (TURNED[1] - TURNED[0]), 0.0), 1.0)
        out = np.zeros(2)
        if weight == 0:
            return out
        grey = _bands(image, geometry)
        if fast is not None:
            peaks = fast.brow_peaks(grey, self.cores, round(SEARCH / STEP), STEP)
        else:
            peaks = [_peak(r) for r in _correlations(grey.sum(-1, dtype=np.int64), self.cores)]
        for side in range(2):
            s, r = peaks[side]
            if self.seen[side] and r >= MIN_CORRELATION:
                moved = geometry[6 + side] - self.heights[side]
                out[side] = weight * min(max(s - moved, -MOST), MOST)
        return out

    def __call__(self, image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(478, 3) a copy of ``points`` whose brow points are moved up by ``correction``."""
        out = np.array(points, np.float64, copy=True)
        fast = self.compiled()
        geometry = _geometry(out, self.rigid, fast)
        up, iod = geometry[2:4], geometry[4]
        for b, c in zip(_brows(), self._correction(image, geometry, fast), strict=True):
            if c:
                out[b, :2] += c * iod * up
        return out
