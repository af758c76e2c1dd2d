"""Shaders: fragments -> images. Proxies P_s / P_r, parsing maps, landmark heatmaps."""

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from reenact.geometry.fastpath import plain, unravel
from reenact.render.compiled import usable_kernels
from reenact.render.rasterizer import Fragments


def covered_pixels(fragments: Fragments, faces: torch.Tensor, attrs: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Barycentric interpolation at covered pixels only: the (N,) flat indices of the N covered
    pixels into the (B, H, W) maps, in order, and their values (N, C). ``attrs`` is (B, V, C)
    per-vertex values. (One index, where the pixels are written back with ``view(-1)``: a
    quarter of the time of three.)"""
    flat, _, vals = covered_pixels_at(fragments, faces, attrs, unravelled=False)
    return flat, vals


def covered_pixels_at(fragments: Fragments, faces: torch.Tensor, attrs: torch.Tensor,
                      unravelled: bool = True
                      ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...] | None, torch.Tensor]:
    """``covered_pixels`` with the pixels' (b, y, x) index tensors too (None unless
    ``unravelled``): the compiled loop writes them as it goes, cheaper than dividing the flat
    index after."""
    B, W = fragments.pix_to_face.shape[0], fragments.pix_to_face.shape[2]
    fast = usable_kernels() if plain(fragments.bary, attrs) else None
    if fast is not None and attrs.dtype in (torch.float32, torch.float64):
        flat, at, vals = fast.interpolate(
            fragments.pix_to_face.reshape(B, -1).numpy(), fragments.bary.reshape(B, -1, 3).numpy(),
            faces.numpy(), attrs.numpy(), W)
        return (torch.from_numpy(flat), tuple(torch.from_numpy(a) for a in at) if unravelled
                else None, torch.from_numpy(vals))
    flat = torch.nonzero(fragments.mask.reshape(-1))[:, 0]
    b = flat.div(fragments.pix_to_face[0].numel(), rounding_mode="floor")
    vidx = faces[fragments.pix_to_face.reshape(-1)[flat]]  # (N, 3)
    vals = attrs[b[:, None], vidx]  # (N, 3, C)
    w = fragments.bary.reshape(-1, 3)[flat].to(vals.dtype)  # (N, 3)
    return (flat, unravel(flat, fragments.pix_to_face.shape) if unravelled else None,
            (w[..., None] * vals).sum(1))


def interpolate_pixels(fragments: Fragments, faces: torch.Tensor, attrs: torch.Tensor
                       ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
    """``covered_pixels`` with (b, y, x) index tensors in place of the flat index."""
    _, at, vals = covered_pixels_at(fragments, faces, attrs)
    return at, vals


def interpolate_attributes(fragments: Fragments, faces: torch.Tensor, attrs: torch.Tensor
                           ) -> torch.Tensor:
    """Barycentric interpolation of per-vertex attributes.

    Args:
        fragments: from ``rasterize`` with (B, H, W) maps.
        faces: (T, 3) the triangles that were rasterized.
        attrs: (B, V, C) per-vertex values.

    Returns:
        (B, H, W, C); zero where no triangle covers the pixel.
    """
    B, H, W = fragments.pix_to_face.shape
    flat, vals = covered_pixels(fragments, faces, attrs)
    return attrs.new_zeros(B * H * W, attrs.shape[-1]).index_copy_(0, flat, vals).view(B, H, W, -1)


def sample_image(image: torch.Tensor, coords: torch.Tensor, padding: str = "border"
                 ) -> torch.Tensor:
    """Bilinear sampling of ``image`` (B, C, H, W) at absolute pixel coordinates ``coords``
    (B, Ho, Wo, 2) in (x, y) order (pixel centres at +0.5, see reenact.geometry)."""
    H, W = image.shape[-2:]
    if image.shape[0] == 1 and coords.shape[0] > 1:  # one image for a batch of flows
        image = image.expand(coords.shape[0], -1, -1, -1)
    scale = coords.new_tensor([2.0 / W, 2.0 / H])
    grid = coords * scale - 1.0
    return F.grid_sample(image, grid.to(image.dtype), mode="bilinear", padding_mode=padding,
                         align_corners=False)


def resize_bilinear(image: torch.Tensor, size: int) -> torch.Tensor:
    """``F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)``; for a
    (B, C, h, w) CPU tensor without gradients (``plain``) by OpenCV: the same half-pixel
    convention and values (to rounding), three to five times faster on the per-frame flows and
    masks. Up to 4 channels are resized interleaved in one call (the result channels-last in
    memory); more a plane at a time into a channels-first result (paste-back's six or seven
    layers: 0.9 against 4.2 ms at 256 -> 527 px; interleaved, OpenCV's channels-last result
    slowed the operations after it)."""
    C = image.shape[1]
    if not plain(image):
        return F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)
    if C > 4:
        return resize_planes([image], size)
    planes = image.permute(0, 2, 3, 1).numpy()  # (B, h, w, C)
    out = np.empty((image.shape[0], size, size, C), planes.dtype)
    for plane, into in zip(planes, out, strict=True):  # written in place, not stacked after
        cv2.resize(np.ascontiguousarray(plane), (size, size), dst=into,
                   interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def resize_planes(parts: list[torch.Tensor], size: int) -> torch.Tensor:
    """``resize_bilinear(torch.cat(parts, 1), size)`` for (B, C_i, h, w) parts, a plane at a
    time by OpenCV into a channels-first result, each plane read where it lies (paste-back's
    flow, overlay and weights are not first copied into one tensor: 3.0 -> 2.2 ms at 512 ->
    527 px). Parts of mixed dtypes or not ``plain`` are joined and resized as one tensor."""
    if not all(plain(p) for p in parts) or len({p.dtype for p in parts}) > 1:
        return resize_bilinear(torch.cat(parts, 1), size)
    planes = [plane for part in parts for plane in part.transpose(0, 1)]  # (B, h, w) each
    out = np.empty((len(parts[0]), len(planes), size, size), planes[0].numpy().dtype)
    for c, plane in enumerate(planes):
        for b, one in enumerate(plane.numpy()):
            cv2.resize(np.ascontiguousarray(one), (size, size), dst=out[b, c],
                       interpolation=cv2.INTER_LINEAR)
    return torch.from_numpy(out)


def textured_proxy(fragments: Fragments, faces: torch.Tensor, verts_uv: torch.Tensor,
                   texture: torch.Tensor) -> torch.Tensor:
    """A textured face proxy (P_s or P_r): the texture sampled at interpolated texture coordinates.

    Args:
        verts_uv: (B, V, 2) each vertex's position in the texture image, pixels (the source mesh's
            projection when the texture is the source image).
        texture: (B, 3, Ht, Wt) in [0, 1].

    Returns:
        (B, 3, H, W), zero (black) outside the mesh.
    """
    uv = interpolate_attributes(fragments, faces, verts_uv)  # (B, H, W, 2)
    rgb = sample_image(texture, uv)
    return rgb * fragments.mask[:, None].to(rgb.dtype)


def parsing_map(fragments: Fragments, triangle_region: torch.Tensor,
                person_mask: torch.Tensor | None = None, hair_label: int = 8) -> torch.Tensor:
    """A face parsing map: each pixel's region label (see reenact.face.topology.REGION).

    Args:
        triangle_region: (T,) region id per triangle.
        person_mask: optional (B, H, W) in [0, 1] (selfie segmentation); person pixels outside the
            face mesh become ``hair_label`` (hair, ears, neck, body), the rest background (0).

    Returns:
        (B, H, W) int64 labels.
    """
    labels = torch.where(fragments.mask, triangle_region[fragments.pix_to_face.clamp(min=0)],
                         torch.zeros_like(fragments.pix_to_face))
    if person_mask is not None:
        labels = torch.where(~fragments.mask & (person_mask > 0.5),
                             torch.full_like(labels, hair_label), labels)
    return labels


def landmark_heatmaps(points: torch.Tensor, image_size: tuple[int, int], sigma: float = 2.0
                      ) -> torch.Tensor:
    """Gaussian heatmaps, one channel per point (or per group when ``points`` is (B, K, N, 2):
    the channel is the max over the group's N points).

    Args:
        points: (B, K, 2) or (B, K, N, 2) pixel coordinates (x, y).
        image_size: (H, W).
        sigma: Gaussian standard deviation in pixels.

    Returns:
        (B, K, H, W) in [0, 1].
    """
    H, W = image_size
    grouped = points.ndim == 4
    pts = points if grouped else points[:, :, None]
    ys = torch.arange(H, dtype=pts.dtype, device=pts.device) + 0.5
    xs = torch.arange(W, dtype=pts.dtype, device=pts.device) + 0.5
    gx = torch.exp(-((xs - pts[..., 0:1]) ** 2) / (2 * sigma**2))  # (B, K, N, W)
    gy = torch.exp(-((ys - pts[..., 1:2]) ** 2) / (2 * sigma**2))  # (B, K, N, H)
    heat = gy[..., :, None] * gx[..., None, :]  # (B, K, N, H, W)
    return heat.amax(2)
