"""``reenact train``: one readable loop for both model families.

    setup -> (distributed?) -> trainer + EMA -> resume from last.pt -> for step: batch, step, EMA,
    log / images / validation / checkpoint -> final checkpoint and curves

Distribution is PyTorch's own DDP launched by ``torchrun`` (one or many nodes; gloo on CPU, NCCL on
GPU); AMP is bfloat16 autocast on CUDA. A checkpoint holds the generator's EMA as ``model`` (what
``reenact animate --checkpoint`` loads) and the full training state, so a resumed run continues
exactly: batches are a pure function of (seed, step) and the RNG state is restored.
"""

import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch

from reenact.data.dataset import TrainBatches, validation_pairs
from reenact.io import tensor_to_image, write_image
from reenact.io.atomic import atomic_path
from reenact.io.checkpoint import load_checkpoint, save_checkpoint
from reenact.io.native_log import native_stderr_to
from reenact.train.calibrate import calibrated_state, gain_scores, summary
from reenact.train.plots import plot_curves
from reenact.train.setup import SELECTABLE, RunConfig, TrainSetup, build_trainer
from reenact.train.validate import Validator, generated_image

log = logging.getLogger("reenact")
NATIVE_LOG = "native.log"  # what mediapipe prints while validation re-tracks faces


def _distributed() -> tuple[int, int, int]:
    """(rank, world size, local rank); starts the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0"))


def _device(run: RunConfig, local_rank: int) -> torch.device:
    if run.device != "auto":
        return torch.device(run.device)
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def _grid(batch: dict, output: torch.Tensor, rows: int = 4) -> torch.Tensor:
    """(3, H, W): rows of source | driving | analytic warp | output."""
    n = min(rows, output.shape[0])
    cols = [batch["image_s"][:n], batch["target"][:n], batch["prior"][:n], output[:n].cpu()]
    return torch.cat([torch.cat([c[i].float().cpu() for c in cols], 2) for i in range(n)], 1)


def train(setup: TrainSetup, progress: bool = True, stop_after: int | None = None) -> dict:
    """Run (or resume) a training run; returns the last validation scores (rank 0).

    ``stop_after``: leave the loop after this many steps of this invocation, as an interruption
    would (the resume test uses it)."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
    from tqdm import tqdm

    run = setup.run
    if run.threads:
        torch.set_num_threads(run.threads)
    rank, world, local_rank = _distributed()
    device = _device(run, local_rank)
    out = Path(run.out)
    ckpt_path = out / "checkpoints" / "last.pt"
    torch.manual_seed(run.seed)
    trainer = build_trainer(setup, device, ddp=world > 1)
    ema = AveragedModel(trainer.model, multi_avg_fn=get_ema_multi_avg_fn(run.ema_decay),
                        use_buffers=True)
    step = 0
    if ckpt_path.is_file():
        state = load_checkpoint(ckpt_path)
        _check_same_run(state["config"], setup, ckpt_path)
        trainer.load_state_dict(state["train"])
        ema.load_state_dict(state["ema"])
        step = int(state["step"])
        torch.set_rng_state(state["rng_cpu"])
        if "rng_cuda" in state and device.type == "cuda":
            torch.cuda.set_rng_state(state["rng_cuda"], device)
        if rank == 0:
            log.info("resuming %s at step %d", ckpt_path, step)
    data = TrainBatches(setup.data, setup.family, run.seed, rank, world)
    writer = validator = None
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        _trim_metrics(out / "metrics.jsonl", step)
        from tensorboardX import SummaryWriter

        writer = SummaryWriter(str(out / "tb"), purge_step=step if step else None)

        pairs = validation_pairs(data.store, data.split.validation(), setup.data.val_pairs)
        if pairs:
            with native_stderr_to(out / NATIVE_LOG):  # mediapipe's messages, not the console
                validator = Validator(data.store, pairs, setup.data.size, setup.family,
                                      data.transfer)  # rendered as animate renders

    best = _best_so_far(out / "metrics.jsonl", run.select) if rank == 0 else None

    def save(path: Path = ckpt_path) -> None:
        state = {"model": ema.module, "train": trainer, "ema": ema, "step": step,
                 "rng_cpu": torch.get_rng_state(), "train_size": setup.data.size}
        if device.type == "cuda":
            state["rng_cuda"] = torch.cuda.get_rng_state(device)
        save_checkpoint(path, setup, **state)

    def validate() -> dict:
        if validator is None:
            return {}
        ema.module.eval()
        with native_stderr_to(out / NATIVE_LOG):
            scores = validator(lambda b: generated_image(trainer, b, ema.module))
        ema.module.train()
        grid = _grid(validator.batch, validator.last_images, rows=6)
        write_image(out / "images" / f"val-{step:07d}.png", tensor_to_image(grid))
        writer.add_image("val/source_driving_warp_output", grid, step)
        row = {"kind": "val", "step": step, **scores,
               **{f"warp_{k}": v for k, v in validator.baseline.items()}}
        _append_jsonl(out / "metrics.jsonl", row)
        for k, v in scores.items():
            writer.add_scalar(f"val/{k}", v, step)
            if k in validator.baseline:
                writer.add_scalar(f"val_warp/{k}", validator.baseline[k], step)
        return scores

    def worker_init(_: int) -> None:
        torch.set_num_threads(1)

    loader = torch.utils.data.DataLoader(
        data, batch_size=None, sampler=range(step, run.steps), num_workers=setup.data.workers,
        worker_init_fn=worker_init if setup.data.workers else None)
    bar = tqdm(total=run.steps, initial=step, disable=not progress or rank > 0, unit="step",
               dynamic_ncols=True, desc=f"train {setup.family}")
    scores, done_here, t0 = {}, 0, time.perf_counter()
    try:
        for batch in loader:
            losses = trainer.step(batch)
            ema.update_parameters(trainer.model)
            step += 1
            done_here += 1
            late = run.max_minutes is not None and _out_of_time(t0, run.max_minutes, world, device)
            end = late or step == run.steps  # log, validate and checkpoint the last step
            if rank == 0:
                speed = done_here * setup.data.batch_size / (time.perf_counter() - t0)
                bar.update(1)
                if step % run.log_every == 0 or end:
                    bar.set_postfix({**{k: f"{v:.3g}" for k, v in losses.items()},
                                     "img/s": f"{speed:.1f}"})
                    _append_jsonl(out / "metrics.jsonl",
                                  {"kind": "train", "step": step, "images_per_s": speed,
                                   **losses})
                    for k, v in losses.items():
                        writer.add_scalar(f"train/{k}", v, step)
                    writer.add_scalar("train/images_per_s", speed, step)
                if step % run.image_every == 0 or end:
                    grid = _grid(batch, trainer.last_output)
                    writer.add_image("train/source_driving_warp_output", grid, step)
                    write_image(out / "images" / f"step-{step:07d}.png", tensor_to_image(grid))
                if step % run.val_every == 0 or end:
                    scores = validate()
                    if run.select and run.select in scores and _better(
                            scores[run.select], best, SELECTABLE[run.select]):
                        best = scores[run.select]
                        save(out / "checkpoints" / "best.pt")
                if step % run.checkpoint_every == 0 or end:
                    save()
                    plot_curves(out)
            if stop_after is not None and done_here >= stop_after:
                break
            if late:
                if rank == 0:
                    log.info("run.max_minutes=%g reached at step %d: checkpointed; rerun the "
                             "same command to go on", run.max_minutes, step)
                break
        if rank == 0 and run.calibrate and validator is not None and step == run.steps:
            calibrate(trainer, ema.module, validator, setup, step, out)
            plot_curves(out)
    finally:
        bar.close()
        if writer is not None:
            writer.close()
        if validator is not None:
            validator.close()
    return scores


