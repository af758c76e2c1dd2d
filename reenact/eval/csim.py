"""Identity similarity (CSIM): the cosine similarity of two faces' identity embeddings, with dlib's
ResNet embedding by default or ArcFace when the user has its weights; and the same-identity test.

Example:
    >>> cosine_similarity(np.array([1.0, 0.0]), np.array([1.0, 1.0]))
    0.7071067811865475
"""

import os

import cv2
import numpy as np
import torch

from reenact.eval.identity import SAME_PERSON_DISTANCE, DlibIdentity

# insightface's 112 x 112 alignment template: eye centres, nose tip, mouth corners
# (image-left first).
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                             [41.5493, 92.3655], [70.7299, 92.2041]])
# The same five points on the mediapipe mesh: eyes as the mean of their corners.
_EYE_CORNERS = ((33, 133), (362, 263))
_NOSE_TIP, _MOUTH = 1, (61, 291)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def same_identity(a: np.ndarray, b: np.ndarray) -> bool:
    """dlib's convention: embeddings closer than 0.6 (Euclidean) are the same person."""
    return float(np.linalg.norm(a - b)) < SAME_PERSON_DISTANCE


class DlibEmbedder:
    """CSIM's default: dlib's 128-d ResNet embedding (finds the face itself). Images larger than
    ``max_side`` are scaled down first: dlib aligns a 150 px chip either way, and its detector's
    time grows with the area (seconds at 2048 px)."""

    name = "dlib"
    calibrated = True  # same_identity's 0.6 threshold is dlib's

    def __init__(self, max_side: int = 640) -> None:
        self._dlib = DlibIdentity()
        self.max_side = max_side

    def __call__(self, image: np.ndarray, points: np.ndarray | None) -> np.ndarray | None:
        side = max(image.shape[:2])
        if side > self.max_side:
            s = self.max_side / side
            image = cv2.resize(image, (round(image.shape[1] * s), round(image.shape[0] * s)),
                               interpolation=cv2.INTER_AREA)
        return self._dlib.embed(image)


class ArcFaceEmbedder:
    """ArcFace (insightface arcface_torch weights the user supplies) on a 112 x 112 crop aligned by
    a similarity transform of five mediapipe landmarks to insightface's template."""

    name = "arcface"
    calibrated = False  # no same-identity threshold is claimed for it

    def __init__(self, weights: str | os.PathLike, arch: str = "r50"):
        from reenact.models.arcface import load_arcface

        self.net = load_arcface(weights, arch)

    @staticmethod
    def align(image: np.ndarray, points: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 and its (478, >=2) landmarks -> (112, 112, 3) uint8 aligned face."""
        five = np.array([points[list(_EYE_CORNERS[0]), :2].mean(0),
                         points[list(_EYE_CORNERS[1]), :2].mean(0), points[_NOSE_TIP, :2],
                         points[_MOUTH[0], :2], points[_MOUTH[1], :2]])
        M, _ = cv2.estimateAffinePartial2D(five.astype(np.float32),
                                           ARCFACE_TEMPLATE.astype(np.float32))
        return cv2.warpAffine(image, M, (112, 112), borderMode=cv2.BORDER_REPLICATE)

    @torch.no_grad()
    def __call__(self, image: np.ndarray, points: np.ndarray | None) -> np.ndarray | None:
        if points is None:
            return None
        face = torch.from_numpy(self.align(image, points)).permute(2, 0, 1)[None].float() / 255
        return self.net(face)[0].double().numpy()
