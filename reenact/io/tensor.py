"""numpy uint8 images <-> float tensors."""

import numpy as np
import torch


def image_to_tensor(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (1, 3, H, W) float32 in [0, 1]."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) uint8, got {image.shape} {image.dtype}")
    t = torch.from_numpy(np.array(image, copy=True)).to(device)  # decoded frames may be read-only
    return t.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def tensor_to_image(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) float in [0, 1] -> (H, W, 3) uint8 RGB."""
    if tensor.ndim == 4:
        if tensor.shape[0] != 1:
            raise ValueError(f"expected a batch of one, got {tuple(tensor.shape)}")
        tensor = tensor[0]
    out = tensor.detach().clamp(0, 1).mul(255.0).round_().to(torch.uint8)
    return out.permute(1, 2, 0).cpu().numpy()
