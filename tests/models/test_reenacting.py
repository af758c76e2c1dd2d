"""The mesh GCN's reenacting module: shapes, the zero flow, the occlusion outputs, a backward pass."""

import pytest
import torch
import torch.nn.functional as F

from reenact.models.meshgcn.reenacting import (
    Hourglass,
    OcclusionNet,
    ReenactingConfig,
    ReenactingModule,
    identity_grid,
)

TINY = ReenactingConfig(width=8, down=2, res_blocks=1, hourglass_width=8, hourglass_depth=4)


def test_identity_grid_samples_the_image_back():
    x = torch.rand(2, 3, 16, 12)
    out = F.grid_sample(x, identity_grid(2, 16, 12, x), align_corners=False)
    assert torch.allclose(out, x, atol=1e-6)


def test_hourglass_and_occlusion_shapes():
    hg = Hourglass(3, 8, 4)
    assert hg(torch.rand(2, 3, 32, 32)).shape == (2, hg.out_channels, 32, 32)
    o, m = OcclusionNet(8, 4)(torch.rand(2, 3, 32, 32))
    assert o.shape == m.shape == (2, 1, 32, 32)
    assert (o >= 0).all() and (o <= 1).all() and (m >= 0).all() and (m <= 1).all()


@pytest.mark.parametrize("use_occlusion", [True, False])  # full and the Baseline
def test_module_shapes_and_backward(use_occlusion):
    net = ReenactingModule(ReenactingConfig(**{**TINY.__dict__, "use_occlusion": use_occlusion}))
    image = torch.rand(2, 3, 32, 32)
    flow = (0.1 * torch.randn(2, 32, 32, 2)).requires_grad_(True)
    out, o, m = net(image, flow)
    assert out.shape == (2, 3, 32, 32) and (out >= 0).all() and (out <= 1).all()
    assert (o is None) == (not use_occlusion) == (m is None)
    out.mean().backward()
    assert flow.grad is not None and torch.isfinite(flow.grad).all()
