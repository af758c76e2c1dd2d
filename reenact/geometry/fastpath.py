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
    return unravel(torch.from_numpy(np.flatnonzero(mask.numpy())), mask.shape)


def unravel(flat: torch.Tensor, shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
    """Flat int64 indices into a C-ordered array of ``shape`` -> one index tensor per dimension
    (``np.unravel_index``'s, by a NumPy divmod per dimension: torch's took three times as long)."""
    if flat.device.type != "cpu":
        index = []
        for size in reversed(shape[1:]):
            index.append(flat.remainder(size))
            flat = flat.div(size, rounding_mode="floor")
        return (flat, *reversed(index))
    flat, index = flat.numpy(), []
    for size in reversed(shape[1:]):
        flat, rest = np.divmod(flat, size)
        index.append(rest)
    index.append(flat)
    return tuple(torch.from_numpy(i) for i in reversed(index))
