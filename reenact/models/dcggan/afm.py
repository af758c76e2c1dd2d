"""The attention-based fusion module (AFM, Sec. 2.3, Fig. 4, Eq. 4-6) and its spatial transformer.

    f_bg  = conv(STN(I_s^warp))                              (Eq. 4)
    f_fg  = conv(concat(STN(I_s^warp), STN(P_s^warp)))       (Eq. 5)
    f_out = A * f_fg + (1 - A) * f_bg,  A from all three      (Eq. 6)
"""

import torch
import torch.nn.functional as F
from torch import nn


class SpatialTransformer(nn.Module):
    """STN (Jaderberg et al. 2015): a small localisation net predicts an affine transform, which
    resamples the input. Initialised to the identity so training starts from the warp as is."""

    def __init__(self, channels: int, hidden: int = 16):
        super().__init__()
        self.loc = nn.Sequential(
            nn.Conv2d(channels, hidden, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(hidden, 6))
        nn.init.zeros_(self.loc[-1].weight)
        with torch.no_grad():
            self.loc[-1].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B, C, h, w) resampled."""
        theta = self.loc(x).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, padding_mode="border", align_corners=False)


def _conv_block(c_in: int, c_out: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, hidden, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(hidden, c_out, 3, padding=1))


class AttentionFusion(nn.Module):
    """AFM: fuses I_s^warp (3), P_s^warp (3) and M_s^warp (classes) into f_out (B, out, h, w).

    The paper fuses into a single-channel map (``out_channels=1``); more channels are allowed.
    """

    def __init__(self, parsing_classes: int, out_channels: int = 1, hidden: int = 32):
        super().__init__()
        self.stn_image = SpatialTransformer(3)
        self.stn_proxy = SpatialTransformer(3)
        self.conv_bg = _conv_block(3, out_channels, hidden)
        self.conv_fg = _conv_block(6, out_channels, hidden)
        self.attention = nn.Sequential(_conv_block(6 + parsing_classes, 1, hidden), nn.Sigmoid())

    def forward(self, image_warp: torch.Tensor, proxy_warp: torch.Tensor,
                parsing_warp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns f_out (B, out, h, w) and the attention map A (B, 1, h, w)."""
        image_t = self.stn_image(image_warp)
        proxy_t = self.stn_proxy(proxy_warp)
        f_bg = self.conv_bg(image_t)  # Eq. 4
        f_fg = self.conv_fg(torch.cat([image_t, proxy_t], 1))  # Eq. 5
        a = self.attention(torch.cat([image_warp, proxy_warp, parsing_warp], 1))
        return a * f_fg + (1 - a) * f_bg, a  # Eq. 6
