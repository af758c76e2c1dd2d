"""Identity similarity with dlib's ResNet face embedding (the model files of face_recognition_models).

dlib's convention: two faces whose 128-d embeddings are closer than 0.6 (Euclidean) are the same
person. Not differentiable; a metric only. The model files are found with importlib (importing the
face_recognition_models package itself fails on pkg_resources).
"""

import importlib.util
from pathlib import Path

import numpy as np

SAME_PERSON_DISTANCE = 0.6


def _model_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("face_recognition_models is not installed "
                                "(pip install face_recognition_models)")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibIdentity:
    """Face embeddings: dlib's HOG detector, 5-point alignment, ResNet-34 descriptor."""

    def __init__(self) -> None:
        import dlib

        models = _model_dir()
        self._detect = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._encode = dlib.face_recognition_model_v1(
            str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB -> (128,) embedding of the largest face, or None without a face."""
        image = np.ascontiguousarray(image)  # dlib refuses a strided view (a slice, a crop)
        boxes = self._detect(image, 1)
        if not boxes:
            return None
        box = max(boxes, key=lambda r: r.width() * r.height())
        shape = self._shape(image, box)
        return np.array(self._encode.compute_face_descriptor(image, shape), dtype=np.float64)

    @staticmethod
    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b))
