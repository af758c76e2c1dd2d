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


def test_resize_bilinear_takes_more_than_four_channels_a_plane_at_a_time():
    # paste-back's six or seven layers, into a channels-first result
    torch.manual_seed(0)
    for C, h, size in ((6, 256, 527), (7, 32, 100), (5, 64, 128)):
        x = torch.rand(2, C, h, h)
        want = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        got = resize_bilinear(x, size)
        assert got.shape == want.shape and got.is_contiguous()
        assert (got - want).abs().max() < 3e-5  # float rounding of OpenCV's weights (527 / 256)
