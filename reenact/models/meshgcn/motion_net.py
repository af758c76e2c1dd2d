"""The motion net (Sec. 3.2): an asymmetric autoencoder from the stacked source and driving meshes
(n x 6) to an optical-flow image (H x W x 2).

Encoder: four spectral residual blocks (Chebyshev conv K=3, instance norm, ReLU, graph linear,
graph residual) with CoMA mesh down-sampling between them, then a linear layer to the latent motion
feature F_m. Decoder: up-sampling blocks (main branch: up-sample, two convs with BN + ReLU;
shortcut: up-sample) and residual blocks, to a flow image in normalised coordinates ([-1, 1] per
axis, as ``grid_sample`` reads it). Works for any topology: the Laplacians and sampling matrices
come from the template mesh given at construction (cached per topology)."""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from reenact.geometry.decimation import sampling_matrices
from reenact.geometry.laplacian import scaled_laplacian
from reenact.models.blocks import ResBlock
from reenact.models.meshgcn.chebconv import GraphResBlock, _spmm, sparse_tensor


@dataclass(frozen=True)
class MotionNetConfig:
    channels: tuple[int, ...] = (32, 64, 128, 256)  # per encoder block (four, as in the paper)
    factors: tuple[int, ...] = (4, 4, 4)  # mesh down-sampling between blocks
    latent: int = 256  # F_m
    K: int = 3
    size: int = 256  # flow image side
    decoder_width: int = 256  # channels at 4 x 4; halves per up-sampling block (min 16)
    decoder_res_blocks: int = 2


class UpBlock(nn.Module):
    """Main: up-sample, conv-BN-ReLU, conv-BN-ReLU; shortcut: up-sample (and a 1x1 conv when the
    width changes); the sum is the block's output."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.main = nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out),
                                  nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1),
                                  nn.BatchNorm2d(c_out), nn.ReLU())
        self.short = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        return self.main(x) + self.short(x)


class MotionNet(nn.Module):
    """(B, n, 6) stacked vertices [M_s | M_d] (normalised image coordinates) -> (B, H, W, 2)."""

    def __init__(self, template: np.ndarray, faces: np.ndarray,
                 cfg: MotionNetConfig = MotionNetConfig()):
        super().__init__()
        if len(cfg.channels) != len(cfg.factors) + 1:
            raise ValueError("one more encoder block than down-sampling factor is needed, got "
                             f"{len(cfg.channels)} blocks and {len(cfg.factors)} factors")
        self.cfg = cfg
        levels = sampling_matrices(template, faces, tuple(cfg.factors))
        level_faces = [np.asarray(faces)] + [lvl.faces for lvl in levels]
        sizes = [len(template)] + [len(lvl.kept) for lvl in levels]
        self._laps = [sparse_tensor(scaled_laplacian(_edges(f), n)[0])
                      for f, n in zip(level_faces, sizes, strict=True)]
        self._downs = [sparse_tensor(lvl.down) for lvl in levels]
        blocks, c = [], 6
        for width in cfg.channels:
            blocks.append(GraphResBlock(c, width, cfg.K))
            c = width
        self.blocks = nn.ModuleList(blocks)
        self.to_latent = nn.Linear(sizes[-1] * c, cfg.latent)
        steps = int(np.log2(cfg.size // 4))
        if 4 * 2**steps != cfg.size:
            raise ValueError(f"flow size must be 4 * 2^k, got {cfg.size}")
        self.from_latent = nn.Linear(cfg.latent, cfg.decoder_width * 16)
        ups, w = [], cfg.decoder_width
        for _ in range(steps):
            ups.append(UpBlock(w, max(16, w // 2)))
            w = max(16, w // 2)
        self.ups = nn.Sequential(*ups)
        self.res = nn.Sequential(*(ResBlock(w, w, norm="batch")
                                   for _ in range(cfg.decoder_res_blocks)))
        self.to_flow = nn.Conv2d(w, 2, 3, padding=1)
        nn.init.zeros_(self.to_flow.weight)  # start from the zero flow
        nn.init.zeros_(self.to_flow.bias)

    def encode(self, stacked: torch.Tensor) -> torch.Tensor:
        """(B, n, 6) -> F_m (B, latent)."""
        x = stacked
        for i, block in enumerate(self.blocks):
            x = block(x, self._laps[i].to(x.dtype))
            if i < len(self._downs):
                x = _spmm(self._downs[i].to(x.dtype), x)  # (B, n_next, C)
        return self.to_latent(x.flatten(1))

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:
        z = self.from_latent(self.encode(stacked)).view(-1, self.cfg.decoder_width, 4, 4)
        flow = self.to_flow(self.res(self.ups(z)))  # (B, 2, H, W)
        return flow.permute(0, 2, 3, 1)


def _edges(faces: np.ndarray) -> np.ndarray:
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return np.unique(np.sort(e, axis=1), axis=0)
