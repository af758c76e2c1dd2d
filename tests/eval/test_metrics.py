"""Each metric on a hand-made case whose value is known."""

import numpy as np
import pytest
import torch

from reenact.eval.csim import ARCFACE_TEMPLATE, ArcFaceEmbedder, cosine_similarity, same_identity
from reenact.eval.expression_error import NAMES, expression_descriptor, expression_mse
from reenact.eval.jitter import landmark_jitter
from reenact.eval.pose_error import head_pose_deg, pose_mse, pose_rmse
from reenact.face.mean_shape import mean_shape
from reenact.face.topology import LOWER_LIP_INNER
from reenact.geometry import euler_to_matrix
from reenact.metrics.landmark_error import landmark_error, landmark_groups
from reenact.metrics.psnr import psnr
from reenact.metrics.ssim import ssim_region


def posed(angles_deg, scale=300.0, shift=(256.0, 256.0, 0.0)) -> np.ndarray:
    """The mean face (478, 3) rotated by (pitch, yaw, roll) degrees, scaled to pixels."""
    R = euler_to_matrix(torch.tensor(np.radians(angles_deg)))
    return scale * mean_shape() @ R.numpy().T + np.array(shift)


def test_psnr_of_a_known_noise_level():
    rng = np.random.default_rng(0)
    a = np.full((200, 200, 3), 128.0)
    noise = rng.choice([-4.0, 4.0], size=a.shape)  # MSE exactly 16
    assert psnr(a + noise, a) == pytest.approx(10 * np.log10(255**2 / 16), abs=1e-9)
    mask = np.zeros((200, 200), bool)
    mask[:100] = True
    b = a.copy()
    b[100:] += 50  # outside the mask: ignored
    assert psnr(b + noise, a, mask) == pytest.approx(10 * np.log10(255**2 / 16), abs=1e-9)


def test_ssim_is_one_on_identity_and_drops_with_noise_only_where_measured():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    assert ssim_region(a, a) == 1.0
    noisy = np.clip(a + rng.normal(0, 40, a.shape), 0, 255).astype(np.uint8)
    assert ssim_region(noisy, a) < 0.9
    half = a.copy()
    half[:, 40:] = noisy[:, 40:]
    mask = np.zeros((64, 64), bool)
    mask[:, :20] = True  # far (> the 5 px window radius) from the noisy half
    assert ssim_region(half, a, mask) > 0.999


def test_akd_of_a_known_landmark_shift():
    pts = posed([0, 0, 0])[:, :2]
    iod = np.linalg.norm(pts[263] - pts[33])
    assert landmark_error(pts + [3.0, 4.0], pts) == pytest.approx(5.0 / iod)


def test_akd_by_region_sees_only_its_region():
    pts = posed([0, 0, 0])[:, :2]
    iod = np.linalg.norm(pts[263] - pts[33])
    groups = landmark_groups()
    assert set(groups) == {"oval", "eyes", "brows", "nose", "lips"}
    every = np.concatenate(list(groups.values()))
    assert len(set(every.tolist())) == len(every) and every.max() < 468  # disjoint, no irises
    moved = pts.copy()
    moved[groups["lips"]] += [0.0, 6.0]  # the mouth opens by 6 px
    assert landmark_error(moved, pts, groups["lips"]) == pytest.approx(6.0 / iod)
    for name in ("oval", "eyes", "brows", "nose"):
        assert landmark_error(moved, pts, groups[name]) == 0.0
    # the whole-face error dilutes the same shift over all 468 points
    assert landmark_error(moved[:468], pts[:468]) == pytest.approx(
        6.0 / iod * len(groups["lips"]) / 468)


@pytest.mark.parametrize("angles", [(0, 10, 0), (8, 0, 0), (0, 0, -12), (5, -15, 7)])
def test_pose_error_of_a_known_rotation(angles):
    ref, rot = posed([0, 0, 0]), posed(angles, scale=220.0, shift=(300, 200, 40))
    np.testing.assert_allclose(head_pose_deg(ref), 0.0, atol=1e-6)
    np.testing.assert_allclose(head_pose_deg(rot), angles, atol=1e-6)
    expected = np.mean(np.square(angles))
    assert pose_mse(head_pose_deg(rot), head_pose_deg(ref)) == pytest.approx(expected, abs=1e-6)
    assert pose_rmse(head_pose_deg(rot), head_pose_deg(ref)) == pytest.approx(np.sqrt(expected),
                                                                              abs=1e-6)


