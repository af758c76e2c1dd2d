"""Choosing the reference frame of relative motion: the driving face nearest the photo in pose, in
expression measures that compare across people and, for a clip framed like the photo, in where the
head sits in the picture (reenact.face.reference)."""

import numpy as np
import pytest
import torch

from reenact.face.mean_shape import mean_shape
from reenact.face.reference import (
    PLACE_CAP,
    PLACE_SCALE,
    UPPER_LIDS,
    expression_features,
    placement_cost,
    placement_weight,
    reference_cost,
)
from reenact.face.topology import (
    LEFT_EYE_OUTER,
    LOWER_LIP_INNER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    RIGHT_EYE_OUTER,
)
from reenact.geometry import euler_to_matrix


def _head() -> torch.Tensor:
    return torch.as_tensor(mean_shape(), dtype=torch.float64)[None].clone()  # (1, V, 3)


def _rot(yaw_deg: float) -> torch.Tensor:
    return euler_to_matrix(torch.deg2rad(torch.tensor([[0.0, yaw_deg, 0.0]], dtype=torch.float64)))


def test_features_are_relative_to_the_eye_distance():
    head = _head()
    assert torch.allclose(expression_features(head * 3.0), expression_features(head))
    opened = head.clone()
    opened[0, LOWER_LIP_INNER, 1] += 0.2  # the lower lip drops (y points to the chin)
    assert expression_features(opened)[0, 0] > expression_features(head)[0, 0] + 0.15


def test_the_frame_most_like_the_photo_costs_least():
    photo = _head()
    open_mouth, smile, blink = photo.clone(), photo.clone(), photo.clone()
    open_mouth[0, LOWER_LIP_INNER, 1] += 0.2
    smile[0, MOUTH_LEFT, 0] += 0.1
    smile[0, MOUTH_RIGHT, 0] -= 0.1
    blink[0, UPPER_LIDS[0], 1] += 0.05
    heads = torch.cat([open_mouth, smile, blink, photo, photo])
    rots = torch.cat([_rot(0), _rot(0), _rot(0), _rot(25), _rot(3)])
    cost = reference_cost(photo, _rot(0), heads, rots)
    assert int(torch.argmin(cost)) == 4  # the same face, a little turned
    assert float(cost[4]) < 0.2 and (cost[:4] > 1.0).all()
    assert float(reference_cost(photo, _rot(0), photo, _rot(0))[0]) == 0.0


def test_placement_counts_only_for_a_clip_framed_like_the_photo():
    photo = np.array(mean_shape(), dtype=np.float64)[:, :2] * 100.0 + 300.0  # pixels, 600 wide
    eyes = np.linalg.norm(photo[LEFT_EYE_OUTER] - photo[RIGHT_EYE_OUTER])
    assert placement_cost(photo, 600, photo, 600) == 0.0
    assert placement_cost(photo, 600, photo * 0.5, 300) == pytest.approx(0.0, abs=1e-12)
    near = placement_cost(photo, 600, photo + [0.05 * eyes, 0.0], 600)
    assert near == pytest.approx(1.0)  # one unit: PLACE_SCALE eye distances
    far, farther = (placement_cost(photo, 600, photo + [k * eyes, 0.0], 600) for k in (0.5, 2.0))
    assert far == farther == PLACE_CAP  # framed otherwise: the same for every frame


def test_a_clip_framed_like_the_photo_takes_its_place_whole():
    def weight(d):  # d eye distances of mean landmark offset
        return placement_weight(min((d / PLACE_SCALE) ** 2, PLACE_CAP))

    assert weight(0.0) == weight(0.1) == 1.0
    assert 0.0 < weight(0.125) < 1.0
    assert weight(0.15) == pytest.approx(0.0, abs=1e-9) and weight(0.5) == 0.0
