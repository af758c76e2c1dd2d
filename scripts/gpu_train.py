"""Train both families at 256 px within one call of a lent GPU machine, then score them here.

The device machine has PyTorch but neither mediapipe (it needs numpy<2) nor PyAV, reaches no
package index, and a call carries at most 64 MiB there and back. Training needs neither package:
batches are rendered from the preprocessed cache, and the landmark mesh needs only mediapipe's
face-mesh connection lists, a module of plain data that ``pack`` carries on its own. Validation
re-tracks faces with mediapipe, so it runs here afterwards, on the EMA generators that come back
(in float16, split into parts under the 16 MiB a returned file may have).

Here, before the call (``cache/shared`` from ``reenact preprocess``, README, Training)::

    python scripts/gpu_train.py pack

The device call (``run`` with ``carry: ["cache/shared", ".device"]``, timeout_s 600)::

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .device/*.whl &&
    PYTHONPATH=$PWD:/tmp/site:$PWD/.device/shim python3 scripts/gpu_train.py device --out $OUT

Here, after it (FILES: the call's ``files_at``)::

    python scripts/gpu_train.py unpack FILES
    reenact calibrate runs/dcggan-gpu256/checkpoints/ema.pt
    reenact validate runs/dcggan-gpu256/checkpoints/calibrated.pt

and the same for ``meshgcn``.
"""

import argparse
import copy
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("dcggan", "meshgcn")
PART_BYTES = 15 * 2**20  # a returned file may have 16 MiB
CARRY_BYTES = 64 * 2**20  # what a call may carry
CONNECTIONS = "mediapipe/python/solutions/face_mesh_connections.py"


def pack(device_dir: Path, cache: Path) -> None:
    """Fill ``device_dir`` with what the device lacks: the tensorboardX wheel (the loop's logger)
    and a package holding only mediapipe's face-mesh connection lists."""
    if not (cache / "index.jsonl").is_file():
        raise SystemExit(f"{cache}: no preprocessed cache there (reenact preprocess "
                         f"../shared/data/driving -o {cache} --frames 120)")
    connections_shim(device_dir / "shim")
    from importlib.metadata import version

    for old in device_dir.glob("*.whl"):
        old.unlink()
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary=:all:", f"tensorboardX=={version('tensorboardX')}",
                    "-d", str(device_dir)], check=True)
    size = sum(p.stat().st_size for d in (device_dir, cache) for p in d.rglob("*") if p.is_file())
    print(f"{device_dir}: ready; with {cache}, {size / 2**20:.0f} MiB travel of the "
          f"{CARRY_BYTES // 2**20} MiB a call may carry, beside the working tree")


def connections_shim(shim: Path) -> None:
    """A ``mediapipe`` package at ``shim`` that holds only the installed one's face-mesh
    connection lists (plain data), all the landmark mesh's topology reads."""
    spec = importlib.util.find_spec("mediapipe")  # finds the package without importing it
    source = Path(spec.submodule_search_locations[0]).parent / CONNECTIONS
    shutil.rmtree(shim, ignore_errors=True)
    (shim / CONNECTIONS).parent.mkdir(parents=True)
    for package in ("mediapipe", "mediapipe/python", "mediapipe/python/solutions"):
        (shim / package / "__init__.py").touch()
    shutil.copyfile(source, shim / CONNECTIONS)


def export(checkpoint: Path, out: Path, name: str, part_bytes: int = PART_BYTES) -> list[Path]:
    """Write a checkpoint's config and EMA generator, float weights in float16, as
    ``name.part0``, ``name.part1``, ... of at most ``part_bytes`` each."""
    from reenact.io.checkpoint import load_checkpoint

    state = load_checkpoint(checkpoint)
    model = {k: v.half() if v.dtype == torch.float32 else v for k, v in state["model"].items()}
    buffer = io.BytesIO()
    torch.save({"config": state["config"], "model": model, "step": state["step"],
                "train_size": state["train_size"]}, buffer)
    data = buffer.getvalue()
    parts = []
    for i, start in enumerate(range(0, len(data), part_bytes)):
        parts.append(out / f"{name}.part{i}")
        parts[-1].write_bytes(data[start:start + part_bytes])
    return parts


def join(parts: list[Path]) -> dict:
    """The exported state back, float weights in float32 again."""
    from reenact.io.weights import load_weights

    ordered = sorted(parts, key=lambda p: int(p.suffix.removeprefix(".part")))
    with tempfile.TemporaryDirectory() as tmp:  # the returned files are read-only
        blob = Path(tmp) / ordered[0].stem
        blob.write_bytes(b"".join(p.read_bytes() for p in ordered))
        state = load_weights(blob, f"{ordered[0].parent / ordered[0].stem}.part*")
    state["model"] = {k: v.float() if v.dtype == torch.float16 else v
                      for k, v in state["model"].items()}
    return state


