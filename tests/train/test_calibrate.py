"""Calibrating the share of its correction a model adds to the analytic warp."""

import json

import numpy as np
import pytest
import torch

from tests.train.conftest import tiny_setup


def test_the_one_standard_error_rule_prefers_the_warp_within_noise():
    from reenact.train.calibrate import choose_gain

    rng = np.random.default_rng(0)
    base = rng.uniform(0.02, 0.04, 40)  # per-pair landmark errors at gain 0 (the warp)
    clearly_better = {0.0: base, 0.5: base - 0.002 + rng.normal(0, 1e-4, 40),
                      1.0: base - 0.004 + rng.normal(0, 1e-4, 40)}
    assert choose_gain(clearly_better, higher=False) == 1.0
    jitter = np.tile([1e-3, -1e-3], 20)  # per-pair noise, mean 0, s.e. of a mean 1.6e-4
    noise = {0.0: base, 0.5: base + jitter, 1.0: base - 1e-4 - jitter}
    assert choose_gain(noise, higher=False) == 0.0  # best by 1e-4 only: the warp is kept
    noise[1.0] = base - 1e-3 - jitter  # best by far more than its standard error
    assert choose_gain(noise, higher=False) == 1.0
    # higher is better (PSNR), and a NaN (no face found) leaves that pair out
    psnr = {0.0: np.array([20.0, 21.0, np.nan]), 1.0: np.array([22.0, 23.0, 30.0])}
    assert choose_gain(psnr, higher=True) == 1.0


def test_the_gain_scales_the_residual_and_older_checkpoints_load():
    from torch import nn

    from reenact.models.blocks import PriorFusion

    torch.manual_seed(0)
    fusion = PriorFusion(8)
    nn.init.normal_(fusion.to_residual.weight, std=0.05)
    output, prior = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    full = fusion(output, prior) - prior
    fusion.gain.fill_(0.25)
    assert torch.allclose(fusion(output, prior) - prior, 0.25 * full, atol=1e-6)
    fusion.gain.fill_(0.0)
    assert torch.equal(fusion(output, prior), prior)
    state = fusion.state_dict()
    assert float(state["gain"]) == 0.0
    del state["gain"]  # a checkpoint saved before the gain existed
    fusion.load_state_dict(state)
    assert float(fusion.gain) == 1.0


