"""Closed eyes: when the driver blinks or shuts its eyes, the re-enacted eye shows lid skin.

The warp squashes the eye opening (the fans from each eye's contour to its iris centre) into a
thin band as the lids meet, and drew the photo's eyeball squashed into it: a slit of white and
iris between the lids, which reads as a squint, not a closed eye. Where the re-enacted lids are
much closer than the photo's, the opening is drawn as the photo's own upper-lid skin instead,
in the lashes' shadow.
"""

import functools

import numpy as np
import torch

from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.topology import LEFT_IRIS_CENTER, RIGHT_IRIS_CENTER, landmark_topology
from reenact.motion.completion import smoothstep

# (upper lid, lower lid) middle vertices of the right and left eye (mediapipe's 478 points)
LID_PAIRS = ((159, 145), (386, 374))
# The re-enacted lid gap over the photo's: the eyeball shows above CLOSED[1], lid skin below
# CLOSED[0]; photos whose own eyes are shut (a gap under PHOTO_OPEN head units) keep theirs.
CLOSED = (0.2, 0.45)
PHOTO_OPEN = (0.02, 0.04)
LID_ABOVE = 0.05  # head units above the upper lid where its skin colour is taken
LASH = 0.7  # the closed eye's brightness relative to the lid skin (the lashes' shadow)


@functools.cache
def eye_of_triangle() -> torch.Tensor:
    """(T,) of the landmark mesh: 0 for the right eye's fan triangles, 1 for the left's, -1
    elsewhere."""
    tris = landmark_topology().triangles
    out = np.full(len(tris), -1)
    out[(tris == RIGHT_IRIS_CENTER).any(1)] = 0
    out[(tris == LEFT_IRIS_CENTER).any(1)] = 1
    return torch.from_numpy(out)


def lid_colours(image: torch.Tensor, verts: torch.Tensor, model: LandmarkFaceModel,
                scale: float) -> torch.Tensor:
    """(1, 3, S, S) photo, (1, V, 3) its posed vertices -> (2, 3) the mean colour of the skin just
    above each eye's upper lid (the contour's upper half moved LID_ABOVE head units up)."""
    S = image.shape[-1]
    mean = model.mean.numpy()
    out = []
    for name in ("right_eye", "left_eye"):
        loop = model.topology.regions[name]
        corner_y = mean[loop[[np.argmin(mean[loop, 0]), np.argmax(mean[loop, 0])]], 1].mean()
        upper = loop[mean[loop, 1] < corner_y]
        xy = verts[0, upper, :2].double().numpy() - [0.0, LID_ABOVE * scale]
        ij = np.clip(np.round(xy - 0.5).astype(int), 0, S - 1)
        out.append(image[0, :, ij[:, 1], ij[:, 0]].double().mean(1))
    return torch.stack(out)


def lid_gaps(model: LandmarkFaceModel, coeffs) -> torch.Tensor:
    """(B, 2) the gap between the middle of each eye's upper and lower lid, head units."""
    head = model.head_vertices(coeffs.identity, coeffs.expression)
    return torch.stack([(head[:, lo] - head[:, up]).norm(dim=-1) for up, lo in LID_PAIRS], -1)


def closed_weight(model: LandmarkFaceModel, photo, shown) -> torch.Tensor:
    """(B, 2) how closed each re-enacted eye is against the photo's (0: the eyeball shows, 1: lid
    skin), 0 where the photo's own eye is shut."""
    photo_gap = lid_gaps(model, photo)  # (1, 2)
    ratio = lid_gaps(model, shown) / photo_gap.clamp(min=1e-6)
    return ((1 - smoothstep(ratio, *CLOSED)) * smoothstep(photo_gap, *PHOTO_OPEN)).float()


def closed_colour(lid: torch.Tensor) -> torch.Tensor:
    """(N, 3) lid colours -> (N, 3) the closed eye's colour: lid skin in the lashes' shadow.
    Uniform over the band: the fans from the iris centre interleave across a squashed eye, so a
    shade that varied from lid to lid drew it as a dashed line."""
    return lid * LASH
