"""The mesh-guided GCN's objective (Sec. 3.4), every term in one place.

    L_total = l_rec L_rec + l_c L_c + l_FM L_FM + l_adv L_adv              (Eq. 4)
    L_rec: VGG perceptual loss summed over a 256/128/64/32 pyramid          (Eq. 5)
    L_c: coefficient loss with the regressor E_3D                            (Eq. 6)
    L_FM: discriminator feature matching                                     (Eq. 7)
    L_adv: WGAN-GP                                                           (Eq. 8)

Without VGG19 weights a multi-scale L1 + (1 - SSIM) pyramid stands in for L_rec (said once).
"""

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reenact.metrics.ssim import ssim
from reenact.models.vgg import VGG19Features

log = logging.getLogger("reenact")
PYRAMID = (256, 128, 64, 32)


@dataclass(frozen=True)
class MeshGCNLossWeights:
    rec: float = 10.0  # lambda_rec
    fm: float = 10.0  # lambda_FM
    c: float = 1.0  # lambda_c
    adv: float = 1.0  # lambda_adv
    gp: float = 10.0  # WGAN-GP's lambda
    grad: float = 0.0  # ours: image-gradient L1 (losses/gradient.py); 0 = the paper
    parts: float = 0.0  # ours: eyes and mouth L1 (losses/parts.py); 0 = the paper


class ReconstructionLoss(torch.nn.Module):
    """L_rec over the image pyramid (sizes of ``PYRAMID`` not above the input's)."""

    def __init__(self, vgg: VGG19Features | None = None):
        super().__init__()
        self.vgg = vgg
        if vgg is None:
            log.warning("VGG19 weights not given: L_rec uses a multi-scale L1 + SSIM pyramid")

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        H = output.shape[-1]
        total = output.new_zeros(())
        for size in [s for s in PYRAMID if s <= H] or [H]:
            o = F.interpolate(output, size=(size, size), mode="area") if size != H else output
            t = F.interpolate(target, size=(size, size), mode="area") if size != H else target
            if self.vgg is not None:
                total = total + sum((fo - ft).abs().mean()
                                    for fo, ft in zip(self.vgg(o), self.vgg(t), strict=True))
            else:
                total = total + (o - t).abs().mean() + (1 - ssim(o, t))
        return total


def feature_matching(real_feats: list[torch.Tensor], fake_feats: list[torch.Tensor]
                     ) -> torch.Tensor:
    """L_FM (Eq. 7): mean absolute difference per discriminator layer, summed over layers."""
    return sum((r.detach() - f).abs().mean() for r, f in zip(real_feats, fake_feats, strict=True))


def gradient_penalty(disc, real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """WGAN-GP's E[(||grad D(x^)||_2 - 1)^2] on random interpolates of real and fake images;
    ``eps`` (B,) the interpolation weights (default: drawn here)."""
    x = interpolates(real, fake, eps).requires_grad_(True)
    return penalty(disc(x)[0], x)


def interpolates(real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor | None = None
                 ) -> torch.Tensor:
    if eps is None:
        eps = torch.rand(real.shape[0], dtype=real.dtype, device=real.device)
    eps = eps.to(real.dtype).view(-1, 1, 1, 1)
    return eps * real + (1 - eps) * fake


def penalty(scores: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(||d sum(scores) / dx||_2 - 1)^2, averaged over the batch (x requires grad)."""
    (grad,) = torch.autograd.grad(scores.sum(), x, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
