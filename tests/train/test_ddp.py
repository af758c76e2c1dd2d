"""DDP on CPU (gloo, two processes, as torchrun would start them): one step's gradients equal the
single-process gradients on the same global batch, and the loop trains a few steps."""

import os

import pytest
import torch
import torch.multiprocessing as mp

from tests.train.conftest import tiny_setup

FAMILIES = ("dcggan", "meshgcn")


def _grads(trainer) -> dict[str, torch.Tensor]:
    out = {}
    for prefix, module in (("g.", trainer.model), ("d.", trainer.disc if hasattr(trainer, "disc")
                                                        else trainer.critic)):
        for name, p in module.named_parameters():
            if p.grad is not None:
                out[prefix + name] = p.grad.detach().clone()
    return out


def _rank(rank: int, world: int, init: str, family: str, cache: str, out: str) -> None:
    import torch.distributed as dist

    from reenact.data.dataset import TrainBatches
    from reenact.train.loop import train
    from reenact.train.setup import build_trainer

    torch.set_num_threads(1)
    os.environ.update(WORLD_SIZE=str(world), RANK=str(rank), LOCAL_RANK=str(rank))
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        setup = tiny_setup(family, cache, out, **{"data.batch_size": 4, "run.steps": 2})
        torch.manual_seed(0)
        trainer = build_trainer(setup, "cpu", ddp=True)
        trainer.step(TrainBatches(setup.data, family, setup.run.seed, rank, world)[0])
        torch.save(_grads(trainer), os.path.join(out, f"grads-{rank}.pt"))
        train(setup, progress=False)  # the whole loop under DDP: a few steps, rank 0 saves
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # 15-17 s each: two processes
@pytest.mark.parametrize("family", FAMILIES)
def test_two_process_ddp_matches_one_process(family, tiny_cache, tmp_path):
    from reenact.data.dataset import TrainBatches
    from reenact.io.checkpoint import load_checkpoint

    out = tmp_path / "ddp"
    out.mkdir()
    init = f"file://{tmp_path / 'rendezvous'}"
    mp.spawn(_rank, args=(2, init, family, tiny_cache, str(out)), nprocs=2, join=True)

    setup = tiny_setup(family, tiny_cache, tmp_path / "single", **{"data.batch_size": 4})
    single = _one_process_grads(setup, family, TrainBatches(setup.data, family, setup.run.seed)[0])
    for rank in (0, 1):
        ddp = torch.load(out / f"grads-{rank}.pt", weights_only=True)
        assert set(ddp) == set(single)
        assert _relative_error(ddp, single) < 1e-4, rank
    # The comparison can fail: one process on rank 0's half of the batch is far off.
    half = TrainBatches(setup.data, family, setup.run.seed, rank=0, world=2)[0]
    assert _relative_error(_one_process_grads(setup, family, half), single) > 1e-2
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 2


def _one_process_grads(setup, family, batch) -> dict[str, torch.Tensor]:
    from reenact.train.setup import build_trainer

    torch.manual_seed(0)
    trainer = build_trainer(setup, "cpu")
    trainer.step(batch)
    return _grads(trainer)


def _relative_error(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """The largest of |a - b| / |b| over the generator and the discriminator, each taken as one
    vector (per tensor, float32 reordering noise dominates the biases that feed an instance norm,
    whose true gradient is zero)."""
    worst = 0.0
    for prefix in ("g.", "d."):
        keys = sorted(k for k in b if k.startswith(prefix))
        va = torch.cat([a[k].flatten() for k in keys])
        vb = torch.cat([b[k].flatten() for k in keys])
        worst = max(worst, ((va - vb).norm() / vb.norm()).item())
    return worst


@pytest.mark.slow  # 17 s: torchrun
def test_reenact_train_under_torchrun(tiny_cache, tmp_path):
    """The command users run: torchrun starts two CPU processes of `reenact train`; rank 0 alone
    writes the checkpoint and the logs, at the step the run was told to reach."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    from reenact.io.checkpoint import load_checkpoint

    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.is_file():
        pytest.skip(f"no torchrun beside {sys.executable}")
    config = Path(__file__).resolve().parents[2] / "configs" / "meshgcn" / "tiny.yaml"
    out = tmp_path / "run"
    overrides = {"data.cache": tiny_cache, "data.videos": "null", "data.batch_size": 2,
                 "data.workers": 0, "data.val_pairs": 0, "run.out": out, "run.steps": 2,
                 "run.log_every": 1, "run.checkpoint_every": 2, "run.threads": 1}
    cmd = [str(torchrun), "--standalone", "--nproc-per-node", "2", "-m", "reenact.cli",
           "train", "-c", str(config), *(f"{k}={v}" for k, v in overrides.items())]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert load_checkpoint(out / "checkpoints" / "last.pt")["step"] == 2
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["kind"] == "train"] == [1, 2]  # one writer, not two
