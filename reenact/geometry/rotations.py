"""Rotation matrices, Euler angles and the SO(3) exponential map. Conventions: see reenact.geometry."""

import numpy as np
import torch

from reenact.geometry.fastpath import plain


def _axis_rotation(angle: torch.Tensor, axis: int) -> torch.Tensor:
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == 0:
        rows = (one, zero, zero, zero, c, -s, zero, s, c)
    elif axis == 1:
        rows = (c, zero, s, zero, one, zero, -s, zero, c)
    else:
        rows = (c, -s, zero, s, c, zero, zero, zero, one)
    return torch.stack(rows, dim=-1).reshape(*angle.shape, 3, 3)


def euler_to_matrix(angles: torch.Tensor) -> torch.Tensor:
    """(pitch, yaw, roll) in radians, (..., 3) -> rotation matrices (..., 3, 3).

    ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``.

    Example:
        >>> R = euler_to_matrix(torch.tensor([0.0, 0.5, 0.0]))
        >>> torch.allclose(matrix_to_euler(R), torch.tensor([0.0, 0.5, 0.0]))
        True
    """
    return (_axis_rotation(angles[..., 2], 2) @ _axis_rotation(angles[..., 1], 1)
            @ _axis_rotation(angles[..., 0], 0))


def matrix_to_euler(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) -> (pitch, yaw, roll) in radians, (..., 3); yaw in [-pi/2, pi/2]."""
    yaw = torch.asin((-R[..., 2, 0]).clamp(-1.0, 1.0))
    pitch = torch.atan2(R[..., 2, 1], R[..., 2, 2])
    roll = torch.atan2(R[..., 1, 0], R[..., 0, 0])
    return torch.stack([pitch, yaw, roll], dim=-1)


def _hat(w: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(w[..., 0])
    return torch.stack([zero, -w[..., 2], w[..., 1],
                        w[..., 2], zero, -w[..., 0],
                        -w[..., 1], w[..., 0], zero], dim=-1).reshape(*w.shape[:-1], 3, 3)


# Without gradients (``plain``) the per-frame poses, a few 3 x 3 matrices, take the same formulas
# in NumPy, whose per-operation cost is a fifth of torch's.
def _so3_exp_np(w: np.ndarray) -> np.ndarray:
    theta = np.linalg.norm(w, axis=-1)[..., None, None]
    zero = np.zeros_like(w[..., 0])
    K = np.stack([zero, -w[..., 2], w[..., 1], w[..., 2], zero, -w[..., 0],
                  -w[..., 1], w[..., 0], zero], -1).reshape(*w.shape[:-1], 3, 3)
    small = theta < 1e-6
    safe = np.where(small, 1.0, theta)
    a = np.where(small, 1 - theta**2 / 6, np.sin(safe) / safe)
    b = np.where(small, 0.5 - theta**2 / 24, (1 - np.cos(safe)) / safe**2)
    return np.eye(3, dtype=w.dtype) + a * K + b * (K @ K)


def _so3_log_np(R: np.ndarray) -> np.ndarray:
    cos = np.clip((np.trace(R, axis1=-2, axis2=-1) - 1) / 2, -1 + 1e-7, 1 - 1e-7)
    theta = np.arccos(cos)[..., None]
    v = np.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0],
                  R[..., 1, 0] - R[..., 0, 1]], -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(theta < 1e-6, 0.5 + theta**2 / 12, theta / (2 * np.sin(theta)))
    return v * scale


def so3_exp(w: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors (..., 3) (angle = norm, radians) -> rotation matrices (..., 3, 3)."""
    if plain(w):
        return torch.from_numpy(_so3_exp_np(w.numpy()))
    theta = w.norm(dim=-1, keepdim=True).unsqueeze(-1)  # (..., 1, 1)
    K = _hat(w)
    small = theta < 1e-6
    safe = torch.where(small, torch.ones_like(theta), theta)
    a = torch.where(small, 1 - theta**2 / 6, torch.sin(safe) / safe)
    b = torch.where(small, 0.5 - theta**2 / 24, (1 - torch.cos(safe)) / safe**2)
    eye = torch.eye(3, dtype=w.dtype, device=w.device).expand_as(K)
    return eye + a * K + b * (K @ K)


def so3_log(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) -> axis-angle vectors (..., 3), angle in [0, pi)."""
    if plain(R):
        return torch.from_numpy(_so3_log_np(R.numpy()))
    cos = ((R.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2).clamp(-1 + 1e-7, 1 - 1e-7)
    theta = torch.acos(cos).unsqueeze(-1)
    v = torch.stack([R[..., 2, 1] - R[..., 1, 2], R[..., 0, 2] - R[..., 2, 0],
                     R[..., 1, 0] - R[..., 0, 1]], dim=-1)
    scale = torch.where(theta < 1e-6, 0.5 + theta**2 / 12, theta / (2 * torch.sin(theta)))
    return v * scale


def rotation_angle_between(R1: torch.Tensor, R2: torch.Tensor) -> torch.Tensor:
    """Geodesic angle (radians) between rotations (..., 3, 3) -> (...)."""
    return so3_log(R1.transpose(-1, -2) @ R2).norm(dim=-1)


def rotation_interpolate(R0: torch.Tensor, R1: torch.Tensor, alpha: float | torch.Tensor
                         ) -> torch.Tensor:
    """Geodesic interpolation: alpha = 0 gives R0, alpha = 1 gives R1. Shapes (..., 3, 3)."""
    alpha = torch.as_tensor(alpha, dtype=R0.dtype, device=R0.device)
    if plain(R0, R1, alpha):
        r0, r1 = R0.numpy(), R1.numpy()
        w = alpha.numpy()[..., None] * _so3_log_np(np.swapaxes(r0, -1, -2) @ r1)
        return torch.from_numpy(r0 @ _so3_exp_np(w))
    return R0 @ so3_exp(alpha[..., None] * so3_log(R0.transpose(-1, -2) @ R1))
