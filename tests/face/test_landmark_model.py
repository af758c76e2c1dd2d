import numpy as np
import pytest
import torch

from reenact.face import LandmarkFaceModel, MixOptions, mix_coefficients
from reenact.face.expression import absolute_expression, relative_expression
from reenact.face.mean_shape import mean_shape
from reenact.geometry import euler_to_matrix, rotation_angle_between
from reenact.io import read_image
from reenact.tracking.mediapipe_tracker import FaceTracker
from tests.conftest import data_path


@pytest.fixture(scope="module")
def tracked_mesh(samples):
    with FaceTracker() as t:
        return t.detect(samples["astronaut"])[0].points


def test_fit_reproduces_landmarks_exactly(tracked_mesh):
    model = LandmarkFaceModel()
    c = model.fit(torch.from_numpy(tracked_mesh)[None])
    assert torch.allclose(model.vertices(c), torch.from_numpy(tracked_mesh)[None], atol=1e-8)


@pytest.mark.parametrize("angles_deg", [(0, 25, 0), (15, -20, 5), (-10, 0, 20), (5, 35, -10)])
def test_pose_recovery_of_synthetic_rotations_within_one_degree(tracked_mesh, angles_deg):
    """Rotate a tracked mesh about its head centre by a known rotation, add 0.5 px landmark noise,
    refit: the fitted rotation changes by the known rotation within 1 degree."""
    model = LandmarkFaceModel()
    lm = torch.from_numpy(tracked_mesh)[None]
    c0 = model.fit(lm)
    R_known = euler_to_matrix(torch.deg2rad(torch.tensor(angles_deg, dtype=torch.float64)))
    center = lm[0].mean(0)
    # A rotation in the image frame about the face centre.
    moved = (lm[0] - center) @ R_known.T + center
    moved = moved + 0.5 * torch.randn_like(moved, generator=torch.Generator().manual_seed(0))
    c1 = model.fit(moved[None])
    R_est = c1.rotation[0] @ c0.rotation[0].T
    err = torch.rad2deg(rotation_angle_between(R_est, R_known))
    assert err < 1.0, f"rotation error {float(err):.3f} deg"


@pytest.mark.parametrize("angles_deg", [(0, 0, 0), (0, 25, 0), (15, -20, 5), (5, 170, -10)])
def test_the_one_face_loop_fits_as_the_svd_and_compiled_as_python(tracked_mesh, angles_deg,
                                                                   monkeypatch):
    """``fit_points`` (Horn's rotation, a plain loop) gives ``fit``'s (Umeyama's SVD) to
    rounding, turned and noisy or not, and the same bits compiled (reenact.render.compiled) and
    run as Python (a video's first frames, before numba loads)."""
    from reenact.geometry import procrustes
    from reenact.render.compiled import kernels

    fast = kernels()
    assert fast is not None, "numba is a dependency: the compiled loops must load"
    model = LandmarkFaceModel()
    lm = torch.from_numpy(tracked_mesh)
    R_known = euler_to_matrix(torch.deg2rad(torch.tensor(angles_deg, dtype=torch.float64)))
    noise = 0.5 * torch.randn_like(lm, generator=torch.Generator().manual_seed(1))
    points = (((lm - lm.mean(0)) @ R_known.T + lm.mean(0)) * 1.2 + noise).numpy()
    want = model.fit(torch.from_numpy(points)[None])
    got = model.fit_points(points, fast)
    for name in ("identity", "rotation", "scale", "translation"):
        torch.testing.assert_close(getattr(got, name), getattr(want, name), rtol=1e-12,
                                   atol=1e-9)
    monkeypatch.setattr(procrustes, "horn_quaternion",
                        getattr(procrustes.horn_quaternion, "py_func",
                                procrustes.horn_quaternion))
    python = model.fit_points(points)
    for name in ("identity", "rotation", "scale", "translation"):
        assert torch.equal(getattr(python, name), getattr(got, name)), name
    with pytest.raises(ValueError, match="478, 3"):
        model.fit_points(points[:, :2])


