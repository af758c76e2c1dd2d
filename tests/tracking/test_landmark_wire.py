"""mediapipe's landmarks read from their wire bytes all at once are the values the landmark
objects hold, and a list that does not have exactly x, y and z in each landmark is read from the
objects."""

import numpy as np
import pytest

from reenact.tracking.mediapipe_tracker import _normalised

landmark_pb2 = pytest.importorskip("mediapipe.framework.formats.landmark_pb2")


def _landmarks(values: np.ndarray, visibility_at: int | None = None):
    out = landmark_pb2.NormalizedLandmarkList()
    for i, (x, y, z) in enumerate(values):
        p = out.landmark.add()
        p.x, p.y, p.z = x, y, z
        if i == visibility_at:
            p.visibility = 0.9
    return out


def _from_objects(landmarks) -> np.ndarray:
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float64)


@pytest.mark.parametrize("visibility_at", [None, 7])
def test_landmarks_from_their_bytes_are_the_objects_values(visibility_at):
    rng = np.random.default_rng(0)
    values = rng.normal(0.5, 0.3, (478, 3)).astype(np.float32)
    values[3] = 0.0  # set to zero: still written (proto2 presence)
    landmarks = _landmarks(values, visibility_at)
    got, want = _normalised(landmarks), _from_objects(landmarks)
    assert got.dtype == np.float64 and got.shape == (478, 3)
    assert got.tobytes() == want.tobytes()


def test_an_empty_list():
    assert _normalised(landmark_pb2.NormalizedLandmarkList()).shape[0] == 0
