"""What a moving face shows that the photo does not (issue 21): the driver's own mouth interior,
laid out between its inner lips, matched to the photo's light, drawn only inside the re-enacted
mouth; and lid skin, not a squashed eyeball, in an eye the driver closes."""

import numpy as np
import pytest
import torch

from reenact.config import AnimateConfig
from reenact.face.topology import LOWER_LIP_INNER, REGION, UPPER_LIP_INNER
from reenact.io import read_image
from reenact.motion.mouth import DriverMouth, MouthLook, match_colour
from reenact.motion.scene import _mouth_uv
from reenact.pipeline import Reenactor
from reenact.render import rasterize
from tests.conftest import data_path


def test_mouth_gap_is_laid_out_between_the_inner_lips(samples):
    """A frame whose colour encodes position: the texture's middle is sampled halfway between
    the upper and the lower inner lip, its left and right ends at the mouth's corners."""
    r = Reenactor()
    src = r.prepare_source(samples["astronaut"])
    points = src.landmarks.copy()
    topo = r.model.topology
    lower = [v for v in topo.regions["inner_lip"] if points[v, 1] > points[UPPER_LIP_INNER, 1]]
    points[lower, 1] += 12  # open the mouth by 12 pixels
    S = src.crop.shape[0]
    ys, xs = np.mgrid[0:S, 0:S]
    frame = np.stack([xs, ys, np.zeros_like(xs)], -1).astype(np.uint8)  # R = x, G = y
    layout = DriverMouth(torch.from_numpy(_mouth_uv(r.model)))
    grey = MouthLook(np.full(3, 0.5), 0.0)
    tex = layout(frame, points, grey, grey) * 255  # same light: no colour change
    h, w = tex.shape[:2]
    middle = (points[UPPER_LIP_INNER, :2] + points[LOWER_LIP_INNER, :2]) / 2
    assert np.abs(tex[h // 2, w // 2, :2] - middle).max() < 2.5
    loop = topo.regions["inner_lip"]
    left, right = points[loop, 0].min(), points[loop, 0].max()
    assert abs(tex[h // 2, 1, 0] - left) < 4 and abs(tex[h // 2, w - 2, 0] - right) < 4


def test_mouth_takes_the_photos_light_and_a_grey_photo_gives_a_grey_mouth():
    rng = np.random.default_rng(0)
    tex = rng.uniform(0.1, 0.9, (8, 8, 3)).astype(np.float32)
    tex[..., 0] = np.clip(tex[..., 0] + 0.1, 0, 1)  # a warm mouth
    skin = np.array([0.8, 0.6, 0.5])
    same = match_colour(tex, skin, skin)
    assert np.abs(same - tex).max() < 0.01
    grey = match_colour(tex, np.array([0.6, 0.6, 0.6]), skin)
    def colourfulness(x):
        return np.abs(x - x.mean(-1, keepdims=True)).mean()

    assert colourfulness(grey) < 0.15 * colourfulness(tex)  # nearly grey: no blue teeth
    darker = match_colour(tex, skin * 0.5, skin)
    assert darker.mean() < same.mean() - 0.05
    # a warmer photo warms the driver's white teeth, by about half the skins' difference: the
    # rest is the two people's skin tones (all of it gave salmon teeth)
    warm, pale = np.array([0.8, 0.55, 0.4]), np.array([0.8, 0.7, 0.65])
    tooth = match_colour(np.full((1, 1, 3), 0.9, np.float32), warm, pale)[0, 0]
    shift = (warm - warm.mean()) - (pale - pale.mean())
    assert 0.25 * shift @ shift < (tooth - tooth.mean()) @ shift < 0.6 * shift @ shift


def test_driver_mouth_is_drawn_inside_the_mouth_only():
    """s42 driven by d9 (mouth wide open): the driver's mouth and the synthetic one differ inside
    the re-enacted mouth and nowhere else; the driver's is not the synthetic flat dark hole."""
    source = read_image(data_path("faces", "s42.jpg"))
    driver = read_image(data_path("faces", "d9.jpg"))
    out = {}
    for mouth in ("driver", "synthetic"):
        r = Reenactor(AnimateConfig(crop_only=True, mouth=mouth))
        src = r.prepare_source(source)
        warp = next(iter(r.drive(src, [driver], is_video=False)))
        out[mouth] = r.compose(src, warp).astype(float)
    region = torch.from_numpy(r.model.topology.triangle_region)
    faces = src.scene.faces[region == REGION["mouth"]]
    inside = rasterize(warp.verts.float(), faces, warp.face_mask.shape[-2:]).mask[0].numpy()
    assert inside.sum() > 200  # the mouth is open
    diff = np.abs(out["driver"] - out["synthetic"]).max(-1)
    assert diff[inside].mean() > 10
    ring = np.zeros_like(inside)  # one pixel of slack for the bilinear edge
    ring[1:-1, 1:-1] = inside[:-2, 1:-1] | inside[2:, 1:-1] | inside[1:-1, :-2] | inside[1:-1, 2:]
    assert diff[~(inside | ring)].max() < 1e-6
    # the synthetic hole is mostly near-black; the driver's shows teeth, tongue and shade
    spread = {m: out[m][inside].mean(-1).std() for m in out}
    assert spread["driver"] > 0.5 * spread["synthetic"]
    assert out["driver"][inside].mean() > out["synthetic"][inside].mean()


def test_a_closed_eye_shows_lid_skin_not_a_squashed_eyeball(samples):
    """Closing the right eye's lids (its upper contour moved onto the lower) draws that eye's
    opening in the closed lid's colour (from the photo's skin over the lid and its cheek), with
    its lash line where the lids meet, and brings the lid strip stretched above it towards that
    colour; the open left eye and an unmoved face are untouched."""
    from reenact.motion.analytic import analytic_warp
    from reenact.motion.eyes import (
        LASH_OPACITY,
        closed_colour,
        closed_weight,
        eye_of_triangle,
        strip_of_triangle,
    )
    from reenact.render.shaders import sample_image

    r = Reenactor()
    src = r.prepare_source(samples["astronaut"])
    model, c = r.model, src.coeffs
    assert closed_weight(model, c, c).abs().max() == 0
    head = model.head_vertices(c.identity, c.expression)[0].clone()
    upper = [246, 161, 160, 159, 158, 157, 173]  # the right eye's upper lid, corners left out
    # almost down onto the lower lid (shut, its opening would have no pixels left)
    head[upper, 1] += 0.85 * (head[145, 1] - head[159, 1])
    head[159, 0], head[159, 2] = head[145, 0], head[145, 2]
    closed = c.replace(expression=(head.reshape(1, -1) - c.identity))
    w = closed_weight(model, c, closed)[0]
    assert w[0] > 0.99 and w[1] == 0
    warp = analytic_warp(src.scene, model, closed, turn_limit=False)
    tri = warp.fragments.pix_to_face[0]
    which = torch.where(tri >= 0, eye_of_triangle()[tri.clamp(min=0)], torch.tensor(-1))
    eye = which == 0
    assert eye.sum() > 0
    lid = closed_colour(src.scene.lid_color.float(), src.scene.cheek_color.float())[0]
    lash = src.scene.lash_color.float()[0]
    got = warp.image[0][:, eye].T  # (n, 3)
    # each pixel lid skin in the lashes' shadow, darkened towards the photo's lash colour where
    # the lids meet: got = lid + t (lash - lid) with one t in [0, LASH_OPACITY] for all channels
    t = ((got - lid) @ (lash - lid)) / (lash - lid).dot(lash - lid)
    assert t.min() > -0.02 and t.max() < LASH_OPACITY + 0.02 and t.max() > 0.5
    assert (got - (lid + t[:, None] * (lash - lid))).abs().max() < 0.02
    assert lash.sum() < lid.sum()  # the astronaut's lashes are darker than her lids
    strip = torch.where(tri >= 0, strip_of_triangle()[tri.clamp(min=0)], torch.tensor(-1)) == 0
    plain = sample_image(src.scene.image.float(), warp.coords_src_from_out)[0][:, strip].T
    drawn = warp.image[0][:, strip].T
    assert (drawn.mean(0) - lid).abs().max() < 0.5 * (plain.mean(0) - lid).abs().max()
    # unmoved, both eyes show the photo's own eyes
    still = analytic_warp(src.scene, model, c, turn_limit=False)
    tri = still.fragments.pix_to_face[0]
    eyes = torch.where(tri >= 0, eye_of_triangle()[tri.clamp(min=0)], torch.tensor(-1)) >= 0
    photo = torch.from_numpy(src.crop).permute(2, 0, 1).float() / 255
    assert (still.image[0][:, eyes] - photo[:, eyes]).abs().max() < 0.02


def test_relit_brings_a_strip_to_the_lid_colour_keeping_half_its_detail():
    from reenact.motion.eyes import RELIT_DETAIL, relit

    rgb = torch.tensor([[0.1, 0.1, 0.1], [0.3, 0.2, 0.1], [0.9, 0.9, 0.9], [0.5, 0.5, 0.5]])
    w = torch.tensor([1.0, 1.0, 0.5, 1.0])
    group = torch.tensor([0, 0, 0, 1])
    target = torch.tensor([0.6, 0.5, 0.4]).expand(4, 3)
    out = relit(rgb, w, group, target)
    first = out[:3]
    assert torch.allclose((first * w[:3, None]).sum(0) / w[:3].sum(), target[0], atol=1e-6)
    assert torch.allclose(first[1] - first[0], RELIT_DETAIL * (rgb[1] - rgb[0]), atol=1e-6)
    assert torch.allclose(out[3], target[3])  # a group of its own: the target


def test_lash_line_is_drawn_where_shut_lids_meet():
    """A shut eye's lash line: opaque (LASH_OPACITY) on the line where its lids meet, gone a
    half width (LASH_WIDTH eye widths) off it, thinner at the corners; none on an open eye."""
    from reenact.motion.eyes import LASH_OPACITY, LASH_WIDTH, LIDS, lash_lines

    points = torch.zeros(1, 478, 2, dtype=torch.float64)
    for upper, lower in LIDS:  # both eyes shut along y = 50, 100 px wide
        xs = torch.linspace(0, 100, len(upper), dtype=torch.float64)
        for lid in (upper, lower):
            points[0, list(lid), 0], points[0, list(lid), 1] = xs + 50, 50.0
    lines = lash_lines(points, torch.tensor([[1.0, 0.0]]), 256)
    assert len(lines) == 1  # the open (left) eye has none
    b, y, x, opacity, eye = lines[0]
    assert b == 0 and eye == 0
    at = dict(zip(zip(y.tolist(), x.tolist()), opacity.tolist(), strict=True))
    half = LASH_WIDTH * 100
    assert at[(50, 100)] == pytest.approx(LASH_OPACITY, abs=0.02)  # on the line, the middle
    assert (int(50 + half + 1), 100) not in at  # a half width off it: nothing
    assert at.get((int(50 + 0.6 * half), 55), 0) < 0.5 * at[(int(50 + 0.6 * half), 100)]
    half_shut = lash_lines(points, torch.tensor([[0.5, 0.0]]), 256)[0][3]
    assert half_shut.max() == pytest.approx(LASH_OPACITY / 4, abs=0.01)


def _torch_lash_lines(points, closed, size):
    """lash_lines as torch wrote it before it moved to NumPy: the reference formula."""
    from reenact.motion.completion import smoothstep
    from reenact.motion.eyes import LASH_OPACITY, LASH_TAPER, LASH_WIDTH, LIDS

    out = []
    for b, e in torch.nonzero(closed > 1e-3).tolist():
        upper, lower = LIDS[e]
        line = ((points[b, list(upper)] + points[b, list(lower)]) / 2).double()
        half = LASH_WIDTH * float((line[-1] - line[0]).norm())
        lo = (line.min(0).values - 2 * half).floor().clamp(0, size - 1).long()
        hi = (line.max(0).values + 2 * half).ceil().clamp(0, size - 1).long()
        ys, xs = torch.meshgrid(torch.arange(int(lo[1]), int(hi[1]) + 1),
                                torch.arange(int(lo[0]), int(hi[0]) + 1), indexing="ij")
        p = torch.stack([xs.reshape(-1), ys.reshape(-1)], -1).double() + 0.5
        a, d = line[:-1], line[1:] - line[:-1]
        t = (((p[:, None] - a[None]) * d[None]).sum(-1) / (d * d).sum(-1).clamp(min=1e-9)
             ).clamp(0, 1)
        dist, k = (p[:, None] - (a[None] + t[..., None] * d[None])).norm(dim=-1).min(1)
        along = (k.double() + t.gather(1, k[:, None])[:, 0]) / len(d)
        taper = LASH_TAPER + (1 - LASH_TAPER) * torch.sin(torch.pi * along)
        opacity = (1 - smoothstep(dist / (half * taper), 0.0, 1.0)) * LASH_OPACITY * \
            float(closed[b, e]) ** 2
        keep = opacity > 1e-3
        out.append((b, ys.reshape(-1)[keep], xs.reshape(-1)[keep], opacity[keep].float(), e))
    return out


def _torch_lid_strips(points, closed, at, strip):
    """lid_strips as torch wrote it before it moved to NumPy: the reference formula."""
    from reenact.motion.completion import smoothstep
    from reenact.motion.eyes import ABOVE_LIDS, LID_FADE, LIDS

    def distance(p, line):
        a, d = line[:-1], line[1:] - line[:-1]
        t = (((p[:, None] - a[None]) * d[None]).sum(-1) / (d * d).sum(-1).clamp(min=1e-9)
             ).clamp(0, 1)
        return (p[:, None] - (a[None] + t[..., None] * d[None])).norm(dim=-1).min(1).values

    out = torch.zeros(len(strip))
    for b, e in torch.nonzero(closed > 1e-3).tolist():
        sel = torch.nonzero((at[0] == b) & (strip == e))[:, 0]
        p = torch.stack([at[2][sel], at[1][sel]], -1).double() + 0.5
        lid = distance(p, points[b, list(LIDS[e][0])].double())
        top = distance(p, points[b, list(ABOVE_LIDS[e][1])].double())
        t = lid / (lid + top).clamp(min=1e-6)
        out[sel] = ((1 - smoothstep(t, *LID_FADE)) * closed[b, e]).float()
    return out


def test_lash_lines_and_lid_strips_in_numpy_give_torchs(samples):
    # the lash lines and lid strips run in NumPy (a few hundred pixels an eye): the same pixels
    # and weights as the torch formula, to rounding, for two frames of the astronaut's eyes,
    # one shut, one half shut and one open
    from reenact.motion.eyes import lash_lines, lid_strips

    r = Reenactor(AnimateConfig())
    src = r.prepare_source(samples["astronaut"])
    points = src.scene.src_points[:, :478, :2].float().repeat(2, 1, 1)
    points[1] += torch.tensor([3.3, -2.1])  # the second frame moved
    closed = torch.tensor([[1.0, 0.0], [0.6, 0.9]])
    b, y, x = torch.nonzero(torch.ones(2, 256, 256, dtype=torch.bool), as_tuple=True)
    strip = torch.randint(-1, 2, (len(b),), generator=torch.Generator().manual_seed(0))
    fast = [lash_lines(points, closed, 256), lid_strips(points, closed, (b, y, x), strip)]
    slow = [_torch_lash_lines(points, closed, 256)]
    slow.append(_torch_lid_strips(points, closed, (b, y, x), strip))
    assert len(fast[0]) == len(slow[0]) == 3
    for (fb, fy, fx, fo, fe), (sb, sy, sx, so, se) in zip(fast[0], slow[0], strict=True):
        assert (fb, fe) == (sb, se) and torch.equal(fy, sy) and torch.equal(fx, sx)
        torch.testing.assert_close(fo, so.detach(), rtol=0, atol=1e-6)
    assert int((fast[1] > 0).sum()) > 500
    torch.testing.assert_close(fast[1], slow[1].detach(), rtol=0, atol=1e-6)


def test_iris_moves_as_a_whole_with_the_gaze():
    """An output iris (centre and ring) moved by d: pixels near its centre take the photo's iris
    from d back (not the fans' stretched map), but only from inside the photo's eye opening; far
    from it, the fans' map stands; unmoved, the map is the identity."""
    from reenact.motion.eyes import IRISES, rigid_iris

    V = 478
    src = torch.zeros(1, V, 2, dtype=torch.float64)
    centre, ring, outer, inner = IRISES[0]
    src[0, outer], src[0, inner], src[0, centre] = torch.tensor([80.0, 100]), \
        torch.tensor([120.0, 100]), torch.tensor([100.0, 100])
    for k, (dx, dy) in zip(ring, ((6, 0), (0, -6), (-6, 0), (0, 6))):
        src[0, k] = src[0, centre] + torch.tensor([dx, dy], dtype=torch.float64)
    out = src.clone()
    xs = torch.arange(85, 116)
    at = (torch.zeros(len(xs), dtype=torch.long), torch.full((len(xs),), 100), xs)
    p = torch.stack([xs.double() + 0.5, torch.full((len(xs),), 100.5)], -1)
    which = torch.zeros(len(xs), dtype=torch.long)
    assert torch.allclose(rigid_iris(p, at, which, src, out), p)
    out[0, [centre, *ring]] += torch.tensor([5.0, 0.0], dtype=torch.float64)
    fans = p.clone()  # stand-in for the fans' map: wherever it is, the iris core overrides it
    got = rigid_iris(fans, at, which, src, out)
    near = (p[:, 0] - 105.0).abs() < 4
    assert torch.allclose(got[near], p[near] - torch.tensor([5.0, 0.0], dtype=torch.float64))
    far = (p[:, 0] - 105.0).abs() > 13
    assert far.any() and torch.allclose(got[far], fans[far])
    # where the photo's eye opening ends (its lid from x = 102 on), the fans' map stands: a
    # widened eye does not take the photo's lid from beside the iris into its opening
    openings = torch.zeros(256, 256)
    openings[:, :102] = 1.0
    got = rigid_iris(fans, at, which, src, out, openings)
    lands = p[:, 0] - 5.0  # where the rigid map would take each pixel from
    inside, outside = near & (lands < 101), near & (lands > 103)
    assert inside.any() and outside.any()
    assert torch.allclose(got[inside], p[inside] - torch.tensor([5.0, 0.0], dtype=torch.float64))
    assert torch.allclose(got[outside], fans[outside])


def test_a_photo_shows_its_teeth_when_its_lip_gap_is_brighter_than_its_lips():
    from reenact.motion.scene import own_teeth

    S = 64
    image = torch.full((S, S, 3), 0.5, dtype=torch.float64)
    lips = torch.zeros(S, S, dtype=torch.bool)
    lips[20:24, 10:50] = lips[36:40, 10:50] = True
    gap = torch.zeros(S, S, dtype=torch.bool)
    gap[24:36, 10:50] = True
    image[lips] = torch.tensor([0.6, 0.3, 0.3], dtype=torch.float64)
    image[gap] = 0.05  # a dark open mouth
    assert own_teeth(image, gap, lips, scale=40.0) == 0.0
    image[gap] = 0.9  # teeth
    assert own_teeth(image, gap, lips, scale=40.0) == 1.0
    image[gap] = 0.05
    slit = torch.zeros_like(gap)
    slit[24, 10:15] = True  # 5 px: under OPEN_GAP (0.005 head units^2 = 8 px at 40 px a unit)
    assert own_teeth(image, slit, lips, scale=40.0) == 1.0  # too closed to tell: as before


def test_a_grin_pursed_into_an_o_takes_the_drivers_dark_inside(samples):
    """A photo's own teeth squeezed into a mouth much narrower than its own give way to the
    driver's interior when that shows no teeth, and only then (DRIVER_NARROW)."""
    from reenact.face.topology import MOUTH_LEFT, MOUTH_RIGHT
    from reenact.motion.analytic import _driver_teeth, _narrowed, _teeth_visibility

    r = Reenactor()
    src = r.prepare_source(samples["astronaut"])
    model, c = r.model, src.coeffs
    assert _narrowed(_teeth_visibility(model, src.scene, c)[2]).item() == 0
    head = model.head_vertices(c.identity, c.expression)[0].clone()
    middle = (head[MOUTH_LEFT] + head[MOUTH_RIGHT]) / 2
    for k, share in ((MOUTH_LEFT, 0.5), (MOUTH_RIGHT, 0.5)):  # corners half way in
        head[k] = middle + share * (head[k] - middle)
    pursed = c.replace(expression=(head.reshape(1, -1) - c.identity))
    assert _narrowed(_teeth_visibility(model, src.scene, pursed)[2]).item() == 1
    lips = src.scene.lip_color.float()
    dark = (0.3 * lips)[None, :, None, None].expand(1, 3, 32, 64)
    teeth = torch.ones(1, 3, 32, 64)
    assert _driver_teeth(src.scene, dark).item() == 0
    assert _driver_teeth(src.scene, teeth).item() == 1


def test_the_nearest_point_on_a_lid_line_compiled_gives_numpys(monkeypatch):
    # eyes._nearest compiled (each point against each segment) against its NumPy arrays: the same
    # distances, segments and positions along them, bit for bit; a zero-length segment and
    # points as near two segments (the first wins, as argmin's) included
    from reenact.motion import eyes
    from reenact.render.compiled import kernels

    g = np.random.default_rng(2)
    line = np.cumsum(g.normal(0, 5, (9, 2)), 0)
    line[4] = line[3]
    points = np.concatenate([g.uniform(-30, 30, (400, 2)), line[:2].mean(0, keepdims=True),
                             np.array([[0.0, 0.0]])])
    tie = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])  # (1, 1) is as near both segments
    assert kernels() is not None, "numba is a dependency: the compiled loops must load"
    fast = [eyes._nearest(points, line), eyes._nearest(np.array([[1.0, 1.0]]), tie)]
    monkeypatch.setattr(eyes, "usable_kernels", lambda: None)
    slow = [eyes._nearest(points, line), eyes._nearest(np.array([[1.0, 1.0]]), tie)]
    for f, s in zip(fast, slow, strict=True):
        for a, b in zip(f, s, strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b)
    assert fast[1][1][0] == 0 and len(np.unique(fast[0][1])) >= 6
