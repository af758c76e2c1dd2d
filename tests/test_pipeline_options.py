"""The mesh paper's applications (pose only, expression only, alpha), face choice, reference
frame and odd image modes, through the same pipeline as ``reenact animate``."""

import dataclasses
import itertools

import numpy as np
import pytest
import torch

from reenact.config import AnimateConfig
from reenact.face import LandmarkFaceModel
from reenact.geometry import matrix_to_euler
from reenact.io import iter_video_frames, read_image
from reenact.metrics.psnr import psnr
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker
from tests.conftest import data_path

MODEL = LandmarkFaceModel()


def _measure(image):
    """(pitch, yaw, roll) in degrees and the lip gap in head units of the largest face."""
    with FaceTracker(static=True) as t:
        c = MODEL.fit(torch.from_numpy(t.detect(image)[0].points)[None])
    head = MODEL.head_vertices(c.identity, c.expression)[0]
    return np.degrees(matrix_to_euler(c.rotation)[0].numpy()), float((head[14] - head[13]).norm())


@pytest.fixture(scope="module")
def pair():
    source = read_image(data_path("faces", "s42.jpg"))
    driver = read_image(data_path("faces", "d9.jpg"))  # mouth wide open, turned a little
    return source, driver


def _run(source, driver, **options):
    r = Reenactor(AnimateConfig(crop_only=True, **options))
    src = r.prepare_source(source)
    return src, r.animate(src, driver)[0]


def test_alpha_zero_returns_the_source(pair):
    src, out = _run(*pair, alpha=0.0)
    assert psnr(out, src.crop) > 35.0


def test_pose_only_and_expression_only(pair):
    source, driver = pair
    pose_s, _ = _measure(source)
    pose_d, gap_d = _measure(driver)
    _, full = _run(*pair)
    _, pose_only = _run(*pair, pose_only=True)
    _, expr_only = _run(*pair, expression_only=True)
    _, gap_f = _measure(full)
    pose_p, gap_p = _measure(pose_only)
    pose_e, gap_e = _measure(expr_only)
    assert gap_f > 0.6 * gap_d and gap_e > 0.6 * gap_d  # the mouth opens
    assert gap_p < 0.5 * gap_d  # ... but not with pose only
    # Pose only: the re-tracked yaw moves most of the way to the driver's. (A 2D warp of a frontal
    # photo reads as 60-80% of the mesh's yaw to the re-tracker: see the issue notes.)
    assert abs(pose_d[1] - pose_s[1]) > 5.0  # (the two yaws differ enough to tell)
    assert abs(pose_p[1] - pose_d[1]) < 0.5 * abs(pose_s[1] - pose_d[1])
    assert abs(pose_p[1] - pose_d[1]) < 4.5
    assert np.abs(pose_e[1] - pose_s[1]) < 3.0  # expression only: the source's yaw


def test_alpha_half_lies_between(pair):
    _, gap_s = _measure(pair[0])
    _, gap_d = _measure(pair[1])
    _, half = _run(*pair, alpha=0.5)
    _, gap_h = _measure(half)
    assert gap_s < gap_h < gap_d


def test_face_index_picks_by_size(samples):
    """Two faces side by side: index 0 is the larger, index 1 the smaller, 2 is an error."""
    big = samples["astronaut"]
    small = samples["grace_hopper"][::2, ::2]
    canvas = np.full((512, 512 + small.shape[1], 3), 255, np.uint8)
    canvas[:512, :512] = big
    canvas[:small.shape[0], 512:] = small
    r0 = Reenactor(AnimateConfig(face_index=0)).prepare_source(canvas, "two faces")
    r1 = Reenactor(AnimateConfig(face_index=1)).prepare_source(canvas, "two faces")
    assert r0.box.cx < 512 < r1.box.cx and r0.box.side > r1.box.side
    from reenact.io import InputError

    with pytest.raises(InputError, match="only 2 face"):
        Reenactor(AnimateConfig(face_index=2)).prepare_source(canvas, "two faces")


def test_grayscale_source_works(samples, tmp_path):
    from PIL import Image

    p = tmp_path / "gray.png"
    Image.fromarray(samples["astronaut"]).convert("L").save(p)
    out = Reenactor(AnimateConfig(crop_only=True)).animate(str(p), samples["grace_hopper"])
    assert out[0].shape == (256, 256, 3)


