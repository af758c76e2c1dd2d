"""A vectorised z-buffer rasterizer in torch, differentiable through the barycentric coordinates.

Each triangle enumerates the pixel centres in its bounding box (a ragged set, flattened with
``repeat_interleave``), keeps those inside, and the nearest one per pixel wins by a scatter-min on
depth. Visibility is discrete (no gradient), but the winners' barycentrics are recomputed from the
vertex positions with differentiable operations, so anything interpolated from them (flow, texture
coordinates) has gradients with respect to the vertices. Written in plain torch so it runs anywhere
torch does; the face mesh at 256 px rasterizes in a few milliseconds on a CPU.
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Fragments:
    """Per-pixel rasterization output, the typed hand-off to shaders.

    pix_to_face: (B, H, W) int64 triangle index, -1 where no triangle covers the pixel centre.
    bary: (B, H, W, 3) barycentric coordinates of the pixel centre in that triangle (0 where none).
    zbuf: (B, H, W) interpolated depth (image-space z; +inf where none).
    """

    pix_to_face: torch.Tensor
    bary: torch.Tensor
    zbuf: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """(B, H, W) bool, True where a triangle covers the pixel."""
        return self.pix_to_face >= 0


def _edge(ax, ay, bx, by, px, py):
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def _barycentric(tri: torch.Tensor, px: torch.Tensor, py: torch.Tensor) -> torch.Tensor:
    """tri (N, 3, >=2), points (N,) -> (N, 3) barycentrics (any winding)."""
    x0, y0, x1, y1, x2, y2 = (tri[:, 0, 0], tri[:, 0, 1], tri[:, 1, 0], tri[:, 1, 1],
                              tri[:, 2, 0], tri[:, 2, 1])
    area = _edge(x0, y0, x1, y1, x2, y2)
    safe = torch.where(area.abs() < 1e-12, torch.full_like(area, 1e-12), area)
    w0 = _edge(x1, y1, x2, y2, px, py) / safe
    w1 = _edge(x2, y2, x0, y0, px, py) / safe
    return torch.stack([w0, w1, 1.0 - w0 - w1], dim=-1)


def _rasterize_one(verts: torch.Tensor, faces: torch.Tensor, H: int, W: int, eps: float):
    device = verts.device
    with torch.no_grad():
        v = verts.detach().float()  # float32 is exact enough to pick pixels, and twice as fast
        tri = v[faces]  # (T, 3, 3)
        x0 = torch.ceil(tri[..., 0].amin(1) - 0.5).clamp(0, W).long()
        x1 = torch.floor(tri[..., 0].amax(1) - 0.5).clamp(-1, W - 1).long()
        y0 = torch.ceil(tri[..., 1].amin(1) - 0.5).clamp(0, H).long()
        y1 = torch.floor(tri[..., 1].amax(1) - 0.5).clamp(-1, H - 1).long()
        nx, ny = (x1 - x0 + 1).clamp(min=0), (y1 - y0 + 1).clamp(min=0)
        area = _edge(tri[:, 0, 0], tri[:, 0, 1], tri[:, 1, 0], tri[:, 1, 1], tri[:, 2, 0],
                     tri[:, 2, 1])
        count = torch.where(area.abs() > 1e-10, nx * ny, torch.zeros_like(nx))
        tid = torch.repeat_interleave(torch.arange(len(faces), device=device), count)
        pix_to_face = torch.full((H * W,), -1, dtype=torch.long, device=device)
        zbuf = torch.full((H * W,), float("inf"), dtype=v.dtype, device=device)
        if len(tid):
            start = torch.cumsum(count, 0) - count
            local = torch.arange(len(tid), device=device) - start[tid]
            px = x0[tid] + local % nx[tid]
            py = y0[tid] + local // nx[tid]
            b = _barycentric(tri[tid], px.to(v.dtype) + 0.5, py.to(v.dtype) + 0.5)
            inside = (b >= -eps).all(1)
            tid, px, py, b = tid[inside], px[inside], py[inside], b[inside]
            z = (b * tri[tid, :, 2]).sum(1)
            pix = py * W + px
            zbuf.scatter_reduce_(0, pix, z, reduce="amin")
            win = z <= zbuf[pix]
            pix_to_face.scatter_reduce_(0, pix[win], tid[win], reduce="amax")
    p2f = pix_to_face.view(H, W)
    covered = p2f >= 0
    bary = torch.zeros(H, W, 3, dtype=verts.dtype, device=device)
    if covered.any():
        ys, xs = torch.nonzero(covered, as_tuple=True)
        tri_g = verts[faces[p2f[covered]]]  # (N, 3, 3) with gradients
        bary = bary.index_put((ys, xs), _barycentric(tri_g, xs.to(verts.dtype) + 0.5,
                                                     ys.to(verts.dtype) + 0.5))
    return p2f, bary, zbuf.view(H, W).to(verts.dtype)


def rasterize(verts: torch.Tensor, faces: torch.Tensor, image_size: tuple[int, int],
              eps: float = 1e-7) -> Fragments:
    """Rasterize triangles given in image space (see reenact.geometry: pixel centres at +0.5).

    Args:
        verts: (B, V, 3) image-space vertices (x, y in pixels, z depth; smaller z is nearer).
        faces: (T, 3) int64 vertex indices, shared by the batch.
        image_size: (H, W).

    Returns:
        Fragments with (B, H, W) tensors.

    Example:
        >>> v = torch.tensor([[[0.0, 0.0, 1.0], [4.0, 0.0, 1.0], [0.0, 4.0, 1.0]]])
        >>> frags = rasterize(v, torch.tensor([[0, 1, 2]]), (4, 4))
        >>> int(frags.mask.sum())  # pixel centres on or below the diagonal x + y = 4
        10
    """
    if verts.ndim != 3 or verts.shape[-1] != 3:
        raise ValueError(f"verts must be (B, V, 3), got {tuple(verts.shape)}")
    H, W = image_size
    outs = [_rasterize_one(v, faces, H, W, eps) for v in verts]
    return Fragments(pix_to_face=torch.stack([o[0] for o in outs]),
                     bary=torch.stack([o[1] for o in outs]),
                     zbuf=torch.stack([o[2] for o in outs]))