@pytest.mark.slow  # 15-18 s each: a training run
@pytest.mark.parametrize("family", ["dcggan", "meshgcn"])
def test_a_run_calibrates_on_its_validation_frames(family, tiny_cache, tmp_path):
    """run.calibrate scores the last EMA on the validation pairs at each gain (gain 0 is the
    warp itself), writes calibrated.pt with the chosen gain and leaves last.pt at gain 1; the
    command-line tool gives about the same on last.pt."""
    from reenact.cli import main
    from reenact.io.checkpoint import load_checkpoint
    from reenact.refine import DCGGANRefiner, MeshGCNRefiner
    from reenact.train.calibrate import GAINS
    from reenact.train.loop import train

    setup = tiny_setup(family, tiny_cache, tmp_path, **{
        "data.val_pairs": 2, "data.val_fraction": 0.2, "run.calibrate": "akd",
        "run.steps": 2, "run.val_every": 2, "trainer.lr": 0.01})
    train(setup, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    (row,) = [r for r in rows if r["kind"] == "calibration"]
    (val,) = [r for r in rows if r["kind"] == "val"]
    assert row["metric"] == "akd" and set(row["scores"]) == {str(g) for g in GAINS}
    assert row["scores"]["0.0"] == pytest.approx(val["warp_akd"], abs=1e-9)
    assert row["scores"]["1.0"] == pytest.approx(val["akd"], abs=1e-9)
    for region in ("oval", "eyes", "brows", "nose", "lips"):  # validation: AKD by region too
        assert np.isfinite(val[f"akd_{region}"]) and np.isfinite(val[f"warp_akd_{region}"])
    # and sharpness against the driving frame's: the warp resamples the source, so it is softer
    assert 0.3 < val["warp_sharpness"] < 1.0 and val["sharpness"] > 0, val
    calibrated = load_checkpoint(tmp_path / "checkpoints" / "calibrated.pt")
    assert float(calibrated["model"]["fusion.gain"]) == row["gain"] in GAINS
    assert calibrated["calibration"]["gain"] == row["gain"]
    assert float(load_checkpoint(tmp_path / "checkpoints" / "last.pt")["model"]
                 ["fusion.gain"]) == 1.0
    from reenact.io import read_image

    assert read_image(tmp_path / "curves.png").shape[1] == 1600  # a fourth panel: calibration
    refiner = (DCGGANRefiner if family == "dcggan" else MeshGCNRefiner)(
        tmp_path / "checkpoints" / "calibrated.pt")
    assert float(refiner.model.fusion.gain) == row["gain"]
    from reenact.train.validate import evaluate_checkpoint

    model, warp = evaluate_checkpoint(str(tmp_path / "checkpoints" / "last.pt"), 2, gain=0.0)
    np.testing.assert_allclose(model["akd"], warp["akd"])  # gain 0: the warp itself
    np.testing.assert_allclose(model["psnr_face"], warp["psnr_face"])
    # another render size (data.render_size) than the run's: only within the cache's 64 px crops
    for size, message in ((32, "at least the training size"), (128, r"above its crops \(64")):
        with pytest.raises(ValueError, match=message):
            evaluate_checkpoint(str(tmp_path / "checkpoints" / "last.pt"), 2, render_size=size)
    assert main(["calibrate", str(tmp_path / "checkpoints" / "last.pt"), "-o",
                 str(tmp_path / "again.pt")]) == 0
    again = load_checkpoint(tmp_path / "again.pt")["calibration"]
    # the same scores, up to the shift-map background plate, which is not a pure function of
    # its input (scene._background_plate): the first plate a process makes can differ
    assert again["scores"] == pytest.approx(row["scores"], abs=2e-3) and again["gain"] in GAINS


def test_calibration_needs_a_validation_split(tiny_cache, tmp_path, capsys):
    """``reenact calibrate`` and ``reenact validate`` refuse what they cannot do in one line
    with the CLI's exit code for an input (3)."""
    from reenact.cli import EXIT_INPUT, main
    from reenact.train.loop import train
    from reenact.train.setup import RunConfig

    with pytest.raises(ValueError, match="run.calibrate needs a validation split"):
        tiny_setup("meshgcn", tiny_cache, tmp_path, **{"data.val_fraction": 0,
                                                       "run.calibrate": "akd"})
    with pytest.raises(ValueError, match="run.calibrate must be one of"):
        RunConfig(calibrate="loss")
    train(tiny_setup("meshgcn", tiny_cache, tmp_path, **{"data.val_fraction": 0,
                                                         "run.steps": 1}), progress=False)
    capsys.readouterr()
    assert main(["calibrate", str(tmp_path / "checkpoints" / "last.pt")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith("reenact: error: ") and "no validation split" in err
    assert err.count("\n") == 1
    plain = tmp_path / "plain"
    train(tiny_setup("meshgcn", tiny_cache, plain, **{"data.val_fraction": 0, "run.steps": 1,
                                                      "trainer.model.use_prior": False}),
          progress=False)
    capsys.readouterr()
    assert main(["validate", str(plain / "checkpoints" / "last.pt"), "--gain", "0.5"]) == \
        EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith("reenact: error: ") and "--gain needs" in err and err.count("\n") == 1
    assert main(["calibrate", str(tmp_path / "missing.pt")]) == EXIT_INPUT
    assert main(["validate", str(tmp_path / "missing.pt")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.count("reenact: error: ") == 2 and "missing.pt: no such checkpoint" in err
    assert err.count("\n") == 2
