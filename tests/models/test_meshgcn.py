"""The mesh GCN end to end on tiny configs: losses, critic, variants training a few steps,
checkpoint round trip, VGG19 loading."""

import dataclasses

import pytest
import torch

from reenact.face import landmark_topology
from reenact.face.mean_shape import mean_shape
from reenact.io.checkpoint import load_checkpoint, save_checkpoint
from reenact.losses.meshgcn import ReconstructionLoss, gradient_penalty, ssim
from reenact.models.meshgcn.discriminator import Critic
from reenact.models.meshgcn.model import MeshGCN, MeshGCNConfig
from reenact.models.meshgcn.motion_net import MotionNetConfig
from reenact.models.meshgcn.reenacting import ReenactingConfig
from reenact.models.vgg import VGG19Features, load_vgg19
from reenact.train.meshgcn import MeshGCNTrainConfig, MeshGCNTrainer

TINY = MeshGCNConfig(
    motion=MotionNetConfig(channels=(8, 8, 16, 16), factors=(4, 2, 2), latent=32, size=32,
                           decoder_width=32, decoder_res_blocks=1),
    reenacting=ReenactingConfig(width=8, down=2, res_blocks=1, hourglass_width=8))


def _template():
    return mean_shape(), landmark_topology().triangles


def _batch(B=2):
    g = torch.Generator().manual_seed(0)
    base = torch.from_numpy(mean_shape()).float() * 0.5
    stacked = torch.cat([base, base + 0.05 * torch.randn(478, 3, generator=g)], -1)
    return {"image_s": torch.rand(B, 3, 32, 32, generator=g),
            "target": torch.rand(B, 3, 32, 32, generator=g),
            "stacked": stacked[None].repeat(B, 1, 1),
            "mesh_images": torch.rand(B, 6, 32, 32, generator=g)}


def test_ssim_and_reconstruction_fallback(caplog):
    x = torch.rand(1, 3, 32, 32)
    assert abs(float(ssim(x, x)) - 1) < 1e-5 and float(ssim(x, 1 - x)) < 0.5
    with caplog.at_level("WARNING", logger="reenact"):
        rec = ReconstructionLoss(None)
    assert "L1 + SSIM" in caplog.text
    assert float(rec(x, x)) < 1e-5 and float(rec(x, torch.rand(1, 3, 32, 32))) > 0.1


