"""DCG-GAN generator side, AFM, discriminator, variants, training step and checkpoints on tiny
configs (32 px, a few channels) on the CPU."""

import dataclasses

import pytest
import torch

from reenact.io.checkpoint import load_checkpoint, save_checkpoint
from reenact.losses.dcggan import hinge_discriminator, hinge_generator, pixel_loss
from reenact.models.dcggan import CorrespondenceConfig
from reenact.models.dcggan.afm import AttentionFusion, SpatialTransformer
from reenact.models.dcggan.discriminator import MultiScaleDiscriminator
from reenact.models.dcggan.generator import Generator, GeneratorConfig
from reenact.models.dcggan.model import DCGGAN, DCGGANConfig
from reenact.train.dcggan import DCGGANTrainConfig, DCGGANTrainer

CLASSES, LANDMARKS, H = 5, 4, 32
TINY = DCGGANConfig(
    correspondence=CorrespondenceConfig(width=8, downsample=2, feature_dim=16, res_blocks=1,
                                        landmark_channels=LANDMARKS, parsing_classes=CLASSES,
                                        temperature=0.05),
    generator=GeneratorConfig(parsing_classes=CLASSES, width=16, coarse_blocks=1, upsample=2))
VARIANTS = {
    "full": TINY,
    "sD": dataclasses.replace(TINY, use_proxies=False),
    "sG": dataclasses.replace(TINY, generator=dataclasses.replace(TINY.generator, use_afm=False)),
    "sDG": dataclasses.replace(TINY, use_proxies=False,
                               generator=dataclasses.replace(TINY.generator, use_afm=False)),
}


def _batch(B=2, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(c):
        return torch.rand(B, c, H, H, generator=g)

    return {"image_s": rand(3), "proxy_s": rand(3), "proxy_r": rand(3),
            "landmarks_s": rand(LANDMARKS), "landmarks_r": rand(LANDMARKS),
            "parsing_s": rand(CLASSES), "parsing_r": rand(CLASSES), "target": rand(3),
            "paired": torch.tensor([True, False])[:B]}


def test_stn_starts_as_identity_and_afm_shapes():
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(SpatialTransformer(3)(x), x, atol=1e-5)
    afm = AttentionFusion(CLASSES, out_channels=1)
    f_out, a = afm(x, torch.rand(2, 3, 8, 8), torch.rand(2, CLASSES, 8, 8))
    assert f_out.shape == (2, 1, 8, 8) and a.shape == (2, 1, 8, 8)
    assert (a >= 0).all() and (a <= 1).all()


@pytest.mark.parametrize("use_afm", [True, False])
def test_generator_shapes(use_afm):
    gen = Generator(dataclasses.replace(TINY.generator, use_afm=use_afm))
    img, a = gen(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8), torch.rand(2, CLASSES, 8, 8))
    assert img.shape == (2, 3, 32, 32) and (img >= 0).all() and (img <= 1).all()
    assert (a is not None) == use_afm


def test_discriminator_scales_and_hinge_values():
    d = MultiScaleDiscriminator(width=8, layers=2, scales=2)
    out = d(torch.rand(2, 3, 32, 32))
    assert [o.shape for o in out] == [(2, 1, 8, 8), (2, 1, 4, 4)]
    real, fake = [torch.full((1, 1, 2, 2), 2.0)], [torch.full((1, 1, 2, 2), -2.0)]
    assert hinge_discriminator(real, fake) == 0  # both beyond the margin
    assert hinge_discriminator(fake, real) == 6  # relu(1+2) + relu(1+2)
    assert hinge_generator(fake) == 2
    assert pixel_loss(torch.ones(2, 3, 4, 4), torch.zeros(2, 3, 4, 4),
                      torch.tensor([False, False])) == 0


@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_variant_builds_and_trains_a_few_steps(name):
    torch.manual_seed(0)
    trainer = DCGGANTrainer(DCGGANTrainConfig(model=VARIANTS[name], disc_width=8))
    before = [p.detach().clone() for p in trainer.model.parameters()]
    batch = _batch()
    losses = [trainer.step(batch) for _ in range(3)]
    assert all(torch.isfinite(torch.tensor(list(step.values()))).all() for step in losses)
    moved = sum(float((p - b).abs().sum()) for p, b in zip(trainer.model.parameters(), before,
                                                           strict=True))
    assert moved > 0
    out = trainer.model(batch["image_s"], batch["proxy_s"], batch["proxy_r"],
                        batch["landmarks_s"], batch["landmarks_r"], batch["parsing_s"],
                        batch["parsing_r"])
    assert out.image.shape == (2, 3, H, H) and out.image_warp.shape == (2, 3, 8, 8)


