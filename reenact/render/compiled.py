"""The rasterizer's, the barycentric interpolation's and the per-pixel sampling's loops, compiled
by numba.

The torch rasterizer (``reenact.render.rasterizer``) enumerates every triangle's candidate pixels
with some thirty tensor operations a call; on the per-frame path of ``reenact animate`` (a
900-triangle face at 256 px) their overhead, not the arithmetic, is most of its time. The same
loops compiled run five times faster. They do the same float32 arithmetic in the same order (the
edge functions as ``_edge_table`` and ``_inside`` write them, the nearest depth winning and the
largest triangle id among equal depths), so the results are bitwise equal to the torch path
(``tests/render/test_rasterizer.py`` compares them). Paste-back's pixels and the warp's crop
(``paste``, ``sample_over``) are each one pass over the pixels where torch makes five or six over
whole images: ``grid_sample``'s and ``lerp``'s arithmetic with the fused multiply-adds torch's
CPU kernels use, bitwise equal here (``tests/motion/test_paste.py`` allows an ulp, or a level in
bytes, for another CPU's build). So are the crop's bytes (``to_bytes``), the moved person's
cover (``sample_cover``, not sampled under the face) and the lid lines' nearest points
(``nearest``, NumPy's float64 steps). A video's per-frame brows' registration, smoothing and
fit are plain loops in ``reenact.tracking.brows``, ``reenact.tracking.smoothing`` and
``reenact.face.landmark_model``, compiled here, which give the same bits run as Python (the
pipeline hands them in: those packages may not import this one). numba compiles them once and
caches the machine code beside this file (or in ``NUMBA_CACHE_DIR``); ``kernels()`` is None,
and the torch path is used, where numba cannot load or cache them, or where
``REENACT_COMPILED=0``.
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
    from reenact.face import landmark_model
    from reenact.geometry import procrustes
    from reenact.tracking import brows, smoothing  # their loops, plain Python there

    # the helpers those loops call, compiled in their places (their Python runs them after); put
    # back where the loops do not load, for the Python they then run
    helpers = [(procrustes, "horn_quaternion"), (smoothing, "_one_euro")]
    python = [getattr(module, name) for module, name in helpers]
    try:
        import numba
        jit = numba.njit(cache=True, nogil=True)
        # the helpers the sampling kernels call, compiled in place of their Python versions
        globals().update(_fma=_fused_multiply_add(), **{f.__name__: jit(f) for f in (
            _lerp, _lerp3, _corners, _bilinear, _bilinear3)})
        for module, name in helpers:
            setattr(module, name, jit(getattr(module, name)))
        compiled = [jit(f) for f in (_rasterize, _count_covered, _interpolate, _select_layers)]
        # one signature each (any memory layout), so views and copies share one compilation
        compiled += [numba.njit(signature, cache=True, nogil=True)(f) for f, signature in (
            (_paste, "void(f4[:, :, :], f4[:, :, :], i8, i8, f4, f4, f4, f4[:, :], u1[:, :, :])"),
            (_sample_over, "void(" + ", ".join(["f4[:, :, :]"] + ["f4[:, :, :, :]"] * 4) + ")"),
            (_to_bytes, "void(f4[:, :, :], u1[:, :, ::1])"),
            (_sample_cover, "void(f4[:, :, :], f4[:, :, :, :], b1[:, :, :], f4[:, :, :])"),
            (_nearest, "void(f8[:, :], f8[:, :], f8[:], i8[:], f8[:])"),
            (brows.brow_geometry, ("void(f8[:, ::1], i8[::1], i8[:, ::1], f8[:, ::1], i8[::1], "
                                   "f8[::1], f8[::1])")),
            (brows.brow_peaks, "void(u1[:, :, ::1], i8[:, ::1], i8, f8, f8[:, ::1])"),
            (smoothing.smooth_step, ("void(f8[:, ::1], f8[:, ::1], f8[::1], f8[::1], i8[::1], b1, "
                                     "f8, f8[:, ::1], " + "f8[::1], " * 8 + "f8[:, ::1], f8[::1], "
                                     "f8[::1])")),
            (landmark_model.fit_loop, ("f8(f8[:, ::1], f8[:, ::1], i8[::1], f8[:, ::1], f8[::1], "
                                       "f8[:, ::1])")))]
    except (ImportError, RuntimeError):  # RuntimeError: no writable place for its cache
        for (module, name), f in zip(helpers, python, strict=True):
            setattr(module, name, f)
        return None
    return _Kernels(*compiled)


def _fused_multiply_add():
    """float32 ``fma(a, b, c)`` (LLVM's intrinsic) for the compiled loops: torch's CPU kernels
    for ``grid_sample`` and ``lerp`` round a product and a sum once, and the same bits need the
    same."""
    from llvmlite import ir
    from numba import types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def fma(typingctx, a, b, c):
        def codegen(context, builder, signature, args):
            f = ir.FloatType()
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(f, [f, f, f]),
                                                "llvm.fma.f32")
            return builder.call(fn, args)

        return types.float32(types.float32, types.float32, types.float32), codegen

    return fma


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
    def __init__(self, rasterize_kernel, count_kernel, interpolate_kernel, select_kernel,
                 paste_kernel, sample_over_kernel, bytes_kernel, cover_kernel, nearest_kernel,
                 geometry_kernel, peaks_kernel, smooth_kernel, fit_kernel):
        self._rasterize, self._interpolate = rasterize_kernel, interpolate_kernel
        self._count_covered = count_kernel
        self._select, self._paste = select_kernel, paste_kernel
        self._sample_over, self._to_bytes = sample_over_kernel, bytes_kernel
        self._sample_cover, self._nearest = cover_kernel, nearest_kernel
        self.brow_geometry, self._brow_peaks = geometry_kernel, peaks_kernel
        self.smooth_step = smooth_kernel  # reenact.tracking.smoothing.smooth_step compiled
        self.fit_loop = fit_kernel  # reenact.face.landmark_model.fit_loop compiled

    def rasterize(self, verts: np.ndarray, faces: np.ndarray, H: int, W: int, eps: float
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """verts (B, V, 3) float32 in image space, faces (T, 3) -> (B, H * W) int64 pix_to_face
        (-1 where empty), (B, H * W, 3) float32 barycentrics (0 where empty), (B, H * W) float32
        depth (+inf where empty): the batch's arrays filled in place, not stacked after."""
        B = verts.shape[0]
        pix_to_face = np.full((B, H * W), -1, np.int64)
        zbuf = np.full((B, H * W), np.inf, np.float32)
        bary = np.zeros((B, H * W, 3), np.float32)
        faces = np.ascontiguousarray(faces, np.int64)
        for b in range(B):
            self._rasterize(np.ascontiguousarray(verts[b], np.float32), faces, H, W,
                            np.float32(eps), pix_to_face[b], zbuf[b], bary[b])
        return pix_to_face, bary, zbuf

    def interpolate(self, pix_to_face: np.ndarray, bary: np.ndarray, faces: np.ndarray,
                    attrs: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Barycentric interpolation at the covered pixels: (B, P) pix_to_face, (B, P, 3)
        barycentrics, faces (T, 3), (B, V, C) per-vertex values, the maps' width -> the (N,)
        flat indices of the covered pixels into the (B, P) maps in order, their (3, N) batch
        item, row and column, and their (N, C) values in ``attrs``' dtype; exactly sized (a
        counting pass first), the whole batch in one call."""
        pix_to_face = np.ascontiguousarray(pix_to_face)
        attrs = np.ascontiguousarray(attrs)
        n = self._count_covered(pix_to_face)
        index, at = np.empty(n, np.int64), np.empty((3, n), np.int64)
        values = np.empty((n, attrs.shape[2]), attrs.dtype)
        self._interpolate(pix_to_face, np.ascontiguousarray(bary, attrs.dtype),
                          np.ascontiguousarray(faces, np.int64), attrs, width, index, at, values)
        return index, at, values

    def select_layers(self, near: np.ndarray, person: np.ndarray, coords: np.ndarray,
                      at: np.ndarray, use: np.ndarray, behind: np.ndarray, plate: np.ndarray,
                      source: np.ndarray, sheet: np.ndarray, ramp: tuple[float, float],
                      into: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``reenact.motion.background.background_layers``' last step, float32: near the person
        (``near``, (B, S, S) bool) the person's flow ``coords`` (B, S, S, 2), ``behind``
        (1 or B, 3, S, S) and weight 1 - ``person`` (B, S, S); elsewhere the background's flow
        ``at`` (B, 2, S, S), the ``plate`` (3, S, S) and weight ``use`` (1 or B, S, S). In the
        frames with a rubber ``sheet`` ((B,) bool), near the person where it is not whole
        (``person`` below 1) the overlay is instead what the background's flow finds there: the
        photo ``source`` (4, S, S; what it carries with the head fourth) sampled at ``at``, the
        plate over it by ``smoothstep(carried, *ramp)``. Returns (B, S, S, 2) flow,
        (B, 3, S, S) overlay, (B, 1, S, S) weight; the flow written into ``into`` where given
        (``coords`` itself: each pixel is read before it is written)."""
        B, S = near.shape[0], near.shape[1]
        out = np.empty((B, S, S, 2), np.float32) if into is None else into
        overlay = np.empty((B, 3, S, S), np.float32)
        weight = np.empty((B, 1, S, S), np.float32)
        lo, hi = ramp
        self._select(near, person, coords, at, use, behind, plate, source, sheet,
                     np.float32(lo), np.float32(hi - lo), out, overlay, weight)
        return out, overlay, weight

    def paste(self, layers: np.ndarray, photo: np.ndarray, region: tuple[int, int],
              box: tuple[float, float], k: float, feather: np.ndarray, out: np.ndarray) -> None:
        """``reenact.motion.paste.paste_back``'s pixels, float32, into ``out`` (h, w, 3) uint8 (a
        view of the output frame at ``region``'s corner (x0, y0), holding the photo's bytes, which
        ``photo`` holds divided by 255; a pixel the warp leaves as it is is not written):
        ``photo`` (3, H, W) sampled
        through the flow ``layers[:2]`` (crop pixels, (6 or 7, h, w)) scaled by 1 / ``k`` and moved
        to the ``box``'s corner, the overlay ``layers[2:5]`` over it by ``layers[5]``, times the
        shading ``layers[6]`` if given, faded into the photo where ``feather`` (h, w) is below 1,
        to bytes as ``(v * 255 + 0.5)`` clamped and truncated."""
        f32 = np.float32
        self._paste(layers, photo, region[0], region[1], f32(box[0]), f32(box[1]), f32(k),
                    feather, out)

    def sample_over(self, photo: np.ndarray, coords: np.ndarray, overlay: np.ndarray,
                    weight: np.ndarray) -> np.ndarray:
        """``torch.lerp(sample_image(photo[None], coords), overlay, weight)``, float32: ``photo``
        (3, H, W), ``coords`` (B, S, S, 2), ``overlay`` (B, 3, S, S), ``weight`` (B, 1, S, S)
        -> (B, 3, S, S)."""
        out = np.empty(overlay.shape, np.float32)
        self._sample_over(photo, coords, overlay, weight, out)
        return out

    def sample_cover(self, source: np.ndarray, coords: np.ndarray, face: np.ndarray
                     ) -> np.ndarray:
        """``sample_image(source[None, 3:], coords)`` (float32; ``source`` (4, H, W), ``coords``
        (B, S, S, 2)) with 1 where ``face`` ((B, S, S) bool, the face's pixels) is set: the moved
        person's cover, (B, 1, S, S), not sampled under the face (a third of the crop), which
        covers. (The bool mask, not the int64 triangle map: an eighth of the bytes to read.)"""
        out = np.empty((coords.shape[0], 1, coords.shape[1], coords.shape[2]), np.float32)
        self._sample_cover(source, coords, face, out[:, 0])
        return out

    def nearest(self, p: np.ndarray, line: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``reenact.motion.eyes._nearest`` (float64 points (n, 2), a polyline (k, 2) -> each
        point's distance to it, its nearest segment, how far along that segment), the same
        float64 steps per point and segment, not (n, k) arrays."""
        n = len(p)
        dist, seg, along = np.empty(n), np.empty(n, np.int64), np.empty(n)
        self._nearest(np.ascontiguousarray(p, np.float64),
                      np.ascontiguousarray(line, np.float64), dist, seg, along)
        return dist, seg, along

    def brow_peaks(self, grey: np.ndarray, cores: np.ndarray, k: int, step: float
                   ) -> np.ndarray:
        """``reenact.tracking.brows.brow_peaks`` compiled, its result returned (M, 2).
        (``brow_geometry`` is ``reenact.tracking.brows.brow_geometry`` compiled.)"""
        out = np.empty((grey.shape[0], 2))
        self._brow_peaks(grey, cores, k, step, out)
        return out

    def to_bytes(self, image: np.ndarray) -> np.ndarray:
        """(3, H, W) float32 in [0, 1] -> (H, W, 3) uint8 as ``(v * 255 + 0.5)`` clamped and
        truncated, in one pass (torch's four and an interleaving copy took seven times as long)."""
        out = np.empty((image.shape[1], image.shape[2], 3), np.uint8)
        self._to_bytes(image, out)
        return out


def _fma(a, b, c):
    """a * b + c rounded once (its Python stand-in; ``_load`` compiles LLVM's in its place)."""
    return np.float32(np.float64(a) * np.float64(b) + np.float64(c))


def _lerp(a, b, w):
    """``torch.lerp(a, b, w)`` as its CPU kernel computes it: from the nearer end, one fused
    multiply-add."""
    d = b - a
    if abs(w) < np.float32(0.5):
        return _fma(w, d, a)
    return _fma(w - np.float32(1.0), d, b)


def _lerp3(a, b, w):
    """``_lerp`` of three pairs (two 3-tuples) by one weight, its nearer end chosen once."""
    if abs(w) < np.float32(0.5):
        return _fma(w, b[0] - a[0], a[0]), _fma(w, b[1] - a[1], a[1]), _fma(w, b[2] - a[2], a[2])
    v = w - np.float32(1.0)
    return _fma(v, b[0] - a[0], b[0]), _fma(v, b[1] - a[1], b[1]), _fma(v, b[2] - a[2], b[2])


def _corners(x, y, H, W):
    """Where ``F.grid_sample(..., "bilinear", padding_mode="border", align_corners=False)``
    reads an (H, W) image at the absolute pixel coordinates (x, y) (pixel centres at +0.5), in
    the order and roundings of ``reenact.render.shaders.sample_image`` and torch's CPU kernel:
    x * 2 / W - 1 to [-1, 1], back with one fused multiply-add, clamped to the border. Returns
    the corners' columns and rows and their weights (nw, ne, sw, se); a corner past the last
    row or column has weight 0 (its index is clamped)."""
    f32 = np.float32
    one, zero = f32(1.0), f32(0.0)
    gx, gy = x * f32(2.0 / W) - one, y * f32(2.0 / H) - one
    x = min(max(_fma(gx + one, f32(W) / f32(2.0), f32(-0.5)), zero), f32(W - 1))
    y = min(max(_fma(gy + one, f32(H) / f32(2.0), f32(-0.5)), zero), f32(H - 1))
    xw, yn = np.floor(x), np.floor(y)
    w, n = x - xw, y - yn
    e, s = one - w, one - n
    ix, iy = int(xw), int(yn)
    return ix, min(ix + 1, W - 1), iy, min(iy + 1, H - 1), s * e, s * w, n * e, n * w


def _bilinear(image, c, corners):
    """Channel ``c`` of ``image`` (C, H, W) at ``_corners``, summed as torch's kernel sums."""
    x0, x1, y0, y1, nw, ne, sw, se = corners
    if nw == np.float32(1.0):  # on a pixel's centre (a still background): the sum is the pixel
        return image[c, y0, x0]
    return _fma(image[c, y1, x1], se, _fma(image[c, y1, x0], sw, _fma(
        image[c, y0, x1], ne, image[c, y0, x0] * nw)))


def _bilinear3(image, corners):
    """Channels 0, 1 and 2 of ``image`` at ``_corners``, as ``_bilinear`` sums each: a pixel's
    centre tested once for the three (a third less time in the kernels that sample colours)."""
    x0, x1, y0, y1, nw, ne, sw, se = corners
    if nw == np.float32(1.0):
        return image[0, y0, x0], image[1, y0, x0], image[2, y0, x0]
    return (_fma(image[0, y1, x1], se, _fma(image[0, y1, x0], sw, _fma(
                image[0, y0, x1], ne, image[0, y0, x0] * nw))),
            _fma(image[1, y1, x1], se, _fma(image[1, y1, x0], sw, _fma(
                image[1, y0, x1], ne, image[1, y0, x0] * nw))),
            _fma(image[2, y1, x1], se, _fma(image[2, y1, x0], sw, _fma(
                image[2, y0, x1], ne, image[2, y0, x0] * nw))))


def _paste(layers, photo, x0, y0, bx, by, k, feather, out):
    """See ``kernels().paste``."""
    f32 = np.float32
    one, half, zero, top = f32(1.0), f32(0.5), f32(0.0), f32(255.0)
    shaded = layers.shape[0] > 6
    H, W = photo.shape[1], photo.shape[2]
    for i in range(layers.shape[1]):
        for j in range(layers.shape[2]):
            at = _corners(layers[0, i, j] / k + bx, layers[1, i, j] / k + by, H, W)
            alpha, fade = layers[5, i, j], feather[i, j]
            if alpha == zero and not shaded:  # nothing over the photo (most pixels)
                if at[4] == one and at[0] == x0 + j and at[2] == y0 + i:  # the pixel's own
                    continue  # centre: its own bytes (which ``out`` holds; byte / 255 * 255)
                v = _bilinear3(photo, at)  # (lerp by 0 gives it back exactly: 5 % less time)
            else:
                v = _lerp3(_bilinear3(photo, at), (layers[2, i, j], layers[3, i, j],
                                                   layers[4, i, j]), alpha)
                if shaded:
                    s = layers[6, i, j]
                    v = v[0] * s, v[1] * s, v[2] * s
            if fade < one:
                v = _lerp3((photo[0, y0 + i, x0 + j], photo[1, y0 + i, x0 + j],
                            photo[2, y0 + i, x0 + j]), v, fade)
            for c in range(3):
                out[i, j, c] = np.uint8(min(max(v[c] * top + half, zero), top))


def _sample_over(photo, coords, overlay, weight, out):
    """See ``kernels().sample_over``."""
    H, W = photo.shape[1], photo.shape[2]
    for b in range(coords.shape[0]):
        for i in range(coords.shape[1]):
            for j in range(coords.shape[2]):
                seen = _bilinear3(photo, _corners(coords[b, i, j, 0], coords[b, i, j, 1], H, W))
                v = _lerp3(seen, (overlay[b, 0, i, j], overlay[b, 1, i, j], overlay[b, 2, i, j]),
                           weight[b, 0, i, j])
                out[b, 0, i, j], out[b, 1, i, j], out[b, 2, i, j] = v


def _sample_cover(source, coords, face, out):
    """See ``kernels().sample_cover``."""
    H, W = source.shape[1], source.shape[2]
    for b in range(coords.shape[0]):
        for i in range(coords.shape[1]):
            for j in range(coords.shape[2]):
                if face[b, i, j]:
                    out[b, i, j] = np.float32(1.0)
                else:
                    out[b, i, j] = _bilinear(source, 3, _corners(coords[b, i, j, 0],
                                                                 coords[b, i, j, 1], H, W))


def _nearest(p, line, dist, seg, along):
    """See ``kernels().nearest``: numpy's formulas, its argmin's first least segment."""
    for i in range(p.shape[0]):
        px, py = p[i, 0], p[i, 1]
        best, k, at = np.inf, 0, 0.0
        for s in range(line.shape[0] - 1):
            ax, ay = line[s, 0], line[s, 1]
            dx, dy = line[s + 1, 0] - ax, line[s + 1, 1] - ay
            t = min(max(((px - ax) * dx + (py - ay) * dy) / max(dx * dx + dy * dy, 1e-9), 0.0),
                    1.0)
            ex, ey = px - (ax + t * dx), py - (ay + t * dy)
            d = np.sqrt(ex * ex + ey * ey)
            if d < best or s == 0:
                best, k, at = d, s, t
        dist[i], seg[i], along[i] = best, k, at


def _to_bytes(image, out):
    """See ``kernels().to_bytes``."""
    top, half, zero = np.float32(255.0), np.float32(0.5), np.float32(0.0)
    for i in range(image.shape[1]):
        for j in range(image.shape[2]):
            for c in range(3):
                out[i, j, c] = np.uint8(min(max(image[c, i, j] * top + half, zero), top))


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


def _count_covered(pix_to_face):
    """How many pixels of the (B, P) maps a triangle covers."""
    n = 0
    for b in range(pix_to_face.shape[0]):
        for i in range(pix_to_face.shape[1]):
            n += pix_to_face[b, i] >= 0
    return n


def _interpolate(pix_to_face, bary, faces, attrs, width, index, at, values):
    """Barycentric interpolation at the covered pixels (see ``kernels().interpolate``)."""
    n, P = 0, pix_to_face.shape[1]
    for b in range(pix_to_face.shape[0]):
        for i in range(P):
            t = pix_to_face[b, i]
            if t < 0:
                continue
            f0, f1, f2 = faces[t, 0], faces[t, 1], faces[t, 2]
            w0, w1, w2 = bary[b, i, 0], bary[b, i, 1], bary[b, i, 2]
            for k in range(attrs.shape[2]):
                values[n, k] = w0 * attrs[b, f0, k] + w1 * attrs[b, f1, k] + w2 * attrs[b, f2, k]
            index[n] = b * P + i
            at[0, n], at[1, n], at[2, n] = b, i // width, i % width
            n += 1


def _select_layers(near, person, coords, at, use, behind, plate, source, sheet, lo, span, out,
                   overlay, weight):
    """See ``kernels().select_layers``: a select per pixel, as torch.lerp by a 0 / 1 mask is; the
    sheet's ring sampled as ``sample_image`` does and mixed as ``torch.lerp`` and
    ``completion.smoothstep`` do."""
    one, zero, two, three = np.float32(1.0), np.float32(0.0), np.float32(2.0), np.float32(3.0)
    H, W = source.shape[1], source.shape[2]
    for b in range(near.shape[0]):
        u, h = min(b, use.shape[0] - 1), min(b, behind.shape[0] - 1)
        for y in range(near.shape[1]):
            for x in range(near.shape[2]):
                if near[b, y, x]:
                    out[b, y, x, 0], out[b, y, x, 1] = coords[b, y, x, 0], coords[b, y, x, 1]
                    p = person[b, y, x]
                    if sheet[b] and p < one:
                        c4 = _corners(at[b, 0, y, x], at[b, 1, y, x], H, W)
                        t = min(max((_bilinear(source, 3, c4) - lo) / span, zero), one)
                        a = t * t * (three - two * t)
                        for c in range(3):
                            overlay[b, c, y, x] = _lerp(_bilinear(source, c, c4), plate[c, y, x],
                                                        a)
                    else:
                        for c in range(3):
                            overlay[b, c, y, x] = behind[h, c, y, x]
                    weight[b, 0, y, x] = one - p
                else:
                    out[b, y, x, 0], out[b, y, x, 1] = at[b, 0, y, x], at[b, 1, y, x]
                    for c in range(3):
                        overlay[b, c, y, x] = plate[c, y, x]
                    weight[b, 0, y, x] = use[u, y, x]
