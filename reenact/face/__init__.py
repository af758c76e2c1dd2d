"""Face models: coefficients <-> vertices, topology, expression transfer and the papers' mixing.

The default is the landmark-mesh model (``LandmarkFaceModel``), built from mediapipe's 478-point mesh:
its "identity" coefficients are the face's shape in the head frame and its "expression" coefficients
are per-vertex offsets in that frame. FLAME and BFM implement the same ``FaceModel`` interface.
"""

from reenact.face.base import FaceCoefficients, FaceModel
from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.mixing import MixOptions, mix_coefficients
from reenact.face.topology import REGION, REGION_NAMES, Topology, landmark_topology

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
