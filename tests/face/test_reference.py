"""Choosing the reference frame of relative motion: the driving face nearest the photo in pose and
in expression measures that compare across people (reenact.face.reference)."""

import torch

from reenact.face.mean_shape import mean_shape
from reenact.face.reference import UPPER_LIDS, expression_features, reference_cost
from reenact.face.topology import LOWER_LIP_INNER, MOUTH_LEFT, MOUTH_RIGHT
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
