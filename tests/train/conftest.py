"""Training test helpers (the tiny cache fixture is in tests/conftest.py)."""


def tiny_setup(family: str, cache: str, out, **overrides):
    """configs/<family>/tiny.yaml shrunk to a test: batch 2, no held-out validation pairs, no
    best.pt and no calibration (tests ask for them)."""
    from pathlib import Path

    from reenact.train.setup import load_setup

    config = Path(__file__).resolve().parents[2] / "configs" / family / "tiny.yaml"
    items = {"data.cache": cache, "data.videos": "null", "data.batch_size": 2,
             "data.workers": 0, "data.val_pairs": 0, "run.out": str(out), "run.steps": 4,
             "run.log_every": 1, "run.image_every": 100, "run.checkpoint_every": 2,
             "run.val_every": 100, "run.threads": 1, "run.select": "null",
             "run.calibrate": "null", **overrides}
    return load_setup(config, [f"{k}={v}" for k, v in items.items()])
