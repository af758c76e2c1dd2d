"""Small building blocks shared by the networks."""

import torch
from torch import nn


class ResBlock(nn.Module):
    """Pre-activation residual block: (norm, ReLU, conv3x3) x 2, identity or 1x1 shortcut.

    (B, C_in, H, W) -> (B, C_out, H, W).
    """

    def __init__(self, c_in: int, c_out: int, norm: str = "instance"):
        super().__init__()

        def make_norm(c: int) -> nn.Module:
            return nn.InstanceNorm2d(c, affine=True) if norm == "instance" else nn.BatchNorm2d(c)

        self.body = nn.Sequential(make_norm(c_in), nn.ReLU(), nn.Conv2d(c_in, c_out, 3, padding=1),
                                  make_norm(c_out), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


def conv_down(c_in: int, c_out: int) -> nn.Sequential:
    """Stride-2 conv, instance norm, LeakyReLU: halves H and W."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                         nn.InstanceNorm2d(c_out, affine=True), nn.LeakyReLU(0.2))
