"""When a per-frame helper may leave torch for NumPy or OpenCV: the same formulas, a fraction of
torch's per-operation cost on the small arrays of one frame."""

import numpy as np
import torch


def plain(*tensors: torch.Tensor) -> bool:
    """True for CPU tensors no gradient flows through (the fast path applies)."""
    return all(t.device.type == "cpu" and not (t.requires_grad and torch.is_grad_enabled())
               for t in tensors)


def nonzero(mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """``torch.nonzero(mask, as_tuple=True)``: the same int64 indices in the same order. On the
    CPU by NumPy's ``flatnonzero`` and a divmod per dimension: for 4 x 512 x 512 frame masks 0.3
    against 3.4 ms (torch's, and NumPy's own multi-dimensional ``nonzero``), for 400,000 flags
    1.1 against 2.1."""
    if mask.device.type != "cpu":
        return torch.nonzero(mask, as_tuple=True)
    flat = np.flatnonzero(mask.numpy())
    index = []
    for size in reversed(mask.shape[1:]):
        flat, rest = np.divmod(flat, size)
        index.append(rest)
    index.append(flat)
    return tuple(torch.from_numpy(i) for i in reversed(index))
