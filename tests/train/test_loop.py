"""The training loop: exact resume, checkpoints the refiners load, logs, and the data samples."""

import json

import numpy as np
import pytest
import torch

from tests.train.conftest import tiny_setup

FAMILIES = ("dcggan", "meshgcn")


def _train_rows(out) -> dict[int, dict]:
    """step -> the losses logged at that step (the speed, which varies, left out)."""
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: {k: v for k, v in r.items() if k != "images_per_s"}
            for r in rows if r["kind"] == "train"}


@pytest.mark.slow  # 7-10 s each: kill and resume
@pytest.mark.parametrize("family", FAMILIES)
def test_interrupted_and_resumed_equals_uninterrupted(family, tiny_cache, tmp_path):
    """Train 4 steps straight; train 2, stop, resume for 2 more: same losses, same weights."""
    from reenact.io.checkpoint import load_checkpoint
    from reenact.train.loop import train

    straight = tiny_setup(family, tiny_cache, tmp_path / "straight")
    train(straight, progress=False)
    resumed = tiny_setup(family, tiny_cache, tmp_path / "resumed")
    train(resumed, progress=False, stop_after=2)
    assert load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")["step"] == 2
    train(resumed, progress=False)
    a, b = _train_rows(tmp_path / "straight"), _train_rows(tmp_path / "resumed")
    assert sorted(a) == sorted(b) == [1, 2, 3, 4]
    for step in (3, 4):
        assert a[step] == b[step], step  # exactly: same batches, same RNG, same weights
    sa = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    sb = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.pt")
    for part in ("model",):
        for k, v in sa[part].items():
            assert torch.equal(v, sb[part][k]), k
    for k, v in sa["train"]["generator"].items():
        assert torch.equal(v, sb["train"]["generator"][k]), k
    for k, v in sa["train"]["disc"].items():
        assert torch.equal(v, sb["train"]["disc"][k]), k
    # and training moved the weights at all (the comparison above is not vacuous)
    fresh = tiny_setup(family, tiny_cache, tmp_path / "fresh")
    from reenact.train.setup import build_trainer

    torch.manual_seed(0)
    init = build_trainer(fresh, "cpu").model.state_dict()
    assert any(not torch.equal(v, sa["train"]["generator"][k]) for k, v in init.items()
               if v.is_floating_point())


@pytest.mark.slow  # 7 s: three runs
def test_a_time_limited_run_checkpoints_where_it_stops_and_resumes_exactly(
        tiny_cache, tmp_path, monkeypatch):
    """run.max_minutes: the run stops at the step the time runs out (step 3 here, off the
    checkpoint period of 2), checkpoints it, and the same command goes on as if never stopped."""
    import time

    from reenact.io.checkpoint import load_checkpoint
    from reenact.train import loop

    with pytest.raises(ValueError, match="run.max_minutes"):
        tiny_setup("dcggan", tiny_cache, tmp_path / "bad", **{"run.max_minutes": 0})
    assert loop._out_of_time(time.perf_counter() - 61, 1, 1, torch.device("cpu"))
    assert not loop._out_of_time(time.perf_counter(), 1, 1, torch.device("cpu"))
    straight = tiny_setup("dcggan", tiny_cache, tmp_path / "straight")
    loop.train(straight, progress=False)
    calls = iter([False, False, True])  # the clock, asked once a step: out of time at step 3
    monkeypatch.setattr(loop, "_out_of_time", lambda *_: next(calls))
    limited = tiny_setup("dcggan", tiny_cache, tmp_path / "limited", **{"run.max_minutes": 1})
    loop.train(limited, progress=False)
    assert load_checkpoint(tmp_path / "limited" / "checkpoints" / "last.pt")["step"] == 3
    assert sorted(_train_rows(tmp_path / "limited")) == [1, 2, 3]
    monkeypatch.setattr(loop, "_out_of_time", lambda *_: False)
    loop.train(limited, progress=False)
    a, b = _train_rows(tmp_path / "straight"), _train_rows(tmp_path / "limited")
    assert a == b
    sa = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")
    sb = load_checkpoint(tmp_path / "limited" / "checkpoints" / "last.pt")
    assert sb["step"] == 4
    for k, v in sa["model"].items():
        assert torch.equal(v, sb["model"][k]), k


