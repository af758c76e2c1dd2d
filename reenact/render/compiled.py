"""The rasterizer's and the barycentric interpolation's loops, compiled by numba.

The torch rasterizer (``reenact.render.rasterizer``) enumerates every triangle's candidate pixels
with some thirty tensor operations a call; on the per-frame path of ``reenact animate`` (a
900-triangle face at 256 px) their overhead, not the arithmetic, is most of its time. The same
loops compiled run five times faster. They do the same float32 arithmetic in the same order (the
edge functions as ``_edge_table`` and ``_inside`` write them, the nearest depth winning and the
largest triangle id among equal depths), so the results are bitwise equal to the torch path
(``tests/test_rasterizer.py`` compares them). numba compiles them once and caches the machine code
beside this file (or in ``NUMBA_CACHE_DIR``); ``kernels()`` is None, and the torch path is used,
where numba cannot load or cache them, or where ``REENACT_COMPILED=0``.
"""

import contextlib
import contextvars
import functools
import math
import os
import threading

import numpy as np

_LOCK, _START = threading.Lock(), threading.Lock()
_READY = threading.Event()  # kernels() has returned once: later calls return at once
_NO_WAIT = contextvars.ContextVar("reenact_compiled_no_wait", default=False)
_loader: threading.Thread | None = None


def kernels():
    """The compiled functions (this module's ``rasterize`` and ``interpolate``), or None where
    numba is missing, cannot cache, or ``REENACT_COMPILED=0``. The first call loads them (about
    0.4 s here: numba's import and its cached machine code), in whichever thread makes it."""
    with _LOCK:
        out = _load()
    _READY.set()
    return out


@functools.cache
def _load():
    if os.environ.get("REENACT_COMPILED", "1") == "0":
        return None
    try:
        import numba
        compiled = [numba.njit(cache=True, nogil=True)(f)
                    for f in (_rasterize, _interpolate, _select_layers)]
    except (ImportError, RuntimeError):  # RuntimeError: no writable place for its cache
        return None
    return _Kernels(*compiled)


def load_in_background() -> None:
    """Start loading the kernels in a thread of their own (once), for work long enough to
    repay them (a video); ``usable_kernels`` takes them when they are ready."""
    global _loader
    with _START:
        if _loader is None and not _READY.is_set():
            _loader = threading.Thread(target=kernels, name="reenact-numba")
            _loader.start()


@contextlib.contextmanager
def without_waiting():
    """Within it ``usable_kernels`` never loads or waits for the kernels: it gives None (the
    torch path, which computes the same bits) until they are ready. A photo and one image
    driver are done with the torch path sooner than numba loads."""
    token = _NO_WAIT.set(True)
    try:
        yield
    finally:
        _NO_WAIT.reset(token)


def usable_kernels():
    """``kernels()``; within ``without_waiting``, None until they are ready."""
    if _NO_WAIT.get() and not _READY.is_set():
        return None
    return kernels()


