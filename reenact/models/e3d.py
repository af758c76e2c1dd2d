"""E_3D: a small CNN regressing the front end's pose and expression from an image, differentiable,
so L_geo (DCG-GAN Eq. 10) and L_c (mesh paper Eq. 6) can ask an output image to show the intended
pose and expression.

Outputs, in this order: (pitch, yaw, roll) in radians; an expression code (the landmark-mesh head
shape minus the mean shape, projected on the principal components of within-video shape variation,
so identity mostly cancels); an identity code (the same shape projected on the principal components
of between-subject variation of per-video mean shapes). Bases and code scales travel with the
weights as buffers. ``geometry_loss`` uses pose and expression (DCG-GAN's L_geo);
``coefficient_loss`` adds identity (the mesh paper's L_c)."""

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class E3DConfig:
    size: int = 64  # input crop side
    width: int = 32
    expression_dim: int = 16  # K, expression basis size
    identity_dim: int = 4  # J, identity basis size (at most the number of subjects - 1 is learnt)
    num_vertices: int = 478


class CoefficientRegressor(nn.Module):
    """(B, 3, size, size) face crop in [0, 1] -> (B, 3 + K + J): pose (rad), expression code,
    identity code."""

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
                                  nn.Linear(4 * w, 3 + cfg.expression_dim + cfg.identity_dim))
        V3, K, J = 3 * cfg.num_vertices, cfg.expression_dim, cfg.identity_dim
        self.register_buffer("mean_shape", torch.zeros(V3))
        self.register_buffer("basis", torch.zeros(K, V3))  # rows: orthonormal components
        self.register_buffer("code_scale", torch.ones(K))
        self.register_buffer("id_basis", torch.zeros(J, V3))
        self.register_buffer("id_scale", torch.ones(J))

    @property
    def scales(self) -> torch.Tensor:
        """(3 + K + J) per-output scales: 1 for the pose, the codes' standard deviations."""
        return torch.cat([self.code_scale.new_ones(3), self.code_scale, self.id_scale])

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = nn.functional.interpolate(image, size=(self.cfg.size, self.cfg.size), mode="area")
        return self.head(self.features(x)) * self.scales

    def expression_code(self, head: torch.Tensor) -> torch.Tensor:
        """Head-frame shapes (B, V, 3) -> (B, K) expression codes."""
        return (head.reshape(head.shape[0], -1).to(self.basis) - self.mean_shape) @ self.basis.T

    def identity_code(self, head: torch.Tensor) -> torch.Tensor:
        """Head-frame shapes (B, V, 3) -> (B, J) identity codes."""
        flat = head.reshape(head.shape[0], -1).to(self.id_basis) - self.mean_shape
        return flat @ self.id_basis.T


def geometry_target(e3d: CoefficientRegressor, pose: torch.Tensor, head: torch.Tensor
                    ) -> torch.Tensor:
    """L_geo's target (B, 3 + K) for an image meant to show ``pose`` (B, 3) (pitch, yaw, roll,
    radians) and the head-frame shape ``head`` (B, V, 3): the pose and the shape's expression
    code on E_3D's basis."""
    return torch.cat([pose.float(), e3d.expression_code(head).float()], 1)


def geometry_loss(e3d: CoefficientRegressor, image: torch.Tensor, target: torch.Tensor
                  ) -> torch.Tensor:
    """L_geo (DCG-GAN Eq. 10): squared error of E_3D(image)'s pose and expression against the
    intended ones (B, 3 + K), each normalised by its scale so pose and expression weigh alike."""
    n = 3 + e3d.cfg.expression_dim
    return (((e3d(image)[:, :n] - target[:, :n]) / e3d.scales[:n]) ** 2).mean()


def coefficient_loss(e3d: CoefficientRegressor, output: torch.Tensor, source: torch.Tensor,
                     driving: torch.Tensor) -> torch.Tensor:
    """L_c (mesh paper Eq. 6): the output's identity code against the source's, its expression
    and pose against the driving image's, all read by E_3D and normalised by their scales."""
    n = 3 + e3d.cfg.expression_dim
    pred = e3d(output) / e3d.scales
    with torch.no_grad():
        want_pose_exp = e3d(driving)[:, :n] / e3d.scales[:n]
        want_id = e3d(source)[:, n:] / e3d.scales[n:]
    return (pred[:, :n] - want_pose_exp).abs().mean() + (pred[:, n:] - want_id).abs().mean()


def load_e3d(path) -> CoefficientRegressor:
    """A frozen E_3D from a checkpoint written by ``reenact.train.e3d`` (weights-only load)."""
    from reenact.config import from_dict
    from reenact.io.weights import load_weights

    state = load_weights(path, "E_3D checkpoint")
    net = CoefficientRegressor(from_dict(E3DConfig, state["config"]))
    net.load_state_dict(state["model"])
    return net.eval().requires_grad_(False)
