"""FID (Fréchet Inception Distance, Heusel et al. 2017) between two sets of images.

FID fits a Gaussian to the 2048-d pool3 features of the FID Inception-v3 for each set and returns
the Fréchet distance between the two Gaussians (lower is closer; 0 for identical statistics).
It is a distribution metric: with a 2048 x 2048 covariance it is biased upwards by small sets and
only means much with many images (hundreds at least; 10k-50k for numbers comparable with papers),
and only against numbers computed with the same weights, resizing and number of images.

The weights are the user's copy of pytorch-fid's ``pt_inception-2015-12-05-6726825d.pth``; nothing
is downloaded. Example::

    features = FIDFeatures("weights/pt_inception-2015-12-05-6726825d.pth")
    fid = frechet_distance(features(real_frames), features(generated_frames))
"""

import os

import numpy as np
import torch
from scipy import linalg

from reenact.io.tensor import image_to_tensor
from reenact.models.inception import FEATURE_DIM, INPUT_SIZE, load_fid_inception


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray, eps: float = 1e-6) -> float:
    """Fréchet distance ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` between Gaussians
    fitted to two feature sets (sample means, covariances with N - 1).

    Args:
        feats_a: (N, D) features, N >= 2.
        feats_b: (M, D) features, M >= 2.
        eps: added to both covariances' diagonals when ``S_a S_b`` is too singular for ``sqrtm``.

    Example:
        >>> a = np.array([[0.0], [2.0]]); b = np.array([[3.0], [5.0]])  # means 1, 4; variances 2
        >>> round(frechet_distance(a, b), 6)  # (1 - 4)^2 + 2 + 2 - 2 * sqrt(2 * 2)
        9.0
    """
    for name, feats in (("feats_a", feats_a), ("feats_b", feats_b)):
        if feats.ndim != 2 or feats.shape[0] < 2:
            raise ValueError(f"{name}: expected (N, D) features with N >= 2, got {feats.shape}")
    if feats_a.shape[1] != feats_b.shape[1]:
        raise ValueError(f"feature sizes differ: {feats_a.shape} vs {feats_b.shape}")
    feats_a, feats_b = feats_a.astype(np.float64), feats_b.astype(np.float64)
    mu_a, mu_b = feats_a.mean(axis=0), feats_b.mean(axis=0)
    cov_a = np.atleast_2d(np.cov(feats_a, rowvar=False))  # (D, D)
    cov_b = np.atleast_2d(np.cov(feats_b, rowvar=False))
    if not (np.isfinite(cov_a).all() and np.isfinite(cov_b).all()):
        raise ValueError("features contain NaN or inf")

    covmean = linalg.sqrtm(cov_a @ cov_b)
    if not np.isfinite(covmean).all():  # a (nearly) singular product, e.g. N < D
        offset = np.eye(cov_a.shape[0]) * eps
        covmean = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    if np.iscomplexobj(covmean):  # round-off gives a tiny imaginary part
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm(S_a S_b) has a large imaginary part "
                             f"({np.abs(covmean.imag).max():.3g}); too few or degenerate features")
        covmean = covmean.real
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * np.trace(covmean))


class FIDFeatures:
    """(H, W, 3) uint8 RGB images -> (N, 2048) FID Inception pool3 features (float64).

    Each image is resized to 299 x 299 (bilinear, as pytorch-fid) whatever its size, so images of
    different sizes may be mixed. Runs in batches of ``batch_size`` without gradients.
    """

    def __init__(self, weights: str | os.PathLike, *, device: torch.device | str = "cpu",
                 batch_size: int = 50):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.net = load_fid_inception(weights).to(self.device)

    def _batch(self, images: list[np.ndarray], start: int) -> torch.Tensor:
        """(B, 3, 299, 299) in [0, 1] from ``images``, whose first one is image ``start``."""
        tensors = []
        for i, image in enumerate(images, start):
            try:
                x = image_to_tensor(image, self.device)  # (1, 3, H, W)
            except ValueError as exc:
                raise ValueError(f"image {i}: {exc}") from None
            tensors.append(torch.nn.functional.interpolate(
                x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False))
        return torch.cat(tensors)

    @torch.no_grad()
    def __call__(self, images: list[np.ndarray]) -> np.ndarray:
        if len(images) == 0:
            raise ValueError("no images given")
        out = np.empty((len(images), FEATURE_DIM), dtype=np.float64)
        for start in range(0, len(images), self.batch_size):
            batch = self._batch(images[start:start + self.batch_size], start)
            out[start:start + len(batch)] = self.net(batch).double().cpu().numpy()
        return out
