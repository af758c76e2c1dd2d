import numpy as np
import pytest
import torch

from reenact.face import LandmarkFaceModel
from reenact.geometry import matrix_to_euler
from reenact.io import iter_video_frames
from reenact.tracking.crop import CropBox, StableCropper, face_crop_box, smooth_boxes
from reenact.tracking.mediapipe_tracker import FaceTracker
from reenact.tracking.smoothing import CoefficientSmoother, OneEuroFilter, jitter
from tests.conftest import data_path


def test_one_euro_reduces_noise_jitter_and_follows_steps():
    rng = np.random.default_rng(0)
    clean = np.r_[np.zeros(100), np.ones(100)]
    noisy = clean + 0.02 * rng.normal(size=200)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.5)
    out = np.array([f(x, 1 / 30) for x in noisy])
    assert jitter(out) < 0.25 * jitter(noisy)
    assert abs(out[-1] - 1.0) < 0.05  # the step is followed


def test_pose_smoothing_reduces_measured_jitter_on_a_real_video():
    """Fitted yaw/pitch/roll and expression jitter (mean |second difference|) on d3.mp4, raw vs
    One-Euro smoothed."""
    video = data_path("driving", "d3.mp4")
    model = LandmarkFaceModel()
    smoother = CoefficientSmoother(fps=30)
    raw, smooth, raw_mouth, smooth_mouth = [], [], [], []
    with FaceTracker(static=False) as tracker:
        for i, frame in enumerate(iter_video_frames(video)):
            if i >= 120:
                break
            c = model.fit(torch.from_numpy(tracker.detect(frame)[0].points)[None])
            s = smoother(c)
            raw.append(np.degrees(matrix_to_euler(c.rotation)[0].numpy()))
            smooth.append(np.degrees(matrix_to_euler(s.rotation)[0].numpy()))
            raw_mouth.append(model.head_vertices(c.identity, c.expression)[0, 14, 1].item())
            smooth_mouth.append(model.head_vertices(s.identity, s.expression)[0, 14, 1].item())
    j_raw, j_smooth = jitter(np.array(raw)), jitter(np.array(smooth))
    print(f"pose jitter raw {j_raw:.3f} deg, smoothed {j_smooth:.3f} deg")
    assert j_smooth < 0.6 * j_raw
    assert jitter(np.array(smooth_mouth)) < jitter(np.array(raw_mouth))
    # and it does not lag far behind: mean difference under 2 degrees
    assert np.abs(np.array(raw) - np.array(smooth)).mean() < 2.0


def test_crop_box_mapping_and_stability():
    pts = np.array([[100.0, 100.0], [200.0, 220.0]])
    box = face_crop_box(pts, margin=2.0)
    assert box.side == 240.0
    crop_pts = box.to_crop(pts, 256)
    assert np.all(crop_pts > 0) and np.all(crop_pts < 256)
    rng = np.random.default_rng(0)
    boxes = [CropBox(100 + rng.normal(), 100 + rng.normal(), 200 + rng.normal()) for _ in range(90)]
    steady = smooth_boxes(boxes)
    cx = np.array([b.cx for b in boxes])
    cx_s = np.array([b.cx for b in steady])
    assert jitter(cx_s) < 0.1 * jitter(cx)


def test_video_crop_is_steady_and_keeps_the_face_inside():
    """On d3.mp4 the online crop box's jitter (mean |second difference| of centre and side, px) is a
    small fraction of the raw per-frame box's, and every landmark stays inside the crop."""
    video = data_path("driving", "d3.mp4")
    cropper = StableCropper(fps=30)
    raw, steady = [], []
    with FaceTracker(static=False) as tracker:
        for frame in iter_video_frames(video):
            pts = tracker.detect(frame)[0].points
            b = face_crop_box(pts)
            s = cropper(pts)
            raw.append((b.cx, b.cy, b.side))
            steady.append((s.cx, s.cy, s.side))
            crop_pts = s.to_crop(pts, 256)
            assert crop_pts[:, :2].min() > 0 and crop_pts[:, :2].max() < 256
    j_raw, j_steady = jitter(np.array(raw)), jitter(np.array(steady))
    print(f"crop box jitter raw {j_raw:.3f} px, steady {j_steady:.3f} px")
    assert j_steady < 0.2 * j_raw


def test_to_image_inverts_to_crop():
    box = CropBox(cx=210.5, cy=140.0, side=333.0)
    points = np.random.default_rng(0).uniform(0, 400, (50, 3))
    assert np.allclose(box.to_image(box.to_crop(points, 256), 256), points)


