"""experiments/landmark_floor.py: its per-pair arithmetic on hand-made tracks (no tracker)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from tests.experiments import load_experiment

pytestmark = pytest.mark.slow  # an experiment's arithmetic: not in the default suite


@pytest.fixture(scope="module")
def floor():
    return load_experiment("landmark_floor")


def _face(shift: float) -> np.ndarray:
    """478 points with the outer eye corners (33, 263) 100 px apart, all moved by ``shift``."""
    points = np.zeros((478, 2))
    points[263, 0] = 100.0
    return points + [shift, 0.0]


def _validator() -> SimpleNamespace:
    """Pair 0: the frame re-tracks 1 px and the warp 3 px from the crop's landmarks; pair 1: the
    frame 2 px off, no face found in its warp. Images are stand-in keys into the tracks."""
    tracks = {"frame 0": _face(1.0), "warp 0": _face(3.0), "frame 1": _face(2.0), "warp 1": None}
    crop = torch.from_numpy(np.stack([_face(0.0), _face(0.0)])).float()
    return SimpleNamespace(pairs=[0, 1], track=lambda image: (tracks[image], None, None),
                           batch={"target_landmarks": crop, "target": ["frame 0", "frame 1"],
                                  "prior": ["warp 0", "warp 1"]})


def test_rows_measure_against_the_crop_landmarks(floor):
    rows = floor.floor_rows(_validator())
    np.testing.assert_allclose(rows["frame"], [0.01, 0.02])
    assert rows["warp"][0] == pytest.approx(0.03) and np.isnan(rows["warp"][1])
    assert rows["warp_vs_frame"][0] == pytest.approx(0.02)
    assert np.isnan(rows["warp_vs_frame"][1])


def test_summary_reads_headroom_as_warp_minus_frame(floor):
    rows = {"frame": np.array([0.01, 0.02, np.nan]), "warp": np.array([0.03, 0.02, 0.05]),
            "warp_vs_frame": np.array([0.02, 0.01, np.nan])}
    # headroom over the pairs with both: +0.02 and 0.0, mean 0.01, s.e. 0.01
    assert floor.summary(128, rows) == "| 128 | 0.0150 | 0.0333 | +0.0100 +- 0.0100 | 0.0150 |"