def test_reference_frame_changes_the_neutral(samples):
    """With the reference at a frame whose expression differs from frame 0, re-enacting frame 0
    moves the face; with reference 0 it does not (only the driver's changes since the reference:
    reference_expression 0)."""
    frames = [f for i, f in enumerate(iter_video_frames(data_path("driving", "d3.mp4"))) if i < 60]
    source = samples["astronaut"]
    base = Reenactor(AnimateConfig(crop_only=True, expression_only=True, reference_expression=0.0))
    src = base.prepare_source(source)
    out0 = next(iter(base.drive(src, frames[:1], 30.0, True)))
    ref_cfg = dataclasses.replace(base.config, reference_frame=59)
    shifted = Reenactor(ref_cfg)
    out59 = next(iter(shifted.drive(src, frames[:1], 30.0, True, reference=frames[59])))
    moved = (out0.verts - out59.verts)[0, :, :2].norm(dim=-1).mean()
    assert (out0.verts - src.scene.verts)[0, :, :2].norm(dim=-1).mean() < 0.5
    assert moved > 0.5


def test_reference_expression_takes_part_of_the_references_own_expression(pair):
    """Relative motion re-enacting its own reference frame (d9, mouth wide open): with
    reference_expression 0 the photo (s42, lips closed) keeps its mouth; with 1 it takes the
    reference's, as absolute motion does; 0.5 lies halfway. The brows stay the photo's (their
    height is a trait of the face)."""
    source, driver = pair
    regions = MODEL.topology.regions
    brows = np.concatenate([regions["right_brow"], regions["left_brow"]])

    def lip_gap(warp):
        head = MODEL.head_vertices(warp.coeffs.identity, warp.coeffs.expression)[0]
        return float((head[14] - head[13]).norm())

    gaps = {}
    for level in (0.0, 0.5, 1.0):
        r = Reenactor(AnimateConfig(crop_only=True, motion="relative", reference_expression=level))
        src = r.prepare_source(source)
        warp = next(iter(r.drive(src, [driver], 25.0, True, reference=driver)))
        gaps[level] = lip_gap(warp)
        moved = (warp.coeffs.expression - src.coeffs.expression).reshape(-1, 3)[brows]
        assert moved.norm(dim=-1).max() < 0.005  # with d9's brows they would move 0.04
    r = Reenactor(AnimateConfig(crop_only=True, motion="absolute"))
    absolute = lip_gap(next(iter(r.drive(r.prepare_source(source), [driver], is_video=False))))
    assert gaps[0.0] < 0.2 * absolute
    assert gaps[1.0] == pytest.approx(absolute, rel=0.05)
    assert gaps[0.5] == pytest.approx((gaps[0.0] + gaps[1.0]) / 2, rel=0.05)
    with pytest.raises(ValueError, match="reference_expression"):
        AnimateConfig(reference_expression=1.5)


def test_a_relative_head_turn_keeps_the_photos_pose_at_the_reference(pair):
    """--head-turn relative: re-enacting its own reference frame (d9, turned a little) the photo
    (s42) keeps its own pose; the default (absolute) takes d9's."""
    source, driver = pair
    poses = {}
    for turn in ("relative", "absolute"):
        r = Reenactor(AnimateConfig(crop_only=True, motion="relative", head_turn=turn))
        src = r.prepare_source(source)
        warp = next(iter(r.drive(src, [driver], 25.0, True, reference=driver)))
        poses[turn] = warp.coeffs.rotation[0]
    assert torch.allclose(poses["relative"], src.coeffs.rotation[0], atol=1e-6)
    assert float(torch.linalg.matrix_norm(poses["absolute"] - src.coeffs.rotation[0])) > 0.05
    with pytest.raises(ValueError, match="head_turn"):
        AnimateConfig(head_turn="sideways")


def test_auto_reference_is_the_frame_most_like_the_photo():
    """--reference-frame auto (the default): the photo is frame 40 of the clip, so frame 40 (or
    one next to it) is where relative motion starts, and re-enacting it leaves the photo's face
    where it is."""
    frames = [f for i, f in enumerate(iter_video_frames(data_path("driving", "d3.mp4"))) if i < 60]
    r = Reenactor(AnimateConfig(crop_only=True))
    assert r.config.reference_frame == "auto"
    src = r.prepare_source(frames[40])
    driving = r.open_driving(src, frames)
    reference = driving.reference
    assert driving.is_video and abs(r.reference_index - 40) <= 1
    assert reference is frames[r.reference_index]
    warp = next(iter(r.drive(src, [frames[r.reference_index]], 30.0, True, reference)))
    assert (warp.verts - src.scene.verts)[0, :, :2].norm(dim=-1).mean() < 0.5
    # a numbered reference is taken as it is; images and absolute motion need none
    fixed = Reenactor(AnimateConfig(crop_only=True, reference_frame=0))
    assert fixed.open_driving(src, frames).reference is None and fixed.reference_index == 0
    assert r.open_driving(src, frames[0]).reference is None


