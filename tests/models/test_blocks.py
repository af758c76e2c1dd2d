import pytest
import torch
from torch import nn

from reenact.models.blocks import PriorFusion
from reenact.render.filters import gaussian_blur, outline_band


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


def test_the_outline_band_keeps_the_prior_there():
    """outline_band marks the outline of a mask, not its inside or far outside, and PriorFusion
    leaves the prior untouched where keep is 1."""
    mask = torch.zeros(1, 64, 64, dtype=torch.bool)
    mask[:, 16:48, 16:48] = True
    band = outline_band(mask, 1 / 32)  # 2 px
    assert band.shape == (1, 1, 64, 64)
    assert band[0, 0, 32, 16] > 0.7 and band[0, 0, 16, 32] > 0.7  # on the outline
    assert band[0, 0, 32, 32] < 1e-3 and band[0, 0, 2, 2] < 1e-3  # deep inside, far outside
    fusion = PriorFusion(8)
    nn.init.normal_(fusion.to_residual.weight, std=0.1)
    out, prior = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64) * 0.5 + 0.25
    kept = fusion(out, prior, band)
    free = fusion(out, prior)
    on = band[0, 0] > 0.999
    assert on.any()
    assert torch.allclose(kept[..., on], prior[..., on], atol=1e-6)
    assert not torch.allclose(free[..., on], prior[..., on], atol=1e-3)
    far = band[0, 0] < 1e-6
    assert torch.allclose(kept[..., far], free[..., far], atol=1e-6)
