"""What the photo does not show: completed from mirrored skin (never a mirrored feature), squeezed
texture not stretched, and turns limited where a hidden feature would have to be invented."""

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from reenact.face import REGION
from reenact.geometry import euler_to_matrix, rotation_angle_between
from reenact.motion.analytic import _own_weight, _vertex_mean, analytic_warp
from reenact.motion.completion import (
    MAGNIFY_LIMIT,
    REVEAL_LIMIT,
    _complete,
    largest_stretch,
    limit_turn,
    magnified_area,
    revealed_area,
    stretch_basis,
)
from reenact.pipeline import Reenactor
from tests.conftest import data_path

SKIN = np.array([0.8, 0.6, 0.5], np.float32)


def _synthetic_face(T: int = 64):
    """A symmetric face texture: skin with two moles, two dark eyes; the left half is lit 10%
    darker than the right."""
    region = np.full((T, T), REGION["skin"])
    tex = np.tile(SKIN, (T, T, 1))
    for cx in (10, T - 1 - 10):
        tex[40:43, cx - 1:cx + 2] = (0.4, 0.25, 0.2)  # a mole, which only a mirror can bring
    for cx in (T // 4, T - 1 - T // 4):
        region[20:26, cx - 5:cx + 6] = REGION["eyes"]
        tex[20:26, cx - 5:cx + 6] = (0.05, 0.05, 0.1)
    tex = tex * np.where(np.arange(T) < T // 2, 0.9, 1.0)[None, :, None]
    return tex.astype(np.float32), region


def test_hidden_skin_comes_from_its_mirror_and_hidden_features_are_not_mirrored():
    tex, region = _synthetic_face()
    T = tex.shape[0]
    hidden = np.zeros((T, T), bool)
    hidden[:, 44:] = True  # the photo does not show the right part, its eye included
    sharp = (~hidden).astype(np.float32)
    shown = np.where(hidden[..., None], 0.0, tex)  # what the photo has there: nothing
    out = _complete(shown.astype(np.float32), sharp, sharp, region, np.ones((T, T), bool))
    skin = hidden & (region == REGION["skin"])
    # The skin's pattern is its mirror image's, with the shading of its own side (not 10% darker).
    assert np.abs(out[skin] - tex[skin]).mean() < 0.03
    assert np.abs(out[40:43, 52:55] - tex[40:43, 52:55]).max() < 0.06  # the mirrored mole
    # The hidden eye is not drawn from the other eye: it is skin-coloured, not dark.
    eye = hidden & (region == REGION["eyes"])
    assert out[eye].mean() > 0.4


def test_the_rim_is_not_filled_from_beyond_the_layout():
    """The texels beyond the face's layout hold the crop's corner pixel (black for a photo with a
    black border); filling the unsharp rim inside the layout from them drew a dark line along
    the face's outline (DECA/image02246's forehead)."""
    T = 64
    yy, xx = np.mgrid[0:T, 0:T]
    r = np.hypot(yy - T / 2 + 0.5, xx - T / 2 + 0.5)
    covered = r < 28
    sharp = (r < 22).astype(np.float32)  # the rim, 22-28 texels out, is not sharp
    tex = np.where(covered[..., None], SKIN, 0.0).astype(np.float32)
    region = np.where(covered, REGION["skin"], REGION["background"])
    out = _complete(tex, sharp, sharp * 0, region, covered)
    rim = covered & (r >= 22)
    assert np.abs(out[rim] - SKIN).max() < 0.05


def test_the_texture_is_padded_past_the_layouts_edge(samples):
    """The warp samples the texture bilinearly; where an output triangle runs along the layout's
    staircase edge, zeros beyond it came in and out of the samples and drew a turned photo's far
    cheek as dashes (DECA/image02246, image03786). Every map continues past the edge with the
    values beside it."""
    import cv2

    from reenact.motion.completion import _layout

    src = Reenactor().prepare_source(samples["astronaut"], "astronaut")
    tex = src.scene.texture
    layout = _layout(tex.seen.shape[-1])[1].mask[0].numpy()
    ring = cv2.dilate(layout.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~layout
    assert ring.sum() > 100
    box = np.ones((21, 21), np.uint8)  # push-pull's coarser levels reach about 10 texels
    for name, maps in (("seen", tex.seen[0]), ("texture", tex.texture[0]), ("rim", tex.rim[0])):
        for m in maps.numpy():
            lo = cv2.erode(np.where(layout, m, np.inf).astype(np.float32), box)
            hi = cv2.dilate(np.where(layout, m, -np.inf).astype(np.float32), box)
            assert ((m[ring] >= lo[ring] - 0.03) & (m[ring] <= hi[ring] + 0.03)).all(), name
    seen = tex.seen[0, 0].numpy()
    well = ring & (cv2.erode(np.where(layout, seen, np.inf).astype(np.float32), box) > 0.9)
    assert well.sum() > 20 and seen[well].min() > 0.9  # not the zeros beyond the layout


def test_unmoved_pose_keeps_the_photos_pixels_and_stretch_drops_them(samples):
    r = Reenactor()
    src = r.prepare_source(samples["astronaut"], "astronaut")
    verts = r.model.vertices(src.coeffs)
    weight, blur = _own_weight(src.scene, verts, src.coeffs)
    assert weight.min() > 0.99 and blur.max() < 0.01
    # Pretend the photo showed the triangles around the nose tip 10 times smaller than it does.
    faces = src.scene.faces
    near = (faces == 1).any(1)
    area = torch.where(near, src.scene.src_tri_area / 10, src.scene.src_tri_area)
    squeezed = dataclasses.replace(src.scene, src_tri_area=area)
    weight, _ = _own_weight(squeezed, verts, src.coeffs)
    assert weight[0, 1] < 0.05  # the nose tip: every triangle around it is stretched 10x
    assert weight[0, faces[~near].unique()].min() > 0 and weight[0, 10] > 0.99


def test_magnified_in_one_direction_takes_the_smoothed_texture(samples):
    """A face drawn 10x wider and 10x shorter keeps every triangle's area, so the own-pixel weight
    (an area ratio) does not see it; the stretch along x would draw the texture into streaks, and
    the smoothest texture level is chosen."""
    r = Reenactor()
    src = r.prepare_source(samples["astronaut"], "astronaut")
    verts = r.model.vertices(src.coeffs)
    centre = verts[:, :, :2].mean(1, keepdim=True)
    squashed = verts.clone()
    squashed[..., :2] = centre + (verts[..., :2] - centre) * torch.tensor([10.0, 0.1],
                                                                          dtype=verts.dtype)
    weight, blur = _own_weight(src.scene, squashed, src.coeffs)
    counted = _vertex_mean().sum(0) > 0  # vertices only of the lip gap have no stretch of theirs
    assert weight.min() > 0.99  # the areas are the photo's
    assert blur[0, counted].min() > 1.99  # magnified 10x along x, past BLUR_STRETCH[2]
    # the photo's stretch basis, kept with its texture, gives what the photo's mesh gives
    scene = src.scene
    direct = largest_stretch(stretch_basis(scene.verts, scene.coeffs.scale, scene.faces),
                             squashed, src.coeffs.scale, scene.faces)
    kept = largest_stretch(scene.texture.stretch_basis, squashed, src.coeffs.scale, scene.faces)
    assert torch.allclose(direct, kept, rtol=1e-12)


@pytest.fixture(scope="module")
def looking_down():
    """A corpus photo whose head is turned and bowed: lips, nostrils and an eye corner hidden."""
    r = Reenactor()
    return r, r.prepare_source(data_path("corpus", "portraits", "DECA", "image00408.jpg"))


def test_turn_is_limited_where_it_would_reveal_hidden_features(looking_down):
    r, src = looking_down
    texture = src.scene.texture
    assert len(texture.hidden_feature) > 0
    faces = torch.from_numpy(r.model.topology.triangles)
    frontal = src.coeffs.replace(rotation=torch.eye(3, dtype=torch.float64)[None])

    def revealed(c):
        return float(revealed_area(texture, r.model.vertices(c), faces, c.scale)[0])

    assert revealed(frontal) - revealed(src.coeffs) > REVEAL_LIMIT  # a frontal pose invents
    limited = limit_turn(texture, r.model, src.coeffs, frontal)
    assert revealed(limited) - revealed(src.coeffs) <= REVEAL_LIMIT * 1.05
    turned = float(rotation_angle_between(src.coeffs.rotation, limited.rotation)[0])
    asked = float(rotation_angle_between(src.coeffs.rotation, frontal.rotation)[0])
    assert 0 < turned < asked
    # Continuous in the driver's pose: a slightly smaller request gives a nearby pose.
    from reenact.geometry import rotation_interpolate

    near = src.coeffs.replace(rotation=rotation_interpolate(src.coeffs.rotation,
                                                            frontal.rotation, 0.97))
    moved = limit_turn(texture, r.model, src.coeffs, near)
    assert float(rotation_angle_between(moved.rotation, limited.rotation)[0]) < np.radians(1.0)
    # The warp applies it, and reports the pose it shows.
    w = analytic_warp(src.scene, r.model, frontal)
    assert torch.allclose(w.coeffs.rotation, limited.rotation)
    assert analytic_warp(src.scene, r.model, frontal, turn_limit=False).coeffs is frontal


def test_extension_skips_the_band_past_an_outline_that_comes_round(samples):
    """The landmark outline of a turned face lies inside its silhouette on the side it looks
    towards: where a turn brings that outline outwards the extension mesh starts further out in
    the photo, so the band between them is not drawn again beside the face. A frontal photo's
    outline is its silhouette, and unmoved nothing changes."""
    from reenact.geometry import euler_to_matrix
    from reenact.motion.analytic import OUTLINE_SKIP, _outline_sources

    r = Reenactor()
    src = r.prepare_source(samples["astronaut"], "astronaut")
    V, K = r.model.num_vertices, len(src.scene.oval)

    def yaw(c, degrees):
        R = euler_to_matrix(torch.deg2rad(torch.tensor([0.0, degrees, 0.0], dtype=torch.float64)))
        return c.replace(rotation=R[None] @ c.rotation)

    same = _outline_sources(src.scene, r.model.vertices(src.coeffs), src.coeffs)
    assert torch.allclose(same, src.scene.src_points)
    frontal_turned = _outline_sources(src.scene, r.model.vertices(yaw(src.coeffs, 30)),
                                      yaw(src.coeffs, 30))
    assert torch.allclose(frontal_turned, src.scene.src_points)  # the astronaut faces the camera
    # The same face photographed turned 40 degrees, re-enacted facing the camera.
    photo = yaw(src.coeffs, 40)
    scene = dataclasses.replace(src.scene, coeffs=photo, verts=r.model.vertices(photo))
    moved = _outline_sources(scene, r.model.vertices(src.coeffs), src.coeffs)
    push = (moved - scene.src_points)[0, V:V + K]  # (K, 2) for the oval's copy
    outward = (push * scene.outline_normal).sum(1)
    assert torch.allclose(push, outward[:, None] * scene.outline_normal, atol=1e-6)  # along n
    assert (outward >= -1e-9).all() and outward.max() > 1.0
    assert outward.max() <= OUTLINE_SKIP * float(scene.coeffs.scale[0]) + 1e-6
    # only the side the photo looks towards: the other keeps its band
    looks = -photo.rotation[0, :2, 2]
    far = scene.outline_normal.to(looks.dtype) @ looks > 0
    assert outward[~far].max() < 1e-9 and outward[far].max() > 1.0
    # The rings stay beyond the oval's copy, in order: the extension does not fold over itself
    # (it did, drawing a detached piece of cheek beside the face).
    n = scene.outline_normal.to(moved.dtype)
    along = [((moved[0, V + m * K:V + (m + 1) * K] - scene.src_points[0, V:V + K]) * n).sum(1)
             for m in range(3)]
    before = [((scene.src_points[0, V + m * K:V + (m + 1) * K] - scene.src_points[0, V:V + K])
               * n).sum(1) for m in range(3)]
    pushed = outward > 1.0
    for m in (1, 2):
        ordered = before[m] > before[m - 1]
        assert (along[m] > along[m - 1])[pushed & ordered].all()
    rest = moved[0, :V]  # the face's own vertices never move in the photo
    assert torch.equal(rest, scene.src_points[0, :V])


def test_smoothed_texture_keeps_the_features_sharp(samples):
    """What a pose magnifies far is drawn from a blurred texture, but not the eyes, brows, lips
    or nostrils: blurred, a turned face's magnified eye would vanish into the cheek."""
    r = Reenactor()
    src = r.prepare_source(samples["astronaut"], "astronaut")
    tex = src.scene.texture
    T = tex.texture.shape[-1]
    faces = torch.from_numpy(r.model.topology.triangles)
    region = torch.from_numpy(r.model.topology.triangle_region)
    centre = tex.verts_uv[faces].mean(1).round().long().clamp(0, T - 1)  # (F, 2) texel x, y

    def at(sel):  # (n, 3, 3): sharp texture, then both smoothed levels, at those triangles
        x, y = centre[sel, 0], centre[sel, 1]
        return torch.stack([tex.texture[0, :, y, x].T, tex.smooth[0, :3, y, x].T,
                            tex.smooth[0, 3:, y, x].T], 1)

    eyes = at(region == REGION["eyes"])
    assert (eyes[:, 1:] - eyes[:, :1]).abs().amax((1, 2)).quantile(0.9) < 0.02
    skin = at(region == REGION["skin"])
    assert (skin[:, 2] - skin[:, 0]).abs().mean() > 0.01  # the skin is smoothed


def test_face_rim_fades_into_the_extension():
    """Where a turn parts the face's flow from the head extension's, the face's outline would show
    as a seam (a line across the forehead where the hair begins): the face's own colour fades out
    over its last pixels."""
    from reenact.motion.analytic import RIM_PX, _rim_pixels
    from reenact.motion.completion import smoothstep

    ys, xs = torch.meshgrid(torch.arange(256), torch.arange(256), indexing="ij")
    disk = ((ys - 127.5) ** 2 + (xs - 127.5) ** 2 < 80**2)[None]
    rb, ry, rx, fading = _rim_pixels(disk)
    w = disk.float()
    w[rb, ry, rx] = fading
    # the same pixels and weights as the smoothstep over the whole distance transform
    dense = smoothstep(torch.from_numpy(cv2.distanceTransform(disk[0].numpy().astype(np.uint8),
                                                              cv2.DIST_L2, 3)), 0.0, RIM_PX)
    at = torch.nonzero(disk[0] & (dense < 1), as_tuple=True)
    assert torch.equal(torch.stack(at), torch.stack([ry, rx])) and bool((rb == 0).all())
    assert torch.equal(dense[at].float(), fading)
    assert torch.all(w[~disk] == 0) and w[0, 128, 128] == 1
    inner = cv2.erode(disk[0].numpy().astype(np.uint8), np.ones((3, 3), np.uint8))
    edge = disk & ~torch.from_numpy(inner).bool()[None]
    assert w[edge].max() < 0.5  # the outline's own pixels are mostly the extension's
    start = 128 - 80 + int(RIM_PX) + 1
    assert w[0, 128, start:129].min() > 0.99  # further in, the face's own colour


def test_the_rim_from_the_faces_box_is_the_rim_from_the_whole_crop():
    # _rim_pixels transforms only each face's bounding box and a ring of one pixel: the pixels of
    # the whole crop's distance transform, their weights to an ulp (OpenCV adds the same steps
    # from another corner), with faces at the crop's border, several, and frames without one
    from reenact.motion.analytic import RIM_PX, _rim_pixels
    from reenact.motion.completion import smoothstep

    g = np.random.default_rng(4)
    masks = np.zeros((12, 160, 160), np.uint8)
    for m in masks[1:]:
        for _ in range(g.integers(1, 4)):
            cv2.ellipse(m, tuple(int(v) for v in g.integers(-30, 190, 2)),
                        tuple(int(v) for v in g.integers(4, 70, 2)), float(g.integers(0, 180)),
                        0, 360, 1, -1)
    mask = torch.from_numpy(masks.astype(bool))
    rb, ry, rx, weight = _rim_pixels(mask)
    px = RIM_PX * 160 / 256
    dense = torch.stack([smoothstep(torch.from_numpy(cv2.distanceTransform(m, cv2.DIST_L2, 3)),
                                    0.0, px) for m in masks])
    at = torch.nonzero(mask & (dense < 1), as_tuple=True)
    assert torch.equal(torch.stack(at), torch.stack([rb, ry, rx]))
    torch.testing.assert_close(weight, dense[at].float(), rtol=0, atol=1e-6)
    faced = set(rb.tolist())
    assert 0 not in faced and len(faced) >= 9 and (ry == 0).any() and (rx == 159).any()


def test_far_turn_is_limited_where_it_would_magnify_the_face(samples):
    """A frontal photo turned 60 degrees would swell the cheek it shows edge-on into a flat, pale
    crescent: the turn stops where MAGNIFY_LIMIT of the face is magnified past MAGNIFY. A small
    turn is shown in full."""
    r = Reenactor()
    src = r.prepare_source(samples["astronaut"], "astronaut")
    assert len(src.scene.texture.hidden_feature) == 0  # only the magnification limits this photo

    def turned(deg):
        R = euler_to_matrix(torch.deg2rad(torch.tensor([[0.0, deg, 0.0]], dtype=torch.float64)))
        return src.coeffs.replace(rotation=R @ src.coeffs.rotation)

    def magnified(c):
        return float(magnified_area(r.model, src.coeffs, r.model.vertices(c), c.scale)[0])

    def shown(c):
        return np.degrees(float(rotation_angle_between(src.coeffs.rotation, c.rotation)[0]))

    small = turned(10.0)
    assert limit_turn(src.scene.texture, r.model, src.coeffs, small) is small
    far = turned(60.0)
    assert magnified(far) > 2 * MAGNIFY_LIMIT
    limited = limit_turn(src.scene.texture, r.model, src.coeffs, far)
    assert magnified(limited) == pytest.approx(MAGNIFY_LIMIT, rel=0.1)
    assert 15 < shown(limited) < 45
    # the other way round alike (the limit does not depend on which cheek comes round)
    other = limit_turn(src.scene.texture, r.model, src.coeffs, turned(-60.0))
    assert 15 < shown(other) < 45


def test_oval_behind_a_turned_face_is_skipped_past_the_face(samples):
    """Where the photo's oval lies behind its own face (a profile's far cheek behind the nose and
    lips), a turn that brings the outline out starts the extension past where the photo's face
    mesh ends, even beyond OUTLINE_SKIP: the band before it is face (lips, chin), and was drawn
    a second time beside the turned face. Unmoved, nothing changes."""
    from reenact.motion.analytic import OUTLINE_MARGIN, OUTLINE_SKIP, _outline_sources
    from reenact.motion.scene import _inside_along

    mask = np.zeros((64, 64), bool)
    cv2.circle(mask.view(np.uint8), (32, 32), 20, 1, -1)
    depth = _inside_along(mask, np.array([[32.0, 32.0], [52.5, 32.0]]),
                          np.array([[1.0, 0.0], [1.0, 0.0]]))
    assert abs(float(depth[0]) - 21) <= 1 and float(depth[1]) <= 1

    r = Reenactor()
    src = r.prepare_source(samples["astronaut"], "astronaut")
    V, K = r.model.num_vertices, len(src.scene.oval)
    R = euler_to_matrix(torch.deg2rad(torch.tensor([0.0, 40.0, 0.0], dtype=torch.float64)))
    photo = src.coeffs.replace(rotation=R[None] @ src.coeffs.rotation)
    scale = float(photo.scale[0])
    behind = torch.full((K,), 0.7 * scale, dtype=torch.float64)  # 0.7 head units inside
    scene = dataclasses.replace(src.scene, coeffs=photo, verts=r.model.vertices(photo),
                                oval_inside=behind)
    same = _outline_sources(scene, r.model.vertices(photo), photo)
    assert torch.allclose(same, scene.src_points)
    moved = _outline_sources(scene, r.model.vertices(src.coeffs), src.coeffs)
    outward = ((moved - scene.src_points)[0, V:V + K] * scene.outline_normal).sum(1)
    assert OUTLINE_SKIP < 0.7 + OUTLINE_MARGIN
    assert outward.max() > 0.99 * (0.7 + OUTLINE_MARGIN) * scale


def test_rim_of_a_turned_photo_on_its_facing_side_is_in_doubt(samples):
    """The mesh's outline on the side a turned photo faces is its nose, lips and chin seen from
    the side, which the fit only approaches: those texels are not trusted (not sharp; drawn from
    the texture when a turn carries them into the face). A frontal photo's rim is trusted."""
    from reenact.motion.completion import _facing_side

    r = Reenactor()
    src = r.prepare_source(samples["astronaut"], "astronaut")
    verts, scale = src.scene.verts, float(src.coeffs.scale[0])
    c = verts[0, :, :2].double().mean(0).numpy()
    xy = np.stack([c + [-0.3 * scale, 0], c + [0.3 * scale, 0]])[None]  # (1, 2, 2)
    assert np.abs(_facing_side(xy, verts, src.coeffs.rotation[0], scale)).max() < 0.05
    assert _facing_side(xy, verts, None, scale).max() == 0
    sides = []
    for degrees in (40.0, -40.0):
        R = euler_to_matrix(torch.deg2rad(torch.tensor([0.0, degrees, 0.0], dtype=torch.float64)))
        sides.append(_facing_side(xy, verts, R @ src.coeffs.rotation[0], scale)[0])
    # turned either way, one side is in doubt and the other not, and they swap
    assert sorted(sides[0].round(2).tolist()) == [0.0, 1.0]
    assert np.allclose(sides[0], sides[1][::-1])