def device(out: Path, minutes: float, overrides: list[str]) -> None:
    """Train each family for ``minutes`` (validation off: no mediapipe here), then export."""
    runs = Path("/tmp/gpu-runs")
    logs = {"gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else "none (CPU)"}
    try:
        for family in FAMILIES:
            run = runs / family
            command = [sys.executable, "-m", "reenact.cli", "train", "-c",
                       str(ROOT / "configs" / family / "gpu256.yaml"),
                       f"run.max_minutes={minutes}", "data.val_pairs=0", "run.select=null",
                       "run.calibrate=null", f"run.out={run}", *overrides]
            t0 = time.perf_counter()
            with open(runs.parent / f"gpu-{family}.log", "w") as log:
                code = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False,
                                      env={**os.environ, "TQDM_MININTERVAL": "5"}).returncode
            logs[family] = {"exit": code, "seconds": round(time.perf_counter() - t0, 1)}
            print(family, logs[family], flush=True)
            if code == 0:
                export(run / "checkpoints" / "last.pt", out, family)
    finally:  # the logs come back whatever failed
        _write_logs(out, runs, logs)


def _write_logs(out: Path, runs: Path, logs: dict) -> None:
    with tarfile.open(out / "logs.tar.gz", "w:gz") as tar:
        for family in FAMILIES:
            if (runs.parent / f"gpu-{family}.log").is_file():
                tar.add(runs.parent / f"gpu-{family}.log", f"{family}/train.log")
            for path in ((runs / family / "metrics.jsonl"), *(runs / family / "images").glob("*")):
                if path.is_file():
                    tar.add(path, f"{family}/{path.relative_to(runs / family)}")
        data = json.dumps(logs, indent=1).encode()
        info = tarfile.TarInfo("device.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def unpack(files: Path, runs: Path) -> None:
    """Rebuild ``runs/<family>-gpu256`` from what came back: checkpoints/ema.pt (config and EMA
    generator), metrics.jsonl, curves.png, the training images, train.log and device.json (the
    GPU, and each run's exit status and seconds)."""
    from reenact.io.atomic import atomic_path
    from reenact.train.plots import plot_curves

    with tarfile.open(files / "logs.tar.gz") as tar:  # the logs first: they say why a run failed
        everything = tar.getmembers()
        for family in FAMILIES:
            run = runs / f"{family}-gpu256"
            run.mkdir(parents=True, exist_ok=True)
            members = [copy.copy(m) for m in everything if m.name.startswith(f"{family}/")
                       or m.name == "device.json"]
            for m in members:
                m.name = m.name.removeprefix(f"{family}/")
            tar.extractall(run, members, filter="data")
    print((runs / f"{FAMILIES[0]}-gpu256" / "device.json").read_text())
    for family in FAMILIES:
        run = runs / f"{family}-gpu256"
        parts = sorted(files.glob(f"{family}.part*"))
        if not parts:
            print(f"{family}: no generator came back (see {run / 'train.log'})")
            continue
        state = join(parts)
        # the device trained without validation pairs (no tracker there); score with the config's
        config = yaml.safe_load((ROOT / "configs" / family / "gpu256.yaml").read_text())
        state["config"]["data"]["val_pairs"] = config["data"]["val_pairs"]
        (run / "checkpoints").mkdir(exist_ok=True)
        with atomic_path(run / "checkpoints" / "ema.pt") as tmp:
            torch.save(state, tmp)
        plot_curves(run)
        print(f"{family}: step {state['step']} -> {run / 'checkpoints' / 'ema.pt'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("pack", help="here: fill .device/ for the call")
    p.add_argument("--cache", type=Path, default=ROOT / "cache" / "shared")
    p = sub.add_parser("device", help="there: train both families and export their generators")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--minutes", type=float, default=3.5, help="training time per family")
    p.add_argument("overrides", nargs="*", help="KEY=VALUE for both configs")
    p = sub.add_parser("unpack", help="here: rebuild the runs from the returned files")
    p.add_argument("files", type=Path)
    p.add_argument("--runs", type=Path, default=ROOT / "runs")
    args = parser.parse_args(argv)
    if args.verb == "pack":
        pack(ROOT / ".device", args.cache)
    elif args.verb == "device":
        device(args.out, args.minutes, args.overrides)
    else:
        unpack(args.files, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
