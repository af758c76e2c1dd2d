"""Which driving frame relative motion starts from (``--reference-frame auto``).

Relative motion adds the driver's change since a reference frame to the photo's own pose and
expression, so it assumes the reference looks like the photo. A clip that starts with a broad smile
or a turned head, driving a photo that does neither, pulls the photo's expression past neutral
(pursed, squeezed mouths) and turns it away from where it looks. The frame nearest the photo in
head pose and in a few expression measures (how open the mouth and eyes are, how wide the mouth,
how high the brows), all in the face's own frame and relative to its eye distance, so they compare
across people, is the better start.

When the clip is framed like the photo (the same person before the same camera, the user's own
photo and video), where the head sits in the picture counts too: relative motion keeps the offset
between the photo's head and the reference's for the whole clip, so among frames of similar pose
and expression the one whose landmarks lie over the photo's is the better start. That term is
capped, so a clip framed otherwise (another person, another camera) is chosen on pose and
expression alone. And when the chosen frame's landmarks lie within PLACE_FULL eye distances of the
photo's, the pictures are taken to share their frame: the reference then takes the photo's place
and size in it (``placement_weight``), so the output's head sits where the driver's does, not
off by what little the reference differed. A stranger framed that closely moves by at most about
that much.
"""

import numpy as np
import torch

from reenact.face.topology import (
    LEFT_EYE_OUTER,
    LOWER_LIP_INNER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    RIGHT_EYE_OUTER,
    UPPER_LIP_INNER,
)
from reenact.geometry import rotation_angle_between

# mediapipe face mesh indices: the lids' middles and the brows' middles, right then left
UPPER_LIDS, LOWER_LIDS = (159, 386), (145, 374)
BROWS = (105, 334)
# What counts as one unit of difference: the lip gap, mouth width, each eye's opening and the
# brows' height (in eye distances, outer corners), and the head's rotation (degrees). About the
# change between a closed and a half-open mouth, a neutral and a smiling mouth, an eye and a
# half-closed one, resting and raised brows, and a small nod.
FEATURE_SCALE = (0.05, 0.05, 0.025, 0.025, 0.04)
POSE_SCALE = 10.0
# Placement: one unit is PLACE_SCALE eye distances of mean landmark offset in the picture (both
# pictures in units of their width), counted up to PLACE_CAP units; beyond 0.15 eye distances
# the clip is taken to be framed otherwise and the term is the same for every frame.
PLACE_SCALE, PLACE_CAP = 0.05, 9.0
# Within PLACE_FULL eye distances the reference takes the photo's placement whole; less and less
# of it up to PLACE_SCALE * sqrt(PLACE_CAP) (0.15), none beyond.
PLACE_FULL = 0.10


def expression_features(head: torch.Tensor) -> torch.Tensor:
    """(B, V, 3) head-frame vertices -> (B, 5): lip gap, mouth width, right and left eye opening and
    the brows' mean height above the upper lids, in eye distances (outer eye corners)."""
    eyes = (head[:, LEFT_EYE_OUTER] - head[:, RIGHT_EYE_OUTER]).norm(dim=-1).clamp(min=1e-9)

    def gap(a, b):
        return (head[:, a] - head[:, b]).norm(dim=-1) / eyes

    brows = torch.stack([gap(b, lid) for b, lid in zip(BROWS, UPPER_LIDS, strict=True)]).mean(0)
    return torch.stack([gap(UPPER_LIP_INNER, LOWER_LIP_INNER), gap(MOUTH_LEFT, MOUTH_RIGHT),
                        gap(UPPER_LIDS[0], LOWER_LIDS[0]), gap(UPPER_LIDS[1], LOWER_LIDS[1]),
                        brows], -1)


def reference_cost(photo_head: torch.Tensor, photo_rotation: torch.Tensor,
                   heads: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
    """How unlike the photo (head (1, V, 3), rotation (1, 3, 3)) each of N driving faces (heads
    (N, V, 3), rotations (N, 3, 3)) is: (N,), the squared differences in units of FEATURE_SCALE
    and POSE_SCALE, summed."""
    scale = torch.tensor(FEATURE_SCALE, dtype=heads.dtype)
    feat = (expression_features(heads) - expression_features(photo_head.to(heads.dtype))) / scale
    angle = torch.rad2deg(rotation_angle_between(photo_rotation.to(rotations.dtype)
                                                 .expand_as(rotations), rotations))
    return (feat ** 2).sum(-1) + (angle / POSE_SCALE) ** 2


def placement_cost(photo_points: np.ndarray, photo_width: int, points: np.ndarray,
                   width: int) -> float:
    """How far a driving face's landmarks (N, >=2 pixels, in a picture ``width`` wide) lie from the
    photo's (the same N points in its own picture), in units of PLACE_SCALE, squared and capped at
    PLACE_CAP (see the module's docstring)."""
    a = np.asarray(photo_points, dtype=np.float64)[:, :2] / photo_width
    b = np.asarray(points, dtype=np.float64)[:, :2] / width
    eyes = np.linalg.norm(a[LEFT_EYE_OUTER] - a[RIGHT_EYE_OUTER])
    d = float(np.linalg.norm(a - b, axis=-1).mean() / max(eyes, 1e-9))
    return min((d / PLACE_SCALE) ** 2, PLACE_CAP)


def placement_weight(cost: float) -> float:
    """How much of the photo's place and size the reference takes, from its ``placement_cost``: 1
    within PLACE_FULL eye distances, falling to 0 at the cap."""
    if cost >= PLACE_CAP:
        return 0.0
    d, far = PLACE_SCALE * float(np.sqrt(cost)), PLACE_SCALE * float(np.sqrt(PLACE_CAP))
    return float(np.clip((far - d) / (far - PLACE_FULL), 0.0, 1.0))
