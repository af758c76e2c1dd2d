"""Square face crops with margin, and their mapping back to the full frame.

A crop is an axis-aligned square in the full image: ``CropBox(cx, cy, side)``; the crop image of
size S maps full-image point p to ``(p - (cx - side/2, cy - side/2)) * S / side``.
"""

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropBox:
    cx: float
    cy: float
    side: float

    @property
    def x0(self) -> float:
        return self.cx - self.side / 2

    @property
    def y0(self) -> float:
        return self.cy - self.side / 2

    def to_crop(self, points: np.ndarray, size: int) -> np.ndarray:
        """Full-image points (..., 2 or 3) -> crop pixels; z scales like x and y."""
        out = np.array(points, dtype=np.float64, copy=True)
        k = size / self.side
        out[..., 0] = (out[..., 0] - self.x0) * k
        out[..., 1] = (out[..., 1] - self.y0) * k
        if out.shape[-1] > 2:
            out[..., 2:] *= k
        return out

    def to_image(self, points: np.ndarray, size: int) -> np.ndarray:
        """Crop pixels (..., 2 or 3) -> full-image points: the inverse of ``to_crop``."""
        out = np.array(points, dtype=np.float64, copy=True)
        k = self.side / size
        out[..., 0] = out[..., 0] * k + self.x0
        out[..., 1] = out[..., 1] * k + self.y0
        if out.shape[-1] > 2:
            out[..., 2:] *= k
        return out

    def snapped(self) -> "CropBox":
        """The box with whole-pixel corners and side (within half a pixel of this one): a crop
        pasted back into its picture is then an upsampling by a plain scale, with no sub-pixel
        shift (``reenact.motion.paste``)."""
        side = max(1, round(self.side))
        x0, y0 = round(self.x0), round(self.y0)
        return CropBox(cx=x0 + side / 2, cy=y0 + side / 2, side=float(side))

    @property
    def whole(self) -> bool:
        """Whether the corners and side are whole pixels (``snapped``)."""
        return all(float(v).is_integer() for v in (self.x0, self.y0, self.side))

    def affine(self, size: int) -> np.ndarray:
        """(2, 3) matrix mapping full-image pixels to crop pixels."""
        k = size / self.side
        return np.array([[k, 0.0, -self.x0 * k], [0.0, k, -self.y0 * k]])


def face_crop_box(points: np.ndarray, margin: float = 2.0) -> CropBox:
    """A square around landmarks (N, >=2): centred a little above the landmarks' box centre (to
    include hair), side = ``margin`` x the larger side of that box."""
    x0, y0 = points[:, 0].min(), points[:, 1].min()
    x1, y1 = points[:, 0].max(), points[:, 1].max()
    side = margin * max(x1 - x0, y1 - y0)
    return CropBox(cx=float((x0 + x1) / 2), cy=float((y0 + y1) / 2 - 0.06 * side), side=float(side))


def photo_crop(image: np.ndarray, points: np.ndarray, margin: float, size: int
               ) -> tuple[CropBox, np.ndarray]:
    """The photo's crop box around its face's landmarks (whole-pixel corners: paste-back
    upsamples by a plain scale, ``reenact.motion.paste``) and the (size, size, 3) crop, its
    border spread smoothly. One function for the pipeline and ``reenact.tracking.ahead``, which
    segments the same crop."""
    box = face_crop_box(points, margin).snapped()
    return box, crop_image(image, box, size, border="smooth")


