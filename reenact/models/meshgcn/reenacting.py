"""The reenacting module (Sec. 3.3, Fig. 3): appearance encoder, occlusion net, feature warping by
the masked flow, decoder.

The occlusion net (a four-level hourglass on the source warped by T*) gives an occlusion map O
(how much each output position can trust the warped source) and a flow mask M (where to keep the
motion net's flow rather than the identity). The encoder's features are warped by the masked flow,
multiplied by O and decoded. ``use_occlusion=False`` is the paper's Baseline (no occlusion net)."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reenact.models.blocks import ResBlock
from reenact.render.filters import identity_grid


@dataclass(frozen=True)
class ReenactingConfig:
    width: int = 64  # encoder's first level; doubles per down-sampling
    down: int = 2  # encoder down-sampling blocks (features at H / 2**down)
    res_blocks: int = 2  # at the bottleneck, after warping
    hourglass_width: int = 32
    hourglass_depth: int = 4  # "a four-layer hourglass"
    use_occlusion: bool = True


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                         nn.AvgPool2d(2))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2.0, mode="nearest"),
                         nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU())


class Hourglass(nn.Module):
    """U-Net style hourglass: ``depth`` down blocks, as many up blocks with skip concatenation."""

    def __init__(self, c_in: int, width: int, depth: int):
        super().__init__()
        chans = [c_in] + [min(width * 2**i, 256) for i in range(1, depth + 1)]
        self.downs = nn.ModuleList(_down(chans[i], chans[i + 1]) for i in range(depth))
        self.ups = nn.ModuleList(
            _up(chans[i + 1] * (1 if i == depth - 1 else 2), chans[i] if i else width)
            for i in reversed(range(depth)))
        self.out_channels = width + c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        for d in self.downs:
            skips.append(d(skips[-1]))
        h = skips.pop()
        for u in self.ups:
            h = u(h)
            h = torch.cat([h, skips.pop()], 1)
        return h


class OcclusionNet(nn.Module):
    """Warped source (B, 3, H, W) -> occlusion map O and flow mask M, each (B, 1, H, W) in [0, 1]."""

    def __init__(self, width: int = 32, depth: int = 4):
        super().__init__()
        self.hourglass = Hourglass(3, width, depth)
        self.head = nn.Conv2d(self.hourglass.out_channels, 2, 7, padding=3)

    def forward(self, warped: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        o, m = torch.sigmoid(self.head(self.hourglass(warped))).split(1, dim=1)
        return o, m


class ReenactingModule(nn.Module):
    """(I_s (B, 3, H, W) in [0, 1], T* (B, H, W, 2) flow in normalised units) -> I_d estimate."""

    def __init__(self, cfg: ReenactingConfig = ReenactingConfig()):
        super().__init__()
        self.cfg = cfg
        enc, c = [nn.Conv2d(3, cfg.width, 7, padding=3), nn.BatchNorm2d(cfg.width), nn.ReLU()], \
            cfg.width
        for _ in range(cfg.down):
            enc.append(_down(c, 2 * c))
            c *= 2
        self.encoder = nn.Sequential(*enc)
        self.bottleneck = nn.Sequential(*(ResBlock(c, c, norm="batch")
                                          for _ in range(cfg.res_blocks)))
        dec = []
        for _ in range(cfg.down):
            dec.append(_up(c, c // 2))
            c //= 2
        self.decoder = nn.Sequential(*dec, nn.Conv2d(c, 3, 7, padding=3), nn.Sigmoid())
        self.occlusion = (OcclusionNet(cfg.hourglass_width, cfg.hourglass_depth)
                          if cfg.use_occlusion else None)

    def forward(self, image: torch.Tensor, flow: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Returns (output (B, 3, H, W), O, M); O and M are None without the occlusion net.

        ``flow`` is a displacement in normalised coordinates: the output pixel at p samples the
        source at p + flow(p) (a backward warp)."""
        B, _, H, W = image.shape
        base = identity_grid(B, H, W, image)
        occlusion = mask = None
        if self.occlusion is not None:
            warped = F.grid_sample(image, base + flow, padding_mode="border", align_corners=False)
            occlusion, mask = self.occlusion(warped)
            flow = flow * mask.permute(0, 2, 3, 1)  # keep the flow where M trusts it
        features = self.encoder(image)  # (B, C, H / 2**down, W / 2**down)
        h, w = features.shape[-2:]
        small_flow = F.interpolate(flow.permute(0, 3, 1, 2), size=(h, w), mode="bilinear",
                                   align_corners=False).permute(0, 2, 3, 1)
        features = F.grid_sample(features, identity_grid(B, h, w, image) + small_flow,
                                 padding_mode="border", align_corners=False)
        if occlusion is not None:
            features = features * F.interpolate(occlusion, size=(h, w), mode="bilinear",
                                                align_corners=False)
        return self.decoder(self.bottleneck(features)), occlusion, mask
