"""Reading weight files safely: ``torch.load(weights_only=True)`` (tensors and plain containers
only, no code is unpickled), with one-line errors that name the file."""

import os
import re
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
        raise ValueError(f"{path}: not a {what} ({_reason(exc)})") from None


def _reason(exc: Exception) -> str:
    """What is wrong with the file, in one line. torch's own message for a file that is not
    weights-only advises loading it with weights_only=False, which runs any code the file holds:
    we never suggest that, so only its diagnosis (an unsupported global, a bad opcode) is kept."""
    text = str(exc)
    found = re.search(r"WeightsUnpickler error:\s*(.+?)(?: was not an allowed global|\. Please|\n\n|$)",
                      text, re.DOTALL)
    if "Weights only load failed" in text:
        why = " ".join(found.group(1).split()) if found else "objects other than tensors"
        return f"{why[:160]}; only files of tensors and plain containers are read, no code"
    first = (text.strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {first}"
