"""Sharpness: the mean absolute Laplacian of an image's grey levels, optionally in a region.

At the tiny training size a half-pixel blur moves re-tracked landmarks as much as the learned
corrections do (``experiments/landmark_sensitivity.py``), so validation reports each output's
sharpness beside its landmark error."""

import cv2
import numpy as np


def sharpness(image: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean |Laplacian| (3x3) of an (H, W, 3) uint8 image's grey levels, in grey levels per pixel,
    over the pixels where ``mask`` (H, W) is true.

    Example:
        >>> flat = np.full((8, 8, 3), 100, np.uint8)
        >>> sharpness(flat)
        0.0
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    lap = np.abs(cv2.Laplacian(grey, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REPLICATE))
    if mask is None:
        return float(lap.mean())
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match the image's {image.shape[:2]}")
    if not mask.any():
        raise ValueError("the mask selects no pixel")
    return float(lap[mask.astype(bool)].mean())
