"""Head pose from Hopenet (Ruiz et al. 2018), the estimator DCG-GAN's PoseMSE uses, with the
official weights the user supplies (``hopenet_robust_alpha1.pkl``); nothing is downloaded.

The face is cut from a box around the tracked landmarks, enlarged as Hopenet's AFLW2000 test
loader does (k = 0.2: 2k of the width on each side, 2k of the height above, 0.6k below, each
side widened from the already-moved opposite side as in the official code); parts of the box
outside the image are black, as PIL's ``crop`` gives. The crop is then resized so its shorter
side is 224 (bilinear), centre-cropped to 224 x 224 and ImageNet-normalised, as in Hopenet's
test transforms.

Sign conventions (Hopenet's, from 300W-LP's ``Pose_Para``, read off the official ``draw_axis``):
positive yaw turns the nose towards image left, positive pitch tilts the nose **up**, positive roll
tilts the head clockwise in the image. These are not converted to ``reenact.geometry``'s
convention (where positive pitch tilts the nose down), and the values differ from the landmark
fit of ``reenact.eval.pose_error.head_pose_deg``. That is fine for PoseMSE, which compares the
output and the driver with one and the same estimator; do not mix the two estimators in one
comparison.

Example:
    >>> pose = HopenetPose("hopenet_robust_alpha1.pkl")  # doctest: +SKIP
    >>> pose(image_rgb8, points)  # (pitch, yaw, roll) degrees  # doctest: +SKIP
    array([ -4.1,  12.7,   1.9])
"""

import os

import numpy as np
import torch
from PIL import Image

from reenact.io.tensor import image_to_tensor
from reenact.models.hopenet import expected_angle_deg, load_hopenet

INPUT_SIZE = 224
MARGIN_K = 0.2  # Hopenet's AFLW2000 loader (code/datasets.py)


def face_box(points: np.ndarray) -> tuple[int, int, int, int]:
    """(N, >=2) landmarks in pixels -> Hopenet's loose crop box (x0, y0, x1, y1), ints truncated
    towards zero as the official ``int()`` does; may reach outside the image.

    Example:
        >>> face_box(np.array([[100.0, 100.0], [200.0, 200.0]]))
        (60, 60, 256, 216)
    """
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < 2 or points.shape[1] < 2:
        raise ValueError(f"landmarks must be (N, 2) or (N, 3) pixels, got shape {points.shape}")
    if not np.isfinite(points[:, :2]).all():
        raise ValueError("landmarks contain NaN or inf")
    x_min, y_min = (float(v) for v in points[:, :2].min(axis=0))
    x_max, y_max = (float(v) for v in points[:, :2].max(axis=0))
    k = MARGIN_K
    x_min -= 2 * k * abs(x_max - x_min)
    y_min -= 2 * k * abs(y_max - y_min)
    x_max += 2 * k * abs(x_max - x_min)  # uses the moved x_min, like the official loader
    y_max += 0.6 * k * abs(y_max - y_min)
    return int(x_min), int(y_min), int(x_max), int(y_max)


def crop_face(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB and its landmarks -> (224, 224, 3) uint8 Hopenet input crop."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
    x0, y0, x1, y1 = face_box(points)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty face box {(x0, y0, x1, y1)} from the landmarks")
    face = Image.fromarray(image).crop((x0, y0, x1, y1))  # outside the image: black
    w, h = face.size
    if w <= h:  # shorter side to 224, as torchvision's Resize(224)
        size = (INPUT_SIZE, int(INPUT_SIZE * h / w))
    else:
        size = (int(INPUT_SIZE * w / h), INPUT_SIZE)
    face = face.resize(size, Image.BILINEAR)
    left = round((size[0] - INPUT_SIZE) / 2.0)  # CenterCrop(224)
    top = round((size[1] - INPUT_SIZE) / 2.0)
    return np.asarray(face.crop((left, top, left + INPUT_SIZE, top + INPUT_SIZE)))


class HopenetPose:
    """(pitch, yaw, roll) in degrees from Hopenet, in this project's order with Hopenet's signs
    (see the module docstring); ``None`` when no face was tracked.

    Args:
        weights: the official Hopenet state dict (``hopenet_robust_alpha1.pkl``).
        device: where the network runs.
    """

    name = "hopenet"

    def __init__(self, weights: str | os.PathLike, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.net = load_hopenet(weights).to(self.device)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, points: np.ndarray | None) -> np.ndarray | None:
        """``image``: (H, W, 3) uint8 RGB; ``points``: (478, 3) mediapipe landmarks in pixels
        (only x, y are used) or None -> (3,) float64 (pitch, yaw, roll) degrees, or None."""
        if points is None:
            return None
        face = image_to_tensor(crop_face(image, points), self.device)  # (1, 3, 224, 224)
        yaw, pitch, roll = expected_angle_deg(self.net(face))[0].double().cpu().numpy()
        return np.array([pitch, yaw, roll])
