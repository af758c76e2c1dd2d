"""E_3D: a small CNN regressing the front end's pose and expression from an image, differentiable,
so L_geo (DCG-GAN Eq. 10) and L_c (mesh paper Eq. 6) can ask an output image to show the intended
pose and expression.

Targets: (pitch, yaw, roll) in radians, and an expression code: the landmark-mesh head shape minus
the mean shape, projected on an expression basis (principal components of within-video shape
variation, so identity is mostly factored out). The basis and the code scales travel with the
weights as buffers."""

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class E3DConfig:
    size: int = 64  # input crop side
    width: int = 32
    expression_dim: int = 16  # K, expression basis size
    num_vertices: int = 478


class CoefficientRegressor(nn.Module):
    """(B, 3, size, size) face crop in [0, 1] -> (B, 3 + K): pose (rad) then expression code."""

    def __init__(self, cfg: E3DConfig = E3DConfig()):
        super().__init__()
        self.cfg = cfg
        w = cfg.width
        layers, c = [], 3
        for out in (w, 2 * w, 4 * w, 4 * w):
            layers += [nn.Conv2d(c, out, 3, stride=2, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
            c = out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(c, 4 * w), nn.ReLU(),
                                  nn.Linear(4 * w, 3 + cfg.expression_dim))
        V3, K = 3 * cfg.num_vertices, cfg.expression_dim
        self.register_buffer("mean_shape", torch.zeros(V3))
        self.register_buffer("basis", torch.zeros(K, V3))  # rows: orthonormal components
        self.register_buffer("code_scale", torch.ones(K))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(image, size=(self.cfg.size, self.cfg.size), mode="area")
        out = self.head(self.features(x))
        return torch.cat([out[:, :3], out[:, 3:] * self.code_scale], 1)

    def expression_code(self, head: torch.Tensor) -> torch.Tensor:
        """Head-frame shapes (B, V, 3) -> (B, K) expression codes."""
        return (head.reshape(head.shape[0], -1).to(self.basis) - self.mean_shape) @ self.basis.T


def geometry_loss(e3d: CoefficientRegressor, image: torch.Tensor, target: torch.Tensor
                  ) -> torch.Tensor:
    """L_geo (Eq. 10): squared error of E_3D(image) against the intended pose and expression code
    (B, 3 + K), the code normalised by its scale so pose and expression weigh alike."""
    pred = e3d(image)
    scale = torch.cat([pred.new_ones(3), e3d.code_scale])
    return (((pred - target) / scale) ** 2).mean()
