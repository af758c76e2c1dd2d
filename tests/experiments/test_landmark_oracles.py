"""experiments/landmark_oracles.py: its composites and table arithmetic on made-up images (no
tracker)."""

import numpy as np
import pytest
import torch

from reenact.face.topology import landmark_topology
from reenact.losses.parts import PARTS
from tests.experiments import load_experiment
from tests.losses.test_parts import _landmarks

pytestmark = pytest.mark.slow  # an experiment's arithmetic: not in the default suite


@pytest.fixture(scope="module")
def oracles():
    return load_experiment("landmark_oracles")


@pytest.fixture(scope="module")
def images(oracles):
    g = torch.Generator().manual_seed(0)
    warp, frame = torch.rand(2, 3, 64, 64, generator=g), torch.rand(2, 3, 64, 64, generator=g)
    lm = _landmarks(64).repeat(2, 1, 1)
    return warp, frame, lm, oracles.composites(warp, frame, lm)


def _row(out, start):
    return next(v for k, v in out.items() if k.startswith(start))


def test_the_pastes_add_up(images):
    warp, frame, _, out = images
    assert torch.equal(out["the driving frame"], frame)
    face, rest = out["face (landmark mesh)"], out["background (outside the face)"]
    torch.testing.assert_close(face + rest, warp + frame)  # complementary masks
    detail, shading = _row(out, "face detail"), _row(out, "face shading")
    torch.testing.assert_close(detail + shading - warp, face)  # detail + shading = the face
    assert not torch.allclose(detail, face) and not torch.allclose(shading, warp)


def test_the_face_and_parts_pastes_stay_where_they_belong(images):
    warp, frame, lm, out = images
    corner = (slice(None), slice(None), slice(0, 3), slice(0, 3))  # no face there
    for name in ("face (landmark mesh)", "eyes and mouth (parts loss mask)"):
        torch.testing.assert_close(out[name][corner], warp[corner])
    regions = landmark_topology().regions
    for part in PARTS:  # each part's centre comes from the frame
        x, y = lm[0, regions[part], :2].mean(0).round().long().tolist()
        torch.testing.assert_close(out["eyes and mouth (parts loss mask)"][0, :, y, x],
                                   frame[0, :, y, x], atol=0.02, rtol=0)
    tip = lm[0, regions["nose"], :2].mean(0).round().long().tolist()  # the nose is not a part
    torch.testing.assert_close(out["eyes and mouth (parts loss mask)"][0, :, tip[1], tip[0]],
                               warp[0, :, tip[1], tip[0]])


def test_blur_and_sharpen_change_only_the_detail(images, oracles):
    warp, _, _, out = images

    def energy(x):
        return float((x[..., 1:] - x[..., :-1]).abs().mean())

    blurred, sharpened = _row(out, "warp blurred"), _row(out, "warp sharpened")
    assert energy(blurred) < energy(warp) < energy(sharpened)
    for x in (blurred, sharpened):
        assert float(x.mean()) == pytest.approx(float(warp.mean()), abs=0.01)
    flat = torch.full((1, 3, 8, 8), 0.3)
    torch.testing.assert_close(oracles.gaussian_blur(flat, 2.0), flat)


def test_change_row_is_mean_and_standard_error_over_measured_pairs(oracles):
    base = {k: np.array([1.0, 1.0, 1.0]) for k in oracles.COLUMNS}
    rows = {k: np.array([1.1, 1.3, np.nan]) for k in oracles.COLUMNS}
    rows["psnr_face"] = np.array([np.inf, 2.0, 4.0])  # a pasted frame is infinitely close
    line = oracles.change_row("x", rows, base)
    cells = line.strip("| ").split(" | ")
    assert cells[0] == "x"
    assert cells[1] == "+2.00 +- 1.00"  # PSNR over the two finite pairs: +1, +3
    assert cells[2] == "+0.2000 +- 0.1000"  # AKD over the two tracked pairs: +0.1, +0.3
    rows["akd"] = np.array([np.nan, 1.2, np.nan])
    assert oracles.change_row("x", rows, base).split(" | ")[2] == "n/a"


def test_figure_has_a_panel_per_column_and_pick(images, oracles):
    warp, _, _, out = images
    picture = oracles.figure(warp, out, (1, 0))
    side = oracles.SIDE
    assert picture.shape == (28 + 2 * side, (1 + len(oracles.FIGURE)) * side, 3)
    assert picture.dtype == np.uint8
    panel = picture[28:28 + side, side:2 * side]  # pick 1's driving frame, enlarged
    expected = (out["the driving frame"][1].permute(1, 2, 0).numpy() * 255).round()
    assert np.abs(panel[::3, ::3].astype(float) - expected).max() <= 1