def _out_of_time(t0: float, minutes: float, world: int, device: torch.device) -> bool:
    """Whether ``minutes`` have passed since ``t0``; under DDP, on any rank (so all stop at the
    same step)."""
    late = time.perf_counter() - t0 > 60 * minutes
    if world > 1:
        import torch.distributed as dist

        flag = torch.tensor(float(late), device=device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        late = bool(flag.item())
    return late


def calibrate(trainer, module, validator, setup: TrainSetup, step: int, out: Path) -> None:
    """Choose the residual gain of ``module`` on the validation pairs and write
    ``checkpoints/calibrated.pt`` (``last.pt`` keeps gain 1, so the run still resumes exactly)."""

    module.eval()
    with native_stderr_to(out / NATIVE_LOG):
        rows = gain_scores(trainer, module, validator, setup.run.calibrate)
    module.train()
    result = summary(rows, setup.run.calibrate)
    save_checkpoint(out / "checkpoints" / "calibrated.pt", setup,
                    model=calibrated_state(module, result["gain"]), calibration=result,
                    step=step, train_size=setup.data.size)
    _append_jsonl(out / "metrics.jsonl", {"kind": "calibration", "step": step, **result})
    log.info("calibrated on the validation split by %s: gain %s (%s)", result["metric"],
             result["gain"], ", ".join(f"{g}: {v:.4f}" for g, v in result["scores"].items()))


def _better(score: float, best: float | None, higher: bool) -> bool:
    return best is None or (score > best if higher else score < best)


def _best_so_far(metrics: Path, select: str | None) -> float | None:
    """The best validation ``select`` score logged so far (a resumed run keeps its best.pt
    unless a later validation beats it)."""
    if select is None or not metrics.is_file():
        return None
    best = None
    for line in metrics.read_text().splitlines():
        row = json.loads(line)
        if row.get("kind") == "val" and select in row and _better(row[select], best,
                                                                  SELECTABLE[select]):
            best = row[select]
    return best


def _check_same_run(saved: dict, setup: TrainSetup, ckpt_path: Path) -> None:
    """A run resumes only with the family, networks and losses it was started with (run.steps,
    logging and data settings may change: extending a run is common)."""
    now = asdict(setup)
    for section in ("family", "trainer"):
        if saved.get(section) != now[section]:
            diff = _differences(saved.get(section), now[section], section)
            raise ValueError(f"{ckpt_path} was trained with other settings ({diff}); resume "
                             f"with those, or start a new run with another run.out")


def _differences(a, b, where: str) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        return ", ".join(_differences(a.get(k), b.get(k), f"{where}.{k}")
                         for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
    return f"{where}: {a!r} then, {b!r} now"


def _append_jsonl(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")


def _trim_metrics(path: Path, step: int) -> None:
    """Drop rows logged after the checkpoint a run resumes from (they will be logged again)."""
    if not path.is_file():
        return
    rows = [line for line in path.read_text().splitlines()
            if line.strip() and json.loads(line)["step"] <= step]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(r + "\n" for r in rows))
