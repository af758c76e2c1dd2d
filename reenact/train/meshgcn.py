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
from reenact.train.sync_batchnorm import convert_batchnorm

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


class MeshGCNTrainer:
    """A batch: image_s, target (I_d) (B, 3, H, W) in [0, 1]; stacked (B, n, 6) meshes, or
    mesh_images (B, 6, H, W) for GCN->CNN; prior and prior_flow for ``use_prior`` models;
    optionally gp_eps (B,) the gradient penalty's interpolation weights.

    ``ddp=True`` wraps the generator (its batch norms synchronised) and the critic in
    DistributedDataParallel; ``amp=True`` runs the forward passes in bfloat16 autocast (on CUDA;
    tests switch it on on CPU to run that path)."""

    def __init__(self, template: np.ndarray, faces: np.ndarray,
                 cfg: MeshGCNTrainConfig = MeshGCNTrainConfig(), device="cpu",
                 ddp: bool = False, amp: bool = False):
        self.cfg = cfg
        self.device = torch.device(device)
        self.amp = amp and self.device.type == "cuda"
        self.model = MeshGCN(template, faces, cfg.model).to(self.device)
        self.critic = Critic(cfg.critic_width).to(self.device)
        self.g, self.d = self.model, self.critic
        if ddp:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = convert_batchnorm(self.model, self.device)
            self.g, self.d = DDP(self.model, device_ids=ids), DDP(self.critic, device_ids=ids)
        self.rec = ReconstructionLoss(load_vgg19(cfg.vgg) if cfg.vgg else None).to(self.device)
        self.e3d = None
        if cfg.use_coefficient_loss:
            if cfg.e3d:
                self.e3d = load_e3d(cfg.e3d).to(self.device)
            else:
                log.warning("L_c is off: no E_3D checkpoint given (MeshGCNTrainConfig.e3d)")
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr, betas=cfg.betas)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def generate(self, batch: dict, module=None):
        extra = {}
        if self.cfg.model.use_prior:
            extra = {"prior": batch["prior"], "prior_flow": batch["prior_flow"]}
            if self.cfg.model.prior_keep_outline:
                extra["prior_outline"] = batch["prior_outline"]
        return (module or self.g)(batch["image_s"], batch.get("stacked"),
                                  batch.get("mesh_images"), **extra)

    def step(self, batch: dict) -> dict[str, float]:
        w = self.cfg.weights
        batch = {k: v.to(self.device) for k, v in batch.items()}
        real = batch["target"]
        n = real.shape[0]
        with self._autocast():
            out = self.generate(batch)[0]
            # Critic phase (Eq. 8): D(fake) - D(real) + lambda * gradient penalty, the three
            # inputs in one forward pass (one DDP synchronisation).
            fake = out.detach().to(real.dtype)
            mixed = interpolates(real, fake, batch.get("gp_eps")).requires_grad_(True)
            scores = self.d(torch.cat([fake, real, mixed]))[0]
            d_loss = (scores[:n].mean() - scores[n:2 * n].mean()
                      + w.gp * penalty(scores[2 * n:], mixed))
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        # Generator phase (Eq. 4), the critic frozen (the raw module: nothing to synchronise).
        with self._autocast():
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
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.last_output = out.detach()
        return {"loss_g": g_loss.item(), "loss_d": d_loss.item(),
                **{k: v.item() for k, v in terms.items()}}

    def state_dict(self) -> dict:
        return {"generator": self.model.state_dict(), "disc": self.critic.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["disc"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
