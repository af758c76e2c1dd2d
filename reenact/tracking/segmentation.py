"""Person (selfie) segmentation with mediapipe's bundled model: hair, body and face vs background."""

import numpy as np

from reenact.face.mediapipe_loader import import_mediapipe


class PersonSegmenter:
    """``mediapipe.solutions.selfie_segmentation`` (general model, 256x256 input)."""

    def __init__(self) -> None:
        self._seg = import_mediapipe().solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def mask(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (H, W) float32 person probability in [0, 1]."""
        result = self._seg.process(np.ascontiguousarray(image))
        return np.clip(result.segmentation_mask.astype(np.float32), 0.0, 1.0)

    def close(self) -> None:
        self._seg.close()

    def __enter__(self) -> "PersonSegmenter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
