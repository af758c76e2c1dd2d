"""Per-triangle measures in the image plane."""

import torch


def signed_area(corners: torch.Tensor) -> torch.Tensor:
    """Signed area of 2D triangles: (..., 3, >=2) corner coordinates -> (...). Positive when the
    corners turn clockwise on screen (counter-clockwise in x-right, y-down maths axes).

    Example:
        >>> signed_area(torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]]))
        tensor(2.)
    """
    e1 = corners[..., 1, :2] - corners[..., 0, :2]
    e2 = corners[..., 2, :2] - corners[..., 0, :2]
    return 0.5 * (e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0])
