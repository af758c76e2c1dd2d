"""The driver's own mouth interior (teeth, tongue, shadow) for the re-enacted mouth.

A training-free reenactor cannot know what lies behind the photo's closed lips; the driver's open
mouth shows it ("Bringing Portraits to Life", Averbuch-Elor et al., SIGGRAPH Asia 2017, which
transfers the driver's mouth interior the same way). The gap between the driver's inner lips is
laid out in the mouth coordinates every re-enacted mouth pixel already has (u across from corner
to corner, v from the upper inner lip to the lower; ``reenact.motion.scene._mouth_uv``), sampled
from the driving frame, and colour-matched to the photo by the ratio of the two faces' skin
colours (brightness and white balance) and by the ratio of their sharpness (blur).
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from reenact.face.topology import LOWER_LIP_INNER, REGION, UPPER_LIP_INNER, landmark_topology
from reenact.motion.completion import local_mean, smoothstep
from reenact.render import rasterize

MOUTH_TEXELS = (32, 64)  # (height, width) of the laid-out mouth gap
# Skin vertices around the mouth and on the cheeks, chin and forehead (mediapipe's 478 points):
# where the two faces' colours are compared.
SKIN_POINTS = (50, 280, 205, 425, 199, 151, 187, 411, 36, 266, 117, 346)
SKIN_PATCH = 0.04  # side of the square averaged around each skin point, head units
CHROMA_SHARE = 0.5  # of the skins' chroma difference taken as a difference in light
GAIN_RANGE = (0.5, 2.0)  # a luma gain outside this is a tracking or lighting failure
# The driver's lip gap, head units: closed below DRIVER_OPEN[0] (its gap shows only lip), fully
# used from DRIVER_OPEN[1]; between, blended with the synthetic interior.
DRIVER_OPEN = (0.02, 0.05)
MAX_BLUR = 3.0  # texels: the most the driver's mouth is blurred to match a soft photo


@dataclass(frozen=True)
class MouthLook:
    """What a driver's mouth is matched to: the photo's skin colour and sharpness."""

    skin: np.ndarray  # (3,) mean RGB in [0, 1] at SKIN_POINTS
    sharpness: float  # high-frequency energy of the face per head unit (``face_sharpness``)


def skin_colour(image: np.ndarray, points: np.ndarray, scale: float) -> np.ndarray:
    """(H, W, 3) uint8 image, (478, 2+) landmarks in its pixels, pixels per head unit -> (3,)
    mean RGB in [0, 1] of small squares around SKIN_POINTS (inside the image)."""
    half = max(1, round(SKIN_PATCH * scale / 2))
    H, W = image.shape[:2]
    patches = []
    for x, y in np.round(points[list(SKIN_POINTS), :2]).astype(int):
        x0, x1, y0, y1 = max(0, x - half), min(W, x + half + 1), max(0, y - half), min(H, y + half + 1)
        if x1 > x0 and y1 > y0:
            patches.append(image[y0:y1, x0:x1].reshape(-1, 3))
    if not patches:
        return np.full(3, 0.5)
    return np.concatenate(patches).mean(0) / 255.0


# RGB -> luma and two chroma axes (ITU-R BT.601 YCbCr without offsets): a linear, opponent
# colour space in which white balance is a chroma shift, enough for this (CIELAB through OpenCV
# took a millisecond a call).
_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_RGB = np.linalg.inv(_YCC)


def match_colour(texture: np.ndarray, photo: np.ndarray, driver: np.ndarray) -> np.ndarray:
    """(h, w, 3) driver-lit texture in [0, 1], (3,) skin colours -> the texture in the photo's
    light: the chroma scaled by the ratio of the two skins' saturations (a black-and-white photo
    gets a grey mouth, not the blue one a per-channel gain gave) and moved by CHROMA_SHARE of
    their difference, the luma by half the ratio of theirs (in log; skins differ in lightness
    between people as well as exposures: a pale photo's mouth is not lit as brightly as its
    skin)."""
    yp, yd = _YCC @ np.asarray(photo, float), _YCC @ np.asarray(driver, float)
    ycc = texture.astype(np.float64) @ _YCC.T
    sat = float(np.clip((np.linalg.norm(yp[1:]) + 0.01) / (np.linalg.norm(yd[1:]) + 0.01), 0, 1.2))
    # half the skins' chroma difference, as for the luma: the rest is the two people's skin tones
    # (all of it tinted the driver's white teeth the colour of a warmer photo's skin)
    ycc[..., 1:] = ycc[..., 1:] * sat + CHROMA_SHARE * (yp[1:] - yd[1:] * sat)
    ycc[..., 0] *= float(np.clip(np.sqrt(max(yp[0], 1e-3) / max(yd[0], 1e-3)), *GAIN_RANGE))
    return np.clip(ycc @ _RGB.T, 0, 1).astype(np.float32)


def face_sharpness(image: np.ndarray, points: np.ndarray, scale: float) -> float:
    """Mean absolute Laplacian of the grey face (its landmarks' bounding box) resampled to 64
    pixels per head unit: how much fine detail the face shows, whatever its size in pixels."""
    x0, y0 = np.floor(points[:, :2].min(0)).astype(int)
    x1, y1 = np.ceil(points[:, :2].max(0)).astype(int)
    H, W = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    grey = cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255
    k = 64.0 / max(scale, 1e-6)
    grey = cv2.resize(grey, (max(4, int((x1 - x0) * k)), max(4, int((y1 - y0) * k))),
                      interpolation=cv2.INTER_AREA)
    return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F)).mean())


def look_of(image: np.ndarray, points: np.ndarray, scale: float) -> MouthLook:
    return MouthLook(skin_colour(image, points, scale), face_sharpness(image, points, scale))


class DriverMouth:
    """Lays out a driving frame's mouth gap as an (h, w, 3) texture in mouth coordinates."""

    def __init__(self, mouth_uv: torch.Tensor):
        topo = landmark_topology()
        self.faces = torch.from_numpy(topo.triangles[topo.triangle_region == REGION["mouth"]])
        h, w = MOUTH_TEXELS
        uv = mouth_uv.double()
        # each vertex's place in the texture (the gap's triangles only use inner-lip vertices)
        layout = torch.stack([uv[:, 0] * w, uv[:, 1] * h, torch.zeros_like(uv[:, 0])], -1)
        frags = rasterize(layout[None], self.faces, (h, w))
        self.covered = frags.mask[0].numpy().astype(np.float32)
        # the texels' triangles and barycentric weights, fixed: per frame only the points move
        _, y, x = torch.nonzero(frags.mask, as_tuple=True)
        self.at = (y.numpy(), x.numpy())
        self.corners = self.faces[frags.pix_to_face[0, y, x]].numpy()  # (N, 3) vertex indices
        self.bary = frags.bary[0, y, x].double().numpy()  # (N, 3)

    def __call__(self, frame: np.ndarray, points: np.ndarray, photo: MouthLook,
                 driver: MouthLook) -> np.ndarray:
        """(H, W, 3) uint8 driving frame, (478, 2+) its landmarks -> (h, w, 3) float32 texture in
        [0, 1], colour- and blur-matched to ``photo``."""
        h, w = self.covered.shape
        xy = np.zeros((h, w, 2))
        xy[self.at] = np.einsum("nk,nkc->nc", self.bary, points[self.corners, :2])
        tex = cv2.remap(frame, xy[..., 0].astype(np.float32) - 0.5,
                        xy[..., 1].astype(np.float32) - 0.5, cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE).astype(np.float32) / 255
        # texels outside the gap's triangles take their neighbours' colour (normalised
        # convolution), so that bilinear sampling at the gap's edge does not bring in black
        tex = np.where(self.covered[..., None] > 0, tex, local_mean(tex, self.covered, 2.0)[0])
        tex = match_colour(tex, photo.skin, driver.skin)
        if driver.sharpness > photo.sharpness > 0:  # a soft photo gets a soft mouth
            # a rough rule, not a fit: 1.5 texels of blur per unit of excess sharpness ratio
            sigma = min(MAX_BLUR, 1.5 * (driver.sharpness / photo.sharpness - 1))
            if sigma > 0.2:
                tex = cv2.GaussianBlur(tex, (0, 0), sigma)
        return tex.astype(np.float32)


class MouthFromDriver:
    """Per driving frame: the driver's mouth texture and how much of it to use (its lip gap,
    DRIVER_OPEN), matched to one prepared source photo; ``analytic_warp``'s ``driver_mouth``."""

    def __init__(self, source, model):  # a pipeline.Source, a LandmarkFaceModel
        self.model = model
        self.layout = DriverMouth(source.scene.mouth_uv)
        self.photo = look_of(source.crop, source.landmarks, float(source.coeffs.scale[0]))
        self.sharpness: float | None = None  # the driver's, from its first face (one camera)

    def __call__(self, frame: np.ndarray, points: np.ndarray, coeffs
                 ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The texture (1, 3, h, w) and its share (1,), or None where the driver's lips are shut
        (a share of 0: ``analytic_warp`` draws the same without it)."""
        scale = float(coeffs.scale[0])
        if self.sharpness is None:
            self.sharpness = face_sharpness(frame, points, scale)
        head = self.model.head_vertices(coeffs.identity, coeffs.expression)[0]
        gap = float((head[LOWER_LIP_INNER] - head[UPPER_LIP_INNER]).norm())
        use = smoothstep(torch.tensor([gap], dtype=torch.float64), *DRIVER_OPEN).float()
        if float(use) <= 0:
            return None
        look = MouthLook(skin_colour(frame, points, scale), self.sharpness)
        tex = self.layout(frame, points, self.photo, look)
        return torch.from_numpy(tex).permute(2, 0, 1)[None], use