def test_mixing_takes_driver_pose_and_source_shape(tracked_mesh):
    model = LandmarkFaceModel()
    src = model.fit(torch.from_numpy(tracked_mesh)[None])
    drv = src.replace(rotation=euler_to_matrix(torch.tensor([[0.1, 0.4, 0.0]], dtype=torch.float64)),
                      identity=src.identity * 1.1)
    expr = torch.zeros_like(src.expression)
    mixed = mix_coefficients(src, drv, drv, expr)
    assert torch.allclose(mixed.rotation, drv.rotation)
    assert torch.allclose(mixed.identity, src.identity)  # the driver's shape stays out
    none = mix_coefficients(src, drv, drv, expr, MixOptions(alpha=0.0))
    assert torch.allclose(none.rotation, src.rotation)
    expr_only = mix_coefficients(src, drv, drv, expr + 1.0, MixOptions(expression_only=True))
    assert torch.allclose(expr_only.rotation, src.rotation)
    assert torch.allclose(expr_only.expression, src.expression + 1.0)
    pose_only = mix_coefficients(src, drv, drv, expr + 1.0, MixOptions(pose_only=True))
    assert torch.allclose(pose_only.expression, src.expression)
    with pytest.raises(ValueError, match="alpha"):
        MixOptions(alpha=1.5)


def test_a_relative_turn_adds_the_drivers_turn_since_the_reference_to_the_photos_pose(
        tracked_mesh):
    """follow_rotation: the photo keeps its own pose at the reference and turns by what the
    driver turns after it; without it the photo takes the driver's pose whatever its own."""
    model = LandmarkFaceModel()
    src = model.fit(torch.from_numpy(tracked_mesh)[None])
    src = src.replace(rotation=euler_to_matrix(torch.tensor([[-0.1, 0.3, 0.0]],
                                                            dtype=torch.float64)))
    ref = src.replace(rotation=euler_to_matrix(torch.tensor([[0.25, 0.0, 0.05]],
                                                            dtype=torch.float64)))
    turn = euler_to_matrix(torch.tensor([[0.0, 0.2, 0.0]], dtype=torch.float64))
    drv = ref.replace(rotation=turn @ ref.rotation)  # the driver turns 0.2 rad after its reference
    expr = torch.zeros_like(src.expression)
    relative = MixOptions(follow_rotation=True)
    at_ref = mix_coefficients(src, ref, ref, expr, relative)
    assert torch.allclose(at_ref.rotation, src.rotation)
    turned = mix_coefficients(src, drv, ref, expr, relative)
    assert torch.allclose(turned.rotation, turn @ src.rotation)
    assert torch.allclose(mix_coefficients(src, drv, ref, expr).rotation, drv.rotation)
    half = mix_coefficients(src, drv, ref, expr, MixOptions(alpha=0.5, follow_rotation=True))
    angle = rotation_angle_between(half.rotation[0], src.rotation[0])
    assert abs(float(angle) - 0.1) < 1e-6


def test_relative_expression_cancels_identity():
    a = torch.randn(1, 478, 3, dtype=torch.float64)
    assert torch.allclose(relative_expression(a, a), torch.zeros_like(a))


def test_absolute_expression_transfers_mouth_opening_not_face_outline():
    face_path = data_path("faces", "d9.jpg")  # mouth wide open
    model = LandmarkFaceModel()
    with FaceTracker() as t:
        src = model.fit(torch.from_numpy(t.detect(read_image(data_path("faces", "s42.jpg")))[0].points)[None])
        drv = model.fit(torch.from_numpy(t.detect(read_image(face_path))[0].points)[None])
    head_s = model.head_vertices(src.identity, src.expression)
    head_d = model.head_vertices(drv.identity, drv.expression)
    out = head_s + absolute_expression(head_s, head_d)
    def gap(h):
        return float((h[0, 14] - h[0, 13]).norm())
    assert gap(out) > 0.8 * gap(head_d) and gap(out) > 3 * gap(head_s)
    loop = model.topology.boundary_loop
    oval = loop[mean_shape()[loop, 1] < mean_shape()[33, 1]]  # outline above the eyes
    assert (out[0, oval] - head_s[0, oval]).norm(dim=-1).max() < 0.02


