"""Similarity Procrustes (Umeyama 1991): the least-squares scale, rotation and translation."""

import math

import numpy as np
import torch

from reenact.geometry.fastpath import plain


def umeyama(src: torch.Tensor, dst: torch.Tensor, weights: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fit ``dst ~ scale * R @ src + t`` in the (weighted) least-squares sense.

    Args:
        src: (B, N, D) points, D = 2 or 3.
        dst: (B, N, D) corresponding points.
        weights: optional (B, N) or (N,) non-negative weights.

    Returns:
        scale (B,), R (B, D, D) a proper rotation (det = +1), t (B, D).

    Example:
        >>> src = torch.randn(1, 10, 3, dtype=torch.float64)
        >>> s, R, t = umeyama(src, 2.0 * src + 1.0)
        >>> bool(torch.allclose(s, torch.tensor([2.0], dtype=torch.float64)))
        True
    """
    if src.shape != dst.shape or src.ndim != 3:
        raise ValueError(f"expected matching (B, N, D) shapes, got {tuple(src.shape)} and "
                         f"{tuple(dst.shape)}")
    if plain(src, dst) and (weights is None or plain(weights)):
        out = _umeyama_np(src.numpy(), dst.numpy(), None if weights is None else
                          np.broadcast_to(weights.to(src.dtype).numpy(), src.shape[:2]))
        return tuple(torch.from_numpy(x) for x in out)
    B, N, D = src.shape
    w = torch.ones(B, N, dtype=src.dtype, device=src.device) if weights is None else (
        weights.to(src.dtype).expand(B, N))
    w = w / w.sum(dim=1, keepdim=True)
    mu_src = (w[..., None] * src).sum(1)  # (B, D)
    mu_dst = (w[..., None] * dst).sum(1)
    a, b = src - mu_src[:, None], dst - mu_dst[:, None]
    cov = (w[..., None] * b).transpose(1, 2) @ a  # (B, D, D) = sum w b a^T
    U, S, Vh = torch.linalg.svd(cov)
    sign = torch.sign(torch.det(U @ Vh))
    fix = torch.ones(B, D, dtype=src.dtype, device=src.device)
    fix[:, -1] = torch.where(sign == 0, torch.ones_like(sign), sign)
    R = U @ torch.diag_embed(fix) @ Vh
    var_src = (w * (a**2).sum(-1)).sum(1)
    scale = (S * fix).sum(-1) / var_src
    t = mu_dst - scale[:, None] * (R @ mu_src[..., None])[..., 0]
    return scale, R, t


def _umeyama_np(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``umeyama`` in NumPy (the same formula): on the per-frame path (two fits a frame of one
    face each) torch's twenty small operations cost five times NumPy's."""
    B, N, D = src.shape
    w = np.ones((B, N), src.dtype) if weights is None else weights.astype(src.dtype)
    w = w / w.sum(1, keepdims=True)
    mu_src = (w[..., None] * src).sum(1)
    mu_dst = (w[..., None] * dst).sum(1)
    a, b = src - mu_src[:, None], dst - mu_dst[:, None]
    U, S, Vh = np.linalg.svd(np.swapaxes(w[..., None] * b, 1, 2) @ a)
    sign = np.sign(np.linalg.det(U @ Vh))
    fix = np.ones((B, D), src.dtype)
    fix[:, -1] = np.where(sign == 0, 1.0, sign)
    R = (U * fix[:, None]) @ Vh  # U @ diag(fix) @ Vh
    scale = (S * fix).sum(-1) / (w * (a**2).sum(-1)).sum(1)
    return scale, R, mu_dst - scale[:, None] * (R @ mu_src[..., None])[..., 0]


def horn_quaternion(s, out):
    """The rotation that best takes centred points a_i to centred points b_i (least squares, no
    reflection) as a quaternion: Horn's 4 x 4 matrix of their cross-covariance ``s`` (3, 3),
    s[r, c] = sum_i a_i[r] b_i[c], and its largest eigenvector by cyclic Jacobi rotations, into
    ``out`` (4,) (w, x, y, z), unit up to rounding; returns its squared length. The rotation
    Umeyama's SVD finds, by plain float64 steps (no LAPACK), so a loop compiled by numba
    (``reenact.render.compiled``) and the same loop run as Python give the same bits."""
    a = np.array([
        [s[0, 0] + s[1, 1] + s[2, 2], s[1, 2] - s[2, 1], s[2, 0] - s[0, 2], s[0, 1] - s[1, 0]],
        [s[1, 2] - s[2, 1], s[0, 0] - s[1, 1] - s[2, 2], s[0, 1] + s[1, 0], s[2, 0] + s[0, 2]],
        [s[2, 0] - s[0, 2], s[0, 1] + s[1, 0], s[1, 1] - s[0, 0] - s[2, 2], s[1, 2] + s[2, 1]],
        [s[0, 1] - s[1, 0], s[2, 0] + s[0, 2], s[1, 2] + s[2, 1], s[2, 2] - s[0, 0] - s[1, 1]]])
    v = np.eye(4)
    scale = 0.0
    for p in range(4):
        for q in range(4):
            scale += a[p, q] * a[p, q]
    for _ in range(50):
        off = 0.0
        for p in range(3):
            for q in range(p + 1, 4):
                off += a[p, q] * a[p, q]
        if not off > 1e-30 * scale:
            break
        for p in range(3):
            for q in range(p + 1, 4):
                if a[p, q] == 0.0:
                    continue
                theta = (a[q, q] - a[p, p]) / (2.0 * a[p, q])
                t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
                t = -t if theta < 0.0 else t
                c = 1.0 / math.sqrt(t * t + 1.0)
                sn = t * c
                for r in range(4):
                    x, y = a[r, p], a[r, q]
                    a[r, p], a[r, q] = c * x - sn * y, sn * x + c * y
                for r in range(4):
                    x, y = a[p, r], a[q, r]
                    a[p, r], a[q, r] = c * x - sn * y, sn * x + c * y
                for r in range(4):
                    x, y = v[r, p], v[r, q]
                    v[r, p], v[r, q] = c * x - sn * y, sn * x + c * y
    best = 0
    for p in range(1, 4):
        if a[p, p] > a[best, best]:
            best = p
    norm = 0.0
    for r in range(4):
        out[r] = v[r, best]
        norm += v[r, best] * v[r, best]
    return norm
