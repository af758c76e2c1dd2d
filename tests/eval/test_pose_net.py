"""Hopenet pose on a random-init network saved in the official key layout: loading (with the
vestigial fc_finetune head), a hand-made known output, the crop box, and the error paths."""

import numpy as np
import pytest
import torch

from reenact.eval.pose_net import HopenetPose, crop_face, face_box
from reenact.models.hopenet import NUM_BINS, Hopenet, expected_angle_deg

BINS = {"yaw": 40, "pitch": 20, "roll": 33}  # -> 21, -39 and 0 degrees


def official_state(net: Hopenet) -> dict:
    """``net``'s state dict as the official pickle holds it: with fc_finetune (2048 + 3 -> 3) and
    without num_batches_tracked (saved by PyTorch 0.3)."""
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    state["fc_finetune.weight"] = torch.zeros(3, 2048 + 3)
    state["fc_finetune.bias"] = torch.zeros(3)
    return state


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A random-init Hopenet whose heads ignore the image: zero weights, bias one-hot at BINS."""
    torch.manual_seed(0)
    net = Hopenet()
    for name, k in BINS.items():
        fc = getattr(net, f"fc_{name}")
        torch.nn.init.zeros_(fc.weight)
        torch.nn.init.zeros_(fc.bias)
        fc.bias.data[k] = 1e4  # softmax is exactly one-hot at bin k
    path = tmp_path_factory.mktemp("hopenet") / "hopenet_robust_alpha1.pkl"
    torch.save(official_state(net), path)
    return path


@pytest.fixture(scope="module")
def pose(weights):
    return HopenetPose(weights)


def face_points(cx: float = 128.0, cy: float = 128.0, r: float = 60.0) -> np.ndarray:
    """(478, 3) points on a disc of radius r around (cx, cy): a stand-in for mediapipe's mesh."""
    rng = np.random.default_rng(0)
    ang, rad = rng.uniform(0, 2 * np.pi, 478), r * np.sqrt(rng.uniform(0, 1, 478))
    return np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang), np.zeros(478)], axis=1)


def test_loads_the_official_layout_and_gives_the_known_bins(pose):
    image = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    out = pose(image, face_points())
    assert out.shape == (3,) and out.dtype == np.float64
    want = [BINS["pitch"] * 3 - 99, BINS["yaw"] * 3 - 99, BINS["roll"] * 3 - 99]  # project order
    np.testing.assert_array_equal(out, want)
    # a face touching the border is padded black, not refused
    assert pose(image, face_points(10.0, 240.0)) is not None


def test_no_face_gives_none(pose):
    assert pose(np.zeros((64, 64, 3), np.uint8), None) is None


def test_expected_angle_of_a_two_bin_split():
    logits = torch.full((NUM_BINS,), -1e4)
    logits[[10, 12]] = 0.0  # half at -69 degrees, half at -63
    assert float(expected_angle_deg(logits)) == pytest.approx(-66.0)


def test_face_box_follows_the_official_margins():
    pts = np.array([[100.0, 100.0, 5.0], [200.0, 200.0, -5.0], [150.0, 130.0, 0.0]])
    # 2k = 0.4 of the 100 px box left and up; right from the moved left edge: 200 + 0.4 * 140;
    # down 0.6k = 0.12 of the moved height: 200 + 0.12 * 140 = 216.8, truncated.
    assert face_box(pts) == (60, 60, 256, 216)
    assert face_box(np.array([[-10.5, 5.0], [40.0, 30.0]])) == (-30, -5, 68, 34)  # -30.7: to zero


def test_crop_is_224_square_and_black_outside_the_image():
    image = np.full((100, 100, 3), 200, np.uint8)
    crop = crop_face(image, np.array([[0.0, 0.0], [100.0, 100.0]]))  # box (-40, -40, 156, 116)
    assert crop.shape == (224, 224, 3) and crop.dtype == np.uint8
    assert crop[112, 0].max() == 0 and crop[0, 112].max() == 0  # padded left and top
    assert crop[150, 112].min() == 200  # inside the image


def test_bad_inputs_raise(pose):
    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match=r"\(478,\)"):
        pose(image, np.zeros(478))
    with pytest.raises(ValueError, match="empty face box"):
        pose(image, np.full((478, 3), 30.0))
    with pytest.raises(ValueError, match="uint8"):
        pose(image.astype(np.float32), face_points(32, 32, 20))


def test_file_missing_a_key_names_the_file_and_key(tmp_path):
    state = official_state(Hopenet())
    del state["layer3.5.bn2.running_var"]
    bad = tmp_path / "hopenet_cut.pkl"
    torch.save(state, bad)
    with pytest.raises(ValueError, match=r"hopenet_cut\.pkl.*layer3\.5\.bn2\.running_var"):
        HopenetPose(bad)
