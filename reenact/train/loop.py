"""``reenact train``: one readable loop for both model families.

    setup -> (distributed?) -> trainer + EMA -> resume from last.pt -> for step: batch, step, EMA,
    log / images / validation / checkpoint -> final checkpoint and curves

Distribution is PyTorch's own DDP launched by ``torchrun`` (one or many nodes; gloo on CPU, NCCL on
GPU); AMP is bfloat16 autocast on CUDA. A checkpoint holds the generator's EMA as ``model`` (what
``reenact animate --checkpoint`` loads) and the full training state, so a resumed run continues
exactly: batches are a pure function of (seed, step) and the RNG state is restored.
"""

import dataclasses
import json
import logging
import os
import time
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from reenact.config import from_dict
from reenact.data.dataset import DataConfig, TrainBatches, validation_pairs
from reenact.io import tensor_to_image, write_image
from reenact.io.atomic import atomic_path
from reenact.io.native_log import native_stderr_to
from reenact.train.checkpoint import load_checkpoint, save_checkpoint

log = logging.getLogger("reenact")
FAMILIES = ("dcggan", "meshgcn")
NATIVE_LOG = "native.log"  # what mediapipe prints while validation re-tracks faces


@dataclass(frozen=True)
class RunConfig:
    steps: int = 10_000
    out: str = "runs/run"  # checkpoints/, tb/ (TensorBoard), images/, metrics.jsonl, curves.png
    seed: int = 0
    ema_decay: float = 0.999
    log_every: int = 10
    image_every: int = 250
    checkpoint_every: int = 250
    val_every: int = 500
    device: str = "auto"  # auto: CUDA when present (cuda:LOCAL_RANK under torchrun), else CPU
    amp: bool = True  # bfloat16 autocast, CUDA only
    threads: int | None = None  # CPU threads per process (None: leave torch's default)
    select: str | None = None  # keep checkpoints/best.pt by this validation score (e.g. akd,
    #   psnr_face); with data.val_fraction it is chosen on the validation split, not the test one
    calibrate: str | None = None  # ours: at the end, choose on the validation split (needs
    #   data.val_fraction) by this score how much of its correction the model adds to the warp
    #   (reenact.train.calibrate) -> checkpoints/calibrated.pt
    max_minutes: float | None = None  # stop after this much training time in one invocation,
    #   with a checkpoint (a lease or a cluster's time limit); the same command resumes it

    def __post_init__(self) -> None:
        for key in ("select", "calibrate"):
            value = getattr(self, key)
            if value is not None and value not in SELECTABLE:
                raise ValueError(f"run.{key} must be one of {', '.join(SELECTABLE)}, got "
                                 f"{value!r}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ValueError(f"run.max_minutes must be a positive number of minutes, got "
                             f"{self.max_minutes!r}")


# validation scores a run can select its best checkpoint by, and whether higher is better
SELECTABLE = {"psnr_face": True, "ssim": True, "akd": False, "pose_error_deg": False,
              "identity_distance": False}


