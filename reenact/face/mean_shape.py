"""The landmark mesh's mean shape in the head frame, and its left-right mirror map.

Both are read from ``data/landmark_mean.npz``, built by ``scripts/build_landmark_mean.py`` from
mediapipe tracks of real faces (generalised Procrustes, then symmetrised). Head-frame conventions:
see ``reenact.geometry``; the mean has its centroid at the origin and an outer-eye-corner distance of 1.
"""

import functools
from importlib import resources

import numpy as np


@functools.lru_cache(maxsize=1)
def _load() -> dict:
    with resources.files("reenact.face").joinpath("data/landmark_mean.npz").open("rb") as f:
        data = np.load(f)
        return {k: data[k] for k in data.files}


def mean_shape() -> np.ndarray:
    """(478, 3) float64 mean landmark positions in the head frame."""
    return _load()["mean"].astype(np.float64)


def mirror_index() -> np.ndarray:
    """(478,) int64: ``mirror_index()[v]`` is the vertex on the other side of the face from v."""
    return _load()["mirror"].astype(np.int64)
