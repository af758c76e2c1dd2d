"""The mesh GCN's motion net on the landmark mesh: shapes, backward, and a short fit after which
identical meshes give a near-zero flow."""

import pytest
import torch

from reenact.face import landmark_topology
from reenact.face.mean_shape import mean_shape
from reenact.models.meshgcn.motion_net import MotionNet, MotionNetConfig

TINY = MotionNetConfig(channels=(8, 8, 16, 16), factors=(4, 2, 2), latent=32, size=32,
                       decoder_width=32, decoder_res_blocks=1)


def _net():
    topo = landmark_topology()
    return MotionNet(mean_shape(), topo.triangles, TINY)


def test_shapes_and_backward():
    net = _net()
    x = torch.randn(2, 478, 6, requires_grad=True)
    flow = net(x)
    assert flow.shape == (2, 32, 32, 2)
    assert net.encode(x).shape == (2, 32)
    flow.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.slow  # 25 s: a fit
def test_identical_meshes_give_near_zero_flow_after_a_short_fit():
    """Fit on random 2D shifts between the meshes (target: that shift, everywhere); then a pair
    of identical meshes yields a flow far smaller than a typical shift."""
    torch.manual_seed(0)
    net = _net()
    base = torch.from_numpy(mean_shape()).float() * 0.5  # normalised coordinates, about [-0.5, 0.5]
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    for _ in range(300):
        shift = torch.randn(16, 2) * 0.2
        shift[:4] = 0  # a quarter of each batch: identical meshes
        drv = base[None].repeat(16, 1, 1)
        drv[..., :2] += shift[:, None]
        x = torch.cat([base[None].expand(16, -1, -1), drv], -1)
        loss = (net(x) - shift[:, None, None, :]).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        still = net(torch.cat([base, base], -1)[None]).norm(dim=-1).mean()
        moved = base.clone()
        moved[:, 0] += 0.2
        shifted = net(torch.cat([base, moved], -1)[None])[..., 0].mean()
    print(f"|flow| for identical meshes {float(still):.4f}, x-flow for a 0.2 shift {float(shifted):.4f}")
    assert still < 0.03 and abs(float(shifted) - 0.2) < 0.05
