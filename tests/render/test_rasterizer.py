import subprocess
import sys
from pathlib import Path

import pytest
import torch

import reenact.render.rasterizer as rasterizer_module
import reenact.render.shaders as shaders_module
from reenact.render import interpolate_attributes, landmark_heatmaps, parsing_map, rasterize
from reenact.render.compiled import kernels
from reenact.render.rasterizer import _barycentric
from reenact.render.shaders import covered_pixels, interpolate_pixels, textured_proxy
from tests.conftest import data_path


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


def _brute_force(verts, faces, H, W, eps=1e-7):
    # Every (pixel centre, triangle) pair: inside the triangle's bounding box of pixel centres and
    # all barycentrics >= -eps; nearest depth wins, then the largest triangle id.
    tri = verts.float()[faces]  # (T, 3, 3)
    ys, xs = torch.meshgrid(torch.arange(H) + 0.5, torch.arange(W) + 0.5, indexing="ij")
    px, py = xs.reshape(-1, 1).expand(-1, len(faces)), ys.reshape(-1, 1).expand(-1, len(faces))
    t = tri[None].expand(H * W, -1, -1, -1).reshape(-1, 3, 3)
    b = _barycentric(t, px.reshape(-1), py.reshape(-1)).view(H * W, len(faces), 3)
    lo, hi = tri[..., :2].amin(1), tri[..., :2].amax(1)  # (T, 2)
    in_box = ((px >= lo[:, 0]) & (px <= hi[:, 0]) & (py >= lo[:, 1]) & (py <= hi[:, 1]))
    x, y = tri[..., 0], tri[..., 1]
    area = (x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (y[:, 1] - y[:, 0]) * (x[:, 2] - x[:, 0])
    inside = (b >= -eps).all(-1) & in_box & (area.abs() > 1e-10)
    z = torch.where(inside, (b * tri[None, :, :, 2]).sum(-1), torch.inf)  # (H*W, T)
    zbuf = z.amin(1)
    ids = torch.arange(len(faces)).expand(H * W, -1)
    p2f = torch.where(inside & (z == zbuf[:, None]), ids, -1).amax(1)
    bary = torch.where((p2f >= 0)[:, None], b[torch.arange(H * W), p2f.clamp(min=0)], 0.0)
    return p2f.view(H, W), bary.view(H, W, 3), zbuf.view(H, W)


def _soup(H, W, seed):
    # Overlapping triangles with vertices on a quarter-pixel grid (so pixel centres fall exactly on
    # edges and vertices), depths on a coarse grid (ties), both windings, degenerate ones, some
    # partly outside the image.
    g = torch.Generator().manual_seed(seed)
    v = torch.rand(40, 3, generator=g) * torch.tensor([W + 6.0, H + 6.0, 1.0]) - 3
    v[:, :2] = (v[:, :2] * 4).round() / 4
    v[:, 2] = (v[:, 2] * 4).round() / 4
    f = torch.randint(0, 40, (60, 3), generator=g)
    f[:5, 2] = f[:5, 1]  # zero area
    return v, f


@pytest.fixture(params=["compiled", "torch"])
def path(request, monkeypatch):
    """Each test below runs on the compiled loops (reenact.render.compiled) and on plain torch."""
    if request.param == "torch":
        monkeypatch.setattr(rasterizer_module, "usable_kernels", lambda: None)
        monkeypatch.setattr(shaders_module, "usable_kernels", lambda: None)
    else:
        assert kernels() is not None, "numba is a dependency: the compiled loops must load"
    return request.param


def test_matches_brute_force_on_triangle_soup(path):
    for seed, (H, W) in enumerate([(13, 21), (21, 13), (16, 16)]):
        v, f = _soup(H, W, seed)
        frags = rasterize(v[None], f, (H, W))
        p2f, bary, zbuf = _brute_force(v, f, H, W)
        assert frags.mask.any() and (p2f >= 0).sum() > H * W // 2
        assert torch.equal(frags.pix_to_face[0], p2f)
        assert torch.equal(frags.bary[0], bary)  # the same float32 arithmetic, bit for bit
        assert torch.equal(frags.zbuf[0], zbuf)


def test_differentiable_pass_gives_the_same_values(path):
    v, f = _soup(17, 19, 7)
    plain = rasterize(v[None], f, (17, 19))
    grad = rasterize(v[None].clone().requires_grad_(), f, (17, 19))
    assert grad.bary.requires_grad and not plain.bary.requires_grad
    assert torch.equal(plain.pix_to_face, grad.pix_to_face)
    assert torch.equal(plain.bary, grad.bary.detach())


def test_compiled_loops_equal_torch_bit_for_bit(monkeypatch):
    # a dense mesh (a jittered grid, shared edges as in the face mesh) and triangle soups, with
    # float32 and float64 attributes; the torch path is the reference
    g = torch.Generator().manual_seed(3)
    n = 24
    ys, xs = torch.meshgrid(torch.arange(n + 1.0), torch.arange(n + 1.0), indexing="ij")
    grid = torch.stack([xs * 2.6 + 3, ys * 2.4 + 4, torch.rand(n + 1, n + 1, generator=g)], -1)
    grid[..., :2] += torch.rand(n + 1, n + 1, 2, generator=g) - 0.5
    k = torch.arange(n * (n + 1)).view(n, n + 1)[:, :n].reshape(-1)
    mesh = (grid.view(-1, 3), torch.cat([torch.stack([k, k + 1, k + n + 1], 1),
                                         torch.stack([k + 1, k + n + 2, k + n + 1], 1)]))
    cases = [(mesh, (64, 70))] + [(_soup(H, W, s), (H, W)) for s, (H, W) in
                                  enumerate([(13, 21), (16, 16)])]
    for (v, f), (H, W) in cases:
        for dtype in (torch.float32, torch.float64):
            attrs = torch.rand(2, len(v), 5, generator=g, dtype=dtype) * 100
            verts = torch.stack([v, v.flip(0)]).float()
            fast = rasterize(verts, f, (H, W))
            fast_px = interpolate_pixels(fast, f, attrs)
            fast_flat = covered_pixels(fast, f, attrs)[0]
            fast_map = interpolate_attributes(fast, f, attrs)
            with monkeypatch.context() as m:
                m.setattr(rasterizer_module, "usable_kernels", lambda: None)
                m.setattr(shaders_module, "usable_kernels", lambda: None)
                ref = rasterize(verts, f, (H, W))
                ref_px = interpolate_pixels(ref, f, attrs)
                ref_flat = covered_pixels(ref, f, attrs)[0]
                ref_map = interpolate_attributes(ref, f, attrs)
            assert ref.mask.sum() > 100
            for a, b in [(fast.pix_to_face, ref.pix_to_face), (fast.bary, ref.bary),
                         (fast.zbuf, ref.zbuf), *zip(fast_px[0], ref_px[0]),
                         (fast_px[1], ref_px[1]), (fast_flat, ref_flat), (fast_map, ref_map)]:
                assert a.dtype == b.dtype and torch.equal(a, b)


def test_a_photo_and_one_image_driver_never_load_numba_and_a_video_loads_it_aside():
    """numba's import and cached code take about 0.4 s, more than a photo and one image driver
    take on the torch path (the same bits): that run leaves numba unloaded; a run of several
    frames loads the compiled loops in a thread of their own and uses them once ready."""
    code = (
        "import sys; from reenact.pipeline import Reenactor; from reenact.io import read_image;"
        f"photo = read_image({str(data_path('faces', 's42.jpg'))!r});"
        f"driver = read_image({str(data_path('faces', 'd9.jpg'))!r});"
        "r = Reenactor(); src = r.prepare_source(photo); r.animate(src, driver);"
        "print('numba' in sys.modules);"
        "r.animate(src, [driver, driver, driver]);"
        "import reenact.render.compiled as c; c._loader.join();"
        "print('numba' in sys.modules, c.usable_kernels() is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.split() == ["False", "True", "True"]


def test_where_the_loops_cannot_load_the_python_helpers_stay(monkeypatch):
    """The per-frame loops outside render/ (the brows', the smoothing's, the fit's) call helpers
    that loading compiles in place; where compiling fails (no writable cache: a RuntimeError) the
    Python ones are put back, for the Python loops that then run."""
    import numba

    from reenact.geometry import procrustes
    from reenact.render import compiled
    from reenact.tracking import smoothing

    python = [getattr(f, "py_func", f) for f in (procrustes.horn_quaternion,
                                                 smoothing._one_euro)]
    monkeypatch.setattr(procrustes, "horn_quaternion", python[0])
    monkeypatch.setattr(smoothing, "_one_euro", python[1])
    for name in ("_lerp", "_lerp3", "_corners", "_bilinear", "_bilinear3"):  # loaded already
        f = getattr(compiled, name)
        monkeypatch.setattr(compiled, name, getattr(f, "py_func", f))
    real = numba.njit

    def failing(*args, **kwargs):
        if args and isinstance(args[0], str):  # a loop compiled with its signature
            raise RuntimeError("cannot cache function: no locator available")
        return real(*args, **kwargs)

    monkeypatch.setattr(numba, "njit", failing)
    assert compiled._load.__wrapped__() is None
    assert procrustes.horn_quaternion is python[0] and smoothing._one_euro is python[1]
