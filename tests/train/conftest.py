"""A tiny preprocessed cache built from the bundled sample photos (no ../shared/data needed): each
photo becomes a "video" of frames under small rotations, shifts and zooms."""

import cv2
import pytest


@pytest.fixture(scope="session")
def tiny_cache(tmp_path_factory, samples) -> str:
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


def tiny_setup(family: str, cache: str, out, **overrides):
    """configs/<family>/tiny.yaml shrunk to a test: batch 2, no held-out validation pairs."""
    from pathlib import Path

    from reenact.train.loop import load_setup

    config = Path(__file__).resolve().parents[2] / "configs" / family / "tiny.yaml"
    items = {"data.cache": cache, "data.videos": "null", "data.batch_size": 2,
             "data.workers": 0, "data.val_pairs": 0, "run.out": str(out), "run.steps": 4,
             "run.log_every": 1, "run.image_every": 100, "run.checkpoint_every": 2,
             "run.val_every": 100, "run.threads": 1, **overrides}
    return load_setup(config, [f"{k}={v}" for k, v in items.items()])