def crop_image(image: np.ndarray, box: CropBox, size: int, border: str = "mirror") -> np.ndarray:
    """Cut the crop out of (H, W, 3) and resize it to (size, size, 3). Where the box leaves the
    image, ``border`` fills it: ``"mirror"`` reflects the image at its edge (training data: it
    keeps the texture statistics), ``"smooth"`` spreads the nearby colours smoothly
    (``fill_smooth``): a face at the photo's edge mirrored there shows a second chin, eye or
    head, which the warp then carries into view."""
    interp = cv2.INTER_AREA if box.side > size else cv2.INTER_LINEAR
    M = box.affine(size)
    if border == "mirror":
        return cv2.warpAffine(image, M, (size, size), flags=interp,
                              borderMode=cv2.BORDER_REFLECT_101)
    if border != "smooth":
        raise ValueError(f"border must be 'mirror' or 'smooth', got {border!r}")
    crop = cv2.warpAffine(image, M, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    # crop pixels that sample the image only (the box is axis-aligned: a rectangle); interpolated
    # edge pixels would mix in the replicated ones
    k = size / box.side
    xs, ys = np.arange(size) / k + box.x0, np.arange(size) / k + box.y0  # their image positions
    h, w = image.shape[:2]
    mask = (((ys >= 0) & (ys <= h - 1))[:, None] & ((xs >= 0) & (xs <= w - 1))[None]).astype(np.uint8)
    if mask.all():
        return crop
    # at a quarter of the size, in uint8 where it can be (a few ms a crop at full size in float),
    # softened: the coarse levels' bilinear patches would show as faint blocks
    small = (max(16, size // 4),) * 2
    weight = cv2.resize(mask.astype(np.float32), small, interpolation=cv2.INTER_AREA)
    colour = cv2.resize(cv2.bitwise_and(crop, crop, mask=mask), small,
                        interpolation=cv2.INTER_AREA).astype(np.float32)
    colour /= np.maximum(weight, 1e-6)[..., None]
    fill = cv2.GaussianBlur(fill_smooth(colour, weight), (0, 0), small[0] / 64)
    fill = cv2.resize(np.clip(fill + 0.5, 0, 255).astype(np.uint8), (size, size),
                      interpolation=cv2.INTER_LINEAR)
    cv2.copyTo(crop, mask, fill)  # the photo's own pixels where it has them
    return fill


def fill_smooth(image: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(H, W, C) float image, (H, W) weights in [0, 1] -> the image with every pixel set to a
    smooth blend of the known colours around it, wider the further they are (push-pull, as in
    Gortler et al., "The Lumigraph", 1996). Written here because OpenCV's inpainting is slow on
    large holes and draws its fill as streaks along the hole's edge."""
    if image.shape[0] <= 1 or image.shape[1] <= 1 or known.min() >= 1:
        return image
    w = known.astype(np.float32)[..., None]
    h, wd = image.shape[:2]
    small = (max(1, (wd + 1) // 2), max(1, (h + 1) // 2))
    num = cv2.resize(image * w, small, interpolation=cv2.INTER_AREA).reshape(small[1], small[0], -1)
    den = cv2.resize(w, small, interpolation=cv2.INTER_AREA).reshape(small[1], small[0], 1)
    coarse = fill_smooth(num / np.maximum(den, 1e-6), np.minimum(den[..., 0] * 4, 1))
    up = cv2.resize(coarse, (wd, h), interpolation=cv2.INTER_LINEAR).reshape(image.shape)
    return w * image + (1 - w) * up


def smooth_boxes(boxes: list[CropBox], window: int = 31) -> list[CropBox]:
    """Steady crops over a video: a centred moving median of centre and side (robust to single-frame
    tracking errors), then a moving average, so the box does not jitter frame to frame."""
    if not boxes:
        return []
    arr = np.array([(b.cx, b.cy, b.side) for b in boxes])
    n, half = len(arr), window // 2
    med = np.stack([np.median(arr[max(0, i - half):i + half + 1], axis=0) for i in range(n)])
    kernel = np.ones(min(window, n)) / min(window, n)
    pad = np.pad(med, ((len(kernel) // 2, len(kernel) - 1 - len(kernel) // 2), (0, 0)),
                 mode="edge")
    smooth = np.stack([np.convolve(pad[:, k], kernel, mode="valid") for k in range(3)], axis=1)
    return [CropBox(float(c), float(y), float(s)) for c, y, s in smooth]


class StableCropper:
    """Online steady crop boxes for a video: each frame's face box goes through a One-Euro filter
    with a low cut-off (the box glides after the face instead of jittering with the landmarks)."""

    def __init__(self, fps: float, margin: float = 2.0, min_cutoff: float = 0.1, beta: float = 0.005):
        from reenact.tracking.smoothing import OneEuroFilter

        self.dt = 1.0 / float(fps)
        self.margin = margin
        self._filter = OneEuroFilter(min_cutoff=min_cutoff, beta=beta)
        self.box: CropBox | None = None

    def __call__(self, points: np.ndarray | None, dt: float | None = None) -> CropBox | None:
        """Update with this frame's landmarks (None: no face, keep the box); ``dt``: seconds since
        the last frame (default 1 / fps)."""
        if points is not None:
            raw = face_crop_box(points, self.margin)
            cx, cy, side = self._filter(np.array([raw.cx, raw.cy, raw.side]),
                                        self.dt if dt is None else dt)
            self.box = CropBox(float(cx), float(cy), float(side))
        return self.box
