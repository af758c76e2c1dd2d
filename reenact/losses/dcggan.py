"""DCG-GAN's objective (Sec. 2.4), every term in one place.

    L_mw  = || P_s^warp - P_r ||_1                              (Eq. 7)
    L_cc  = || I_s' - I_s ||_1, I_s' the reverse-mapped warp     (Eq. 8)
    L_pix = || I_r - I_d ||_1, paired (same-video) samples only   (Eq. 11)
    L_adv^G = -E[D(I_r)];  L_D = E[max(0, 1 - D(I_d))] + E[max(0, 1 + D(I_r))]   (Eq. 12-13)
    L_G = l_mw L_mw + l_cc L_cc + l_id L_id + l_geo L_geo + l_pix L_pix + l_adv L_adv^G

L_id (ArcFace) and L_geo (the coefficient regressor E_3D) need networks of their own and are added
by the training step when those are available; their weights live here with the others.
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class DCGGANLossWeights:
    mw: float = 10.0  # lambda_mw
    cc: float = 10.0  # lambda_cc
    identity: float = 1.0  # lambda_id (off without ArcFace weights)
    geo: float = 1.0  # lambda_geo (the paper sets 1)
    pix: float = 10.0  # lambda_pix
    adv: float = 1.0  # lambda_adv
    grad: float = 0.0  # ours: image-gradient L1 on paired samples (losses/gradient.py); 0 = paper
    parts: float = 0.0  # ours: eyes and mouth L1 on paired samples (losses/parts.py); 0 = paper


def warp_loss(proxy_warp: torch.Tensor, proxy_r: torch.Tensor) -> torch.Tensor:
    """L_mw (Eq. 7): proxies at the correspondence resolution, (B, 3, h, w)."""
    return (proxy_warp - proxy_r).abs().mean()


def cycle_loss(image_back: torch.Tensor, image_s: torch.Tensor) -> torch.Tensor:
    """L_cc (Eq. 8): the reverse-mapped warp against the down-sampled source, (B, 3, h, w)."""
    return (image_back - image_s).abs().mean()


def pixel_loss(output: torch.Tensor, target: torch.Tensor, paired: torch.Tensor) -> torch.Tensor:
    """L_pix (Eq. 11) on the paired samples of the batch (``paired``: (B,) bool), averaged over
    the whole batch with unpaired samples counting zero: a plain batch mean, so DDP's averaging
    over equal per-process batches gives exactly the single-process loss."""
    per_sample = (output - target).abs().flatten(1).mean(1)
    return (per_sample * paired.to(per_sample.dtype)).mean()


def hinge_generator(fake_logits: list[torch.Tensor]) -> torch.Tensor:
    """L_adv^G (Eq. 12): -mean D(fake), averaged over the discriminator's scales."""
    return -torch.stack([f.mean() for f in fake_logits]).mean()


def hinge_discriminator(real_logits: list[torch.Tensor], fake_logits: list[torch.Tensor]
                        ) -> torch.Tensor:
    """L_D (Eq. 13): mean relu(1 - D(real)) + mean relu(1 + D(fake)), averaged over scales."""
    terms = [torch.relu(1 - r).mean() + torch.relu(1 + f).mean()
             for r, f in zip(real_logits, fake_logits, strict=True)]
    return torch.stack(terms).mean()