def test_critic_features_and_gradient_penalty():
    critic = Critic(width=8, layers=3)
    score, feats = critic(torch.rand(2, 3, 32, 32))
    assert score.shape == (2, 1, 4, 4) and len(feats) == 3
    gp = gradient_penalty(critic, torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    assert gp >= 0 and gp.requires_grad


VARIANTS = {
    "baseline": (dataclasses.replace(TINY, reenacting=dataclasses.replace(
        TINY.reenacting, use_occlusion=False)), False),
    "+Lc": (dataclasses.replace(TINY, reenacting=dataclasses.replace(
        TINY.reenacting, use_occlusion=False)), True),
    "+O": (TINY, False),
    "full": (TINY, True),
    "gcn->cnn": (dataclasses.replace(TINY, use_gcn=False), True),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_variant_trains_a_few_steps(name, tmp_path):
    from reenact.models.e3d import CoefficientRegressor, E3DConfig

    model_cfg, use_c = VARIANTS[name]
    e3d_cfg = E3DConfig(width=8, expression_dim=4)
    save_checkpoint(tmp_path / "e3d.pt", e3d_cfg, model=CoefficientRegressor(e3d_cfg))
    torch.manual_seed(0)
    trainer = MeshGCNTrainer(*_template(), MeshGCNTrainConfig(
        model=model_cfg, critic_width=8, use_coefficient_loss=use_c,
        e3d=str(tmp_path / "e3d.pt") if use_c else None))
    before = [p.detach().clone() for p in trainer.model.parameters()]
    losses = [trainer.step(_batch()) for _ in range(2)]
    assert all(torch.isfinite(torch.tensor(list(s.values()))).all() for s in losses)
    assert ("c" in losses[-1]) == use_c
    moved = sum(float((p - b).abs().sum()) for p, b in zip(trainer.model.parameters(), before,
                                                           strict=True))
    assert moved > 0


def test_checkpoint_round_trip_and_shape_errors(tmp_path):
    torch.manual_seed(0)
    model = MeshGCN(*_template(), TINY).eval()
    b = _batch()
    with torch.no_grad():
        expected, flow, occ, _ = model(b["image_s"], b["stacked"])
    assert flow.shape == (2, 32, 32, 2) and occ.shape == (2, 1, 32, 32)
    save_checkpoint(tmp_path / "m.pt", TINY, model=model)
    restored = MeshGCN(*_template(), TINY).eval()
    restored.load_state_dict(load_checkpoint(tmp_path / "m.pt")["model"])
    with torch.no_grad():
        assert torch.equal(restored(b["image_s"], b["stacked"])[0], expected)
    with pytest.raises(ValueError, match="flow size"):
        model(torch.rand(1, 3, 64, 64), b["stacked"][:1])


def test_vgg19_loads_torchvision_layout(tmp_path):
    net = VGG19Features()
    state = {k: v for k, v in net.state_dict().items() if k.startswith("features.")}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # a full torchvision file has these too
    torch.save(state, tmp_path / "vgg19.pth")
    loaded = load_vgg19(tmp_path / "vgg19.pth")
    x = torch.rand(1, 3, 32, 32)
    assert [f.shape[1] for f in loaded(x)] == [64, 128, 256, 512, 512]
    assert all(torch.equal(a, b) for a, b in zip(loaded(x), net(x), strict=True))
    with pytest.raises(FileNotFoundError, match="vgg19"):
        load_vgg19(tmp_path / "none.pth")


@pytest.mark.parametrize("name", ["baseline", "lc", "o", "full", "gcn2cnn", "tiny", "tiny128"])
def test_variant_config_files_build(name):
    from pathlib import Path

    from reenact.train.setup import load_setup

    path = Path(__file__).resolve().parents[2] / "configs" / "meshgcn" / f"{name}.yaml"
    setup = load_setup(path)
    cfg = setup.trainer_config()
    assert cfg.model.reenacting.use_occlusion == (name not in ("baseline", "lc"))
    assert cfg.use_coefficient_loss == (name in ("lc", "full", "gcn2cnn"))
    assert cfg.model.use_gcn == (name != "gcn2cnn")
    assert cfg.lr == 2e-4 and (cfg.weights.rec, cfg.weights.fm, cfg.weights.c,
                               cfg.weights.adv) == (10, 10, 1, 1)
    if name.startswith("tiny"):  # a step at the config's own size
        s = setup.data.size
        assert cfg.model.motion.size == s
        trainer = MeshGCNTrainer(*_template(), cfg)
        b = {"image_s": torch.rand(1, 3, s, s), "target": torch.rand(1, 3, s, s),
             "stacked": _batch(1)["stacked"], "prior": torch.rand(1, 3, s, s),
             "prior_flow": torch.zeros(1, s, s, 2),  # tiny refines the analytic warp
             "prior_outline": torch.zeros(1, 1, s, s)}  # and keeps its face outline
        assert torch.isfinite(torch.tensor(list(trainer.step(b).values()))).all()


def test_a_flame_sized_topology_trains_a_step(tmp_path):
    """FLAME's 5,023 vertices (a 5,041-vertex grid here, FLAME itself cannot ship): the GCN builds
    its sampling for that topology and trains (issue 7: the learned models accept it)."""
    import numpy as np

    k = 71
    ys, xs = np.mgrid[0:k, 0:k]
    verts = np.c_[xs.ravel(), ys.ravel(), 0.1 * np.sin(xs.ravel() / 5.0)] / k
    idx = np.arange(k * k).reshape(k, k)
    a, b, c, d = (idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(),
                  idx[1:, 1:].ravel())
    faces = np.r_[np.c_[a, b, c], np.c_[b, d, c]]
    cfg = dataclasses.replace(TINY, motion=dataclasses.replace(TINY.motion, factors=(4, 4, 4)))
    trainer = MeshGCNTrainer(verts, faces, MeshGCNTrainConfig(
        model=cfg, critic_width=8, use_coefficient_loss=False))
    base = torch.from_numpy(verts).float()
    batch = {**_batch(), "stacked": torch.cat([base, base + 0.01], -1)[None].repeat(2, 1, 1)}
    losses = trainer.step(batch)
    assert torch.isfinite(torch.tensor(list(losses.values()))).all()
    assert trainer.model.motion._downs[-1].shape[0] < 100  # 5,041 -> 1,237 -> 298 -> 74 vertices
