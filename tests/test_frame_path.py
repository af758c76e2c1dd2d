"""The one frame path: ``Reenactor.run`` yields finished output frames as frozen records, for a
driving image, a list of frames and a video file alike; ``build_refiner`` and the config's device."""

import dataclasses
import threading

import numpy as np
import pytest

from reenact.config import AnimateConfig
from reenact.io import VideoWriter
from reenact.pipeline import Driving, Frame, Reenactor
from reenact.refine import build_refiner


def test_run_yields_frozen_frames_for_an_image_and_a_video(samples, tmp_path):
    photo, driver = samples["astronaut"], samples["grace_hopper"]
    r = Reenactor(AnimateConfig())
    src = r.prepare_source(photo)
    (frame,) = list(r.run(src, r.open_driving(src, driver)))
    assert isinstance(frame, Frame) and frame.image.shape == photo.shape
    assert frame.face_found and frame.time is None and frame.index == 0
    assert frame.driving is driver and frame.driving_crop(256).shape == (256, 256, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.index = 1  # type: ignore[misc]
    # a video file: each frame's time from the file, one record per driving frame, faceless
    # frames marked (the motion held)
    video = tmp_path / "d.mp4"
    blank = np.full_like(driver, 90)
    with VideoWriter(video, 20) as w:
        for f in (driver, np.roll(driver, 4, axis=1), blank, driver):
            w.write(f)
    driving = r.open_driving(src, video)
    assert isinstance(driving, Driving) and driving.is_video and driving.count == 4
    frames = list(r.run(src, driving))
    assert [f.index for f in frames] == [0, 1, 2, 3]
    np.testing.assert_allclose([f.time for f in frames], [0, 0.05, 0.1, 0.15], atol=1e-6)
    assert [f.face_found for f in frames] == [True, True, False, True]
    assert r.report.missing_face_frames == [2]


def test_side_by_side_and_crop_only_are_the_config_s(samples):
    photo, driver = samples["astronaut"], samples["grace_hopper"]
    plain = Reenactor(AnimateConfig(crop_only=True))
    src = plain.prepare_source(photo)
    crop = next(plain.run(src, plain.open_driving(src, driver)))
    assert crop.image.shape == (256, 256, 3)
    panels = Reenactor(AnimateConfig(crop_only=True, side_by_side=True))
    frame = next(panels.run(src, panels.open_driving(src, driver)))
    assert frame.image.shape == (256, 768, 3)
    np.testing.assert_array_equal(frame.image[:, 512:], crop.image)  # the result, same size
    assert Reenactor().animate(photo, driver)[0].shape == photo.shape


def test_build_refiner_and_the_device_setting(tmp_path):
    assert build_refiner("analytic", None) is None
    with pytest.raises(ValueError, match="needs --checkpoint"):
        build_refiner("dcggan", None)
    with pytest.raises(ValueError, match="unknown model 'gan'"):
        build_refiner("gan", "x.pt")
    for good in ("cpu", "cuda", "cuda:1", "mps"):
        assert AnimateConfig(device=good).device == good
    with pytest.raises(ValueError, match="device must be cpu, cuda, cuda:N or mps, got 'gpu'"):
        AnimateConfig(device="gpu")


@pytest.mark.parametrize("motion", [None, "absolute"])
def test_a_files_frames_pasted_back_in_a_thread_equal_a_cameras_made_in_turn(samples, monkeypatch,
                                                                            motion):
    # a file's frames are mixed and warped eight at a time at 256 px (a whole batch and part of
    # one here) and pasted back in a thread of their own while the next are warped; a camera's
    # one after another: the same frames either way, moving relative to the first frame (the
    # default) or absolutely
    import reenact.pipeline

    lowered = []  # the threads that gave way to the frames' thread
    monkeypatch.setattr(reenact.pipeline, "lower_priority",
                        lambda: lowered.append(threading.current_thread().name))
    photo, driver = samples["astronaut"], samples["grace_hopper"]
    clip = [np.roll(driver, s, axis=1) for s in range(0, 30, 3)]
    r = Reenactor(AnimateConfig(motion=motion))
    src = r.prepare_source(photo)
    made = {}
    for live in (False, True):
        lowered.clear()
        made[live] = [f.image for f in r.run(src, Driving(list(clip), True, 25.0, None, "d",
                                                          live=live))]
        # a file's tracking and paste-back threads yield to the warp; a camera's none
        assert sorted(n.split("_")[0] for n in lowered) == ([] if live else
                                                            ["reenact-compose", "reenact-track"])
    assert len(made[False]) == len(clip) > reenact.pipeline.warp_batch(r.config.size)
    for threaded, in_turn in zip(made[False], made[True], strict=True):
        np.testing.assert_array_equal(threaded, in_turn)



def test_an_error_mid_file_stops_the_tracking_thread_before_it_leaves_run(samples, monkeypatch):
    # a caller's handler keeps the error's traceback, and with it run's frame: the tracking
    # thread left running inside mediapipe aborted the interpreter's exit (SIGTERM in animate)
    photo, driver = samples["astronaut"], samples["grace_hopper"]
    r = Reenactor(AnimateConfig())
    src = r.prepare_source(photo)
    clip = [np.roll(driver, s, axis=1) for s in range(0, 120, 3)]  # more than the queue holds
    pasted, compose = [], Reenactor.compose

    def failing(self, source, warp):
        pasted.append(1)
        if len(pasted) == 2:
            raise KeyboardInterrupt  # as SIGTERM is raised, in the thread that waits on it
        return compose(self, source, warp)

    monkeypatch.setattr(Reenactor, "compose", failing)
    with pytest.raises(KeyboardInterrupt) as caught:
        for _ in r.run(src, Driving(list(clip), True, 25.0, None, "d")):
            pass
    assert caught.value.__traceback__ is not None  # still held here
    assert [t.name for t in threading.enumerate() if t.name.startswith("reenact-")] == []