@pytest.mark.parametrize("family", FAMILIES)
def test_checkpoint_loads_as_a_refiner_and_logs_are_written(family, tiny_cache, tmp_path):
    from reenact.refine import DCGGANRefiner, MeshGCNRefiner
    from reenact.train.loop import train

    setup = tiny_setup(family, tiny_cache, tmp_path / "run", **{"run.steps": 2,
                                                                  "run.image_every": 2})
    train(setup, progress=False)
    run = tmp_path / "run"
    ckpt = run / "checkpoints" / "last.pt"
    refiner = (DCGGANRefiner if family == "dcggan" else MeshGCNRefiner)(ckpt)
    assert refiner.model.cfg.use_prior
    assert (run / "images" / "step-0000002.png").is_file()
    assert (run / "curves.png").is_file()
    assert any((run / "tb").iterdir())
    assert (run / "checkpoints" / "last.yaml").is_file()


def test_overrides_and_unknown_keys(tiny_cache, tmp_path):
    setup = tiny_setup("dcggan", tiny_cache, tmp_path, **{"trainer.lr": 0.01})
    assert setup.trainer_config().lr == 0.01 and setup.data.batch_size == 2
    with pytest.raises(ValueError, match="data.batchsize: unknown"):
        tiny_setup("dcggan", tiny_cache, tmp_path, **{"data.batchsize": 4})
    with pytest.raises(ValueError, match="trainer.model.use_priors: unknown"):
        tiny_setup("dcggan", tiny_cache, tmp_path, **{"trainer.model.use_priors": True})


def test_a_paired_sample_reenacts_the_drivers_fitted_face(tiny_cache):
    """Same video: relative motion with the source as reference gives the driver's own fit, up
    to the pipeline's own adjustments (the mixing is ``reenact animate``'s: eyes that close as
    the driver's, a limited opening), so the driving frame is ground truth for the rendered
    inputs: within a hundredth of a pixel on average and under a pixel anywhere at 64 px."""
    from reenact.data.dataset import _coefficients, _model, render_sample
    from reenact.data.shards import load_video, read_index

    entry = read_index(tiny_cache)[0]
    rec = load_video(tiny_cache, entry)
    sample = render_sample(rec, 0, rec, 2, True, 64, "meshgcn")
    verts = _model().vertices(_coefficients(rec, 2, 1.0))[0].float()
    expected = verts / 64 * 2 - torch.tensor([1.0, 1.0, 0.0])
    off = (sample["stacked"][0, :, 3:5] - expected[:, :2]).norm(dim=-1) * 32  # crop pixels
    assert float(off.mean()) < 0.02 and float(off.max()) < 1.0, (off.mean(), off.max())
    assert not torch.allclose(sample["stacked"][0, :, :3], expected, atol=1e-3)
    assert sample["target"].shape == (1, 3, 64, 64) and bool(sample["paired"])
    assert sample["prior"].shape == (1, 3, 64, 64)
    assert sample["prior_flow"].shape == (1, 64, 64, 2)


def test_batches_are_a_pure_function_of_the_step(tiny_cache):
    from reenact.data.dataset import DataConfig, TrainBatches

    cfg = DataConfig(cache=tiny_cache, batch_size=2, split="frames")
    a, b = TrainBatches(cfg, "dcggan", seed=3), TrainBatches(cfg, "dcggan", seed=3)
    x, y = a[5], b[5]
    assert all(torch.equal(x[k], y[k]) for k in x)
    half = TrainBatches(cfg, "dcggan", seed=3, rank=1, world=2)[5]
    assert torch.equal(half["image_s"], x["image_s"][1:])
    assert not torch.equal(a[6]["target"], x["target"])
    assert np.isfinite(x["proxy_r"].numpy()).all()


def test_cross_dataset_drivers_come_from_the_driving_cache(tiny_cache):
    """data.driving_cache (e.g. VoxCeleb1): unpaired drivers are drawn from it, paired samples
    still from the training videos."""
    from reenact.data.dataset import DataConfig, TrainBatches
    from reenact.data.sampling import PairSchedule

    def batches(p: float) -> TrainBatches:
        return TrainBatches(DataConfig(cache=tiny_cache, driving_cache=tiny_cache, batch_size=2,
                                       split="frames", schedule=PairSchedule(p, p, 1)),
                            "dcggan", seed=0)

    never = batches(0.0)
    for step in range(20):
        pair, store = never.pair(step, 0)
        assert store is never.drivers and not pair.paired
        assert pair.driving[0] in never.drivers.entries
    batch = never[0]
    assert not batch["paired"].any() and batch["target"].shape == (2, 3, 64, 64)
    always = batches(1.0)
    for step in range(20):
        pair, store = always.pair(step, 0)
        assert store is always.store and pair.paired


