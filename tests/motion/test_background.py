"""The background round a moving head (reenact.motion.background): the photo's own pixels where it
is still, its own background stretched over what a move uncovers, never the plate's smear there."""

import cv2
import numpy as np
import pytest
import torch

from reenact.geometry import euler_to_matrix
from reenact.motion.analytic import analytic_warp
from reenact.motion.background import (
    PLATE_RAMP,
    _laplace,
    background_flow,
    background_layers,
    still_background,
)
from reenact.motion.paste import paste_back
from reenact.pipeline import Reenactor
from reenact.render.shaders import sample_image

S = 256
PERSON = (slice(60, 256), slice(40, 150))  # rows, columns of a "person" standing in the photo


def _grid() -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(S) + 0.5, torch.arange(S) + 0.5, indexing="ij")
    return torch.stack([xs, ys], -1)[None]


def _scene():
    """A photo whose background is a blue texture and whose person is red, with a green
    plate (what the old code drew where a move uncovered the background)."""
    rng = np.random.default_rng(0)
    image = torch.zeros(1, 3, S, S)
    image[0, 2] = 0.9
    image[0, :2] = torch.from_numpy(rng.uniform(0.2, 0.5, (1, S, S))).float()  # blue texture
    carried = torch.zeros(1, 1, S, S)
    carried[(0, 0, *PERSON)] = 1.0
    image[(0, slice(None), *PERSON)] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]
    plate = torch.full((1, 3, S, S), 0.1)
    plate[0, 1] = 0.9  # green
    return image, carried, plate


def _moved(dx: float):
    """The warp's flow with everything moved dx pixels right, the border pinned (as the head
    extension pins it)."""
    coords = _grid().clone()
    ramp = torch.clamp(torch.minimum(_grid()[..., 0], S - _grid()[..., 0]) / 20, 0, 1)
    coords[..., 0] -= dx * ramp
    return coords


def _composite(image, carried, plate, coords):
    person = sample_image(carried, coords)
    out, overlay, weight = background_layers(still_background(image, carried, plate), coords,
                                             person)
    return torch.lerp(sample_image(image, out), overlay, weight), out, person


def test_a_still_photo_keeps_every_background_pixel():
    image, carried, plate = _scene()
    shown, out, _ = _composite(image, carried, plate, _grid())
    assert (out - _grid()).abs().max() < 1e-4
    background = carried[0, 0] == 0
    assert (shown - image).abs().amax(1)[0][background].max() < 1e-4


def test_an_uncovered_band_shows_the_photos_background_not_the_plate():
    image, carried, plate = _scene()
    shown, out, person = _composite(image, carried, plate, _moved(30.0))
    # the band the person left: rows of the person, columns 45-65 (it now starts at 70)
    band = (slice(80, 240), slice(45, 65))
    colour = shown[(0, slice(None), *band)].mean((1, 2))
    assert colour[2] > 0.75  # the blue background: not the green plate (the old code drew it
    assert colour[1] < 0.5 and colour[0] < 0.5  # here) nor the red person
    # the background far from the person stays where it was
    far = (slice(0, 40), slice(200, 256))
    assert (out[(0, *far)] - _grid()[(0, *far)]).abs().max() < 1e-4
    # the sheet is smooth: no jump between neighbouring background pixels
    band = cv2.dilate((person[0, 0] > 0.02).numpy().astype(np.uint8), np.ones((9, 9), np.uint8))
    free = torch.from_numpy(band == 0)  # clear of the person's edge band (its own flow)
    step = (out[0, :, 1:] - out[0, :, :-1]).norm(dim=-1)
    assert step[free[:, 1:] & free[:, :-1]].max() < 3.0


def test_the_ring_round_a_moved_person_shows_the_photo_at_crop_resolution():
    """Beside the person's edge the background comes in the overlay: the photo's own pixels
    where the background's flow lands, not a blurred copy (it was looked up at half the crop's
    size and upsampled, a soft halo round the hair while the sheet was on)."""
    image, carried, plate = _scene()
    coords = _moved(30.0)
    person = sample_image(carried, coords)
    still = still_background(image, carried, plate)
    _, overlay, weight = background_layers(still, coords, person)
    ring = (weight[0, 0] > 0.99) & (person[0, 0] < 0.01)  # beside the person: all overlay
    assert ring.sum() > 200
    # the background's texture is per-pixel noise: neighbours in a blurred copy differ far less
    blue = ring & (overlay[0, 2] > 0.85) & (overlay[0, 1] < 0.6)  # the background, no plate
    pairs = blue[:, 1:] & blue[:, :-1]
    assert pairs.sum() > 100
    step = (overlay[0, 0, :, 1:] - overlay[0, 0, :, :-1]).abs()[pairs].mean()
    photo = (image[0, 0, :, 1:] - image[0, 0, :, :-1]).abs()[(carried[0, 0] == 0)[:, 1:]].mean()
    assert step > 0.5 * photo  # 0.12 of it before


def test_a_small_move_leaves_the_background_alone():
    _, carried, _ = _scene()
    coords = _moved(2.0)
    cells = ((torch.arange(32) + 0.5) * S / 32).long()
    flow = coords[:, cells][:, :, cells][0].numpy()
    low = torch.nn.functional.interpolate(carried, size=(32, 32), mode="area")[0, 0].numpy()
    assert background_flow(low, flow, sample_image(carried, coords)[0, 0].numpy(), S) is None
    assert background_flow(low, _moved(30.0)[:, cells][:, :, cells][0].numpy(),
                           sample_image(carried, _moved(30.0))[0, 0].numpy(), S) is not None


