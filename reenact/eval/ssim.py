"""SSIM (Wang et al. 2004): a differentiable mean for losses, and a face-region mean for evaluation.
A dozen lines here rather than a dependency for one function."""

import numpy as np
import torch
import torch.nn.functional as F


def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_map(a: torch.Tensor, b: torch.Tensor, window: int = 11) -> torch.Tensor:
    """Per-pixel SSIM (B, C, H, W) of images (B, C, H, W) in [0, 1]; Gaussian window (sigma 1.5),
    per channel, zero padding at the border."""
    C = a.shape[1]
    side = min(a.shape[-2:])
    g = _gaussian(min(window, side if side % 2 else side - 1))
    k = (g[:, None] * g[None, :]).to(a).expand(C, 1, -1, -1)
    pad = k.shape[-1] // 2

    def blur(x):
        return F.conv2d(x, k, padding=pad, groups=C)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1)
                                                        * (var_a + var_b + c2))


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11) -> torch.Tensor:
    """Mean SSIM of images (B, C, H, W) in [0, 1] (differentiable)."""
    return ssim_map(a, b, window).mean()


def ssim_region(output: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM of two (H, W, 3) uint8 images over the pixels where ``mask`` (H, W) is true.

    Example:
        >>> a = np.full((32, 32, 3), 128, np.uint8)
        >>> ssim_region(a, a)
        1.0
    """
    if output.shape != target.shape:
        raise ValueError(f"shapes differ: {output.shape} vs {target.shape}")

    def t(x):
        return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].double() / 255

    m = ssim_map(t(output), t(target))[0].mean(0).numpy()
    if mask is not None:
        if not mask.any():
            raise ValueError("the mask selects no pixel")
        m = m[mask.astype(bool)]
    return round(float(m.mean()), 12)
