import pytest
import torch
from torch import nn

from reenact.models.blocks import PriorFusion, gaussian_blur


def test_prior_fusion_starts_at_the_prior():
    torch.manual_seed(0)
    prior, output = torch.rand(2, 3, 16, 16), torch.rand(2, 3, 16, 16)
    for smoothing in (0.0, 1.0):
        assert torch.equal(PriorFusion(smoothing=smoothing)(output, prior), prior)


def test_smoothing_keeps_the_residual_low_frequency():
    """A residual head that outputs a pixel checkerboard: added as it is without smoothing,
    almost gone with sigma 1 (the warp keeps the detail); the mean correction stays."""
    torch.manual_seed(0)
    checker = (torch.arange(16)[:, None] + torch.arange(16)[None, :]) % 2 * 0.2 - 0.1 + 0.05
    prior = torch.full((1, 3, 16, 16), 0.5)
    outs = {}
    for smoothing in (0.0, 1.0):
        fusion = PriorFusion(smoothing=smoothing)
        fusion.to_residual = Constant(checker.expand(1, 3, 16, 16))
        outs[smoothing] = fusion(prior, prior) - prior
    assert outs[0.0].std() == pytest.approx(0.1, abs=1e-3)
    assert outs[1.0].std() < 0.01
    assert outs[1.0].mean() == pytest.approx(0.05, abs=2e-3)
    with pytest.raises(ValueError, match="prior smoothing must be >= 0, got -1"):
        PriorFusion(smoothing=-1)


def test_gaussian_blur_keeps_constants_and_sums():
    x = torch.full((1, 2, 9, 9), 0.3)
    assert torch.allclose(gaussian_blur(x, 1.5), x)
    impulse = torch.zeros(1, 1, 21, 21)
    impulse[0, 0, 10, 10] = 1.0
    assert gaussian_blur(impulse, 1.0).sum() == pytest.approx(1.0)


class Constant(nn.Module):
    def __init__(self, value: torch.Tensor):
        super().__init__()
        self.value = value

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.value
