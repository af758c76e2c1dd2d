"""Paste-back's shortcuts give the picture its plain formula gives: the feather's band, the
layers upsampled by OpenCV, the bytes interleaved by OpenCV, the pixels drawn in one compiled
pass (and the warp's crop drawn so)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import reenact.motion.paste as paste_module
from reenact.geometry import euler_to_matrix
from reenact.motion.analytic import analytic_warp
from reenact.motion.paste import _to_uint8, paste_back, paste_geometry
from reenact.pipeline import Reenactor
from reenact.render.compiled import kernels
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


def _layers(S, g, shaded):
    """A warp's layers with what the compiled pass must get right: a flow running past the
    photo's border (clamped), rows left where they are and rows moved by whole pixels under no
    overlay (on pixel centres: the pass reads the pixel, or leaves the photo's own bytes),
    overlay weights of exactly 0, 1 and 0.5 and between (both halves of torch.lerp's formula),
    a shading factor."""
    coords = torch.rand(1, S, S, 2, generator=g) * (S + 40) - 20
    n = S // 8
    ys, xs = torch.meshgrid(torch.arange(float(n)), torch.arange(float(S)), indexing="ij")
    coords[:, :n] = torch.stack([xs + 0.5, ys + 0.5], -1)
    coords[:, n:2 * n] = torch.stack([xs + 2.5, ys + n + 0.5], -1)
    weight = torch.rand(1, 1, S, S, generator=g)
    weight[..., : S // 4, :] = 0.0
    weight[..., S // 4: S // 3, :] = 1.0
    weight[..., S // 3, :] = 0.5
    return SimpleNamespace(coords_src_from_out=coords, overlay=torch.rand(1, 3, S, S, generator=g),
                           overlay_weight=weight,
                           shading=torch.rand(1, 1, S, S, generator=g) + 0.5 if shaded else None)


@pytest.mark.parametrize("box", [CropBox(40, 30, 64), CropBox(41.25, 29.5, 60.5),
                                 CropBox(10, 12, 40)])
@pytest.mark.parametrize("shaded", [False, True])
def test_the_compiled_paste_gives_torchs_pixels(monkeypatch, box, shaded):
    # paste-back's pixels in one compiled pass (reenact.render.compiled) against its torch
    # operations: bit for bit on this machine (the same float32 roundings, fused multiply-adds
    # where torch's kernels fuse them); allowed 1 level where another CPU's torch rounds a sum
    # apart
    assert kernels() is not None, "numba is a dependency: the compiled loops must load"
    g = torch.Generator().manual_seed(int(box.side * 4) + shaded)
    frame = (torch.rand(64, 128, 3, generator=g) * 255).byte().numpy()
    warp = _layers(32, g, shaded)
    fast = paste_back(frame, box, warp)
    monkeypatch.setattr(paste_module, "usable_kernels", lambda: None)
    ref = paste_back(frame, box, warp)
    assert not np.array_equal(ref, frame)
    diff = np.abs(fast.astype(int) - ref)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (diff.max(), (diff > 0).mean())
    assert np.array_equal(fast[:, 80:], frame[:, 80:])  # outside the box: the photo


def test_the_compiled_crop_gives_torchs_pixels():
    # the warp's crop, lerp(sample(photo, flow), overlay, weight), compiled: as torch's (float32,
    # to an ulp where another CPU's torch rounds a sum apart)
    g = torch.Generator().manual_seed(5)
    photo = torch.rand(1, 3, 32, 64, generator=g)
    layers = [_layers(36, g, False) for _ in range(3)]
    coords = torch.cat([w.coords_src_from_out for w in layers])
    # rows on the photo's pixel centres (a still background: the compiled pass reads the
    # pixel, torch sums it with three zero weights)
    ys, xs = torch.meshgrid(torch.arange(9.0), torch.arange(36.0), indexing="ij")
    coords[:, :9] = torch.stack([xs + 20.5, ys + 3.5], -1)
    overlay = torch.cat([w.overlay for w in layers])
    weight = torch.cat([w.overlay_weight for w in layers])
    fast = kernels().sample_over(photo[0].numpy(), coords.numpy(), overlay.numpy(), weight.numpy())
    ref = torch.lerp(sample_image(photo, coords), overlay, weight)
    torch.testing.assert_close(torch.from_numpy(fast), ref, rtol=0, atol=1e-6)
    torch.testing.assert_close(ref[:, :, :9], photo[:, :, 3:12, 20:56].expand(3, -1, -1, -1),
                               rtol=0, atol=0)  # weight 0 there: the photo's pixels


def test_the_crop_to_bytes_in_one_pass_gives_torchs_bytes(monkeypatch):
    # the crop's float pixels to interleaved bytes: compiled, and by torch and OpenCV before
    # numba loads, as (v * 255 + 0.5) clamped and truncated; on level edges and out of range too
    g = torch.Generator().manual_seed(9)
    image = torch.rand(3, 40, 56, generator=g) * 1.4 - 0.2
    image[:, :4] = (torch.arange(4 * 56).view(4, 56) / 255.0 + torch.tensor([[-1e-7], [0.0],
                    [1e-7], [0.5 / 255]]))[None]
    want = image.permute(1, 2, 0).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).numpy()
    assert kernels() is not None, "numba is a dependency: the compiled loops must load"
    fast = _to_uint8(image)
    monkeypatch.setattr(paste_module, "usable_kernels", lambda: None)
    slow = _to_uint8(image)
    for got in (fast, slow):
        assert got.flags.c_contiguous and got.shape == (40, 56, 3)
        assert np.array_equal(got, want)
    assert len(np.unique(want)) > 200


def test_the_layers_resized_one_by_one_equal_the_joined_layers_resized():
    # paste-back resizes each layer straight from its own tensor: the same bits as joining the
    # six or seven layers first, in a batch and with the shading too; a layer of another dtype
    # made float32 first, as the joined layers were
    from reenact.render.shaders import resize_bilinear, resize_planes

    g = torch.Generator().manual_seed(5)
    for B, S, side, shaded in [(1, 64, 79, False), (2, 48, 41, True)]:
        parts = [(torch.rand(B, S, S, 2, generator=g) * S).permute(0, 3, 1, 2),
                 torch.rand(B, 3, S, S, generator=g), torch.rand(B, 1, S, S, generator=g)]
        parts += [torch.rand(B, 1, S, S, generator=g) + 0.5] if shaded else []
        want = resize_bilinear(torch.cat(parts, 1).float(), side)
        got = resize_planes(parts, side)
        assert got.shape == (B, 6 + shaded, side, side) and torch.equal(got, want)
        assert not torch.equal(got[:, 0], got[:, 1])  # the flow's two planes kept apart
    parts[1] = parts[1].double()
    assert torch.equal(resize_planes([p.float() for p in parts], 60),
                       resize_bilinear(torch.cat(parts, 1).float(), 60))
