"""DCG-GAN's generator side in one module: correspondence (Sec. 2.2) then the prior-guided
generator (Sec. 2.3), with the intermediate warps returned for the losses and for inspection."""

from dataclasses import dataclass, field

import torch
from torch import nn

from reenact.models.blocks import PriorFusion
from reenact.models.dcggan.correspondence import CorrespondenceConfig, DenseCorrespondence
from reenact.models.dcggan.generator import Generator, GeneratorConfig


@dataclass(frozen=True)
class DCGGANConfig:
    """A variant is a choice of the two flags: full (both), sD (use_proxies off: correspondence
    from parsing maps only), sG (use_afm off), sDG (both off)."""

    correspondence: CorrespondenceConfig = field(default_factory=CorrespondenceConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    use_proxies: bool = True
    use_prior: bool = False  # ours: refine the analytic warp (blocks.PriorFusion); off = the paper
    prior_smoothing: float = 0.0  # ours: sigma (px) of the blur on PriorFusion's residual
    prior_keep_outline: bool = False  # ours: no residual on a band around the re-enacted
    #   face's outline (prior_outline): the warp's face contour stays where it is

    def __post_init__(self) -> None:
        if self.correspondence.parsing_classes != self.generator.parsing_classes:
            raise ValueError("correspondence and generator must agree on parsing_classes "
                             f"({self.correspondence.parsing_classes} vs "
                             f"{self.generator.parsing_classes})")
        if self.correspondence.downsample != self.generator.upsample:
            raise ValueError("generator.upsample must undo correspondence.downsample "
                             f"({self.generator.upsample} vs {self.correspondence.downsample})")


@dataclass
class DCGGANOutput:
    image: torch.Tensor  # I_r (B, 3, H, W) in [0, 1]
    image_warp: torch.Tensor  # I_s^warp (B, 3, h, w)
    proxy_warp: torch.Tensor  # P_s^warp (B, 3, h, w)
    parsing_warp: torch.Tensor  # M_s^warp (B, classes, h, w)
    image_back: torch.Tensor  # I_s' (B, 3, h, w), Eq. 8
    attention: torch.Tensor | None  # AFM's A (B, 1, h, w)


class DCGGAN(nn.Module):
    def __init__(self, cfg: DCGGANConfig = DCGGANConfig()):
        super().__init__()
        self.cfg = cfg
        self.correspondence = DenseCorrespondence(cfg.correspondence, cfg.use_proxies)
        self.generator = Generator(cfg.generator)
        self.fusion = PriorFusion(smoothing=cfg.prior_smoothing) if cfg.use_prior else None

    def forward(self, image_s: torch.Tensor, proxy_s: torch.Tensor, proxy_r: torch.Tensor,
                landmarks_s: torch.Tensor, landmarks_r: torch.Tensor, parsing_s: torch.Tensor,
                parsing_r: torch.Tensor | None = None, prior: torch.Tensor | None = None,
                prior_outline: torch.Tensor | None = None) -> DCGGANOutput:
        """All inputs (B, C, H, W): I_s, P_s, P_r in [0, 1]; L_s, L_r heatmaps; M_s (and, for
        sD, M_r) one-hot parsing maps; ``prior`` the analytic warp (B, 3, H, W), needed when
        ``use_prior``; ``prior_outline`` (B, 1, H, W) where the warp is kept, needed with
        ``prior_keep_outline``."""
        corr = self.correspondence
        f_s, f_r = corr.features(proxy_s, proxy_r, landmarks_s, landmarks_r, parsing_s, parsing_r)
        image_warp = corr.warp(f_r, f_s, image_s)
        proxy_warp = corr.warp(f_r, f_s, proxy_s)
        parsing_warp = corr.warp(f_r, f_s, parsing_s)
        image_back = corr.reverse(f_r, f_s, image_warp)
        image, attention = self.generator(image_warp, proxy_warp, parsing_warp)
        if self.fusion is not None:
            if prior is None:
                raise ValueError("this DCG-GAN refines the analytic warp: pass prior=")
            if self.cfg.prior_keep_outline and prior_outline is None:
                raise ValueError("this DCG-GAN keeps the warp's face outline: pass "
                                 "prior_outline=")
            image = self.fusion(image, prior,
                                prior_outline if self.cfg.prior_keep_outline else None)
        return DCGGANOutput(image=image, image_warp=image_warp, proxy_warp=proxy_warp,
                            parsing_warp=parsing_warp, image_back=image_back, attention=attention)
