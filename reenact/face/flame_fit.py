"""Fitting FLAME to tracked 3D landmarks, per image or over a video.

The landmarks (B, L, 3) are in image space (pixels, mediapipe's depth in the same units); the
model's are FLAME's landmark embedding on the posed mesh, mapped to image space by a similarity
(scale, rotation, translation), as the landmark-mesh model poses its head. Unknowns: shape,
expression, jaw rotation, and the similarity; the neck, eyes and FLAME's own global joint stay at
rest (the similarity carries the head pose).

L-BFGS (torch's, strong-Wolfe line search) minimises the mean squared landmark distance, over the
landmarks' spread, plus ridge penalties on the coefficients. A video shares one shape across its
frames and penalises frame-to-frame changes of expression, jaw and pose (temporal smoothing).
"""

from dataclasses import dataclass

import numpy as np
import torch

from reenact.face.flame import FlameModel, LandmarkEmbedding, MediapipeEmbedding
from reenact.geometry import so3_exp, umeyama


@dataclass(frozen=True)
class FlameFitConfig:
    shape_components: int = 100  # of FLAME's 300
    expression_components: int = 50  # of its 100
    shape_weight: float = 1e-3  # ridge penalties, against the normalised landmark error
    expression_weight: float = 1e-3
    jaw_weight: float = 1e-3
    smooth_weight: float = 1e-1  # video: squared frame-to-frame change of the per-frame unknowns
    iterations: int = 50


@dataclass(frozen=True)
class FlameFit:
    shape: torch.Tensor  # (B, S') (a video: the same row repeated)
    expression: torch.Tensor  # (B, E')
    jaw: torch.Tensor  # (B, 3) axis-angle
    rotation: torch.Tensor  # (B, 3, 3) image from model
    scale: torch.Tensor  # (B,)
    translation: torch.Tensor  # (B, 3)
    error: torch.Tensor  # (B,) RMS landmark distance, in the targets' units

    def pose(self, joints: int = 5) -> torch.Tensor:
        """FLAME's (B, J, 3) joint rotations: the jaw's, the rest at rest."""
        p = torch.zeros(self.jaw.shape[0], joints, 3, dtype=self.jaw.dtype)
        p[:, 2] = self.jaw
        return p


def image_vertices(model: FlameModel, fit: FlameFit) -> torch.Tensor:
    """(B, V, 3) the fitted mesh in image space."""
    v = model.vertices(fit.shape, fit.expression, fit.pose(len(model.parents)))
    return fit.scale[:, None, None] * v @ fit.rotation.transpose(1, 2) + fit.translation[:, None]


def fit_flame(model: FlameModel, embedding: LandmarkEmbedding, targets: torch.Tensor,
              cfg: FlameFitConfig = FlameFitConfig(), video: bool = False) -> FlameFit:
    """Fit (B, L, 3) landmark targets: B independent images, or (``video``) B frames of one face."""
    targets = targets.to(model.v_template.dtype)
    B = targets.shape[0]
    # Pose only the landmarks' triangles' vertices (the joints stay the full model's).
    tris = model.faces[torch.as_tensor(embedding.faces)].numpy()  # (L, 3)
    used, local = np.unique(tris, return_inverse=True)
    model = model.subset(used, local.reshape(-1, 3))
    embedding = LandmarkEmbedding(np.arange(len(tris)), embedding.bary)
    S = min(cfg.shape_components, model.shapedirs.shape[-1])
    E = min(cfg.expression_components, model.exprdirs.shape[-1])
    dtype = targets.dtype
    rest = model.landmarks(model.shaped(torch.zeros(1, S, dtype=dtype),
                                        torch.zeros(1, E, dtype=dtype)), embedding)
    scale0, R0, t0 = umeyama(rest.expand(B, -1, -1), targets)
    spread = (targets - targets.mean(1, keepdim=True)).pow(2).sum(-1).mean(1).sqrt()  # (B,)
    shape = torch.zeros(1 if video else B, S, dtype=dtype, requires_grad=True)
    expression = torch.zeros(B, E, dtype=dtype, requires_grad=True)
    jaw = torch.zeros(B, 3, dtype=dtype, requires_grad=True)
    dR = torch.zeros(B, 3, dtype=dtype, requires_grad=True)  # rotation update, axis-angle
    log_scale = torch.zeros(B, dtype=dtype, requires_grad=True)
    dt = torch.zeros(B, 3, dtype=dtype, requires_grad=True)  # translation update / spread
    unknowns = [shape, expression, jaw, dR, log_scale, dt]

    def assemble() -> FlameFit:
        R = so3_exp(dR) @ R0
        s = scale0 * log_scale.exp()
        t = t0 + dt * spread[:, None]
        return FlameFit(shape.expand(B, -1), expression, jaw, R, s, t, torch.zeros(B))

    def residual(fit: FlameFit) -> torch.Tensor:
        v = image_vertices(model, fit)
        lm = model.landmarks(v, embedding)
        return ((lm - targets) / spread[:, None, None]).pow(2).sum(-1).mean(1)  # (B,)

    def objective() -> torch.Tensor:
        fit = assemble()
        loss = residual(fit).sum()
        loss = loss + cfg.shape_weight * shape.pow(2).sum() * (B if video else 1)
        loss = loss + cfg.expression_weight * expression.pow(2).sum()
        loss = loss + cfg.jaw_weight * jaw.pow(2).sum()
        if video and B > 1:
            per_frame = torch.cat([expression, jaw, dR, log_scale[:, None], dt], 1)
            loss = loss + cfg.smooth_weight * (per_frame[1:] - per_frame[:-1]).pow(2).sum()
        return loss

    optimiser = torch.optim.LBFGS(unknowns, max_iter=cfg.iterations, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        optimiser.zero_grad()
        loss = objective()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        fit = assemble()
        error = residual(fit).sqrt() * spread
        return FlameFit(fit.shape.detach().clone(), fit.expression.detach().clone(),
                        fit.jaw.detach().clone(), fit.rotation.detach(), fit.scale.detach(),
                        fit.translation.detach(), error)


def fit_flame_to_mediapipe(model: FlameModel, embedding: MediapipeEmbedding,
                           points: torch.Tensor, cfg: FlameFitConfig = FlameFitConfig(),
                           video: bool = False) -> FlameFit:
    """Fit mediapipe's tracked (B, 478, 3) landmarks (image space) through FLAME's mediapipe
    embedding."""
    if points.ndim != 3 or points.shape[1:] != (478, 3):
        raise ValueError(f"expected mediapipe landmarks (B, 478, 3), got {tuple(points.shape)}")
    targets = torch.as_tensor(points)[:, torch.as_tensor(embedding.indices)]
    return fit_flame(model, embedding.landmarks, targets, cfg, video)
