"""Checkpoints: one plain dict of tensors and plain values, written atomically with torch.save
and read back with ``weights_only=True`` (no code is unpickled). The resolved config is stored
inside the checkpoint and as YAML beside it."""

import os
from dataclasses import asdict
from pathlib import Path

import torch
import yaml

from reenact.io.atomic import atomic_path


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
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ValueError(f"{path}: not a reenact checkpoint ({type(exc).__name__}: {first})"
                         ) from None
