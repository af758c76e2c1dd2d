"""Reading weight files safely: ``torch.load(weights_only=True)`` (tensors and plain containers
only, no code is unpickled), with one-line errors that name the file."""

import os
from pathlib import Path

import torch


def load_weights(path: str | os.PathLike, what: str = "weight file") -> dict:
    """The dict stored in ``path``.

    Raises:
        FileNotFoundError: no such file (the message says what was expected).
        ValueError: not a weights-only file (a pickle with code, a foreign format, a bad file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file for the user
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ValueError(f"{path}: not a {what} ({type(exc).__name__}: {first})") from None