def test_expression_of_a_face_turned_far_is_not_trusted():
    """Tracked far from the front, a face's expression is mostly the fit's error: it is scaled
    down from 35 degrees off the camera's axis (in any direction) to none at 60."""
    from reenact.face.expression import EXPRESSION_TRUST, expression_trust

    def trust(pitch, yaw):
        R = euler_to_matrix(torch.deg2rad(torch.tensor([[pitch, yaw, 0.0]], dtype=torch.float64)))
        return float(expression_trust(R)[0])

    assert trust(0, 0) == 1.0 and trust(0, EXPRESSION_TRUST[0] - 1) == 1.0
    assert trust(0, EXPRESSION_TRUST[1] + 1) == 0.0 and trust(EXPRESSION_TRUST[1] + 1, 0) == 0.0
    ramp = [trust(0, float(a)) for a in torch.linspace(*EXPRESSION_TRUST, 6)]
    assert ramp == sorted(ramp, reverse=True) and len(set(ramp)) == len(ramp)  # falling
    assert trust(0, 47.5) == pytest.approx(0.5, abs=0.01) == trust(0, -47.5)


def test_the_forehead_moves_with_the_brows():
    """A brow that comes down takes the skin just above it along (mediapipe's points can sit below
    a raised brow's hair), fading out towards the hairline; nothing else moves."""
    from reenact.face.expression import FOREHEAD_CARRY, carry_forehead

    mean = torch.from_numpy(mean_shape()).double()
    brows = torch.from_numpy(np.concatenate([LandmarkFaceModel().topology.regions[k]
                                             for k in ("right_brow", "left_brow")]))
    offsets = torch.zeros(1, 478, 3, dtype=torch.float64)
    offsets[0, brows, 1] = 0.1  # both brows down by 0.1 head units
    out = carry_forehead(offsets)
    assert torch.equal(out[0, brows], offsets[0, brows])
    dist = torch.cdist(mean[:, :2], mean[brows, :2]).min(1).values
    above = mean[:, 1] < mean[brows, 1].min()
    nearest = int(torch.where(above, dist, torch.inf).argmin())  # the forehead point nearest the brows
    assert out[0, nearest, 1] > 0.05 and offsets[0, nearest, 1] == 0
    far = dist > FOREHEAD_CARRY[1]
    assert (out[0, far] == 0).all() and (out[0, :, 1] >= 0).all() and (out[0, :, 1] <= 0.1 + 1e-12).all()
    assert torch.equal(carry_forehead(torch.zeros_like(offsets)), torch.zeros_like(offsets))


def test_an_eye_opens_at_most_a_little_wider_than_the_photos():
    """A photo's shut eye driven open would stretch its lid and lashes into a dark smudge: each
    eye's lid gap is held to OPEN_AT_MOST times the photo's. Closing, an eye that opens less, and
    the brows are left as they are."""
    from reenact.face.expression import OPEN_AT_MOST, limit_opening

    def gaps(h):
        return [float((h[0, lo] - h[0, up]).norm()) for up, lo in ((159, 145), (386, 374))]

    mean = torch.from_numpy(mean_shape()).double()[None]
    photo = mean.clone()
    upper = [246, 161, 160, 159, 158, 157, 173]  # the right eye's upper lid, corners left out
    photo[0, upper, 1] += 0.8 * (mean[0, 145, 1] - mean[0, 159, 1])  # nearly shut
    brows = torch.from_numpy(LandmarkFaceModel().topology.regions["right_brow"])
    opened = mean - photo  # the right eye opened to the mean's (about 3 times), nothing else
    opened[0, brows, 1] -= 0.05  # and its brow raised
    out = limit_opening(photo, opened)
    g_photo, g_out = gaps(photo), gaps(photo + out)
    assert gaps(photo + opened)[0] > 3 * g_photo[0]
    assert g_out[0] == pytest.approx(OPEN_AT_MOST * g_photo[0], rel=0.05)
    assert torch.equal(out[0, brows], opened[0, brows])
    assert torch.equal(out[0, 386], opened[0, 386])  # the left eye: no change asked, none made
    closing = -0.9 * opened
    closing[0, brows] = 0
    assert torch.equal(limit_opening(mean, closing), closing)
    # the mean's own eyes opened by less than the limit are left alone
    wider = torch.zeros_like(mean)
    wider[0, [159, 386], 1] -= 0.1 * (OPEN_AT_MOST - 1) * (mean[0, 145, 1] - mean[0, 159, 1])
    assert torch.equal(limit_opening(mean, wider), wider)


