"""PSNR, optionally restricted to a region (e.g. the face)."""

import numpy as np


def psnr(output: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None,
         peak: float = 255.0) -> float:
    """PSNR in dB between two (H, W, C) images over the pixels where ``mask`` (H, W) is true.

    Example:
        >>> a = np.zeros((4, 4, 3)); b = a + 1.0
        >>> round(psnr(a, b), 2)  # MSE 1 at peak 255: 20 log10(255)
        48.13
    """
    if output.shape != target.shape:
        raise ValueError(f"shapes differ: {output.shape} vs {target.shape}")
    diff = (output.astype(np.float64) - target.astype(np.float64)) ** 2
    if mask is not None:
        if not mask.any():
            raise ValueError("the mask selects no pixel")
        diff = diff[mask.astype(bool)]
    mse = float(diff.mean())
    return float("inf") if mse == 0 else 10.0 * np.log10(peak**2 / mse)