class _Kernels:
    def __init__(self, rasterize_kernel, interpolate_kernel, select_kernel):
        self._rasterize, self._interpolate = rasterize_kernel, interpolate_kernel
        self._select = select_kernel

    def rasterize(self, verts: np.ndarray, faces: np.ndarray, H: int, W: int, eps: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """verts (V, 3) float32 in image space, faces (T, 3) -> (H * W,) int64 pix_to_face (-1
        where empty), (H * W, 3) float32 barycentrics (0 where empty), (H * W,) float32 depth
        (+inf where empty)."""
        pix_to_face = np.full(H * W, -1, np.int64)
        zbuf = np.full(H * W, np.inf, np.float32)
        bary = np.zeros((H * W, 3), np.float32)
        self._rasterize(np.ascontiguousarray(verts, np.float32),
                        np.ascontiguousarray(faces, np.int64), H, W, np.float32(eps),
                        pix_to_face, zbuf, bary)
        return pix_to_face, bary, zbuf

    def interpolate(self, pix_to_face: np.ndarray, bary: np.ndarray, faces: np.ndarray,
                    attrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P,) pix_to_face, (P, 3) barycentrics, faces (T, 3), (V, C) per-vertex values -> the
        (N,) flat indices of the covered pixels in order and their (N, C) interpolated values,
        in ``attrs``' dtype."""
        attrs = np.ascontiguousarray(attrs)
        index = np.empty(len(pix_to_face), np.int64)
        values = np.empty((len(pix_to_face), attrs.shape[1]), attrs.dtype)
        n = self._interpolate(np.ascontiguousarray(pix_to_face), np.ascontiguousarray(
            bary, attrs.dtype), np.ascontiguousarray(faces, np.int64), attrs, index, values)
        return index[:n], values[:n]


    def select_layers(self, near: np.ndarray, person: np.ndarray, coords: np.ndarray,
                      at: np.ndarray, use: np.ndarray, behind: np.ndarray, plate: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``reenact.motion.background.background_layers``' last step, float32: near the person
        (``near``, (B, S, S) bool) the person's flow ``coords`` (B, S, S, 2), ``behind``
        (1 or B, 3, S, S) and weight 1 - ``person`` (B, S, S); elsewhere the background's flow
        ``at`` (B, 2, S, S), the ``plate`` (3, S, S) and weight ``use`` (1 or B, S, S). Returns
        (B, S, S, 2) flow, (B, 3, S, S) overlay, (B, 1, S, S) weight."""
        B, S = near.shape[0], near.shape[1]
        out = np.empty((B, S, S, 2), np.float32)
        overlay = np.empty((B, 3, S, S), np.float32)
        weight = np.empty((B, 1, S, S), np.float32)
        self._select(near, person, coords, at, use, behind, plate, out, overlay, weight)
        return out, overlay, weight


def _rasterize(verts, faces, H, W, eps, pix_to_face, zbuf, bary):
    """The z-buffer pass (see ``kernels().rasterize``); writes into the last three arrays."""
    f32 = np.float32
    half, one, low, tiny = f32(0.5), f32(1.0), -eps, f32(1e-10)
    for t in range(faces.shape[0]):
        i0, i1, i2 = faces[t, 0], faces[t, 1], faces[t, 2]
        x0, y0, z0 = verts[i0, 0], verts[i0, 1], verts[i0, 2]
        x1, y1, z1 = verts[i1, 0], verts[i1, 1], verts[i1, 2]
        x2, y2, z2 = verts[i2, 0], verts[i2, 1], verts[i2, 2]
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if not abs(area) > tiny:  # (near) zero area, or not a number: no pixels
            continue
        # the bounding box of pixel centres, as _triangle_rows clamps it
        xa, xb = min(x0, min(x1, x2)), max(x0, max(x1, x2))
        ya, yb = min(y0, min(y1, y2)), max(y0, max(y1, y2))
        c0 = int(min(max(math.ceil(xa - half), 0.0), W))
        c1 = int(min(max(math.floor(xb - half), -1.0), W - 1))
        r0 = int(min(max(math.ceil(ya - half), 0.0), H))
        r1 = int(min(max(math.floor(yb - half), -1.0), H - 1))
        dx21, dx02, dy21, dy02 = x2 - x1, x0 - x2, y2 - y1, y0 - y2
        for y in range(r0, r1 + 1):
            py = f32(y) + half
            e0, e1 = dx21 * (py - y1), dx02 * (py - y2)  # the row's constants (_edge_table)
            for x in range(c0, c1 + 1):
                px = f32(x) + half
                b0 = (e0 - dy21 * (px - x1)) / area
                b1 = (e1 - dy02 * (px - x2)) / area
                b2 = (one - b0) - b1
                if b0 >= low and b1 >= low and b2 >= low:
                    z = b0 * z0 + b1 * z1 + b2 * z2
                    i = y * W + x
                    if z < zbuf[i] or (z == zbuf[i] and t > pix_to_face[i]):
                        zbuf[i], pix_to_face[i] = z, t
                        bary[i, 0], bary[i, 1], bary[i, 2] = b0, b1, b2


def _interpolate(pix_to_face, bary, faces, attrs, index, values):
    """Barycentric interpolation at the covered pixels (see ``kernels().interpolate``); returns
    how many it wrote."""
    n = 0
    for i in range(pix_to_face.shape[0]):
        t = pix_to_face[i]
        if t < 0:
            continue
        a, b, c = faces[t, 0], faces[t, 1], faces[t, 2]
        w0, w1, w2 = bary[i, 0], bary[i, 1], bary[i, 2]
        for k in range(attrs.shape[1]):
            values[n, k] = w0 * attrs[a, k] + w1 * attrs[b, k] + w2 * attrs[c, k]
        index[n] = i
        n += 1
    return n


def _select_layers(near, person, coords, at, use, behind, plate, out, overlay, weight):
    """See ``kernels().select_layers``: a select per pixel, as torch.lerp by a 0 / 1 mask is."""
    one = np.float32(1.0)
    for b in range(near.shape[0]):
        u, h = min(b, use.shape[0] - 1), min(b, behind.shape[0] - 1)
        for y in range(near.shape[1]):
            for x in range(near.shape[2]):
                if near[b, y, x]:
                    out[b, y, x, 0], out[b, y, x, 1] = coords[b, y, x, 0], coords[b, y, x, 1]
                    for c in range(3):
                        overlay[b, c, y, x] = behind[h, c, y, x]
                    weight[b, 0, y, x] = one - person[b, y, x]
                else:
                    out[b, y, x, 0], out[b, y, x, 1] = at[b, 0, y, x], at[b, 1, y, x]
                    for c in range(3):
                        overlay[b, c, y, x] = plate[c, y, x]
                    weight[b, 0, y, x] = use[u, y, x]
