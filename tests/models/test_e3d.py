"""E_3D: shapes, the geometry loss, and training on real frames (three videos, every 3rd frame
of the first 300) to predict held-out frames far better than the mean."""

import pytest
import torch

from reenact.models.e3d import CoefficientRegressor, E3DConfig, coefficient_loss, geometry_loss
from reenact.train.e3d import collect, fit_basis, targets, train
from tests.conftest import data_path


def test_shapes_and_loss_gradients():
    net = CoefficientRegressor(E3DConfig(width=8, expression_dim=4, identity_dim=2))
    x = torch.rand(2, 3, 80, 80, requires_grad=True)
    assert net(x).shape == (2, 9)
    loss = geometry_loss(net, x, torch.zeros(2, 7))
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert net.expression_code(torch.zeros(2, 478, 3)).shape == (2, 4)
    assert net.identity_code(torch.zeros(2, 478, 3)).shape == (2, 2)
    y = torch.rand(2, 3, 80, 80, requires_grad=True)
    c = coefficient_loss(net, y, torch.rand(2, 3, 80, 80), torch.rand(2, 3, 80, 80))
    c.backward()
    assert c >= 0 and y.grad is not None
    assert coefficient_loss(net, y.detach(), y.detach(), y.detach()) < 1e-6


@pytest.mark.slow  # 24 s: trains E_3D
def test_trained_on_real_frames_beats_the_mean_on_held_out_frames():
    videos = [data_path("driving", f"{n}.mp4") for n in ("d3", "d6", "d10")]
    cfg = E3DConfig(width=16, expression_dim=8, identity_dim=2)
    s = collect(videos, cfg.size, every=3, max_frames=300)
    held = s.frame >= 240  # the last fifth of each clip
    torch.manual_seed(0)
    net = CoefficientRegressor(cfg)
    fit_basis(net, s)
    train_s = type(s)(*(t[~held] for t in (s.images, s.pose, s.heads, s.video, s.frame)))
    test_s = type(s)(*(t[held] for t in (s.images, s.pose, s.heads, s.video, s.frame)))
    train(net, train_s, epochs=40)
    n = 3 + cfg.expression_dim  # pose and expression; identity is checked below
    y = targets(net, test_s)[:, :n]
    scale = net.scales[:n]
    with torch.no_grad():
        pred = net(test_s.images)
        err = (((pred[:, :n] - y) / scale) ** 2).mean(0)
    base = (((targets(net, train_s)[:, :n].mean(0) - y) / scale) ** 2).mean(0)
    pose_deg = torch.rad2deg(err[:3].sqrt())
    print(f"held-out RMS pose error (deg) {pose_deg.numpy().round(2)}, mean-predictor "
          f"{torch.rad2deg(base[:3].sqrt()).numpy().round(2)}; expression MSE {err[3:].mean():.3f}"
          f" vs {base[3:].mean():.3f}")
    assert err[:3].sum() < 0.7 * base[:3].sum()
    assert err[3:].mean() < base[3:].mean()
    # Identity codes of held-out frames are nearer their own subject's than another subject's.
    ids = targets(net, test_s)[:, n:]
    own = (pred[:, n:] - ids).norm(dim=1)
    other = (pred[:, n:] - ids.roll(int((test_s.video == test_s.video[0]).sum()), 0)).norm(dim=1)
    print(f"identity code distance to own subject {own.mean():.3f}, to another {other.mean():.3f}")
    assert own.mean() < other.mean()
