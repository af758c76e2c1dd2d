"""Properties of the analytic warp: the background stays put, the head carries its hair, the
an opening mouth gets an interior (the revealed cheek: test_completion.py)."""

import dataclasses
import pickle

import numpy as np
import pytest
import torch

from reenact.face import REGION
from reenact.geometry import euler_to_matrix
from reenact.motion.analytic import analytic_warp
from reenact.motion.eyes import closed_weight
from reenact.motion.paste import paste_back
from reenact.pipeline import Reenactor


@pytest.fixture(scope="module")
def astronaut(samples):
    r = Reenactor()
    return r, r.prepare_source(samples["astronaut"], "astronaut")


def _turn(src, yaw_deg=20.0, pitch_deg=0.0):
    R = euler_to_matrix(torch.deg2rad(torch.tensor([pitch_deg, yaw_deg, 0.0],
                                                   dtype=torch.float64)))[None]
    return src.coeffs.replace(rotation=R @ src.coeffs.rotation)


def test_identity_pose_is_the_identity_flow(astronaut):
    r, src = astronaut
    w = analytic_warp(src.scene, r.model, src.coeffs)
    S = src.scene.size
    ys, xs = torch.meshgrid(torch.arange(S) + 0.5, torch.arange(S) + 0.5, indexing="ij")
    err = (w.coords_src_from_out[0] - torch.stack([xs, ys], -1)).norm(dim=-1)
    assert err.max() < 0.05
    # and the face shows the photo's own pixels, not the completed texture
    face = w.face_mask[0]
    assert w.overlay_weight[0, 0][face].mean() < 0.02
    assert (w.image[0] - src.scene.image[0].float()).abs().amax(0)[face].mean() < 2 / 255


def test_turning_the_head_moves_the_hair_but_not_the_border(astronaut):
    r, src = astronaut
    w = analytic_warp(src.scene, r.model, _turn(src))
    S = src.scene.size
    ys, xs = torch.meshgrid(torch.arange(S) + 0.5, torch.arange(S) + 0.5, indexing="ij")
    flow = (w.coords_src_from_out[0] - torch.stack([xs, ys], -1)).norm(dim=-1)
    border = torch.zeros(S, S, dtype=torch.bool)
    border[:3], border[-3:], border[:, :3], border[:, -3:] = True, True, True, True
    # The frame is pinned (the background stays put); the paste-back feathers the outer 6%.
    assert flow[border].max() < 1.5 and flow[border].mean() < 0.5
    # Hair just above the forehead moves with the head: the same way as the forehead, and (as it
    # lies further back, nearer the turning axis) a good part as far.
    top = src.scene.verts[0, 10, :2]  # forehead top vertex
    forehead = w.verts[0, 10, :2] - top  # forward motion of the forehead
    hx, hy = int(top[0]), int(top[1] - 0.04 * S)
    pix = torch.stack([xs, ys], -1)[hy, hx]
    hair = pix - w.coords_src_from_out[0, hy, hx]  # forward motion of the hair pixel
    assert forehead.norm() > 2.0
    assert torch.dot(hair.double(), forehead.double()) > 0.3 * forehead.norm() ** 2
    assert torch.isfinite(w.image).all() and w.image.min() >= 0 and w.image.max() <= 1


def test_opening_mouth_gets_an_interior(astronaut):
    r, src = astronaut
    head = r.model.head_vertices(src.coeffs.identity, src.coeffs.expression).clone()
    lower = torch.from_numpy(np.r_[r.model.topology.regions["inner_lip"]])
    below = head[0, lower, 1] > head[0, 13, 1]
    offset = torch.zeros_like(head)
    offset[0, lower[below], 1] = 0.25  # drop the lower inner lip by a quarter eye distance
    w = analytic_warp(src.scene, r.model,
                      src.coeffs.replace(expression=src.coeffs.expression + offset.reshape(1, -1)))
    p2f = w.fragments.pix_to_face[0]
    region = torch.from_numpy(r.model.topology.triangle_region)
    mouth = w.face_mask[0] & (region[p2f.clamp(min=0)] == REGION["mouth"])
    assert mouth.sum() > 50
    assert w.overlay_weight[0, 0][mouth].mean() > 0.5  # synthesised, not smeared lip pixels


