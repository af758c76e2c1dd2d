"""Image-space helpers shared by the guidance and the networks: ``grid_sample``'s identity grid,
a separable Gaussian blur, and a soft band around a mask's outline."""

import torch
import torch.nn.functional as F


def identity_grid(B: int, H: int, W: int, like: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 2) normalised pixel-centre coordinates, as ``grid_sample`` reads them."""
    ys = (torch.arange(H, dtype=like.dtype, device=like.device) + 0.5) / H * 2 - 1
    xs = (torch.arange(W, dtype=like.dtype, device=like.device) + 0.5) / W * 2 - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy], -1)[None].expand(B, H, W, 2)


def outline_band(mask: torch.Tensor, width: float) -> torch.Tensor:
    """A band around a mask's outline: (B, H, W) bool -> (B, 1, H, W) in [0, 1], 1 within
    ``width`` (a fraction of the side) of the outline, then fading to 0 over about as much."""
    m = mask.float()[:, None]
    r = max(1, round(width * mask.shape[-1]))
    grown = F.max_pool2d(m, 2 * r + 1, stride=1, padding=r)
    shrunk = 1 - F.max_pool2d(1 - m, 2 * r + 1, stride=1, padding=r)
    hard = grown - shrunk
    return torch.maximum(hard, gaussian_blur(hard, r / 2)) if r > 1 else hard


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), radius 3 sigma, edges replicated."""
    radius = max(1, round(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    C = x.shape[1]
    x = F.pad(x, (radius,) * 4, mode="replicate")
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(C, 1, 1, -1), groups=C)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(C, 1, -1, 1), groups=C)