def test_expression_descriptor_sees_the_mouth_open_and_ignores_pose():
    neutral = mean_shape().copy()
    opened = neutral.copy()
    opened[LOWER_LIP_INNER, 1] += 0.05  # the lower inner lip drops
    d0 = expression_descriptor(posed_shape(neutral, [0, 0, 0]))
    d_turned = expression_descriptor(posed_shape(neutral, [5, 20, -8]))
    d1 = expression_descriptor(posed_shape(opened, [0, 0, 0]))
    np.testing.assert_allclose(d_turned, d0, atol=1e-9)  # pose and scale do not change it
    changed = np.flatnonzero(np.abs(d1 - d0) > 1e-9)
    assert [NAMES[i] for i in changed] == ["mouth_open"]
    assert d1[NAMES.index("mouth_open")] > d0[NAMES.index("mouth_open")]
    assert expression_mse(d0, d0) == 0.0
    assert expression_mse(d1, d0) == pytest.approx(np.mean((d1 - d0) ** 2))


def posed_shape(shape: np.ndarray, angles) -> np.ndarray:
    R = euler_to_matrix(torch.tensor(np.radians(angles))).numpy()
    return 250.0 * shape @ R.T + np.array([256.0, 256.0, 0.0])


def test_jitter_of_a_known_shake_and_of_smooth_motion():
    pts = posed([0, 0, 0])
    iod = np.linalg.norm(pts[263, :2] - pts[33, :2])
    smooth = [pts + [2.0 * t, 0, 0] for t in range(6)]  # constant velocity
    assert landmark_jitter(smooth) == pytest.approx(0.0, abs=1e-12)
    shaky = [pts + [(-1) ** t * 1.5, 0, 0] for t in range(6)]  # +-1.5 px alternation
    assert landmark_jitter(shaky) == pytest.approx(6.0 / iod)
    assert np.isnan(landmark_jitter([pts, None, pts, pts]))  # no three consecutive faces


def test_cosine_and_same_identity():
    a = np.array([1.0, 0.0, 0.0])
    assert cosine_similarity(a, 2 * a) == pytest.approx(1.0)
    assert cosine_similarity(a, np.array([0.0, 1.0, 0.0])) == pytest.approx(0.0)
    assert same_identity(a, a + [0.5, 0, 0]) and not same_identity(a, a + [0.7, 0, 0])


def test_arcface_alignment_puts_the_five_points_on_the_template(tmp_path):
    from reenact.models.arcface import IResNet

    # landmarks whose five alignment points are the template, scaled by 3 and shifted
    pts = np.zeros((478, 3))
    five = 3 * ARCFACE_TEMPLATE + [40, 60]
    for (i, j), p in zip(((33, 133), (362, 263)), five[:2], strict=True):
        pts[i, :2] = pts[j, :2] = p
    pts[1, :2], pts[61, :2], pts[291, :2] = five[2], five[3], five[4]
    image = np.zeros((500, 500, 3), np.uint8)
    for k, (x, y) in enumerate(np.rint(five).astype(int)):  # a bright dot at each point
        image[y - 3:y + 4, x - 3:x + 4] = 50 * (k + 1)
    aligned = ArcFaceEmbedder.align(image, pts)
    assert aligned.shape == (112, 112, 3)
    for k, (x, y) in enumerate(np.rint(ARCFACE_TEMPLATE).astype(int)):
        assert aligned[y, x, 0] == 50 * (k + 1)
    # a small weights file in arcface_torch's layout loads, and embeds aligned faces
    torch.manual_seed(0)
    path = tmp_path / "backbone.pth"
    torch.save(IResNet("r18").state_dict(), path)
    embed = ArcFaceEmbedder(path, "r18")
    e = embed(image, pts)
    assert e.shape == (512,) and np.isfinite(e).all()
    assert embed(image, None) is None


