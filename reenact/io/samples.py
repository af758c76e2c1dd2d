"""Sample photos that ship with installed packages, for the demo and tests (no download needed)."""

import numpy as np


def sample_images() -> dict[str, np.ndarray]:
    """{"astronaut": scikit-image's astronaut, "grace_hopper": matplotlib's sample photo}, RGB uint8."""
    import matplotlib.cbook
    import skimage.data
    from PIL import Image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        hopper = np.asarray(Image.open(f).convert("RGB"))
    return {"astronaut": np.ascontiguousarray(skimage.data.astronaut()), "grace_hopper": hopper}


def sample_image_path(name: str) -> str:
    """The on-disk path of a sample photo (for the CLI's demo), e.g. ``grace_hopper``."""
    import matplotlib.cbook
    import skimage.data

    if name == "grace_hopper":
        return str(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    if name == "astronaut":
        return str(skimage.data.data_dir) + "/astronaut.png"
    raise ValueError(f"unknown sample image {name!r}; choose astronaut or grace_hopper")
