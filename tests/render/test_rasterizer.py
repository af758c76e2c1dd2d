import torch

from reenact.render import interpolate_attributes, landmark_heatmaps, parsing_map, rasterize
from reenact.render.shaders import textured_proxy


def _square(z_front=1.0):
    # Two triangles covering [0, 4] x [0, 4].
    v = torch.tensor([[[0.0, 0.0, z_front], [4.0, 0.0, z_front], [4.0, 4.0, z_front],
                       [0.0, 4.0, z_front]]], dtype=torch.float64)
    return v, torch.tensor([[0, 1, 2], [0, 2, 3]])


def test_coverage_ids_and_barycentrics_sum_to_one():
    v, f = _square()
    frags = rasterize(v, f, (6, 6))
    assert frags.pix_to_face.shape == (1, 6, 6)
    assert int(frags.mask.sum()) == 16  # the 4x4 pixel centres inside the square
    assert set(frags.pix_to_face[frags.mask].tolist()) == {0, 1}
    b = frags.bary[frags.mask]
    assert torch.allclose(b.sum(-1), torch.ones(16, dtype=torch.float64))
    assert (frags.zbuf[~frags.mask] == float("inf")).all()


def test_barycentric_interpolation_reproduces_positions():
    v, f = _square()
    frags = rasterize(v, f, (4, 4))
    xy = interpolate_attributes(frags, f, v[..., :2])
    ys, xs = torch.meshgrid(torch.arange(4) + 0.5, torch.arange(4) + 0.5, indexing="ij")
    assert torch.allclose(xy[0, ..., 0], xs.double()) and torch.allclose(xy[0, ..., 1], ys.double())


def test_zbuffer_keeps_nearest():
    v, f = _square(1.0)
    v2 = v.clone()
    v2[..., 2] = 0.5  # nearer copy
    verts = torch.cat([v, v2], 1)
    faces = torch.cat([f, f + 4])
    frags = rasterize(verts, faces, (4, 4))
    assert (frags.pix_to_face[frags.mask] >= 2).all()
    assert torch.allclose(frags.zbuf[frags.mask], torch.full((16,), 0.5, dtype=torch.float64))


def test_gradient_flows_through_barycentrics():
    # One triangle whose edges pass no pixel centre, so small moves do not change coverage.
    v = torch.tensor([[[0.2, 0.3, 1.0], [5.7, 0.9, 1.0], [1.1, 5.3, 1.0]]], dtype=torch.float64,
                     requires_grad=True)
    f = torch.tensor([[0, 1, 2]])

    def interp(verts):
        frags = rasterize(verts, f, (6, 6))
        attrs = torch.tensor([[[1.0], [2.0], [5.0]]], dtype=torch.float64)
        return interpolate_attributes(frags, f, attrs)

    assert torch.autograd.gradcheck(interp, (v,))


def test_textured_proxy_and_parsing_and_heatmaps():
    v, f = _square()
    frags = rasterize(v, f, (6, 6))
    tex = torch.rand(1, 3, 6, 6, dtype=torch.float64)
    proxy = textured_proxy(frags, f, v[..., :2], tex)
    assert torch.allclose(proxy[0, :, :4, :4], tex[0, :, :4, :4], atol=1e-9)
    assert (proxy[0, :, 5, 5] == 0).all()
    labels = parsing_map(frags, torch.tensor([3, 5]), person_mask=torch.ones(1, 6, 6))
    assert set(labels[0, :4, :4].unique().tolist()) == {3, 5} and labels[0, 5, 5] == 8
    heat = landmark_heatmaps(torch.tensor([[[2.5, 1.5]]]), (4, 4), sigma=1.0)
    assert heat.shape == (1, 1, 4, 4) and heat[0, 0, 1, 2] == 1.0 and heat[0, 0, 3, 0] < 0.1
