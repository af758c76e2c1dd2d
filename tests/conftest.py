import os
from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"

os.environ.setdefault("GLOG_minloglevel", "2")
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
