"""A `reenact train` process killed outright (SIGKILL, no chance to clean up) resumes from its
last checkpoint, and the run ends with the same losses and weights as one never interrupted."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "meshgcn" / "tiny.yaml"
STEPS = 8


def _command(cache: str, out: Path) -> list[str]:
    overrides = {"data.cache": cache, "data.videos": "null", "data.batch_size": 2,
                 "data.workers": 0, "data.val_pairs": 0, "run.out": out, "run.steps": STEPS,
                 "run.log_every": 1, "run.image_every": 100, "run.checkpoint_every": 2,
                 "run.val_every": 100, "run.threads": 1, "run.select": "null",
                 "run.calibrate": "null"}
    return [sys.executable, "-m", "reenact.cli", "train", "-c", str(CONFIG),
            *(f"{k}={v}" for k, v in overrides.items())]


def _train_rows(out: Path) -> dict[int, dict]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: {k: v for k, v in r.items() if k != "images_per_s"}
            for r in rows if r["kind"] == "train"}


def _logged_step(out: Path) -> int:
    try:
        return max(_train_rows(out), default=0)
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet, or mid-line
        return 0


@pytest.mark.slow  # a training run of its own (make test-slow)
def test_a_killed_run_resumes_exactly(tiny_cache, tmp_path):
    from reenact.io.checkpoint import load_checkpoint

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = subprocess.run(_command(tiny_cache, straight), capture_output=True, text=True,
                          timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stderr[-2000:]

    # kill once step 3 is logged: the step-2 checkpoint is on disk, and the run is mid-way
    proc = subprocess.Popen(_command(tiny_cache, killed), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 300
    while _logged_step(killed) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if not running:
        pytest.fail(f"the run ended (exit {proc.returncode}) before it could be killed")
    assert proc.returncode == -signal.SIGKILL
    at_kill = load_checkpoint(killed / "checkpoints" / "last.pt")["step"]
    assert 2 <= at_kill < STEPS, at_kill

    done = subprocess.run(_command(tiny_cache, killed), capture_output=True, text=True,
                          timeout=300, check=False, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = _train_rows(straight), _train_rows(killed)
    assert sorted(a) == sorted(b) == list(range(1, STEPS + 1))  # no step twice, none lost
    for step in range(1, STEPS + 1):
        assert a[step] == b[step], step
    sa = load_checkpoint(straight / "checkpoints" / "last.pt")
    sb = load_checkpoint(killed / "checkpoints" / "last.pt")
    assert sa["step"] == sb["step"] == STEPS
    for part in ("model",):
        for k, v in sa[part].items():
            assert torch.equal(v, sb[part][k]), k
    for k, v in sa["train"]["generator"].items():
        assert torch.equal(v, sb["train"]["generator"][k]), k
