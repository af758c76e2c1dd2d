"""Person (selfie) segmentation with mediapipe's bundled model: hair, body and face vs background."""

import numpy as np

from reenact.face.mediapipe_loader import import_mediapipe
from reenact.tracking import known


class PersonSegmenter:
    """``mediapipe.solutions.selfie_segmentation`` (general model, 256x256 input)."""

    def __init__(self) -> None:
        self._seg = None  # made on first need: a mask may be known (reenact.tracking.known)

    def mask(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB -> (H, W) float32 person probability in [0, 1]."""
        image = np.ascontiguousarray(image)
        if (found := known.mask(image)) is not None:
            return found
        if self._seg is None:
            self._seg = import_mediapipe().solutions.selfie_segmentation.SelfieSegmentation(
                model_selection=0)
        result = self._seg.process(image)
        return np.clip(result.segmentation_mask.astype(np.float32), 0.0, 1.0)

    def close(self) -> None:
        if self._seg is not None:
            self._seg.close()

    def __enter__(self) -> "PersonSegmenter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
