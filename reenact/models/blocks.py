"""Small building blocks shared by the networks."""

import torch
from torch import nn

from reenact.render.filters import gaussian_blur


class ResBlock(nn.Module):
    """Pre-activation residual block: (norm, ReLU, conv3x3) x 2, identity or 1x1 shortcut.

    (B, C_in, H, W) -> (B, C_out, H, W).
    """

    def __init__(self, c_in: int, c_out: int, norm: str = "instance"):
        super().__init__()

        def make_norm(c: int) -> nn.Module:
            return nn.InstanceNorm2d(c, affine=True) if norm == "instance" else nn.BatchNorm2d(c)

        self.body = nn.Sequential(make_norm(c_in), nn.ReLU(), nn.Conv2d(c_in, c_out, 3, padding=1),
                                  make_norm(c_out), nn.ReLU(), nn.Conv2d(c_out, c_out, 3, padding=1))
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


def conv_down(c_in: int, c_out: int) -> nn.Sequential:
    """Stride-2 conv, instance norm, LeakyReLU: halves H and W."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 4, stride=2, padding=1),
                         nn.InstanceNorm2d(c_out, affine=True), nn.LeakyReLU(0.2))


class PriorFusion(nn.Module):
    """Our extension (not in either paper): the front end's analytic warp as a prior the network
    refines. A small conv head reads (network output, prior) and adds a residual to the prior; its
    last conv starts at zero, so an untrained model returns the analytic warp exactly and training
    only has to learn corrections (shading, mouth interior, what the warp gets wrong).

    ``smoothing`` > 0 blurs the residual with a fixed Gaussian of that sigma (pixels), so the
    network corrects shading and colour while the sharp detail, and with it the geometry the
    re-tracking metrics read, stays the warp's.

    ``gain`` (a buffer, 1 when built) scales the residual. ``reenact.train.calibrate`` sets it
    after training, on validation frames: a model trained on few frames over-corrects on frames
    it has not seen, and a smaller share of its correction serves them better.

    (B, 3, H, W) output and prior in [0, 1] -> (B, 3, H, W) in [0, 1]."""

    def __init__(self, width: int = 32, smoothing: float = 0.0):
        super().__init__()
        if smoothing < 0:
            raise ValueError(f"prior smoothing must be >= 0, got {smoothing}")
        self.smoothing = smoothing
        self.body = nn.Sequential(nn.Conv2d(6, width, 3, padding=1), nn.LeakyReLU(0.2),
                                  nn.Conv2d(width, width, 3, padding=1), nn.LeakyReLU(0.2))
        self.to_residual = nn.Conv2d(width, 3, 3, padding=1)
        nn.init.zeros_(self.to_residual.weight)
        nn.init.zeros_(self.to_residual.bias)
        self.register_buffer("gain", torch.tensor(1.0))
        self._register_load_state_dict_pre_hook(_gain_of_older_checkpoints)

    def forward(self, output: torch.Tensor, prior: torch.Tensor,
                keep: torch.Tensor | None = None) -> torch.Tensor:
        """``keep`` (B, 1, H, W) in [0, 1]: where the prior stays as it is (the residual is
        scaled by 1 - keep), e.g. ``outline_band`` of the re-enacted face."""
        residual = self.to_residual(self.body(torch.cat([output, prior], 1)))
        if self.smoothing > 0:
            residual = gaussian_blur(residual, self.smoothing)
        residual = residual * self.gain
        if keep is not None:
            residual = residual * (1 - keep)
        return (prior + residual).clamp(0.0, 1.0)


def _gain_of_older_checkpoints(state: dict, prefix: str, *_) -> None:
    """Checkpoints from before the gain existed load with gain 1 (what they were trained as)."""
    state.setdefault(prefix + "gain", torch.tensor(1.0))


