"""Shaders' helpers (reenact.render.shaders)."""

import torch
import torch.nn.functional as F

from reenact.render.shaders import resize_bilinear


def test_resize_bilinear_is_torchs_half_pixel_bilinear():
    torch.manual_seed(0)
    for C, h, size in ((1, 32, 256), (2, 16, 64), (3, 128, 256), (4, 64, 200)):
        x = torch.rand(2, C, h, h)
        want = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        got = resize_bilinear(x, size)
        assert got.shape == want.shape
        assert (got - want).abs().max() < 1e-5
