"""The face region the metrics measure: the landmark mesh's surface at a face's landmarks."""

import numpy as np
import torch

from reenact.face.topology import landmark_topology
from reenact.render import rasterize


def face_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) bool: pixels covered by the landmark mesh's surface triangles at ``points``."""
    topo = landmark_topology()
    faces = torch.from_numpy(topo.triangles)
    verts = torch.from_numpy(points).double()[None]
    return rasterize(verts, faces, shape).mask[0].numpy()
