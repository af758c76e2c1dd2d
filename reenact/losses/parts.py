"""Our addition to both papers: a reconstruction loss on the eyes and the mouth alone.

They cover a few percent of the image, so a whole-image pixel loss barely asks for them, yet they
carry much of the landmark error: pasting the driving frame's eyes and mouth into the analytic
warp takes about a fifth of its landmark error off (README, Training). The loss is the L1 of
the colours and of the image gradients inside the hulls of the driving frame's eyes and lips,
averaged over those pixels, so its weight does not depend on how much of the image they fill.
"""

import cv2
import numpy as np
import torch

from reenact.face.topology import landmark_topology

PARTS = ("right_eye", "left_eye", "outer_lip")


def part_mask(landmarks: torch.Tensor, size: int, margin: float = 0.15) -> torch.Tensor:
    """(B, 1, size, size) float mask, 1 inside the convex hull of each eye and of the outer lips
    of (B, 478, 2+) landmarks in output pixels, each hull grown about its centre by ``margin``
    (a share of its size) to take in the lids and the lips' edges."""
    regions = landmark_topology().regions
    points = landmarks.detach().cpu().numpy()[..., :2]
    masks = np.zeros((points.shape[0], size, size), np.uint8)
    for b in range(points.shape[0]):
        for name in PARTS:  # cv2 fills the hull polygons: no rasteriser needed for a mask
            part = points[b, regions[name]]
            centre = part.mean(0)
            grown = centre + (part - centre) * (1 + margin)
            hull = cv2.convexHull(np.round(grown).astype(np.int32))
            cv2.fillConvexPoly(masks[b], hull, 1)
    return torch.from_numpy(masks).float()[:, None].to(landmarks.device)


def parts_loss(output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor,
               paired: torch.Tensor | None = None) -> torch.Tensor:
    """Masked L1 of colours plus masked L1 of x and y gradients of (B, C, H, W) images, each
    averaged over the mask's pixels per sample; samples with an empty mask, or unpaired ones
    (``paired`` (B,) bool), count zero in the batch mean.

    Example:
        >>> t = torch.zeros(1, 1, 4, 4); o = t.clone(); o[..., 1, 1] = 1.0
        >>> m = torch.zeros(1, 1, 4, 4); m[..., :2, :2] = 1.0  # the bad pixel and 3 others
        >>> round(float(parts_loss(o, t, m)), 4)  # colour 1/4; gradients (1 + 1) / 4
        0.75
    """
    mask = mask.to(output.dtype)
    d = output - target
    pixels = mask.flatten(1).sum(1)
    area = pixels.clamp(min=1.0)
    colour = (d.abs() * mask).flatten(1).sum(1) / (area * d.shape[1])
    mx = mask[..., :, 1:] * mask[..., :, :-1]  # a difference counts where both pixels are in
    my = mask[..., 1:, :] * mask[..., :-1, :]
    gx = ((d[..., :, 1:] - d[..., :, :-1]).abs() * mx).flatten(1).sum(1)
    gy = ((d[..., 1:, :] - d[..., :-1, :]).abs() * my).flatten(1).sum(1)
    per_sample = colour + (gx + gy) / (area * d.shape[1])
    keep = pixels > 0
    if paired is not None:
        keep = keep & paired.bool()
    return (per_sample * keep.to(per_sample.dtype)).mean()
