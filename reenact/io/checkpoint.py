"""Checkpoints: one plain dict of tensors and plain values, written atomically with torch.save
and read back with ``weights_only=True`` (no code is unpickled). The resolved config is stored
inside the checkpoint and as YAML beside it."""

import os
from dataclasses import asdict
from pathlib import Path

import torch
import yaml

from reenact.io.atomic import atomic_path
from reenact.io.weights import load_weights


def save_checkpoint(path: str | os.PathLike, config, **state) -> None:
    """Write ``{"config": asdict(config), name: state_dict or tensor or number, ...}``."""
    path = Path(path)
    payload = {"config": asdict(config)}
    for name, value in state.items():
        payload[name] = value.state_dict() if hasattr(value, "state_dict") else value
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    with atomic_path(path.with_suffix(".yaml")) as tmp:
        tmp.write_text(yaml.safe_dump(payload["config"], sort_keys=False))


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by ``save_checkpoint`` (tensors and plain values only)."""
    return load_weights(path, "reenact checkpoint")