def test_auto_reference_prefers_the_head_where_the_photo_has_it(pair):
    """The user's own photo and video, framed alike: of two frames with the photo's expression,
    the one turned 4 degrees in place beats the one moved across the picture, which relative
    motion would keep moved for the whole clip (pose and expression alone choose the latter)."""
    import cv2

    photo = pair[0]
    h, w = photo.shape[:2]
    moved = cv2.warpAffine(photo, np.float32([[1, 0, 0.2 * w], [0, 1, 0]]), (w, h),
                           borderMode=cv2.BORDER_REFLECT_101)
    turned = cv2.warpAffine(photo, cv2.getRotationMatrix2D((w / 2, h / 2), 4.0, 1.0), (w, h),
                            borderMode=cv2.BORDER_REFLECT_101)
    r = Reenactor(AnimateConfig(crop_only=True))
    src = r.prepare_source(photo)
    assert r.choose_reference(src, [moved, turned], 25.0, count=2)[0] == 1


def test_a_clip_framed_like_the_photo_keeps_the_head_where_the_clip_has_it(pair):
    """The photo's own clip, the head a little to the right (2 % of the width, as a person shifts
    on a chair): relative motion from that frame keeps the head where the photo had it; with the
    clip framed like the photo it is drawn where the clip has it (a numbered reference never
    takes the place)."""
    import cv2

    photo = pair[0]
    h, w = photo.shape[:2]
    shifted = cv2.warpAffine(photo, np.float32([[1, 0, 0.02 * w], [0, 1, 0]]), (w, h),
                             borderMode=cv2.BORDER_REFLECT_101)

    def moved(reference_frame, clip):
        r = Reenactor(AnimateConfig(crop_only=True, reference_frame=reference_frame))
        src = r.prepare_source(photo)
        reference = r.open_driving(src, clip).reference
        warp = next(iter(r.drive(src, clip, 25.0, True, reference)))
        return float((warp.verts - src.scene.verts)[0, :, 0].mean()), src

    shift, src = moved("auto", [shifted])
    expected = 0.02 * w * src.crop.shape[0] / src.box.side
    assert shift == pytest.approx(expected, rel=0.15)
    assert abs(moved(0, [shifted])[0]) < 0.1 * expected


def test_reference_frame_option_takes_auto_or_an_index():
    from reenact.cli import build_parser

    parse = build_parser().parse_args
    base = ["animate", "-s", "a.jpg", "-d", "b.mp4", "-o", "c.mp4"]
    assert parse([*base, "--reference-frame", "auto"]).reference_frame == "auto"
    assert parse([*base, "--reference-frame", "7"]).reference_frame == 7
    for bad in ("-1", "first"):
        with pytest.raises(SystemExit):
            parse([*base, "--reference-frame", bad])
    with pytest.raises(ValueError, match="reference_frame"):
        AnimateConfig(reference_frame="first")


def test_a_face_at_the_photos_edge_is_not_mirrored_into_its_crop(pair):
    """A photo cut just below the mouth: the crop reaches below its edge, where a mirrored border
    drew a second, upside-down mouth; the source crop spreads the nearby colours there instead."""
    import cv2

    from reenact.tracking.crop import crop_image

    photo = pair[0]
    r = Reenactor(AnimateConfig(crop_only=True))
    full = r.prepare_source(photo)
    chin = full.box.to_image(full.landmarks, 256)[:, 1]
    mouth_y = full.box.to_image(full.landmarks[[14]], 256)[0, 1]  # lower lip
    cut = photo[: int(mouth_y + 0.3 * (chin.max() - mouth_y))]
    src = r.prepare_source(cut)
    edge = int(src.box.to_crop(np.array([[0.0, cut.shape[0]]]), 256)[0, 1])
    assert edge < 240, "the crop must reach below the photo's edge for this test"
    below = slice(edge + 4, 256)

    def detail(crop):
        grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return float(np.abs(cv2.Laplacian(grey, cv2.CV_32F))[below].mean())

    mirrored = crop_image(cut, src.box, 256)
    assert detail(mirrored) > 3 * detail(src.crop)


def test_face_index_picks_the_photos_face_not_the_drivers(samples):
    """--face-index 1 on a two-face photo with a one-face driver: the driver's face is its
    largest, so every frame re-enacts the chosen face (it used to ask the driver for a second
    face, find none, and return the photo unchanged)."""
    big = samples["astronaut"]
    small = samples["grace_hopper"][::2, ::2]
    canvas = np.full((512, 512 + small.shape[1], 3), 255, np.uint8)
    canvas[:512, :512] = big
    canvas[:small.shape[0], 512:] = small
    drivers = [np.ascontiguousarray(f) for f in
               itertools.islice(iter_video_frames(data_path("driving/d3.mp4")), 0, 30, 10)]
    r = Reenactor(AnimateConfig(face_index=1))
    source = r.prepare_source(canvas, "two faces")
    assert source.box.cx > 512  # the smaller face
    outs = [r.compose(source, w) for w in r.drive(source, drivers, 25.0, True)]
    assert r.report.missing_face_frames == []
    moved = [np.abs(o.astype(int) - canvas.astype(int))[:, 512:].mean() for o in outs]
    assert max(moved) > 1.0  # the small face moved
