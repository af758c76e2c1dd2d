"""When a per-frame helper may leave torch for NumPy or OpenCV: the same formulas, a fraction of
torch's per-operation cost on the small arrays of one frame."""

import torch


def plain(*tensors: torch.Tensor) -> bool:
    """True for CPU tensors no gradient flows through (the fast path applies)."""
    return all(t.device.type == "cpu" and not (t.requires_grad and torch.is_grad_enabled())
               for t in tensors)
