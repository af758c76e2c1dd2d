"""One training step of the mesh-guided GCN: the WGAN-GP critic phase, then the generator phase
(Eq. 4), self-supervised (source and driving frames of the same video). Adam at lr 2e-4 and the
weights 10, 10, 1, 1 for rec, FM, c, adv as in Sec. 4; Adam's betas (0.5, 0.999) are ours."""

import logging
from dataclasses import dataclass, field

import numpy as np
import torch

from reenact.losses.gradient import gradient_loss
from reenact.losses.meshgcn import (
    MeshGCNLossWeights,
    ReconstructionLoss,
    feature_matching,
    interpolates,
    penalty,
)
from reenact.losses.parts import part_mask, parts_loss
from reenact.models.e3d import coefficient_loss, load_e3d
from reenact.models.meshgcn.discriminator import Critic
from reenact.models.meshgcn.model import MeshGCN, MeshGCNConfig
from reenact.models.vgg import load_vgg19
from reenact.train.gan import GANTrainer

log = logging.getLogger("reenact")


@dataclass(frozen=True)
class MeshGCNTrainConfig:
    model: MeshGCNConfig = field(default_factory=MeshGCNConfig)
    weights: MeshGCNLossWeights = field(default_factory=MeshGCNLossWeights)
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    critic_width: int = 64
    use_coefficient_loss: bool = True  # False: the Baseline variant's objective
    e3d: str | None = None  # E_3D checkpoint for L_c
    vgg: str | None = None  # torchvision vgg19 weights for L_rec; None: L1 + SSIM pyramid


class MeshGCNTrainer(GANTrainer):
    """A batch: image_s, target (I_d) (B, 3, H, W) in [0, 1]; stacked (B, n, 6) meshes, or
    mesh_images (B, 6, H, W) for GCN->CNN; prior and prior_flow for ``use_prior`` models;
    optionally gp_eps (B,) the gradient penalty's interpolation weights. ``ddp`` (with the
    generator's batch norms synchronised), ``amp``: see ``GANTrainer``."""

    def __init__(self, template: np.ndarray, faces: np.ndarray,
                 cfg: MeshGCNTrainConfig = MeshGCNTrainConfig(), device="cpu",
                 ddp: bool = False, amp: bool = False):
        self.cfg = cfg
        super().__init__(MeshGCN(template, faces, cfg.model), Critic(cfg.critic_width),
                         cfg.lr, cfg.betas, device, ddp, amp, sync_batchnorm=True)
        self.rec = ReconstructionLoss(load_vgg19(cfg.vgg) if cfg.vgg else None).to(self.device)
        self.e3d = None
        if cfg.use_coefficient_loss:
            if cfg.e3d:
                self.e3d = load_e3d(cfg.e3d).to(self.device)
            else:
                log.warning("L_c is off: no E_3D checkpoint given (MeshGCNTrainConfig.e3d)")

    def generate(self, batch: dict, module=None):
        extra = {}
        if self.cfg.model.use_prior:
            extra = {"prior": batch["prior"], "prior_flow": batch["prior_flow"]}
            if self.cfg.model.prior_keep_outline:
                extra["prior_outline"] = batch["prior_outline"]
        return (module or self.g)(batch["image_s"], batch.get("stacked"),
                                  batch.get("mesh_images"), **extra)

    def critic_phase(self, batch: dict):
        """Eq. 8: D(fake) - D(real) + lambda * gradient penalty, the three inputs in one forward
        pass (one DDP synchronisation)."""
        real = batch["target"]
        n = real.shape[0]
        out = self.generate(batch)[0]
        fake = out.detach().to(real.dtype)
        mixed = interpolates(real, fake, batch.get("gp_eps")).requires_grad_(True)
        scores = self.d(torch.cat([fake, real, mixed]))[0]
        return out, (scores[:n].mean() - scores[n:2 * n].mean()
                     + self.cfg.weights.gp * penalty(scores[2 * n:], mixed))

    def generator_phase(self, batch: dict, out):
        """Eq. 4, the critic frozen (the raw module: nothing to synchronise)."""
        w = self.cfg.weights
        real = batch["target"]
        self.critic.requires_grad_(False)
        try:
            score_fake, feats_fake = self.critic(out)
            _, feats_real = self.critic(real)
        finally:
            self.critic.requires_grad_(True)
        terms = {"rec": self.rec(out, real), "fm": feature_matching(feats_real, feats_fake),
                 "adv": -score_fake.mean()}
        if w.grad:
            terms["grad"] = gradient_loss(out, real)
        if w.parts:
            mask = part_mask(batch["target_landmarks"], out.shape[-1])
            terms["parts"] = parts_loss(out, real, mask)
        if self.e3d is not None:  # L_c: source identity, driving pose and expression
            terms["c"] = coefficient_loss(self.e3d, out, batch["image_s"], real)
        g_loss = (w.rec * terms["rec"] + w.fm * terms["fm"] + w.adv * terms["adv"]
                  + w.c * terms.get("c", 0.0) + w.grad * terms.get("grad", 0.0)
                  + w.parts * terms.get("parts", 0.0))
        return g_loss, terms
