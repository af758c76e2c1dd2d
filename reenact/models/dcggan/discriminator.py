"""Multi-scale PatchGAN discriminator (Isola et al. 2017; Wang et al. 2018) for the hinge loss of
Eq. 12-13: each scale scores overlapping patches; scale k sees the image down-sampled 2**k times."""

import torch
import torch.nn.functional as F
from torch import nn


class PatchDiscriminator(nn.Module):
    """(B, C, H, W) -> (B, 1, H / 2**layers, W / 2**layers) patch logits."""

    def __init__(self, in_channels: int = 3, width: int = 64, layers: int = 3):
        super().__init__()
        blocks = [nn.Conv2d(in_channels, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        c = width
        for _ in range(layers - 1):
            blocks += [nn.utils.spectral_norm(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1)),
                       nn.LeakyReLU(0.2)]
            c *= 2
        blocks.append(nn.Conv2d(c, 1, 3, padding=1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class MultiScaleDiscriminator(nn.Module):
    """A PatchGAN per scale; returns the list of patch-logit maps, finest first."""

    def __init__(self, in_channels: int = 3, width: int = 64, layers: int = 3, scales: int = 2):
        super().__init__()
        self.heads = nn.ModuleList(PatchDiscriminator(in_channels, width, layers)
                                   for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for k, head in enumerate(self.heads):
            out.append(head(x if k == 0 else F.avg_pool2d(x, 2**k)))
        return out