def test_the_membrane_between_two_walls_is_a_ramp():
    values = np.zeros((5, 9, 1))
    values[:, -1] = 8.0
    known = np.zeros((5, 9), dtype=bool)
    known[:, 0] = known[:, -1] = True
    got = _laplace(values, known)[..., 0]
    np.testing.assert_allclose(got, np.tile(np.arange(9.0), (5, 1)), atol=1e-9)


def test_the_membrane_solves_the_grid_laplacian():
    # against a dense solve of the 4-neighbour grid Laplacian: scattered known pixels, a hole,
    # and pixels with no neighbour off the grid on one side
    rng = np.random.default_rng(0)
    h, w = 12, 17
    known = rng.random((h, w)) < 0.4
    known[3:9, 4:13] = False
    values = rng.normal(size=(h, w, 2))
    L = np.zeros((h * w, h * w))
    for y in range(h):
        for x in range(w):
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                if 0 <= y + dy < h and 0 <= x + dx < w:
                    L[y * w + x, y * w + x] += 1
                    L[y * w + x, (y + dy) * w + x + dx] = -1
    u, k = ~known.ravel(), known.ravel()
    flat = values.reshape(-1, 2)
    want = flat.copy()
    want[u] = np.linalg.solve(L[u][:, u], -L[u][:, k] @ flat[k])
    np.testing.assert_allclose(_laplace(values, known).reshape(-1, 2), want, atol=1e-10)


@pytest.fixture(scope="module")
def astronaut(samples):
    r = Reenactor()  # the photo at twice its size: finer than the 256 pixel crop
    big = cv2.resize(samples["astronaut"], None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    return r, r.prepare_source(big, "astronaut")


def test_pasted_background_is_the_photos_own_at_full_resolution(astronaut):
    """The crop is 256 pixels across and the photo's face box wider: the still background round
    the head used to be the crop-resolution plate, a soft square in the pasted photo."""
    r, src = astronaut
    assert src.box.side > 1.2 * src.scene.size  # the photo is finer than the crop
    R = euler_to_matrix(torch.deg2rad(torch.tensor([0.0, 8.0, 0.0], dtype=torch.float64)))[None]
    warp = analytic_warp(src.scene, r.model, src.coeffs.replace(rotation=R @ src.coeffs.rotation))
    out = paste_back(src.frame, src.box, warp).astype(int)
    # background pixels of the crop well away from the person
    k = src.scene.size / src.box.side
    H, W = src.frame.shape[:2]
    ys, xs = np.mgrid[0:H, 0:W]
    cx = ((xs + 0.5 - src.box.x0) * k).astype(int)
    cy = ((ys + 0.5 - src.box.y0) * k).astype(int)
    inside = (cx >= 8) & (cx < src.scene.size - 8) & (cy >= 8) & (cy < src.scene.size - 8)
    carried = src.scene.carried[0, 0].numpy()
    clear = np.zeros_like(inside)
    clear[inside] = carried[cy[inside], cx[inside]] == 0
    far = cv2.erode(clear.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert far.sum() > 500
    diff = np.abs(out - src.frame.astype(int)).max(-1)[far]
    assert np.mean(diff <= 1) > 0.97


@pytest.mark.parametrize("dx", [0.0, 2.0, 30.0])
def test_compiled_selects_equal_torchs(monkeypatch, dx):
    # background_layers' last step runs compiled (reenact.render.compiled) on the CPU, the
    # colours of the ring round a person moved off its background (a sheet) included; the torch
    # lerps and samples it replaces are the reference, bit for bit, with and without a sheet and
    # in a batch where only some frames have one
    import reenact.motion.background as module

    image, carried, plate = _scene()
    # a soft edge, as a segmentation gives: the ring's colours mix the photo and the plate there
    carried = torch.from_numpy(cv2.GaussianBlur(carried[0, 0].numpy(), (0, 0), 3.0))[None, None]
    coords = torch.cat([_moved(dx), _moved(dx / 2), _moved(0.0)])  # a batch of three
    person = sample_image(carried.expand(3, -1, -1, -1), coords)
    still = still_background(image, carried, plate)
    assert module.usable_kernels() is not None
    fast = background_layers(still, coords, person)
    mine = coords.clone()  # the flow written over the caller's, read pixel by pixel before
    over = background_layers(still, mine, person, overwrite=True)
    assert over[0].data_ptr() == mine.data_ptr()
    monkeypatch.setattr(module, "usable_kernels", lambda: None)
    ref = background_layers(still, coords, person)
    for got in (fast, over):
        for a, b in zip(got, ref, strict=True):
            assert a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)
    if dx == 30.0:  # the first two frames have a sheet: the ring shows the photo and the plate
        ring = (ref[1][:2] != still.behind).any(1)
        mixed = ((still.source[0, 3] > PLATE_RAMP[0]) & (still.source[0, 3] < PLATE_RAMP[1]))
        assert int(ring.sum()) > 100 and int(mixed.sum()) > 100
