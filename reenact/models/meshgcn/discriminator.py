"""The critic for WGAN-GP (Eq. 8) with its intermediate features for the feature-matching loss
(Eq. 7): a PatchGAN without batch statistics (the gradient penalty needs per-sample gradients)."""

import torch
from torch import nn


class Critic(nn.Module):
    """(B, 3, H, W) -> (score map (B, 1, h, w), [features of each layer])."""

    def __init__(self, width: int = 64, layers: int = 4):
        super().__init__()
        blocks, c = [], 3
        for i in range(layers):
            out = min(width * 2**i, 512)
            norm = nn.Identity() if i == 0 else nn.InstanceNorm2d(out, affine=True)
            blocks.append(nn.Sequential(nn.Conv2d(c, out, 4, stride=2, padding=1), norm,
                                        nn.LeakyReLU(0.2)))
            c = out
        self.blocks = nn.ModuleList(blocks)
        self.score = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return self.score(x), feats