def test_smooth_border_fills_outside_the_photo_without_copying_it():
    """A bright square at the photo's top edge: a mirrored border copies it above the edge, the
    smooth border spreads only a faint blend of it; inside the photo the two crops agree."""
    from reenact.tracking.crop import crop_image

    image = np.full((200, 200, 3), 40, np.uint8)
    image[:30, 80:120] = 250  # a "feature" touching the top edge
    box = CropBox(cx=100, cy=60, side=200)  # 40 px above the photo
    mirror = crop_image(image, box, 200)
    smooth = crop_image(image, box, 200, border="smooth")
    np.testing.assert_array_equal(mirror[41:], smooth[41:])  # the photo's own pixels
    assert mirror[12:40, 80:120].min() == 250  # the mirror draws a second square above the edge
    above = smooth[:38].astype(float)
    assert above[:20].max() < 200  # the smooth border a blend, not a copy
    assert np.abs(np.diff(above[:20], axis=1)).max() < 8  # and smooth
    assert above[:20, 100].mean() > above[:20, 10].mean() + 30  # carrying the nearby colour up
    with pytest.raises(ValueError, match="border"):
        crop_image(image, box, 200, border="wrap")


def test_fill_smooth_keeps_known_pixels_and_stays_in_their_range():
    from reenact.tracking.crop import fill_smooth

    rng = np.random.default_rng(1)
    image = rng.uniform(0.2, 0.8, (64, 48, 3)).astype(np.float32)
    known = np.zeros((64, 48), np.float32)
    known[20:40, 10:30] = 1
    out = fill_smooth(image, known)
    np.testing.assert_allclose(out[20:40, 10:30], image[20:40, 10:30])
    inside = image[20:40, 10:30]
    assert out.min() >= inside.min() - 1e-5 and out.max() <= inside.max() + 1e-5
    assert np.isfinite(out).all()


def test_filters_take_the_real_gap_between_frames_when_given():
    """A live loop that drops every other frame passes the gap it saw: the filters then follow a
    move as far in each shown frame as they would in two frames at the camera's rate, instead
    of lagging twice as long."""
    from reenact.face import FaceCoefficients

    def coeffs(x: float) -> FaceCoefficients:
        return FaceCoefficients(identity=torch.zeros(1, 5, 3), expression=torch.zeros(1, 5, 3),
                                rotation=torch.eye(3)[None], scale=torch.ones(1),
                                translation=torch.tensor([[x, 0.0]]))

    every, skipping, given = (CoefficientSmoother(30.0) for _ in range(3))
    for s in (every, skipping, given):
        s(coeffs(0.0))
    for _ in range(2):  # the camera's two frames after a step of 10 px
        at_rate = float(every(coeffs(10.0)).translation[0, 0])
    as_if_every = float(skipping(coeffs(10.0)).translation[0, 0])  # one frame, gap not given
    with_gap = float(given(coeffs(10.0), dt=2 / 30).translation[0, 0])
    assert with_gap > as_if_every  # the gap moves it further
    assert abs(with_gap - at_rate) < abs(as_if_every - at_rate)
    boxes = [StableCropper(30.0) for _ in range(2)]
    pts = np.array([[0.0, 0.0, 0.0], [100.0, 100.0, 0.0]])
    for b in boxes:
        b(pts)
    far, near = boxes[0](pts + 20, dt=2 / 30), boxes[1](pts + 20)
    assert far.cx > near.cx