def test_an_eye_the_driver_shuts_closes_by_the_same_share_of_a_wider_eye():
    """Relative motion moves the lids by the driver's distances: a photo with wider eyes than the
    driver's kept a slit of eyeball when the driver shut its eyes. The eye closes to the driver's
    share of its own gap; an eye the driver leaves open or opens is not touched."""
    from reenact.face.expression import close_as_driver

    def heights(h):
        return [float(h[0, lo, 1] - h[0, up, 1]) for up, lo in ((159, 145), (386, 374))]

    mean = torch.from_numpy(mean_shape()).double()[None]
    upper = [246, 161, 160, 159, 158, 157, 173]  # the right eye's upper lid, corners left out
    driver_gap = 0.6 * heights(mean)[0]  # the driver's eye: narrower than the photo's
    shut = torch.zeros_like(mean)
    shut[0, upper, 1] += 0.9 * driver_gap  # the driver's lid comes down 90 % of its gap
    share = torch.tensor([[0.1, 1.0]], dtype=torch.float64)
    base = torch.zeros_like(mean)
    assert heights(mean + shut)[0] > 0.4 * heights(mean)[0]  # the distance leaves a slit
    out = close_as_driver(mean, shut, base, share)
    assert heights(mean + out)[0] == pytest.approx(0.1 * heights(mean)[0], abs=0.01)
    assert torch.equal(out[0, 386], shut[0, 386])  # the left eye: untouched
    # an eye that already closes as far, or opens, keeps its offsets
    assert torch.equal(close_as_driver(mean, 3 * shut, base, share), 3 * shut)
    assert torch.equal(close_as_driver(mean, -shut, base, torch.tensor([[1.2, 1.0]],
                                                                        dtype=torch.float64)),
                       -shut)
    # a driver's eye narrowed a little is not a blink: its offsets, a glance too, are its own
    # (scaled, a surprised driver's small squint tripled the iris's sideways move out of the eye)
    glance = shut * 0.1
    glance[0, [468, 469, 470, 471, 472], 0] -= 0.05
    narrow = torch.tensor([[0.9, 1.0]], dtype=torch.float64)
    assert torch.equal(close_as_driver(mean, glance, base, narrow), glance)
    out = close_as_driver(mean, glance + shut, base, share)  # a blink while glancing
    assert torch.equal(out[..., 0], (glance + shut)[..., 0])  # the lids close; the iris stays


def test_a_photo_with_shut_eyes_driven_by_open_eyes_keeps_them_nearly_shut():
    """A woman with her eyes shut (a corpus portrait) driven by an open-eyed photo: the re-enacted
    eyes took the driver's opening, black sockets where the lids and lashes were stretched (dlib
    read them 2.6 to 3.1 times the photo's opening). dlib's 68 points judge, not the tracker."""
    from reenact.config import AnimateConfig
    from reenact.eval.expression_error import dlib_expression_descriptor
    from reenact.eval.face_layout import FaceLayoutCheck
    from reenact.pipeline import Reenactor

    photo = read_image(data_path("corpus", "portraits", "DECA", "alfw1.png"))
    driver = read_image(data_path("faces", "s7.jpg"))
    r = Reenactor(AnimateConfig(crop_only=True, size=256))
    src = r.prepare_source(photo)
    out = r.animate(src, driver)[0]
    check = FaceLayoutCheck()

    def opening(image):
        return dlib_expression_descriptor(check.landmarks(np.ascontiguousarray(image)))[3:5].sum()

    assert opening(out) < 2 * opening(src.crop)
