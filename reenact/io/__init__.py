"""Image and video codecs, atomic writes, numpy <-> tensor conversion. Nothing internal is imported.

Images in memory are ``uint8`` RGB arrays of shape (H, W, 3). Every reader raises ``InputError`` with
the file name on anything it cannot decode; every writer writes a temporary file next to the target
and renames it, so an interrupted write never leaves a half-written file at the target path.
"""

import importlib
from typing import TYPE_CHECKING

from reenact.io.errors import InputError
from reenact.io.image import read_image, write_image
from reenact.io.video import (
    TimedFrames,
    VideoInfo,
    VideoWriter,
    iter_video_frames,
    iter_video_timed,
    probe_video,
    variable_rate,
)

if TYPE_CHECKING:
    from reenact.io.tensor import image_to_tensor, tensor_to_image


def __getattr__(name: str):
    """The tensor conversions, imported on first use: they load torch, which reading an image in
    the tracker's process of ``reenact.tracking.ahead`` does without (PEP 562)."""
    if name not in ("image_to_tensor", "tensor_to_image"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("reenact.io.tensor"), name)
    globals()[name] = value
    return value

__all__ = [
    "InputError",
    "TimedFrames",
    "VideoInfo",
    "VideoWriter",
    "image_to_tensor",
    "iter_video_frames",
    "iter_video_timed",
    "probe_video",
    "read_image",
    "tensor_to_image",
    "variable_rate",
    "write_image",
]
