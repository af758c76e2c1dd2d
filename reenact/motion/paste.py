"""The re-enacted crop placed back into the photo, and the output's panels.

Paste-back renders the warp at the photo's own resolution inside the crop box and feathers it in;
``side_by_side`` lays out source | driving | result for ``--side-by-side``.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from reenact.geometry.fastpath import plain
from reenact.io import image_to_tensor
from reenact.motion.analytic import WarpResult
from reenact.render.compiled import usable_kernels, without_waiting
from reenact.render.shaders import resize_planes, sample_image
from reenact.tracking.crop import CropBox

FEATHER = 0.06  # paste-back alpha ramp, as a fraction of the crop side


def _to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W, 3) uint8, contiguous."""
    with without_waiting():  # one image's crop sooner than numba loads
        fast = usable_kernels() if plain(image) and image.dtype == torch.float32 else None
    if fast is not None:
        return fast.to_bytes(image.numpy())
    # to bytes, channels first, then interleaved by OpenCV (copying the float tensor
    # transposed took three times as long)
    return cv2.merge(list(image.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).numpy()))


@dataclass(frozen=True)
class PasteGeometry:
    """What paste-back needs that depends only on the source frame and crop box (cached)."""

    region: tuple[int, int, int, int]  # x0, y0, x1, y1 in the full frame
    at: torch.Tensor | None  # (1, h, w, 2) crop pixels of each full-resolution pixel in the
    #   region; None for a box with whole-pixel corners and side (``CropBox.snapped``), where the
    #   crop upsampled to the box's side and cut at ``window`` gives the same
    window: tuple[int, int]  # where the region starts in the box (whole boxes)
    feather: torch.Tensor  # (1, 1, h, w) paste alpha, 0 at the crop border
    band: tuple[tuple[slice, slice], ...]  # (rows, columns) of the region that hold every
    #   feather value below 1 (the pasted crop alone shows elsewhere)
    frame: torch.Tensor  # (1, 3, H, W) the full source frame in [0, 1]


def paste_geometry(frame: np.ndarray, box: CropBox, S: int) -> PasteGeometry | None:
    H, W = frame.shape[:2]
    x0, y0 = max(0, int(np.floor(box.x0))), max(0, int(np.floor(box.y0)))
    x1, y1 = min(W, int(np.ceil(box.x0 + box.side))), min(H, int(np.ceil(box.y0 + box.side)))
    if x1 <= x0 or y1 <= y0:
        return None
    k = S / box.side
    ys = (torch.arange(y0, y1, dtype=torch.float64) + 0.5 - box.y0) * k
    xs = (torch.arange(x0, x1, dtype=torch.float64) + 0.5 - box.x0) * k
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    edge = torch.minimum(torch.minimum(gx, S - gx), torch.minimum(gy, S - gy)) / S
    at = None if box.whole else torch.stack([gx, gy], -1)[None].float()
    feather = (edge / FEATHER).clamp(0, 1)[None, None].float()
    return PasteGeometry(region=(x0, y0, x1, y1), at=at,
                         window=(round(y0 - box.y0), round(x0 - box.x0)), feather=feather,
                         band=_band(feather[0, 0] < 1), frame=image_to_tensor(frame))


def _band(edge: torch.Tensor) -> tuple[tuple[slice, slice], ...]:
    """(h, w) bool, true on a frame round a rectangle (the feather's ramp) -> (rows, columns)
    slices covering it: the rows above and below the rectangle and its sides between them."""
    inner_rows = torch.nonzero(~edge.all(1))[:, 0]
    if len(inner_rows) == 0:
        return ((slice(None), slice(None)),)
    ya, yb = int(inner_rows[0]), int(inner_rows[-1]) + 1
    inner_cols = torch.nonzero(~edge[ya:yb].any(0))[:, 0]
    xa, xb = int(inner_cols[0]), int(inner_cols[-1]) + 1
    return ((slice(0, ya), slice(None)), (slice(yb, None), slice(None)),
            (slice(ya, yb), slice(0, xa)), (slice(ya, yb), slice(xb, None)))


def paste_back(frame: np.ndarray, box: CropBox, warp: WarpResult,
               geometry: PasteGeometry | None = None) -> np.ndarray:
    """Render the warp at the source frame's own resolution inside the crop box and blend it in.

    The flow and overlay layers (smooth fields) are upsampled from crop resolution and the full-
    resolution source is sampled through them, so no detail is lost to the crop's size. The blend
    is seamless by construction: the warp leaves the crop's border where it was (the extension
    mesh pins it), so the feathered edge mixes the source with itself. (A Poisson blend was tried
    and dropped: over a whole crop it shifted colours by 18 levels on average.)
    """
    S = warp.overlay.shape[-1]
    geo = geometry or paste_geometry(frame, box, S)
    if geo is None:
        return frame.copy()
    x0, y0, x1, y1 = geo.region
    k = S / box.side
    parts = [warp.coords_src_from_out.permute(0, 3, 1, 2), warp.overlay, warp.overlay_weight]
    if warp.shading is not None:
        parts.append(warp.shading.to(warp.overlay.dtype))
    if geo.at is None:  # a whole box: the crop's pixels cover the box's evenly, so this is
        # sample_image at the region's pixels (to rounding), a ninth of its time
        side, (wy, wx) = round(box.side), geo.window
        up = resize_planes([p.float() for p in parts], side)[..., wy:wy + y1 - y0,
                                                                 wx:wx + x1 - x0]
    else:
        up = sample_image(torch.cat(parts, 1).float(), geo.at)  # (1, 6 or 7, h, w)
    out = frame.copy()
    fast = usable_kernels() if plain(up) and up.dtype == geo.frame.dtype == torch.float32 else None
    if fast is not None:  # the same pixels in one compiled pass (reenact.render.compiled)
        fast.paste(up[0].numpy(), geo.frame[0].numpy(), (x0, y0), (box.x0, box.y0), k,
                   geo.feather[0, 0].numpy(), out[y0:y1, x0:x1])
        return out
    coords_full = up[:, :2].permute(0, 2, 3, 1) / k + torch.tensor([box.x0, box.y0])
    warped = sample_image(geo.frame, coords_full)
    mixed = torch.lerp(warped, up[:, 2:5], up[:, 5:6])
    if warp.shading is not None:
        mixed.mul_(up[:, 6:7])
    below = geo.frame[:, :, y0:y1, x0:x1]
    for rows, cols in geo.band:  # the photo fades in where the feather is below 1
        mixed[..., rows, cols] = torch.lerp(below[..., rows, cols], mixed[..., rows, cols],
                                            geo.feather[..., rows, cols])
    out[y0:y1, x0:x1] = _to_uint8(mixed[0])
    return out


def warp_crop(warp: WarpResult) -> np.ndarray:
    """The crop-resolution result of a warp as (S, S, 3) uint8."""
    return _to_uint8(warp.image[0])


def side_by_side(source: np.ndarray, driving: np.ndarray, result: np.ndarray, h: int = 256
                 ) -> np.ndarray:
    """Source | driving | result panels, each resized to height ``h``."""

    def fit(img):
        return cv2.resize(img, (round(img.shape[1] * h / img.shape[0]) // 2 * 2, h),
                          interpolation=cv2.INTER_AREA)

    return np.concatenate([fit(source), fit(driving), fit(result)], axis=1)
