import math

import pytest
import torch

from reenact.geometry import (
    euler_to_matrix,
    matrix_to_euler,
    rotation_angle_between,
    rotation_interpolate,
    so3_exp,
    so3_log,
    umeyama,
)


def test_euler_round_trip_and_orthonormal():
    angles = torch.tensor([[0.1, -0.4, 0.3], [-0.5, 0.7, -1.2]], dtype=torch.float64)
    R = euler_to_matrix(angles)
    assert R.shape == (2, 3, 3)
    assert torch.allclose(R @ R.transpose(1, 2), torch.eye(3, dtype=torch.float64).expand(2, 3, 3))
    assert torch.allclose(torch.det(R), torch.ones(2, dtype=torch.float64))
    assert torch.allclose(matrix_to_euler(R), angles)


def test_yaw_and_pitch_conventions():
    # Positive yaw: the nose (towards the camera, -z) moves to image left (-x), as documented.
    R = euler_to_matrix(torch.tensor([0.0, 0.3, 0.0]))
    nose = torch.tensor([0.0, 0.0, -1.0])
    assert (R @ nose)[0] < -0.2
    # Positive pitch: the nose moves down the image (+y).
    assert (euler_to_matrix(torch.tensor([0.3, 0.0, 0.0])) @ nose)[1] > 0.2
    assert math.isclose(float(matrix_to_euler(R)[1]), 0.3, abs_tol=1e-6)
    R_pitch = euler_to_matrix(torch.tensor([0.2, 0.0, 0.0]))
    assert math.isclose(float(R_pitch[1, 1]), math.cos(0.2), abs_tol=1e-6)


def test_exp_log_round_trip_and_small_angles():
    w = torch.tensor([[0.3, -0.2, 0.1], [1e-9, 0.0, 0.0], [0.0, 2.5, 0.0]], dtype=torch.float64)
    assert torch.allclose(so3_log(so3_exp(w)), w, atol=1e-8)


def test_angle_between_and_interpolation():
    R0 = euler_to_matrix(torch.tensor([0.0, 0.0, 0.0], dtype=torch.float64))
    R1 = euler_to_matrix(torch.tensor([0.0, 0.8, 0.0], dtype=torch.float64))
    assert math.isclose(float(rotation_angle_between(R0, R1)), 0.8, rel_tol=1e-9)
    half = rotation_interpolate(R0, R1, 0.5)
    assert math.isclose(float(matrix_to_euler(half)[1]), 0.4, rel_tol=1e-9)
    assert torch.allclose(rotation_interpolate(R0, R1, 0.0), R0)
    assert torch.allclose(rotation_interpolate(R0, R1, 1.0), R1)


def test_the_numpy_fast_path_matches_torchs():
    """Without gradients the per-frame poses go through NumPy: the same values as the torch
    formulas (which gradients still take), for a batch, a zero rotation and float32."""
    torch.manual_seed(0)
    w = torch.cat([torch.randn(6, 3, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64)])
    R0, R1 = so3_exp(w), so3_exp(torch.randn(7, 3, dtype=torch.float64))
    alpha = torch.rand(7, dtype=torch.float64)
    graded = w.clone().requires_grad_(True)
    assert torch.allclose(so3_exp(w), so3_exp(graded), atol=1e-14)
    assert torch.allclose(so3_log(R0), so3_log(R0.clone().requires_grad_(True)), atol=1e-12)
    assert torch.allclose(rotation_interpolate(R0, R1, alpha),
                          rotation_interpolate(R0.clone().requires_grad_(True), R1, alpha),
                          atol=1e-12)
    assert so3_exp(w.float()).dtype == torch.float32
    assert rotation_interpolate(R0.float(), R1.float(), 0.3).dtype == torch.float32


def test_exp_gradcheck():
    w = torch.tensor([[0.3, -0.2, 0.1]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(so3_exp, (w,))


def test_umeyama_recovers_similarity_and_gradcheck():
    torch.manual_seed(0)
    src = torch.randn(2, 20, 3, dtype=torch.float64)
    R = euler_to_matrix(torch.tensor([[0.2, -0.3, 0.5], [1.0, 0.1, -0.2]], dtype=torch.float64))
    dst = 1.7 * src @ R.transpose(1, 2) + torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    s, R_fit, t = umeyama(src, dst)
    assert torch.allclose(s, torch.full((2,), 1.7, dtype=torch.float64))
    assert torch.allclose(R_fit, R)
    assert torch.allclose(t, torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64).expand(2, 3))
    src1 = src[:1].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: umeyama(a, dst[:1])[0], (src1,))


@pytest.mark.parametrize("weighted", [False, True])
def test_umeyama_in_numpy_gives_torchs_fit(weighted):
    # without gradients umeyama runs in NumPy (its per-frame fast path): the same fit, to
    # rounding, with noise, weights, a reflection to undo and a 2-D case
    g = torch.Generator().manual_seed(4)
    for D in (3, 2):
        src = torch.randn(3, 30, D, generator=g, dtype=torch.float64)
        dst = 0.6 * src.flip(-1) + 0.05 * torch.randn(3, 30, D, generator=g, dtype=torch.float64)
        w = torch.rand(30, generator=g, dtype=torch.float64) if weighted else None
        fast = umeyama(src, dst, w)
        assert isinstance(fast[1], torch.Tensor) and fast[1].dtype == torch.float64
        slow = umeyama(src.clone().requires_grad_(True), dst, w)
        for a, b in zip(fast, slow, strict=True):
            torch.testing.assert_close(a, b.detach(), rtol=0, atol=1e-12)
        assert torch.allclose(torch.det(fast[1]), torch.ones(3, dtype=torch.float64))


def test_umeyama_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="matching"):
        umeyama(torch.zeros(1, 4, 3), torch.zeros(1, 5, 3))


def test_signed_area_sign_and_value():
    from reenact.geometry.triangles import signed_area

    tri = torch.tensor([[[0.0, 0.0], [4.0, 0.0], [0.0, 3.0]], [[0.0, 0.0], [0.0, 3.0], [4.0, 0.0]]])
    assert signed_area(tri).tolist() == [6.0, -6.0]
