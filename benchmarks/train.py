"""Training throughput: images per second of one training step (both GAN phases) and of rendering
the batches it needs, per run config, so you can see which one limits a run.

    python benchmarks/train.py [CONFIG ...] [--cache cache/shared] [--device cpu|cuda]
                               [--steps 20] [--threads 2] [--size S] [--batch B]
                               [--render-size R]

CONFIG defaults to configs/dcggan/tiny.yaml and configs/meshgcn/tiny.yaml; the cache is one
written by `reenact preprocess` (default: the config's data.cache). The step is timed on one
rendered batch repeated (the weights' values do not change its speed); rendering is timed in this
process on one CPU thread, as one DataLoader worker does it, so N workers render about N times as
many images per second.
"""

import argparse
import time
from dataclasses import replace
from pathlib import Path

import torch

from reenact.app.runtime import configure_runtime
from reenact.data.dataset import TrainBatches
from reenact.io.native_log import native_stderr_to
from reenact.train.setup import build_trainer, load_setup

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = [ROOT / "configs" / "dcggan" / "tiny.yaml", ROOT / "configs" / "meshgcn" / "tiny.yaml"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(config: Path, args) -> dict:
    overrides = [f"run.amp={args.amp}"]
    if args.cache:
        overrides.append(f"data.cache={args.cache}")
    if args.size:
        overrides.append(f"data.size={args.size}")
    if args.batch:
        overrides.append(f"data.batch_size={args.batch}")
    if args.render_size is not None:
        overrides.append(f"data.render_size={args.render_size}")
    setup = load_setup(config, overrides)
    if setup.family == "meshgcn":  # the motion net's flow size follows the training size
        trainer_cfg = dict(setup.trainer)
        model = dict(trainer_cfg.get("model", {}))
        model["motion"] = {**model.get("motion", {}), "size": setup.data.size}
        setup = replace(setup, trainer={**trainer_cfg, "model": model})
    device = torch.device(args.device)
    data = TrainBatches(setup.data, setup.family, seed=0)
    torch.set_num_threads(1)
    for video in data.split.train:  # decompress every record first, as a warm worker has
        data.store.record(video)
    batch = data[0]
    t = time.perf_counter()
    for k in range(1, args.render_batches + 1):
        data[k]
    render = args.render_batches * setup.data.batch_size / (time.perf_counter() - t)
    torch.set_num_threads(args.threads)
    trainer = build_trainer(setup, device)
    trainer.step(batch)  # warm-up
    _sync(device)
    t = time.perf_counter()
    for _ in range(args.steps):
        trainer.step(batch)
    _sync(device)
    step = args.steps * setup.data.batch_size / (time.perf_counter() - t)
    peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"config": f"{config.parent.name}/{config.name}", "size": setup.data.size,
            "rendered": setup.data.render_size or setup.data.size,
            "batch": setup.data.batch_size, "step": step, "render": render, "peak": peak}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("configs", nargs="*", type=Path, default=CONFIGS)
    p.add_argument("--cache", help="a preprocessed cache (default: each config's data.cache)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--render-batches", type=int, default=8)
    p.add_argument("--threads", type=int, default=2, help="CPU threads for the step")
    p.add_argument("--size", type=int, help="override data.size")
    p.add_argument("--batch", type=int, help="override data.batch_size")
    p.add_argument("--render-size", type=int, help="override data.render_size")
    p.add_argument("--amp", default="true", choices=("true", "false"), help="bf16 on CUDA")
    args = p.parse_args()
    configure_runtime(args.threads)
    print(f"device {args.device}, {args.threads} threads for the step, 1 for rendering")
    print("| config | size | rendered at | batch | step img/s | render img/s (one worker) "
          "| peak GPU MiB |")
    print("|---|---|---|---|---|---|---|")
    for config in args.configs:
        with native_stderr_to("/dev/null"):
            r = measure(config, args)
        peak = f"{r['peak']:.0f}" if r["peak"] is not None else "-"
        print(f"| {r['config']} | {r['size']} | {r['rendered']} | {r['batch']} | {r['step']:.1f} | "
              f"{r['render']:.1f} | {peak} |")


if __name__ == "__main__":
    main()
