"""Left-right mirroring of cached videos (data.flip), checked against the tracker itself."""

import numpy as np
import pytest
import torch

from reenact.data.dataset import (
    DataConfig,
    TrainBatches,
    VideoStore,
    mirror_landmarks,
    mirror_record,
)
from reenact.face.landmark_model import LandmarkFaceModel


def test_mirroring_twice_gives_the_record_back_and_the_fit_is_the_mirrored_fit(tiny_cache):
    store = VideoStore(tiny_cache)
    video = min(store.entries)
    rec = store.record(video)
    mirrored = store.record(video, mirrored=True)
    assert mirrored is not rec and store.record(video) is rec  # cached side by side
    np.testing.assert_array_equal(mirrored["frames"], rec["frames"][:, :, ::-1])
    np.testing.assert_array_equal(mirrored["person"], rec["person"][:, :, ::-1])
    back = mirror_record(mirrored)
    np.testing.assert_array_equal(back["frames"], rec["frames"])
    np.testing.assert_allclose(back["landmarks"], rec["landmarks"], atol=1e-3)
    for name in ("identity", "rotation", "scale", "translation"):
        np.testing.assert_allclose(back[name], rec[name], atol=1e-3)
    # the model refitted to the mirrored landmarks is the original face, mirrored
    model = LandmarkFaceModel()

    def vertices(r):
        return model.vertices(model.fit(torch.from_numpy(r["landmarks"].astype(np.float64))))

    width = rec["frames"].shape[2]
    np.testing.assert_allclose(mirror_landmarks(vertices(mirrored).numpy(), width),
                               vertices(rec).numpy(), atol=1e-3)
    # a proper rotation, not a reflection: the renumbering keeps the mesh's handedness
    assert np.all(np.linalg.det(mirrored["rotation"]) > 0)
    # FLAME / BFM fits have no mirror: left out rather than carried over unmirrored
    assert "backend_expression" not in mirror_record({**rec, "backend_expression": rec["scale"]})


def test_mirrored_landmarks_match_tracking_the_mirrored_image(samples):
    from reenact.tracking.mediapipe_tracker import FaceTracker

    image = samples["astronaut"]
    with FaceTracker() as tracker:
        points = tracker.detect(image)[0].points
        tracked = tracker.detect(np.ascontiguousarray(image[:, ::-1]))[0].points
    face = points[:, 0].max() - points[:, 0].min()
    mirrored = mirror_landmarks(points, image.shape[1])
    error = np.linalg.norm(mirrored[:, :2] - tracked[:, :2], axis=1).mean() / face
    unnumbered = points.copy()
    unnumbered[:, 0] = image.shape[1] - unnumbered[:, 0]  # reflected but not renumbered
    wrong = np.linalg.norm(unnumbered[:, :2] - tracked[:, :2], axis=1).mean() / face
    assert error < 0.02 < wrong, (error, wrong)


def test_flip_mirrors_whole_samples_and_draws_per_sample(tiny_cache):
    def batches(flip: float, batch: int = 2) -> TrainBatches:
        cfg = DataConfig(cache=tiny_cache, size=32, batch_size=batch, split="frames",
                         pairing="same_video", flip=flip)
        return TrainBatches(cfg, "meshgcn", seed=3)

    plain, flipped = batches(0.0)[5], batches(1.0)[5]
    torch.testing.assert_close(flipped["target"], plain["target"].flip(-1))
    torch.testing.assert_close(flipped["image_s"], plain["image_s"].flip(-1))
    # the warp of the mirrored faces is the mirrored warp, up to rasterisation
    difference = (flipped["prior"] - plain["prior"].flip(-1)).abs().mean()
    assert difference < 0.2 * (plain["prior"] - plain["target"]).abs().mean()
    # flip=0.5: some samples of a batch mirrored, some not, the same on every call
    half, none = batches(0.5, 16)[7], batches(0.0, 16)[7]
    same = [torch.equal(half["target"][i], none["target"][i]) for i in range(16)]
    assert 0 < sum(same) < 16
    torch.testing.assert_close(batches(0.5, 16)[7]["target"], half["target"])


@pytest.mark.parametrize("overrides, message", [
    ({"flip": 1.5}, "data.flip is a probability"),
    ({"flip": 0.5, "face_model": "flame", "face_model_path": "x"}, "data.flip needs"),
])
def test_bad_flip_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(**overrides)