def test_telea_plate_ignores_what_ran_before():
    """Training renders use the Telea plate: the same image gives the same plate whatever native
    code ran in between (shift-map's result can change after scipy's Delaunay)."""
    import cv2
    import numpy as np
    import skimage.data
    import torch
    from scipy.spatial import Delaunay

    from reenact.motion.scene import _background_plate

    rgb = cv2.resize(skimage.data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    image = torch.from_numpy(rgb).permute(2, 0, 1)[None].double() / 255  # (1, 3, 128, 128)
    person = np.zeros((128, 128), np.float32)
    person[30:110, 35:95] = 1.0
    shiftmap = _background_plate(image, person)
    telea = _background_plate(image, person, "telea")
    Delaunay(np.random.default_rng(0).random((20, 2)))  # native code known to disturb shift-map
    assert torch.equal(_background_plate(image, person, "telea"), telea)
    assert not torch.equal(telea, shiftmap)  # the method is a real switch


def test_plate_leaves_no_ghost_of_the_outline():
    """Fly-away hair just past the segmented person (low person probability) is inpainted in the
    background plate too, so a head that moves away leaves no ghost of its old outline."""
    from reenact.motion.scene import _background_plate, _halo

    S = 128
    ys, xs = np.mgrid[:S, :S] + 0.5
    r = np.hypot(xs - S / 2, ys - S / 2)
    rgb = np.tile(np.array([0.2, 0.6, 0.2], np.float32), (S, S, 1))
    rgb[r < 40] = (0.1, 0.05, 0.05)  # the person
    ring = (r > 41) & (r < 43)
    rgb[ring] = (0.1, 0.05, 0.05)  # fly-away hair the segmentation misses
    person = np.clip(40.5 - r, 0, 1).astype(np.float32)
    image = torch.from_numpy(rgb).permute(2, 0, 1)[None].double()
    plate = _background_plate(image, _halo(person), "telea")[0].permute(1, 2, 0).numpy()
    assert np.abs(plate[ring] - rgb[0, 0]).max(1).mean() < 0.1  # background there, not hair
    far = r > 55
    assert np.abs(plate[far] - rgb[far]).max() < 1e-6  # the background itself is untouched


def test_a_whole_boxs_paste_back_upsamples_as_the_general_path_samples(astronaut):
    # a photo's crop box has whole-pixel corners and side (CropBox.snapped): paste-back upsamples
    # the warp's layers by F.interpolate, which must give the picture that sampling them at each
    # full-resolution pixel gives (the path of any other box)
    r, src = astronaut
    assert src.box.whole
    warp = analytic_warp(src.scene, r.model, _turn(src, 25.0, 8.0))
    off = dataclasses.replace(src.box, cx=src.box.cx + 1e-9)  # the same box, not whole
    assert not off.whole
    fast = paste_back(src.frame, src.box, warp).astype(int)
    general = paste_back(src.frame, off, warp).astype(int)
    diff = np.abs(fast - general)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3, (diff.max(), (diff > 0).mean())
    assert (np.abs(fast - src.frame.astype(int)).max(-1) > 8).mean() > 0.02  # the head did turn


def test_a_crop_drawn_when_read_equals_one_drawn_at_once(astronaut):
    r, src = astronaut
    c = _turn(src, 25.0)  # a turn (the rim's fade) with the right eye closed (the lid strips)
    head = r.model.head_vertices(c.identity, c.expression)[0].clone()
    upper = [246, 161, 160, 159, 158, 157, 173]  # as test_mouth_and_eyes closes it
    head[upper, 1] += 0.85 * (head[145, 1] - head[159, 1])
    c = c.replace(expression=head.reshape(1, -1) - c.identity)
    assert closed_weight(r.model, src.coeffs, c)[0, 0] > 0.5
    now = analytic_warp(src.scene, r.model, c)
    later = analytic_warp(src.scene, r.model, c, draw_later=True)
    assert "_image" in later.__dict__ and callable(later.__dict__["_image"])  # not drawn yet
    torch.testing.assert_close(later.overlay, now.overlay, rtol=0, atol=0)
    copied = pickle.loads(pickle.dumps(later))  # pickling draws it: no function travels
    assert isinstance(copied.__dict__["_image"], torch.Tensor)
    torch.testing.assert_close(later.image, now.image, rtol=0, atol=0)
    assert later.image is later.image  # drawn once
    torch.testing.assert_close(copied.image, now.image, rtol=0, atol=0)
    replaced = dataclasses.replace(later, image=now.image * 0)
    assert float(replaced.image.abs().max()) == 0.0


def test_frames_warped_in_one_batch_equal_frames_warped_one_at_a_time(astronaut):
    # the frame path warps a file's frames several at a time (reenact.pipeline.warp_batch): each
    # must come out bit for bit as alone, whatever the others show (a turn, a mouth opened with
    # the driver's interior, a closed eye, a head moved off its background)
    from reenact.face.base import FaceCoefficients
    from reenact.motion.analytic import warp_frames
    from reenact.pipeline import _batched

    r, src = astronaut
    head = r.model.head_vertices(src.coeffs.identity, src.coeffs.expression)[0]
    lower = torch.from_numpy(np.r_[r.model.topology.regions["inner_lip"]])
    opened = head.clone()
    opened[lower[opened[lower, 1] > opened[13, 1]], 1] += 0.25
    shut = head.clone()
    upper = [246, 161, 160, 159, 158, 157, 173]
    shut[upper, 1] += 0.85 * (shut[145, 1] - shut[159, 1])
    moved = src.coeffs.replace(translation=src.coeffs.translation + torch.tensor(
        [[40.0, 10.0, 0.0]], dtype=src.coeffs.translation.dtype))  # crop pixels
    nudged = src.coeffs.translation + torch.tensor([[4.0, 2.0, 0.0]], dtype=moved.scale.dtype)
    frames = [moved, src.coeffs.replace(expression=opened.reshape(1, -1) - src.coeffs.identity,
                                        translation=nudged),  # too little for a sheet
              src.coeffs.replace(expression=shut.reshape(1, -1) - src.coeffs.identity),
              _turn(src, 25.0)]
    mouths = [None, (torch.rand(1, 3, 24, 48, generator=torch.Generator().manual_seed(0)),
                     torch.tensor([0.8])), None, None]
    batch = warp_frames(analytic_warp(src.scene, r.model, FaceCoefficients.cat(frames),
                                      driver_mouth=_batched(mouths), draw_later=True))
    assert len(batch) == 4
    for c, mouth, together in zip(frames, mouths, batch, strict=True):
        alone = analytic_warp(src.scene, r.model, c, driver_mouth=mouth)
        for name in ("image", "coords_src_from_out", "overlay", "overlay_weight", "face_mask"):
            torch.testing.assert_close(getattr(together, name), getattr(alone, name), rtol=0,
                                       atol=0, msg=name)
        torch.testing.assert_close(together.coeffs.rotation, alone.coeffs.rotation, rtol=0,
                                   atol=0)
        torch.testing.assert_close(together.fragments.bary, alone.fragments.bary, rtol=0, atol=0)


def test_the_compiled_cover_is_torchs_sample_with_the_face_whole():
    # the moved person's cover: what the photo carries (its fourth channel) sampled through the
    # flow as sample_image samples it, 1 under the face (not sampled there); bit for bit here,
    # an ulp allowed where another CPU's torch rounds a sum apart
    from reenact.render.compiled import kernels
    from reenact.render.shaders import sample_image

    g = torch.Generator().manual_seed(11)
    source = torch.rand(1, 4, 30, 50, generator=g)
    coords = torch.rand(2, 24, 24, 2, generator=g) * torch.tensor([60.0, 40.0]) - 5
    coords[:, :4] = torch.stack(torch.meshgrid(torch.arange(24.0) + 10.5, torch.arange(4.0) + 2.5,
                                               indexing="xy"), -1)  # on pixel centres
    pix_to_face = torch.randint(-3, 3, (2, 24, 24), generator=g).clamp(min=-1)
    want = sample_image(source[:, 3:], coords)
    want[:, 0][pix_to_face >= 0] = 1.0
    assert kernels() is not None, "numba is a dependency: the compiled loops must load"
    got = torch.from_numpy(kernels().sample_cover(source[0].numpy(), coords.numpy(),
                                                  (pix_to_face >= 0).numpy()))
    torch.testing.assert_close(got, want, rtol=0, atol=1e-6)
    assert 0.3 < (pix_to_face >= 0).float().mean() < 0.7 and (want < 1).float().mean() > 0.3
