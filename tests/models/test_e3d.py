"""E_3D: shapes, the geometry loss, and training on real frames (three videos, every 3rd frame
of the first 300) to predict held-out frames far better than the mean."""

import torch

from reenact.models.e3d import CoefficientRegressor, E3DConfig, geometry_loss
from reenact.train.e3d import collect, fit_basis, targets, train
from tests.conftest import data_path


def test_shapes_and_loss_gradient():
    net = CoefficientRegressor(E3DConfig(width=8, expression_dim=4))
    x = torch.rand(2, 3, 80, 80, requires_grad=True)
    assert net(x).shape == (2, 7)
    loss = geometry_loss(net, x, torch.zeros(2, 7))
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert net.expression_code(torch.zeros(2, 478, 3)).shape == (2, 4)


def test_trained_on_real_frames_beats_the_mean_on_held_out_frames():
    videos = [data_path("driving", f"{n}.mp4") for n in ("d3", "d6", "d10")]
    cfg = E3DConfig(width=16, expression_dim=8)
    s = collect(videos, cfg.size, every=3, max_frames=300)
    held = s.frame >= 240  # the last fifth of each clip
    torch.manual_seed(0)
    net = CoefficientRegressor(cfg)
    fit_basis(net, s)
    train_s = type(s)(*(t[~held] for t in (s.images, s.pose, s.heads, s.video, s.frame)))
    test_s = type(s)(*(t[held] for t in (s.images, s.pose, s.heads, s.video, s.frame)))
    train(net, train_s, epochs=40)
    y = targets(net, test_s)
    scale = torch.cat([torch.ones(3), net.code_scale])
    with torch.no_grad():
        err = (((net(test_s.images) - y) / scale) ** 2).mean(0)
    base = (((targets(net, train_s).mean(0) - y) / scale) ** 2).mean(0)
    pose_deg = torch.rad2deg(err[:3].sqrt())
    print(f"held-out RMS pose error (deg) {pose_deg.numpy().round(2)}, mean-predictor "
          f"{torch.rad2deg(base[:3].sqrt()).numpy().round(2)}; expression MSE {err[3:].mean():.3f}"
          f" vs {base[3:].mean():.3f}")
    assert err[:3].sum() < 0.7 * base[:3].sum()
    assert err[3:].mean() < base[3:].mean()
