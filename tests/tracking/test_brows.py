"""The brows' rise from the pixels (reenact.tracking.brows): synthetic faces with dark brow bands
whose move is known."""

import cv2
import numpy as np
import pytest

from reenact.face.mean_shape import mean_shape
from reenact.tracking import brows as B

IOD = 100.0  # pixels between the outer eye corners


def face_points(brow_rise_px: float = 0.0) -> np.ndarray:
    """(478, 3) the mean shape in a 256 px picture (eyes 100 px apart), brow points raised."""
    p = mean_shape().astype(np.float64) * IOD + [128.0, 150.0, 0.0]
    for b in B._brows():
        p[b, 1] -= brow_rise_px
    return p


def picture(band_rise_px: float, contrast: float = 120.0) -> np.ndarray:
    """A flat grey face with a dark band where each brow is, raised by ``band_rise_px``."""
    img = np.full((256, 256), 180.0, np.float32)
    p = face_points()
    for b in B._brows():
        x0, x1 = p[b, 0].min(), p[b, 0].max()
        y = p[b, 1].mean() - band_rise_px
        img[int(y) - 4:int(y) + 4, int(x0):int(x1)] -= contrast
    img = cv2.GaussianBlur(img, (0, 0), 1.5)
    return np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, -1)


def test_shift_finds_a_moved_profile():
    x = np.linspace(0, 1, 300)
    ref = np.exp(-((x - 0.5) / 0.05) ** 2).astype(np.float32)
    moved = np.exp(-((x - 0.5 - 0.01) / 0.05) ** 2).astype(np.float32)  # 0.01 / (1 / 299) samples
    s, r = B.shift(ref, moved)
    assert s == pytest.approx(0.01 * 299 * B.STEP, abs=B.STEP / 2)
    assert r > 0.99


def test_profiles_shape_and_heights():
    prof = B.profiles(picture(0.0), face_points())
    k = round(B.SEARCH / B.STEP)
    assert prof.shape[0] == 2 and prof.shape[1] > 2 * k
    np.testing.assert_allclose(B.brow_heights(face_points(5.0)) - B.brow_heights(face_points()),
                               [0.05, 0.05], atol=1e-9)


def test_a_rise_the_points_miss_is_added():
    reg = B.BrowRegistration(picture(0.0), face_points())
    c = reg.correction(picture(4.0), face_points())  # the brows rose 4 px, the points did not
    np.testing.assert_allclose(c, [0.04, 0.04], atol=0.006)
    c = reg.correction(picture(4.0), face_points(2.0))  # the points saw half of it
    np.testing.assert_allclose(c, [0.02, 0.02], atol=0.006)
    out = reg(picture(4.0), face_points())
    brows = np.concatenate(B._brows())
    np.testing.assert_allclose(face_points()[brows, 1] - out[brows, 1], 4.0, atol=0.6)
    others = np.setdiff1d(np.arange(478), brows)
    np.testing.assert_array_equal(out[others], face_points()[others])
    assert np.all(reg.correction(picture(0.0), face_points()) == 0)


def test_unseen_brows_keep_their_points():
    flat = B.BrowRegistration(picture(0.0, contrast=2.0), face_points())  # no brow to see
    assert np.all(flat.correction(picture(4.0, contrast=2.0), face_points()) == 0)
    reg = B.BrowRegistration(picture(0.0), face_points())
    noise = np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8)
    assert np.all(reg.correction(noise, face_points()) == 0)  # a hand over the brows
    big = reg.correction(picture(9.0), face_points())  # beyond the largest correction
    assert np.all(np.abs(big) <= B.MOST + 1e-12)


def test_a_raised_brow_reaches_the_re_enacted_mesh(samples):
    """Grace Hopper's brows and the forehead above them raised by 0.04 eye distances (the eyes
    kept): mediapipe sees a fifth of it; the re-enacted mesh's brows now rise by most of it."""
    from reenact.config import AnimateConfig
    from reenact.pipeline import Reenactor
    from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face

    photo = samples["grace_hopper"]
    with FaceTracker(static=True) as t:
        points = pick_face(t.detect(photo)).points
    iod = np.linalg.norm(points[263, :2] - points[33, :2])
    h, w = photo.shape[:2]
    mask = np.zeros((h, w), np.float32)
    for x, y in points[np.concatenate(B._brows()), :2]:  # each brow point and the skin above it
        cv2.rectangle(mask, (int(x - 0.05 * iod), int(y - 0.3 * iod)),
                      (int(x + 0.05 * iod), int(y + 0.04 * iod)), 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), 0.03 * iod)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    raised = cv2.remap(photo, xs, ys + 0.04 * iod * mask / mask.max(), cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REFLECT)
    with FaceTracker(static=True) as t:
        seen = B.brow_heights(pick_face(t.detect(raised)).points) - B.brow_heights(points)
    assert np.all(seen < 0.015)  # the tracker alone misses most of it
    r = Reenactor(AnimateConfig(crop_only=True, motion="relative", reference_frame=0))
    src = r.prepare_source(photo, "hopper")
    warps = list(r.drive(src, [photo] * 3 + [raised] * 12, 25.0, True, photo, "raised"))
    rise = B.brow_heights(warps[-1].verts[0].numpy()) - B.brow_heights(warps[0].verts[0].numpy())
    assert np.all(rise > 0.025), rise


