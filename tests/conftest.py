import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

os.environ.setdefault("GLOG_minloglevel", "2")
# the GCN's on-disk sampling cache (reenact.geometry.decimation): never the user's home in tests
os.environ["REENACT_CACHE"] = tempfile.mkdtemp(prefix="reenact-test-cache-")
torch.set_num_threads(2)


def data_path(*parts: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"real test data not found at {p} (see ../shared/data/README.md)")
    return p


@pytest.fixture(scope="session")
def samples() -> dict[str, np.ndarray]:
    from reenact.io.samples import sample_images

    return sample_images()


@pytest.fixture(scope="session")
def turning_head(tmp_path_factory, samples) -> Path:
    """A 4 s, 20 fps driving clip of Grace Hopper turning her head (the picture rotated and
    shifted a little each frame), twice; made from the bundled photo, no ../shared/data."""
    from reenact.io import VideoWriter

    path = tmp_path_factory.mktemp("turning") / "hopper.mp4"
    hopper = samples["grace_hopper"]
    h, w = hopper.shape[:2]
    with VideoWriter(path, 20) as writer:
        for i in range(80):
            a = 12 * np.sin(i / 40 * 2 * np.pi)
            m = cv2.getRotationMatrix2D((w / 2, h / 2), a, 1.0)
            m[0, 2] += a
            writer.write(cv2.warpAffine(hopper, m, (w, h), borderMode=cv2.BORDER_REFLECT))
    return path


@pytest.fixture(scope="session")
def long_driver(tmp_path_factory) -> Path:
    """120 frames of ../shared/data's d3.mp4 at 320 x 240: a run of several seconds."""
    import itertools

    from reenact.io import VideoWriter, iter_video_frames

    p = tmp_path_factory.mktemp("long") / "long.mp4"
    with VideoWriter(p, 25) as w:
        for f in itertools.islice(iter_video_frames(data_path("driving", "d3.mp4")), 120):
            w.write(cv2.resize(f, (320, 240)))
    return p


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory, samples) -> str:
    """A tiny preprocessed cache built from the bundled sample photos (no ../shared/data needed):
    each photo becomes a "video" of frames under small rotations, shifts and zooms."""
    from reenact.data.preprocess import preprocess
    from reenact.io import write_image

    root = tmp_path_factory.mktemp("tiny_src")
    for name in ("astronaut", "grace_hopper"):
        image = samples[name]
        h, w = image.shape[:2]
        folder = root / name
        folder.mkdir()
        for i, (angle, dx, zoom) in enumerate([(0, 0, 1.0), (4, 6, 1.03), (-5, -4, 0.97),
                                               (2, 3, 1.05), (-2, -6, 1.0)]):
            m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, zoom)
            m[0, 2] += dx
            write_image(folder / f"{i:04d}.png", cv2.warpAffine(
                image, m, (w, h), borderMode=cv2.BORDER_REFLECT_101))
    cache = tmp_path_factory.mktemp("tiny_cache")
    summary = preprocess(root, cache, frames=0, size=64, workers=1, progress=False)
    assert summary.processed == 2, summary
    return str(cache)