def test_resuming_with_other_networks_is_refused(tiny_cache, tmp_path):
    from reenact.train.loop import train

    train(tiny_setup("dcggan", tiny_cache, tmp_path, **{"run.steps": 2}), progress=False)
    longer = tiny_setup("dcggan", tiny_cache, tmp_path, **{"run.steps": 3})
    train(longer, progress=False)  # extending a run is fine
    wider = tiny_setup("dcggan", tiny_cache, tmp_path, **{"trainer.disc_width": 8,
                                                          "run.steps": 4})
    with pytest.raises(ValueError, match=r"trainer.disc_width: 16 then, 8 now"):
        train(wider, progress=False)


def test_e3d_from_the_cache_and_l_geo_from_the_batches(tiny_cache, tmp_path):
    """E_3D trains on a cache's frames (here only the training split's), and a DCG-GAN trainer
    with it computes L_geo's target from what each batch says I_r shows."""
    from reenact.data.dataset import DataConfig, TrainBatches, VideoStore, make_split
    from reenact.io.checkpoint import save_checkpoint
    from reenact.models.e3d import CoefficientRegressor, E3DConfig, geometry_target
    from reenact.train.e3d import collect_from_cache, fit_basis, train
    from reenact.train.setup import build_trainer

    data = DataConfig(cache=tiny_cache, batch_size=2, split="frames")
    split = make_split(VideoStore(tiny_cache), data)
    samples = collect_from_cache(tiny_cache, 32, split.train)
    assert samples.images.shape == (8, 3, 32, 32)  # 2 videos x 4 training frames of 5
    assert sorted(samples.frame.tolist()) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert samples.pose.abs().max() < 0.5 and samples.heads.shape == (8, 478, 3)
    cfg = E3DConfig(size=32, width=8, expression_dim=4, identity_dim=1)
    net = CoefficientRegressor(cfg)
    fit_basis(net, samples)
    train(net, samples, epochs=1)
    save_checkpoint(tmp_path / "e3d.pt", cfg, model=net)

    batch = TrainBatches(data, "dcggan", seed=0)[0]
    assert batch["reenacted_pose"].shape == (2, 3)
    setup = tiny_setup("dcggan", tiny_cache, tmp_path, **{"trainer.e3d": tmp_path / "e3d.pt"})
    trainer = build_trainer(setup, "cpu")
    target = geometry_target(trainer.e3d, batch["reenacted_pose"], batch["reenacted_head"])
    assert target.shape == (2, 3 + 4) and torch.isfinite(target).all()
    losses = trainer.step(batch)
    assert losses["geo"] > 0 and np.isfinite(losses["geo"])


def test_a_validation_split_comes_from_the_training_side(tiny_cache):
    """With data.val_fraction the validation frames sit between the training frames and the
    test tail (frames split), or are whole training-side identities (identity split); the test
    split is the same as without it."""
    from reenact.data.dataset import DataConfig, VideoStore, make_split

    store = VideoStore(tiny_cache)
    plain = make_split(store, DataConfig(cache=tiny_cache, split="frames"))
    split = make_split(store, DataConfig(cache=tiny_cache, split="frames", val_fraction=0.2))
    assert split.test == plain.test and plain.val == {}
    for v, frames in split.train.items():  # 5 frames: train 0-2, validation 3, test 4
        assert frames == [0, 1, 2] and split.val[v] == [3] and split.test[v] == [4]
    assert split.validation() == split.val and plain.validation() == plain.test
    ident = make_split(store, DataConfig(cache=tiny_cache, split="identity", val_fraction=0.1))
    assert not set(ident.train) & set(ident.test)  # two identities: nothing left to validate on
    with pytest.raises(ValueError, match="must leave frames to train on"):
        DataConfig(test_fraction=0.5, val_fraction=0.5)


@pytest.mark.slow  # 7 s: two runs
def test_the_best_validation_checkpoint_is_kept(tiny_cache, tmp_path, monkeypatch):
    """run.select keeps checkpoints/best.pt from the validation with the best score; a resumed
    run knows the best so far from metrics.jsonl."""
    from reenact.io.checkpoint import load_checkpoint
    from reenact.train import loop

    scores = iter([0.05, 0.03, 0.04, 0.035])

    class FakeValidator:  # scores in a set order, so which checkpoint is best is known
        def __init__(self, *args, **kwargs):
            self.baseline, self.batch, self.last_images = {}, None, None

        def __call__(self, generate):
            return {"akd": next(scores)}

        def close(self):
            pass

    monkeypatch.setattr(loop, "Validator", FakeValidator)
    monkeypatch.setattr(loop, "_grid", lambda *a, **k: torch.zeros(3, 8, 8))
    setup = tiny_setup("meshgcn", tiny_cache, tmp_path, **{
        "data.val_pairs": 2, "data.split": "frames", "data.val_fraction": 0.2,
        "run.val_every": 1, "run.select": "akd", "run.steps": 3, "run.checkpoint_every": 1})
    loop.train(setup, progress=False)
    best = tmp_path / "checkpoints" / "best.pt"
    assert load_checkpoint(best)["step"] == 2  # 0.05, 0.03 (best), 0.04
    loop.train(tiny_setup("meshgcn", tiny_cache, tmp_path, **{
        "data.val_pairs": 2, "data.split": "frames", "data.val_fraction": 0.2,
        "run.val_every": 1, "run.select": "akd", "run.steps": 4, "run.checkpoint_every": 1}),
        progress=False)
    assert load_checkpoint(best)["step"] == 2  # 0.035 loses to the 0.03 read back from the log
    with pytest.raises(ValueError, match="run.select must be one of"):
        loop.RunConfig(select="loss")


