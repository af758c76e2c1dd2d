"""One DCG-GAN training step: the discriminator phase, then the generator phase (Sec. 2.4), with
Adam(0.9, 0.999) at lr 1e-4 as in the paper. The training loop (issue 5) calls ``step``."""

import logging
from dataclasses import dataclass, field

import torch

from reenact.losses.dcggan import (
    DCGGANLossWeights,
    cycle_loss,
    hinge_discriminator,
    hinge_generator,
    pixel_loss,
    warp_loss,
)
from reenact.losses.gradient import gradient_loss
from reenact.losses.parts import part_mask, parts_loss
from reenact.models.arcface import identity_loss, load_arcface
from reenact.models.dcggan.discriminator import MultiScaleDiscriminator
from reenact.models.dcggan.model import DCGGAN, DCGGANConfig
from reenact.models.e3d import geometry_loss, geometry_target, load_e3d
from reenact.train.gan import GANTrainer

log = logging.getLogger("reenact")


@dataclass(frozen=True)
class DCGGANTrainConfig:
    model: DCGGANConfig = field(default_factory=DCGGANConfig)
    weights: DCGGANLossWeights = field(default_factory=DCGGANLossWeights)
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    disc_width: int = 64
    disc_scales: int = 2
    arcface: str | None = None  # insightface arcface_torch weights for L_id; None: L_id off
    arcface_arch: str = "r50"
    e3d: str | None = None  # a trained E_3D checkpoint (reenact.train.e3d) for L_geo; None: off


class DCGGANTrainer(GANTrainer):
    """Owns the networks and optimisers. A batch is a dict of (B, C, H, W) tensors: image_s,
    proxy_s, proxy_r, landmarks_s, landmarks_r, parsing_s, parsing_r (used by sD), target (the
    driving frame I_d), paired ((B,) bool: source and driving from the same video) and, for
    ``use_prior`` models, prior (the analytic warp). ``ddp``, ``amp``: see ``GANTrainer``."""

    INPUTS = ("image_s", "proxy_s", "proxy_r", "landmarks_s", "landmarks_r", "parsing_s",
              "parsing_r", "prior", "prior_outline")

    def __init__(self, cfg: DCGGANTrainConfig = DCGGANTrainConfig(), device="cpu",
                 ddp: bool = False, amp: bool = False):
        self.cfg = cfg
        super().__init__(DCGGAN(cfg.model),
                         MultiScaleDiscriminator(width=cfg.disc_width, scales=cfg.disc_scales),
                         cfg.lr, cfg.betas, device, ddp, amp)
        self.disc = self.critic
        self.arcface = None
        if cfg.arcface:
            self.arcface = load_arcface(cfg.arcface, cfg.arcface_arch).to(self.device)
        elif cfg.weights.identity > 0:
            log.warning("L_id is off: no ArcFace weights given (DCGGANTrainConfig.arcface)")
        self.e3d = load_e3d(cfg.e3d).to(self.device) if cfg.e3d else None
        if self.e3d is None and cfg.weights.geo > 0:
            log.warning("L_geo is off: no E_3D checkpoint given (DCGGANTrainConfig.e3d)")

    def generate(self, batch: dict, module=None):
        """The generator's output for a batch (``module``: the raw or EMA model, default the
        training view)."""
        inputs = {k: batch[k] for k in self.INPUTS if k in batch}
        if not self.cfg.model.use_prior:
            inputs.pop("prior", None)
        if not (self.cfg.model.use_prior and self.cfg.model.prior_keep_outline):
            inputs.pop("prior_outline", None)
        return (module or self.g)(**inputs)

    def prepare(self, batch: dict) -> dict:
        if self.e3d is not None and "geo_target" not in batch:
            if "reenacted_head" not in batch:
                raise ValueError("L_geo needs batch['geo_target']: (B, 3 + K) intended pose and "
                                 "expression code of I_r (or reenacted_pose and "
                                 "reenacted_head to compute it from)")
            batch["geo_target"] = geometry_target(self.e3d, batch["reenacted_pose"],
                                                  batch["reenacted_head"])
        return batch

    def critic_phase(self, batch: dict):
        """Eq. 13: real driving frames vs detached outputs, in one forward pass (one DDP
        synchronisation)."""
        out = self.generate(batch)
        real, fake = batch["target"], out.image.detach().to(batch["target"].dtype)
        logits = self.d(torch.cat([real, fake]))
        n = real.shape[0]
        return out, hinge_discriminator([x[:n] for x in logits], [x[n:] for x in logits])

    def generator_phase(self, batch: dict, out):
        """L_G: the correspondence and generator terms, D frozen (the raw module: no
        discriminator gradients to synchronise)."""
        w = self.cfg.weights
        scale = self.model.correspondence.scale
        proxy_r = torch.nn.functional.avg_pool2d(batch["proxy_r"], scale)
        image_s = torch.nn.functional.avg_pool2d(batch["image_s"], scale)
        terms = {
            "mw": warp_loss(out.proxy_warp, proxy_r),
            "cc": cycle_loss(out.image_back, image_s),
            "pix": pixel_loss(out.image, batch["target"], batch["paired"]),
        }
        self.disc.requires_grad_(False)
        try:
            terms["adv"] = hinge_generator(self.disc(out.image))
        finally:
            self.disc.requires_grad_(True)
        if w.grad:
            terms["grad"] = gradient_loss(out.image, batch["target"], batch["paired"])
        if w.parts:
            mask = part_mask(batch["target_landmarks"], out.image.shape[-1])
            terms["parts"] = parts_loss(out.image, batch["target"], mask, batch["paired"])
        if self.arcface is not None:
            terms["id"] = identity_loss(self.arcface, out.image, batch["image_s"])
        if self.e3d is not None:
            terms["geo"] = geometry_loss(self.e3d, out.image, batch["geo_target"])
        g_loss = (w.mw * terms["mw"] + w.cc * terms["cc"] + w.pix * terms["pix"]
                  + w.adv * terms["adv"] + w.identity * terms.get("id", 0.0)
                  + w.geo * terms.get("geo", 0.0) + w.grad * terms.get("grad", 0.0)
                  + w.parts * terms.get("parts", 0.0))
        return g_loss, terms

    def output_image(self, out) -> torch.Tensor:
        return out.image
