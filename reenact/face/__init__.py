"""Face models: coefficients <-> vertices, topology, expression transfer and the papers' mixing.

The default is the landmark-mesh model (``LandmarkFaceModel``), built from mediapipe's 478-point mesh:
its "identity" coefficients are the face's shape in the head frame and its "expression" coefficients
are per-vertex offsets in that frame. FLAME and BFM implement the same ``FaceModel`` interface.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reenact.face.base import FaceCoefficients, FaceModel
    from reenact.face.landmark_model import LandmarkFaceModel
    from reenact.face.mixing import MixOptions, mix_coefficients
    from reenact.face.topology import REGION, REGION_NAMES, Topology, landmark_topology

# Imported on first use (PEP 562), so that a submodule without torch (``mediapipe_loader``, which
# the tracker's process of ``reenact.tracking.ahead`` imports) does not load torch with the package.
_FROM = {"FaceCoefficients": "base", "FaceModel": "base", "LandmarkFaceModel": "landmark_model",
         "MixOptions": "mixing", "mix_coefficients": "mixing", "REGION": "topology",
         "REGION_NAMES": "topology", "Topology": "topology", "landmark_topology": "topology"}


def __getattr__(name: str):
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)
    globals()[name] = value
    return value


__all__ = [
    "REGION",
    "REGION_NAMES",
    "FaceCoefficients",
    "FaceModel",
    "LandmarkFaceModel",
    "MixOptions",
    "Topology",
    "landmark_topology",
    "mix_coefficients",
]