@pytest.mark.parametrize("family", FAMILIES)
def test_keeping_the_outline_trains_and_refines(family, tiny_cache, tmp_path, samples):
    """trainer.model.prior_keep_outline: batches carry the outline band, a step trains, and the
    refiner passes the band at animate time."""
    from reenact.pipeline import Reenactor
    from reenact.refine import DCGGANRefiner, MeshGCNRefiner
    from reenact.train.loop import train

    setup = tiny_setup(family, tiny_cache, tmp_path, **{"trainer.model.prior_keep_outline": True,
                                                        "run.steps": 1})
    train(setup, progress=False)
    refiner = (DCGGANRefiner if family == "dcggan" else MeshGCNRefiner)(
        tmp_path / "checkpoints" / "last.pt")
    assert refiner.model.cfg.prior_keep_outline
    out = Reenactor(refiner=refiner).animate(samples["astronaut"], samples["grace_hopper"])
    assert out[0].shape == samples["astronaut"].shape


@pytest.mark.parametrize("family", FAMILIES)
def test_rendered_large_then_shrunk_as_animate_does(family, tiny_cache):
    """data.render_size: the sample is the one rendered at that size with every image shrunk by
    area averaging (the refiners' path in reenact animate), and its warp is sharper than a warp
    rendered small."""
    import torch.nn.functional as F

    from reenact.data.dataset import DataConfig, TrainBatches, render_sample
    from reenact.data.shards import load_video, read_index
    from reenact.eval.sharpness import sharpness
    from reenact.io import tensor_to_image

    rec = load_video(tiny_cache, read_index(tiny_cache)[0])  # 64 px crops
    small = render_sample(rec, 0, rec, 2, True, 32, family)
    shrunk = render_sample(rec, 0, rec, 2, True, 32, family, render_size=64)
    large = render_sample(rec, 0, rec, 2, True, 64, family)
    assert small.keys() == shrunk.keys()
    for k, v in shrunk.items():
        assert v.shape == small[k].shape, k
        if v.ndim == 4 and k not in ("target",):  # images and the flow
            if k == "prior_flow":
                expected = F.interpolate(large[k].permute(0, 3, 1, 2), size=(32, 32),
                                         mode="area").permute(0, 2, 3, 1)
            else:
                expected = F.interpolate(large[k], size=(32, 32), mode="area")
            assert torch.allclose(v, expected, atol=1e-5), k
    assert torch.equal(shrunk["target"], small["target"])
    assert torch.allclose(shrunk["target_landmarks"], large["target_landmarks"] / 2)
    target = tensor_to_image(shrunk["target"][0])
    soft, sharp = (sharpness(tensor_to_image(s["prior"][0])) / sharpness(target)
                   for s in (small, shrunk))
    assert sharp > soft + 0.05, (soft, sharp)
    with pytest.raises(ValueError, match="render_size must be 0 or at least"):
        DataConfig(size=64, render_size=32)
    with pytest.raises(ValueError, match=r"render_size 128 is above its crops \(64 px\)"):
        TrainBatches(DataConfig(cache=tiny_cache, render_size=128), family, 0)
    # validation renders as animate does, at the crops' size, whatever the run trains on
    from reenact.data.dataset import VideoStore
    from reenact.data.sampling import Pair
    from reenact.train.validate import Validator

    store = VideoStore(tiny_cache)
    video = read_index(tiny_cache)[0]["id"]
    validator = Validator(store, [Pair((video, 0), (video, 2), True)], 32, family)
    assert validator.render_size == 64
    as_animate = render_sample(rec, 0, rec, 2, True, 32, family, plate="shiftmap",
                               render_size=64)
    assert torch.allclose(validator.batch["image_s"], as_animate["image_s"])
    assert validator.batch["prior"].shape == (1, 3, 32, 32)