@dataclass(frozen=True)
class TrainSetup:
    family: str = "dcggan"
    trainer: dict = field(default_factory=dict)  # DCGGANTrainConfig / MeshGCNTrainConfig fields
    data: DataConfig = field(default_factory=DataConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if self.run.calibrate and self.data.val_fraction <= 0:
            raise ValueError("run.calibrate needs a validation split (data.val_fraction > 0): "
                             "calibrating on the test frames would tune on what is measured")

    def trainer_config(self):
        cls = _trainer_config_class(self.family)
        _check_keys(cls, self.trainer, "trainer")
        return from_dict(cls, self.trainer)


def _trainer_config_class(family: str):
    if family == "dcggan":
        from reenact.train.dcggan import DCGGANTrainConfig

        return DCGGANTrainConfig
    from reenact.train.meshgcn import MeshGCNTrainConfig

    return MeshGCNTrainConfig


def _check_keys(cls, data: dict, where: str) -> None:
    """Unknown keys are errors (a typo must not silently train the default)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {data!r}")  # noqa: TRY004 (a config
        #   error, which the command line reports in one line as it does every ValueError)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        if key not in fields:
            raise ValueError(f"{where}.{key}: unknown setting (known: {', '.join(fields)})")
        if dataclasses.is_dataclass(hints[key]) and isinstance(value, dict):
            _check_keys(hints[key], value, f"{where}.{key}")


def load_setup(path: str | os.PathLike, overrides: list[str] = ()) -> TrainSetup:
    """A run config from YAML plus ``key.sub=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    data = yaml.safe_load(path.read_text()) or {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r}: expected KEY=VALUE, e.g. run.steps=100")
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {p} is not a section")  # noqa: TRY004
        node[leaf] = yaml.safe_load(value)
    _check_keys(TrainSetup, data, path.name)
    setup = from_dict(TrainSetup, data)
    setup.trainer_config()  # validate the trainer section now, not after data loading
    return setup


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


def build_trainer(setup: TrainSetup, device, ddp: bool = False):
    cfg = setup.trainer_config()
    if setup.family == "dcggan":
        from reenact.train.dcggan import DCGGANTrainer

        return DCGGANTrainer(cfg, device, ddp=ddp, amp=setup.run.amp)
    from reenact.refine import gcn_mesh
    from reenact.train.meshgcn import MeshGCNTrainer

    template, triangles = gcn_mesh(setup.data.face_model, setup.data.face_model_path)
    return MeshGCNTrainer(template, triangles, cfg, device, ddp=ddp, amp=setup.run.amp)


def _grid(batch: dict, output: torch.Tensor, rows: int = 4) -> torch.Tensor:
    """(3, H, W): rows of source | driving | analytic warp | output."""
    n = min(rows, output.shape[0])
    cols = [batch["image_s"][:n], batch["target"][:n], batch["prior"][:n], output[:n].cpu()]
    return torch.cat([torch.cat([c[i].float().cpu() for c in cols], 2) for i in range(n)], 1)


def plot_curves(out: Path) -> Path | None:
    """curves.png from metrics.jsonl: the losses (moving average), the validation scores and,
    after ``run.calibrate``, the calibration's validation score by gain."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = out / "metrics.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    train = [r for r in rows if r["kind"] == "train"]
    val = [r for r in rows if r["kind"] == "val"]
    calibration = [r for r in rows if r["kind"] == "calibration"]
    fig, axes = plt.subplots(1, 4 if calibration else 3, figsize=(20 if calibration else 15, 4))
    keys = sorted({k for r in train for k in r if k not in ("kind", "step", "images_per_s")})
    for k in keys:
        steps = [r["step"] for r in train if k in r]
        vals = np.array([r[k] for r in train if k in r])
        w = max(1, len(vals) // 50)
        smooth = np.convolve(vals, np.ones(w) / w, mode="valid")
        axes[0].plot(steps[w - 1:], smooth, label=k)
    axes[0].set(title="training losses (moving average)", xlabel="step", yscale="symlog")
    axes[0].legend(fontsize=7)
    for ax, metric, title in ((axes[1], "psnr_face", "held-out face PSNR (dB)"),
                              (axes[2], "akd", "held-out landmark error (AKD)")):
        steps = [r["step"] for r in val if metric in r]
        ax.plot(steps, [r[metric] for r in val if metric in r], "o-", label="model (EMA)")
        base = [r[f"warp_{metric}"] for r in val if f"warp_{metric}" in r]
        if base:
            ax.axhline(base[0], color="k", ls="--", label="analytic warp")
        ax.set(title=title, xlabel="step")
        ax.legend()
    if calibration:
        c = calibration[-1]
        gains = [float(g) for g in c["scores"]]
        axes[3].plot(gains, list(c["scores"].values()), "o-", label=f"validation {c['metric']}")
        axes[3].axvline(c["gain"], color="C3", ls=":", label=f"chosen gain {c['gain']}")
        axes[3].set(title="calibration: share of the correction added to the warp",
                    xlabel="gain (0 = the analytic warp)")
        axes[3].legend()
    fig.tight_layout()
    target = out / "curves.png"
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=80)
    plt.close(fig)
    return target


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
        from reenact.train.validate import Validator, generated_image

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
    from reenact.train.calibrate import calibrated_state, gain_scores, summary

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
