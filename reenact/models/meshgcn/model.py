"""The mesh-guided GCN generator: motion net (meshes -> flow) then reenacting module (source +
flow -> image). Variants (Sec. 5.3): Baseline (no occlusion net, no L_c), +L_c, +O, and GCN->CNN,
where rendered mesh images go through a CNN encoder instead of the GCN."""

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from reenact.models.blocks import PriorFusion
from reenact.models.meshgcn.motion_net import MotionNet, MotionNetConfig
from reenact.models.meshgcn.reenacting import ReenactingConfig, ReenactingModule


@dataclass(frozen=True)
class MeshGCNConfig:
    motion: MotionNetConfig = field(default_factory=MotionNetConfig)
    reenacting: ReenactingConfig = field(default_factory=ReenactingConfig)
    use_gcn: bool = True  # False: the GCN->CNN variant (mesh images into a CNN encoder)
    use_prior: bool = False  # ours: start from the analytic flow and refine the analytic warp
    prior_smoothing: float = 0.0  # ours: sigma (px) of the blur on PriorFusion's residual
    prior_keep_outline: bool = False  # ours: no residual on a band around the re-enacted
    #   face's outline (batch["prior_outline"]): the warp's face contour stays where it is


class MeshImageEncoder(nn.Module):
    """GCN->CNN variant: (B, 6, H, W) rendered source and driving mesh images (e.g. vertex
    positions as colours) -> F_m (B, latent)."""

    def __init__(self, latent: int, width: int = 32):
        super().__init__()
        layers, c = [], 6
        for i in range(5):
            out = min(width * 2**i, 256)
            layers += [nn.Conv2d(c, out, 4, stride=2, padding=1), nn.GroupNorm(1, out),
                       nn.ReLU()]
            c = out
        self.net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(c, latent))

    def forward(self, mesh_images: torch.Tensor) -> torch.Tensor:
        return self.net(mesh_images)


class MeshGCN(nn.Module):
    def __init__(self, template: np.ndarray, faces: np.ndarray,
                 cfg: MeshGCNConfig = MeshGCNConfig()):
        super().__init__()
        self.cfg = cfg
        self.motion = MotionNet(template, faces, cfg.motion)
        self.image_encoder = None if cfg.use_gcn else MeshImageEncoder(cfg.motion.latent)
        self.reenacting = ReenactingModule(cfg.reenacting)
        self.fusion = PriorFusion(smoothing=cfg.prior_smoothing) if cfg.use_prior else None

    def flow(self, stacked: torch.Tensor | None = None, mesh_images: torch.Tensor | None = None
             ) -> torch.Tensor:
        """T* (B, H, W, 2) from stacked meshes (B, n, 6), or from mesh images for GCN->CNN."""
        if self.image_encoder is None:
            if stacked is None:
                raise ValueError("the GCN motion net needs the stacked meshes (B, n, 6)")
            z = self.motion.encode(stacked)
        else:
            if mesh_images is None:
                raise ValueError("the GCN->CNN variant needs mesh images (B, 6, H, W)")
            z = self.image_encoder(mesh_images)
        m = self.motion
        x = m.from_latent(z).view(-1, m.cfg.decoder_width, 4, 4)
        return m.to_flow(m.res(m.ups(x))).permute(0, 2, 3, 1)

    def forward(self, image_s: torch.Tensor, stacked: torch.Tensor | None = None,
                mesh_images: torch.Tensor | None = None, prior: torch.Tensor | None = None,
                prior_flow: torch.Tensor | None = None, prior_outline: torch.Tensor | None = None):
        """I_s (B, 3, H, W) -> (I_d estimate, T*, O, M). With ``use_prior``: ``prior_flow``
        (B, H, W, 2) the analytic warp's offsets (grid_sample units) the predicted flow is added
        to, and ``prior`` (B, 3, H, W) the analytic warp the output refines; with
        ``prior_keep_outline``, ``prior_outline`` (B, 1, H, W) where the warp is kept."""
        flow = self.flow(stacked, mesh_images)
        if self.fusion is not None:
            if prior is None or prior_flow is None:
                raise ValueError("this mesh GCN refines the analytic warp: pass prior= and "
                                 "prior_flow=")
            flow = flow + prior_flow
        if flow.shape[1:3] != image_s.shape[-2:]:
            raise ValueError(f"flow size {tuple(flow.shape[1:3])} must match the image "
                             f"{tuple(image_s.shape[-2:])}: set MotionNetConfig.size")
        out, occlusion, mask = self.reenacting(image_s, flow)
        if self.fusion is not None:
            if self.cfg.prior_keep_outline and prior_outline is None:
                raise ValueError("this mesh GCN keeps the warp's face outline: pass "
                                 "prior_outline=")
            out = self.fusion(out, prior, prior_outline if self.cfg.prior_keep_outline else None)
        return out, flow, occlusion, mask
