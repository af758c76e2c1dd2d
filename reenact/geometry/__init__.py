"""Pure, batched geometry functions in torch: rotations, Procrustes, projection, Laplacians.

Conventions used everywhere in reenact (referred to from docstrings as "see reenact.geometry"):

- **Image space**: pixels, x to the right, y down, origin at the top-left corner of the top-left
  pixel (pixel (i, j) covers [j, j+1) x [i, i+1), its centre is at (j + 0.5, i + 0.5)).
  Depth z points away from the camera (into the screen), in the same pixel units, so (x, y, z) is a
  right-handed frame like OpenCV's camera frame. Smaller z is closer to the camera.
- **Camera**: weak perspective (scaled orthographic): a head-frame point X maps to image space as
  ``verts_img = scale * R_img_from_head @ X + translation``; its pixel is ``verts_img[..., :2]``.
- **Head frame** ("canonical"): the same axes as image space when the face looks straight at the
  camera: x towards the subject's left (image right), y down (chin), z towards the back of the head.
  Unit: the face model's mean shape has an inter-ocular distance (outer eye corners) of 1.
- **Euler angles** (pitch, yaw, roll), in radians in functions and degrees in user-facing output:
  ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)``. Positive yaw turns the nose towards image left, positive
  pitch tilts the nose down, positive roll tilts the head clockwise in the image.
- **Colour**: RGB, float images in [0, 1] as (B, 3, H, W); uint8 (H, W, 3) at the I/O edges.
- **Flow**: a backward flow maps each output pixel to the source position it samples, stored as
  absolute pixel coordinates (B, H, W, 2) in (x, y) order, named ``coords_src_from_out``.
"""

import functools

import torch

from reenact.geometry.procrustes import umeyama
from reenact.geometry.rotations import (
    euler_to_matrix,
    matrix_to_euler,
    rotation_angle_between,
    rotation_interpolate,
    so3_exp,
    so3_log,
)

__all__ = [
    "euler_to_matrix",
    "matrix_to_euler",
    "rotation_angle_between",
    "rotation_interpolate",
    "so3_exp",
    "so3_log",
    "umeyama",
]


@functools.cache
def pixel_centres(S: int, dtype: torch.dtype) -> torch.Tensor:
    """(1, S, S, 2) the (x, y) image-space coordinates of an S x S image's pixel centres. Cached
    and shared: do not write to it."""
    ys, xs = torch.meshgrid(torch.arange(S, dtype=dtype) + 0.5, torch.arange(S, dtype=dtype) + 0.5,
                            indexing="ij")
    return torch.stack([xs, ys], -1)[None]
