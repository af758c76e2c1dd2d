"""The facial prior-guided generator (Sec. 2.3): ResBlocks from the down-sampled concatenation of
I_s^warp, M_s^warp and P_s^warp up to the output image. On the coarse levels the AFM's fused map
f_out modulates the blocks through SPADE (Park et al. 2019); finer levels get no priors, which could
carry the warp's errors into high-frequency detail.

The sG ablation (``use_afm=False``) drops the AFM: the priors enter only at the bottom, as input.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reenact.models.blocks import ResBlock
from reenact.models.dcggan.afm import AttentionFusion


@dataclass(frozen=True)
class GeneratorConfig:
    parsing_classes: int = 9
    width: int = 256  # channels on the coarsest level; halves per up-sampling
    coarse_blocks: int = 3  # SPADE ResBlocks at the input resolution
    upsample: int = 2  # x2 stages from the correspondence grid to the output
    afm_channels: int = 1  # f_out channels (the paper: one)
    use_afm: bool = True  # False: the sG ablation


class SPADE(nn.Module):
    """Spatially-adaptive normalisation: parameter-free instance norm, then a per-pixel scale and
    shift predicted from the conditioning map (resized to the features)."""

    def __init__(self, channels: int, cond_channels: int, hidden: int = 64):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.shared = nn.Sequential(nn.Conv2d(cond_channels, hidden, 3, padding=1), nn.ReLU())
        self.gamma = nn.Conv2d(hidden, channels, 3, padding=1)
        self.beta = nn.Conv2d(hidden, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        cond = F.interpolate(cond, size=x.shape[-2:], mode="bilinear", align_corners=False)
        h = self.shared(cond)
        return self.norm(x) * (1 + self.gamma(h)) + self.beta(h)


class SPADEResBlock(nn.Module):
    """ResBlock whose two normalisations are SPADE layers conditioned on f_out."""

    def __init__(self, channels: int, cond_channels: int):
        super().__init__()
        self.norm1 = SPADE(channels, cond_channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = SPADE(channels, cond_channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.leaky_relu(self.norm1(x, cond), 0.2))
        h = self.conv2(F.leaky_relu(self.norm2(h, cond), 0.2))
        return x + h


class Generator(nn.Module):
    """(I_s^warp, P_s^warp, M_s^warp) at (h, w) -> I_r at (h, w) * 2**upsample, in [0, 1]."""

    def __init__(self, cfg: GeneratorConfig = GeneratorConfig()):
        super().__init__()
        self.cfg = cfg
        c_in = 6 + cfg.parsing_classes
        self.head = nn.Conv2d(c_in, cfg.width, 3, padding=1)
        self.afm = (AttentionFusion(cfg.parsing_classes, cfg.afm_channels) if cfg.use_afm
                    else None)
        if cfg.use_afm:
            self.coarse = nn.ModuleList(SPADEResBlock(cfg.width, cfg.afm_channels)
                                        for _ in range(cfg.coarse_blocks))
        else:
            self.coarse = nn.ModuleList(ResBlock(cfg.width, cfg.width)
                                        for _ in range(cfg.coarse_blocks))
        ups, c = [], cfg.width
        for _ in range(cfg.upsample):  # fine levels: no priors
            ups.append(ResBlock(c, c // 2))
            c //= 2
        self.fine = nn.ModuleList(ups)
        self.to_rgb = nn.Sequential(nn.InstanceNorm2d(c, affine=True), nn.LeakyReLU(0.2),
                                    nn.Conv2d(c, 3, 3, padding=1))

    def forward(self, image_warp: torch.Tensor, proxy_warp: torch.Tensor,
                parsing_warp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Returns the re-enacted image (B, 3, H, W) in [0, 1] and the AFM attention map A
        (B, 1, h, w), or None for the sG variant."""
        x = self.head(torch.cat([image_warp, proxy_warp, parsing_warp], 1))  # (B, width, h, w)
        attention = None
        if self.afm is not None:
            f_out, attention = self.afm(image_warp, proxy_warp, parsing_warp)
            for block in self.coarse:
                x = block(x, f_out)
        else:
            for block in self.coarse:
                x = block(x)
        for block in self.fine:
            x = block(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))
        return torch.sigmoid(self.to_rgb(x)), attention
