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
    g = _gaussian(min(window, side if side % 2 else side - 1)).to(a)
    pad = g.numel() // 2
    gx, gy = g.view(1, 1, 1, -1).expand(C, 1, 1, -1), g.view(1, 1, -1, 1).expand(C, 1, -1, 1)

    def blur(x):  # the 2D Gaussian as two 1D passes (same zero padding, far fewer operations)
        x = F.conv2d(x, gx, padding=(0, pad), groups=C)
        return F.conv2d(x, gy, padding=(pad, 0), groups=C)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    return ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1)
                                                        * (var_a + var_b + c2))


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11) -> torch.Tensor:
    """Mean SSIM of images (B, C, H, W) in [0, 1] (differentiable)."""
    return ssim_map(a, b, window).mean()


_REACH = 5  # pixels the 11-wide window reaches on each side


def ssim_region(output: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM of two (H, W, 3) uint8 images over the pixels where ``mask`` (H, W) is true.

    Example:
        >>> a = np.full((32, 32, 3), 128, np.uint8)
        >>> ssim_region(a, a)
        1.0
    """
    if output.shape != target.shape:
        raise ValueError(f"shapes differ: {output.shape} vs {target.shape}")

    if mask is not None:
        mask = mask.astype(bool)
        if not mask.any():
            raise ValueError("the mask selects no pixel")
        # Only the mask's box (plus the window's reach) matters: the same values, less work.
        ys, xs = np.nonzero(mask)
        y0, x0 = max(ys.min() - _REACH, 0), max(xs.min() - _REACH, 0)
        y1, x1 = ys.max() + _REACH + 1, xs.max() + _REACH + 1
        output, target, mask = output[y0:y1, x0:x1], target[y0:y1, x0:x1], mask[y0:y1, x0:x1]

    def t(x):
        return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].double() / 255

    m = ssim_map(t(output), t(target))[0].mean(0).numpy()
    if mask is not None:
        m = m[mask]
    return round(float(m.mean()), 12)
