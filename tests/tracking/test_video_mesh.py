"""A video's mesh: where its first face is alone it goes on with a mesh that looks for one face
(mediapipe's detector then no longer runs on every frame), and the landmarks are those of the
mesh that looks for several."""

import itertools

import numpy as np

from reenact.io import iter_video_frames
from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face


def _follow(frames, one_face: bool, monkeypatch) -> tuple[list, list[int]]:
    """The driven face's landmarks in each frame, and how many faces each video mesh made
    looked for (mediapipe's option), in order."""
    meshes, new_mesh = [], FaceTracker._new_mesh

    def made(self, static, max_faces):
        meshes.append(max_faces)
        return new_mesh(self, static, max_faces)

    monkeypatch.setattr(FaceTracker, "_new_mesh", made)
    if not one_face:
        monkeypatch.setattr(FaceTracker, "_one_face", lambda self, *a: None)
    points, previous = [], None
    with FaceTracker(static=False) as tracker:
        for frame in frames:
            face = pick_face(tracker.detect(frame), 0, previous)
            previous = face or previous
            points.append(None if face is None else face.points)
    monkeypatch.undo()
    return points, meshes


def test_one_face_is_followed_by_a_one_face_mesh_to_the_same_landmarks(turning_head,
                                                                         monkeypatch):
    frames = list(iter_video_frames(turning_head))
    single, meshes = _follow(frames, True, monkeypatch)
    several, other = _follow(frames, False, monkeypatch)
    assert (meshes, other) == ([4, 1], [4])
    assert all(p is not None for p in single)
    for a, b in zip(single, several, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_video_that_starts_with_two_faces_keeps_looking_for_more(samples, monkeypatch):
    hopper = samples["grace_hopper"]
    pair = np.ascontiguousarray(np.concatenate([hopper, hopper[:, ::-1]], axis=1))
    with FaceTracker(static=False) as tracker:
        assert [len(tracker.detect(pair)) for _ in range(3)] == [2, 2, 2]
    _, meshes = _follow(itertools.repeat(pair, 3), True, monkeypatch)
    assert meshes == [4]


def test_the_choice_waits_for_the_first_frame_with_a_face(samples, monkeypatch):
    blank = np.zeros_like(samples["grace_hopper"])
    frames = [blank, blank, samples["grace_hopper"], samples["grace_hopper"]]
    points, meshes = _follow(frames, True, monkeypatch)
    assert points[0] is None and points[2] is not None
    assert meshes == [4, 1]
