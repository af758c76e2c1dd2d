"""Fine expression detail: the folds an expression adds in the driver carried onto the photo.

The warp moves the photo's skin but draws no fold the photo does not have: a frown's lines between
the brows, a smile's nasolabial folds, a raised brow's forehead lines. As an expression ratio
image (Liu, Shan and Zhang, "Expressive expression mapping with ratio images", SIGGRAPH 2001):
the driving frame and the driver's reference frame are each laid out in the face texture (the
landmark mesh's mean shape seen from the front, ``reenact.motion.completion.texel_layout``), so
the same texel is the same point of the skin in both; the change of their fine luminance detail
(log luminance less its blur, which drops shading and lighting) is the fold the expression made.
It multiplies the re-enacted face's pixels at the same texels.

Only skin away from the features (eyes, brows, lips, nostrils, the face's outline) takes it: at a
feature's edge a tracking error of a pixel reads as a fold. Small changes are registration and
compression noise and are dropped (a soft threshold).
"""

import functools

import cv2
import numpy as np
import torch

from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.topology import REGION, landmark_topology
from reenact.motion.completion import texel_layout
from reenact.render import Fragments, rasterize
from reenact.render.shaders import interpolate_attributes, sample_image

TEXELS = 256  # the detail texture's side
SIGMA = 3.0  # texels: the blur that separates fine detail from shading
NOISE = 0.04  # log-luminance darkening this small is noise: soft-thresholded away
DARKEST = -0.4  # the log ratio's floor; folds only darken (a brightened ridge turned pale skin white)
MARGIN = {"eyes": 6, "iris": 6, "brows": 5, "lips": 6, "mouth": 6, "nose": 2}  # texels kept clear
RIM = 8  # texels kept clear of the face's outline
CARRY = 0.5  # of the last frame's ratio kept (tracking jitter would make folds flicker)
SOFTEN = 1.5  # texels: the ratio blurred, so a fold is shading, not a drawn line


@functools.lru_cache(maxsize=1)
def _layout() -> tuple[torch.Tensor, Fragments, np.ndarray]:
    """The texture layout (V, 3), its rasterization, and (T, T) float where the detail is used."""
    model = LandmarkFaceModel()
    layout = texel_layout(model, TEXELS)
    faces = torch.from_numpy(model.topology.triangles)
    frags = rasterize(layout[None], faces, (TEXELS, TEXELS))
    tri = frags.pix_to_face[0].numpy()
    region = np.where(tri >= 0, model.topology.triangle_region[np.maximum(tri, 0)], -1)
    keep = (tri >= 0).astype(np.uint8)
    keep = cv2.erode(keep, np.ones((2 * RIM + 1, 2 * RIM + 1), np.uint8))
    for name, m in MARGIN.items():
        feature = (region == REGION[name]).astype(np.uint8)
        keep &= 1 - cv2.dilate(feature, np.ones((2 * m + 1, 2 * m + 1), np.uint8))
    soft = cv2.GaussianBlur(keep.astype(np.float32), (0, 0), 2.0) * keep
    return layout, frags, soft


def fine_detail(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(T, T) float32: a frame's log luminance less its blur, laid out in the face texture through
    its tracked points ((V, 2+) frame pixels)."""
    frags = _layout()[1]
    faces = torch.from_numpy(landmark_topology().triangles)
    at = interpolate_attributes(frags, faces, torch.from_numpy(
        np.ascontiguousarray(points[None, :, :2], dtype=np.float64)))[0].numpy().astype(np.float32)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    tex = cv2.remap(np.log(grey + 8.0), at[..., 0] - 0.5, at[..., 1] - 0.5, cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return tex - cv2.GaussianBlur(tex, (0, 0), SIGMA)


class ExpressionDetail:
    """Per driving clip: the reference frame's fine detail, and each frame's log ratio against it
    (``__call__``), carried a little from frame to frame; ``shading`` lays it on a warp."""

    def __init__(self, reference: np.ndarray, points: np.ndarray):
        self.reference = fine_detail(reference, points)
        self.last: np.ndarray | None = None

    def __call__(self, frame: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(T, T) float32 log ratio of the frame's fine detail to the reference's."""
        change = fine_detail(frame, points) - self.reference
        fold = np.clip(change + NOISE, DARKEST, 0.0)  # darkening past the noise, soft-thresholded
        ratio = cv2.GaussianBlur(fold, (0, 0), SOFTEN) * _layout()[2]
        if self.last is not None:
            ratio = (1 - CARRY) * ratio + CARRY * self.last
        self.last = ratio
        return ratio


def shading(ratio: np.ndarray, fragments: Fragments, faces: torch.Tensor) -> torch.Tensor:
    """(B, 1, S, S) the factor that lays a log ratio (T, T) on re-enacted face pixels
    (``fragments`` of the face mesh ``faces``); 1 off the face."""
    layout = _layout()[0][:, :2]
    B = fragments.pix_to_face.shape[0]
    at = interpolate_attributes(fragments, faces, layout[None].expand(B, -1, -1).double())
    r = torch.from_numpy(ratio)[None, None].expand(B, 1, -1, -1).float()
    log = sample_image(r, at.float())  # (B, 1, S, S)
    return torch.exp(log * (fragments.pix_to_face >= 0)[:, None].float())