def test_a_one_frame_blink_is_kept_and_still_lids_stay_steady():
    """The eyes' quicker filter: a blink that shuts the lids for one frame at 25 fps (as the
    corpus' blinks do) leaves them at under 0.3 of their open gap in the smoothed shape (the
    shape's own filter kept 0.41 open: too open to draw shut); noise on still lids is still
    smoothed (unfiltered lids would keep all of it)."""
    from reenact.face import FaceCoefficients
    from reenact.face.expression import head_lid_gaps

    model = LandmarkFaceModel()
    open_ = model.mean.double().clone()
    shut = open_.clone()
    for up, lo in ((159, 145), (386, 374)):  # the middle of each upper lid onto the lower
        shut[up] = shut[lo]

    def coeffs(head: torch.Tensor) -> FaceCoefficients:
        flat = head.reshape(1, -1)
        return FaceCoefficients(identity=flat, expression=torch.zeros_like(flat),
                                rotation=torch.eye(3, dtype=flat.dtype)[None],
                                scale=torch.ones(1, dtype=flat.dtype),
                                translation=torch.zeros(1, 2, dtype=flat.dtype))

    def gaps(c: FaceCoefficients) -> torch.Tensor:
        return head_lid_gaps(model.head_vertices(c.identity, c.expression))[0]

    smoother = CoefficientSmoother(25.0)
    for _ in range(10):
        smoother(coeffs(open_))
    blink = gaps(smoother(coeffs(shut))) / gaps(coeffs(open_))
    assert (blink < 0.3).all(), blink
    rng = np.random.default_rng(0)
    noisy = [open_ + 0.003 * torch.from_numpy(rng.normal(size=open_.shape)) for _ in range(60)]
    smoother = CoefficientSmoother(25.0)
    raw = np.array([gaps(coeffs(h)).numpy() for h in noisy])
    smooth = np.array([gaps(smoother(coeffs(h))).numpy() for h in noisy])
    assert jitter(smooth) < 0.6 * jitter(raw)


def _turning_faces(n: int = 40, dtype=torch.float64) -> list:
    """Coefficients of a landmark-mesh face that turns, moves, scales and blinks, with noise."""
    from reenact.face import FaceCoefficients
    from reenact.geometry import euler_to_matrix

    model = LandmarkFaceModel()
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        head = model.mean.double() + 0.01 * torch.from_numpy(rng.normal(size=(478, 3)))
        if i % 9 == 4:
            head[159], head[386] = head[145], head[374]  # a blink
        angles = torch.tensor([[0.1 * np.sin(i / 5), 0.4 * np.sin(i / 7), 0.05 * i / n]],
                              dtype=torch.float64)
        flat = head.reshape(1, -1).to(dtype)
        out.append(FaceCoefficients(
            identity=flat, expression=torch.zeros_like(flat),
            rotation=euler_to_matrix(angles).to(dtype), scale=torch.tensor([90.0 + i], dtype=dtype),
            translation=torch.tensor([[128.0 + 3 * i, 120.0 - i, 0.5]], dtype=dtype)))
    return out


def test_the_compiled_smoothing_gives_the_python_steps_bits(monkeypatch):
    """The smoothing's loop compiled (reenact.render.compiled) and run as Python (the first
    frames', before numba loads) give the same bits, frame gaps given or not, float32 or 64."""
    from reenact.render.compiled import kernels
    from reenact.tracking import smoothing

    fast = kernels()
    assert fast is not None, "numba is a dependency: the compiled loops must load"
    monkeypatch.setattr(smoothing, "_one_euro",
                        getattr(smoothing._one_euro, "py_func", smoothing._one_euro))
    for dtype in (torch.float64, torch.float32):
        plain, compiled = CoefficientSmoother(25.0), CoefficientSmoother(25.0, compiled=lambda: fast)
        for i, c in enumerate(_turning_faces(dtype=dtype)):
            dt = None if i % 3 else 0.04 + 0.01 * (i % 5)
            a, b = plain(c, dt), compiled(c, dt)
            for name in ("identity", "rotation", "scale", "translation"):
                assert torch.equal(getattr(a, name), getattr(b, name)), (i, name)


def test_the_smoothing_filters_are_one_euro_filters():
    """The position and the shape away from the eyes are filtered exactly as OneEuroFilter does
    (the loop keeps its operations' order), and a still pose stays still."""
    faces = _turning_faces()
    smoother = CoefficientSmoother(25.0)
    pos, shape = OneEuroFilter(2.5, 0.01), OneEuroFilter(2.5, 6.0)
    eyes = np.zeros(478 * 3, bool)
    eyes[smoother._eye_at] = True
    for c in faces:
        out = smoother(c)
        want_pos = pos(np.r_[c.scale.numpy(), c.translation[0].numpy()], 1 / 25)
        want_shape = shape(c.identity[0].numpy(), 1 / 25)
        np.testing.assert_array_equal(np.r_[out.scale.numpy(), out.translation[0].numpy()],
                                      want_pos)
        np.testing.assert_array_equal(out.identity[0].numpy()[~eyes], want_shape[~eyes])
    still = CoefficientSmoother(25.0)
    for _ in range(5):
        out = still(faces[0])
    torch.testing.assert_close(out.rotation, faces[0].rotation, rtol=0, atol=1e-12)
