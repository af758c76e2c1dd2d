"""The skeleton both trainers share: a generator and a critic on one device, Adam for each, their
DDP views when distributed, bfloat16 autocast on CUDA, and a step that runs the critic's phase and
then the generator's. A family (``dcggan``, ``meshgcn``) writes only its two phases."""

import torch
from torch import nn

from reenact.train.sync_batchnorm import convert_batchnorm


class GANTrainer:
    """``model`` (the generator) and ``critic`` (the discriminator) on ``device``; ``ddp=True``
    (inside ``torch.distributed``) wraps both in DistributedDataParallel, the generator's batch
    norms synchronised when ``sync_batchnorm``; ``amp=True`` runs the phases in bfloat16
    autocast (on CUDA; tests switch it on on CPU to run that path)."""

    def __init__(self, model: nn.Module, critic: nn.Module, lr: float,
                 betas: tuple[float, float], device="cpu", ddp: bool = False, amp: bool = False,
                 sync_batchnorm: bool = False):
        self.device = torch.device(device)
        self.amp = amp and self.device.type == "cuda"
        self.model = model.to(self.device)
        self.critic = critic.to(self.device)
        self.g, self.d = self.model, self.critic  # the DDP-wrapped views, when distributed
        if ddp:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            if sync_batchnorm:
                self.model = convert_batchnorm(self.model, self.device)
            self.g, self.d = DDP(self.model, device_ids=ids), DDP(self.critic, device_ids=ids)
        self.opt_g = torch.optim.Adam(self.model.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.critic.parameters(), lr=lr, betas=betas)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def step(self, batch: dict) -> dict[str, float]:
        """One training step on a batch of tensors; returns the losses as floats."""
        batch = self.prepare({k: v.to(self.device) for k, v in batch.items()})
        with self._autocast():
            out, d_loss = self.critic_phase(batch)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        with self._autocast():
            g_loss, terms = self.generator_phase(batch, out)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.last_output = self.output_image(out).detach()
        return {"loss_g": g_loss.item(), "loss_d": d_loss.item(),
                **{k: v.item() for k, v in terms.items()}}

    def prepare(self, batch: dict) -> dict:
        """The batch, on the device, completed with what the phases need (default: as it is)."""
        return batch

    def critic_phase(self, batch: dict):
        """(the generator's output, the critic's loss)."""
        raise NotImplementedError

    def generator_phase(self, batch: dict, out) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(the generator's loss, its terms), the critic frozen."""
        raise NotImplementedError

    def output_image(self, out) -> torch.Tensor:
        """The output image (B, 3, H, W) of the generator's output."""
        return out

    def state_dict(self) -> dict:
        return {"generator": self.model.state_dict(), "disc": self.critic.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["disc"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