def test_a_head_turned_from_the_reference_keeps_its_points():
    reg = B.BrowRegistration(picture(0.0), face_points())
    p = face_points()
    a = np.radians(B.TURNED[1] + 5)  # about the vertical axis, round the face's middle
    c, R = p.mean(0), np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    turned = (p - c) @ R.T + c
    assert np.all(reg.correction(picture(4.0), turned) == 0)
    a = np.radians(B.TURNED[0] / 2)  # a little: corrected in full
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    np.testing.assert_allclose(reg.correction(picture(4.0), (p - c) @ R.T + c), 0.04, atol=0.008)


def _turned(p: np.ndarray, degrees: tuple[float, float, float]) -> np.ndarray:
    """``p`` (478, 3) rotated by Euler angles (x, y, z, degrees) round its middle."""
    import torch

    from reenact.geometry import euler_to_matrix

    R = euler_to_matrix(torch.deg2rad(torch.tensor([degrees], dtype=torch.float64))).numpy()[0]
    c = p.mean(0)
    return (p - c) @ R.T + c


def test_the_turn_is_umeyamas_rotation_angle():
    """Horn's quaternion (in ``brow_geometry``) finds the angle of the rotation Umeyama's SVD
    finds."""
    import torch

    from reenact.geometry.procrustes import umeyama

    eyes, brows, stable, params = B._indices()
    rng = np.random.default_rng(3)
    for angles in [(0, 0, 0), (3, -8, 1), (0, 15, 0), (12, 9, -4), (0, 40, 0), (80, 10, 5),
                   (0, 170, 0)]:
        ref = face_points() + rng.normal(0, 0.3, (478, 3))
        now = _turned(ref, angles) * 1.3 + [5.0, -7.0, 2.0] + rng.normal(0, 0.3, (478, 3))
        rigid = ref[stable] - ref[stable].mean(0)
        _, R, _ = umeyama(torch.from_numpy(ref[stable])[None], torch.from_numpy(now[stable])[None])
        want = np.degrees(np.arccos(np.clip((float(torch.trace(R[0])) - 1) / 2, -1, 1)))
        got = np.empty(20)
        B.brow_geometry(np.ascontiguousarray(now), eyes, brows, rigid, stable, params, got)
        assert got[5] == pytest.approx(want, abs=1e-6)


def test_the_compiled_loops_give_the_python_loops_bits():
    """The brows' geometry and registration compiled (reenact.render.compiled) and run as Python
    and NumPy (the first frames', before numba loads) give the same bits: faces turned 0 to 30
    degrees (the turn's fade), moved, with brows raised, over a flat picture and over noise."""
    from reenact.render.compiled import kernels

    fast = kernels()
    assert fast is not None, "numba is a dependency: the compiled loops must load"
    eyes, brows, stable, params = B._indices()
    rng = np.random.default_rng(5)
    pictures = [picture(0.0), picture(3.0), picture(6.0, contrast=60.0),
                rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)]
    plain = B.BrowRegistration(picture(0.0), face_points())
    compiled = B.BrowRegistration(picture(0.0), face_points(), lambda: fast)
    checked = 0
    for yaw in (0.0, 6.0, 12.0, 15.5, 19.0, 30.0):
        for rise in (0.0, 2.0):
            p = _turned(face_points(rise), (2.0, yaw, -1.0)) + rng.normal(0, 0.2, (478, 3))
            p = np.ascontiguousarray(p)
            python, by_numba = np.empty(20), np.empty(20)
            B.brow_geometry(p, eyes, brows, plain.rigid, stable, params, python)
            fast.brow_geometry(p, eyes, brows, plain.rigid, stable, params, by_numba)
            np.testing.assert_array_equal(python, by_numba)
            for image in pictures:
                grey = B._bands(image, python)
                by_numpy = [B._peak(r) for r in B._correlations(grey.sum(-1, dtype=np.int64),
                                                                 plain.cores)]
                np.testing.assert_array_equal(
                    np.array(by_numpy), fast.brow_peaks(grey, plain.cores, 40, B.STEP))
                np.testing.assert_array_equal(plain(image, p), compiled(image, p))
                checked += 1
    assert checked == 48