def test_config_mismatch_is_named():
    with pytest.raises(ValueError, match="parsing_classes"):
        DCGGANConfig(generator=GeneratorConfig(parsing_classes=3))


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path):
    torch.manual_seed(1)
    model = DCGGAN(TINY).eval()
    b = _batch(seed=3)
    args = (b["image_s"], b["proxy_s"], b["proxy_r"], b["landmarks_s"], b["landmarks_r"],
            b["parsing_s"])
    with torch.no_grad():
        expected = model(*args).image
    save_checkpoint(tmp_path / "g.pt", TINY, model=model, step=7)
    state = load_checkpoint(tmp_path / "g.pt")
    assert state["step"] == 7 and (tmp_path / "g.yaml").is_file()
    restored = DCGGAN(TINY).eval()
    restored.load_state_dict(state["model"])
    with torch.no_grad():
        assert torch.equal(restored(*args).image, expected)


def test_checkpoint_refuses_pickled_code(tmp_path):
    import pickle

    class Payload:
        def __reduce__(self):
            return (print, ("payload ran",))

    bad = tmp_path / "bad.pt"
    bad.write_bytes(pickle.dumps({"model": Payload()}))
    with pytest.raises(ValueError, match="not a reenact checkpoint"):
        load_checkpoint(bad)


def test_identity_term_is_off_without_weights_and_on_with_them(tmp_path, caplog):
    from reenact.models.arcface import IResNet

    with caplog.at_level("WARNING", logger="reenact"):
        trainer = DCGGANTrainer(DCGGANTrainConfig(model=TINY, disc_width=8))
    assert "L_id is off" in caplog.text and trainer.arcface is None
    assert "id" not in trainer.step(_batch())
    path = tmp_path / "backbone.pth"
    torch.save(IResNet("r18").state_dict(), path)
    trainer = DCGGANTrainer(DCGGANTrainConfig(model=TINY, disc_width=8, arcface=str(path),
                                              arcface_arch="r18"))
    losses = trainer.step(_batch())
    assert "id" in losses and losses["id"] >= 0


@pytest.mark.parametrize("name", ["full", "sD", "sG", "sDG", "tiny", "tiny128"])
def test_variant_config_files_build(name):
    """configs/dcggan/*.yaml rebuild into the trainer's config; the variant flags are as named.
    (Training a few steps is covered on tiny widths by test_each_variant_builds_and_trains...)"""
    from pathlib import Path

    from reenact.train.setup import load_setup

    path = Path(__file__).resolve().parents[2] / "configs" / "dcggan" / f"{name}.yaml"
    setup = load_setup(path)
    cfg = setup.trainer_config()
    assert cfg.model.use_proxies == (name not in ("sD", "sDG"))
    assert cfg.model.generator.use_afm == (name not in ("sG", "sDG"))
    assert cfg.lr == 1e-4 and cfg.betas == (0.9, 0.999) and cfg.weights.geo == 1.0
    if name.startswith("tiny"):  # a step at the config's own size
        DCGGANTrainer(cfg).step(_batch_for(cfg, size=setup.data.size))


def _batch_for(cfg, B=1, size=64):
    c = cfg.model.correspondence
    batch = {k: torch.rand(B, n, size, size) for k, n in (
        ("image_s", 3), ("proxy_s", 3), ("proxy_r", 3), ("landmarks_s", c.landmark_channels),
        ("landmarks_r", c.landmark_channels), ("parsing_s", c.parsing_classes),
        ("parsing_r", c.parsing_classes), ("target", 3), ("prior", 3))}  # prior: use_prior
    batch["paired"] = torch.ones(B, dtype=torch.bool)
    return batch


def test_geometry_term_with_an_e3d_checkpoint(tmp_path):
    from reenact.models.e3d import CoefficientRegressor, E3DConfig

    cfg = E3DConfig(width=8, expression_dim=4)
    save_checkpoint(tmp_path / "e3d.pt", cfg, model=CoefficientRegressor(cfg))
    trainer = DCGGANTrainer(DCGGANTrainConfig(model=TINY, disc_width=8,
                                              e3d=str(tmp_path / "e3d.pt")))
    batch = _batch()
    with pytest.raises(ValueError, match="geo_target"):
        trainer.step(batch)
    batch["geo_target"] = torch.zeros(2, 7)
    losses = trainer.step(batch)
    assert losses["geo"] >= 0 and not any(p.requires_grad for p in trainer.e3d.parameters())


def test_gradient_term_is_ours_and_off_by_default():
    from reenact.losses.dcggan import DCGGANLossWeights
    from reenact.losses.gradient import gradient_loss

    assert "grad" not in DCGGANTrainer(DCGGANTrainConfig(model=TINY, disc_width=8)).step(_batch())
    trainer = DCGGANTrainer(DCGGANTrainConfig(model=TINY, disc_width=8,
                                              weights=DCGGANLossWeights(grad=5.0)))
    losses = trainer.step(_batch())
    assert losses["grad"] > 0
    flat = torch.full((2, 3, 8, 8), 0.5)
    edge = flat.clone()
    edge[..., 4:] = 0.9
    assert gradient_loss(flat + 0.2, flat) == 0  # a colour shift has no gradient error
    assert gradient_loss(edge, flat, torch.tensor([True, False])) == pytest.approx(0.4 / 7 / 2)