def test_sharpness_falls_with_blur_and_reads_only_the_mask():
    import cv2

    from reenact.eval.sharpness import sharpness

    rng = np.random.default_rng(0)
    texture = rng.integers(64, 192, (64, 64), dtype=np.uint8)
    image = np.repeat(texture[..., None], 3, axis=2)
    # a grey step of 40 levels on one row: |Laplacian| is 40 on each side of it, 0 elsewhere
    step = np.zeros((32, 32, 3), np.uint8)
    step[:, 16:] = 40
    assert sharpness(step) == pytest.approx(2 * 32 * 40 / 32**2)
    assert sharpness(step // 2) == pytest.approx(sharpness(step) / 2)  # linear in contrast
    blurred = [sharpness(cv2.GaussianBlur(image, (0, 0), s)) for s in (0.5, 1.0, 2.0)]
    assert sharpness(image) > blurred[0] > blurred[1] > blurred[2] > 0
    half = image.copy()
    half[:, :32] = 100  # flat on the left
    left = np.zeros((64, 64), bool)
    left[2:-2, 2:30] = True
    assert sharpness(half, left) == 0.0 and sharpness(half, ~left) > 0
    with pytest.raises(ValueError, match="selects no pixel"):
        sharpness(image, np.zeros((64, 64), bool))
    with pytest.raises(ValueError, match="does not match"):
        sharpness(image, np.ones((32, 32), bool))
    with pytest.raises(ValueError, match="expected an"):
        sharpness(texture)


def test_dlib_measures_see_an_open_mouth_and_a_shift():
    """The independent (dlib 68-point) expression descriptor and landmark distance: an open mouth
    moves the mouth term only, a roll moves none, a shift of 2 px with the eyes 100 px apart is
    0.02; frame_scores reports both beside mediapipe's."""
    from reenact.eval.expression_error import (
        DLIB_NAMES,
        dlib_expression_descriptor,
        dlib_landmark_error,
    )
    from reenact.eval.observe import Observation
    from reenact.eval.runner import frame_scores

    rng = np.random.default_rng(0)
    face = rng.uniform(20, 80, (68, 2))
    face[36], face[45], face[39], face[42] = (0, 0), (100, 0), (30, 0), (70, 0)
    face[62], face[66] = (50, 60), (50, 62)  # the inner lips, closed
    opened = face.copy()
    opened[66] += (0, 15)  # the lower lip's middle drops
    d0, d1 = dlib_expression_descriptor(face), dlib_expression_descriptor(opened)
    assert d1[DLIB_NAMES.index("mouth_open")] > d0[DLIB_NAMES.index("mouth_open")] + 0.1
    assert np.allclose(np.delete(d1, DLIB_NAMES.index("mouth_open")),
                       np.delete(d0, DLIB_NAMES.index("mouth_open")))
    a = np.radians(20)
    rolled = face @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]]) * 1.5 + 7
    assert np.allclose(dlib_expression_descriptor(rolled), d0)
    assert dlib_landmark_error(face + (2, 0), face) == pytest.approx(0.02)

    def obs(dlib_points):
        return Observation(None, None, None, None, dlib_points)

    row = frame_scores(obs(opened), obs(face), obs(face), np.zeros((8, 8, 3), np.uint8), None,
                       False)
    assert row["exp_mse_dlib"] > 0 and "akd_dlib" not in row  # no ground truth: no AKD
    assert "exp_mse_dlib" not in frame_scores(obs(None), obs(face), obs(face),
                                              np.zeros((8, 8, 3), np.uint8), None, False)


def test_dlib_identity_takes_a_strided_view():
    """A crop or flipped view of an image (not C-contiguous) is embedded like a copy of it:
    dlib's bindings refuse strided arrays."""
    pytest.importorskip("dlib", reason="dlib is not installed (pip install .[test])")
    from reenact.eval.identity import DlibIdentity
    from reenact.io import read_image
    from tests.conftest import data_path

    image = read_image(data_path("faces", "s42.jpg"))
    view = image[10:-10, 10:-10]  # a crop: a strided view of the same pixels
    assert not view.flags["C_CONTIGUOUS"]
    identity = DlibIdentity()
    a, b = identity.embed(view), identity.embed(view.copy())
    assert a is not None and np.allclose(a, b)
