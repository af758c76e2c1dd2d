"""Paste-back's shortcuts give the picture its plain formula gives: the feather's band, the
layers upsampled by OpenCV, the bytes interleaved by OpenCV."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from reenact.geometry import euler_to_matrix
from reenact.motion.analytic import analytic_warp
from reenact.motion.paste import paste_back, paste_geometry
from reenact.pipeline import Reenactor
from reenact.render.shaders import sample_image
from reenact.tracking.crop import CropBox


@pytest.mark.parametrize("box", [CropBox(200, 150, 180), CropBox(40, 30, 150),
                                 CropBox(380, 290, 200), CropBox(200, 150, 900),
                                 CropBox(200.5, 150.25, 181.5)])
def test_the_feathers_band_holds_every_pixel_below_one_and_no_other(box):
    frame = np.zeros((300, 400, 3), np.uint8)
    geo = paste_geometry(frame, box, 256)
    below = geo.feather[0, 0] < 1
    covered = torch.zeros_like(below, dtype=torch.int64)
    for rows, cols in geo.band:
        covered[rows, cols] += 1
    assert covered.max() <= 1  # no pixel blended twice
    assert not bool((below & (covered == 0)).any())  # every pixel below 1 is in the band
    assert bool((geo.feather[0, 0][covered == 0] == 1).all())  # and off it all are 1
    # a box far larger than the frame has none below 1; the others have some
    assert bool(below.any()) == (box.side < 900)


def _plain_paste(frame, box, warp):
    """paste_back as its docstring states it: every layer upsampled by torch, the photo sampled
    through it, the feather over the whole region."""
    S = warp.overlay.shape[-1]
    geo = paste_geometry(frame, box, S)
    x0, y0, x1, y1 = geo.region
    layers = torch.cat([warp.coords_src_from_out.permute(0, 3, 1, 2), warp.overlay,
                        warp.overlay_weight], 1)
    (wy, wx), side = geo.window, round(box.side)
    up = F.interpolate(layers, size=(side, side), mode="bilinear",
                       align_corners=False)[..., wy:wy + y1 - y0, wx:wx + x1 - x0]
    coords = up[:, :2].permute(0, 2, 3, 1) * box.side / S + torch.tensor([box.x0, box.y0])
    region = torch.lerp(sample_image(geo.frame, coords), up[:, 2:5], up[:, 5:6])
    mixed = torch.lerp(geo.frame[:, :, y0:y1, x0:x1], region, geo.feather)
    out = frame.copy()
    out[y0:y1, x0:x1] = (mixed[0].permute(1, 2, 0) * 255 + 0.5).clamp(0, 255).byte().numpy()
    return out


def test_paste_back_gives_what_its_plain_formula_gives(samples):
    r = Reenactor()
    src = r.prepare_source(samples["astronaut"])
    assert src.box.whole
    R = euler_to_matrix(torch.deg2rad(torch.tensor([6.0, 22.0, 0.0], dtype=torch.float64)))[None]
    warp = analytic_warp(src.scene, r.model, src.coeffs.replace(rotation=R @ src.coeffs.rotation))
    got = paste_back(src.frame, src.box, warp).astype(int)
    want = _plain_paste(src.frame, src.box, warp).astype(int)
    diff = np.abs(got - want)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (diff.max(), (diff > 0).mean())
    assert (np.abs(got - src.frame.astype(int)).max(-1) > 8).mean() > 0.02  # the head turned
