"""The bfloat16 autocast path GPU runs take (run.amp), exercised on CPU: both trainers' steps run
under it, and their losses stay close to float32's from the same weights and batch."""

import math

import pytest
import torch

from tests.train.conftest import tiny_setup


@pytest.mark.parametrize("family", ["dcggan", "meshgcn"])
def test_a_bfloat16_step_matches_float32(family, tiny_cache, tmp_path):
    from reenact.data.dataset import TrainBatches
    from reenact.train.setup import build_trainer

    setup = tiny_setup(family, tiny_cache, tmp_path)
    batch = TrainBatches(setup.data, setup.family, 0, 0, 1)[1]
    losses = {}
    for amp in (False, True):
        torch.manual_seed(0)
        trainer = build_trainer(setup, "cpu")
        assert not trainer.amp  # off on CPU in real runs (bf16 is slow there) ...
        trainer.amp = amp  # ... switched on here to run the path CUDA runs take
        losses[amp] = trainer.step(batch)
    fp32, bf16 = losses[False], losses[True]
    assert fp32.keys() == bf16.keys()
    assert all(math.isfinite(v) for v in bf16.values()), bf16
    assert bf16 != fp32  # autocast really ran
    for k, v in fp32.items():
        assert bf16[k] == pytest.approx(v, rel=0.1, abs=0.01), k
