"""Read any common still image as (H, W, 3) uint8 RGB; write PNG/JPEG atomically.

Handled on read: EXIF orientation (applied), grayscale and palette (expanded to RGB), alpha (composited
over white), 16-bit and float images (rescaled to 8 bits), CMYK (converted). Pillow does the decoding;
OpenCV is the fallback for 16-bit colour PNG/TIFF, which Pillow cannot hold as RGB.
"""

import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from reenact.io.atomic import atomic_path
from reenact.io.errors import InputError

# Pillow's format names; written out, because asking Pillow (``registered_extensions``) loads
# all of its format plugins (0.14 s of a one-image command here)
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".bmp": "BMP", ".webp": "WEBP",
           ".tif": "TIFF", ".tiff": "TIFF", ".gif": "GIF"}
IMAGE_SUFFIXES = set(FORMATS)
# Per format, how to save: JPEG at quality 95; PNG at zlib's fastest level, which on photos is 4x
# faster than Pillow's default (6) for files 6 % larger (a 512 px output: 119 -> 27 ms, 364 -> 386
# KB).
SAVE_OPTIONS = {"JPEG": {"quality": 95}, "PNG": {"compress_level": 1}}


def _to_rgb8(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        if mode == "F":
            hi = 1.0 if arr.max() <= 1.0 else max(float(arr.max()), 1.0)
        gray = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))
    return np.asarray(img.convert("RGB"))


def _read_16bit_colour(path: Path) -> np.ndarray | None:
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3:
        return None
    arr = (arr.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
    return cv2.cvtColor(arr, cv2.COLOR_BGR2RGB)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 RGB, upright per its EXIF orientation.

    Raises:
        InputError: the file is missing, empty, truncated, corrupt or not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty")
    try:
        with Image.open(path) as img:
            img.load()
            bits16_rgb = img.mode in ("RGB", "RGBA") and img.info.get("bits", 8) == 16
            img = ImageOps.exif_transpose(img)
            rgb = _to_rgb8(img)
    except UnidentifiedImageError:
        raise InputError(f"{path}: not a readable image (unknown or unsupported format)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: corrupt or truncated image ({exc})") from None
    if bits16_rgb:
        wide = _read_16bit_colour(path)
        rgb = rgb if wide is None else wide
    if rgb.shape[0] < 8 or rgb.shape[1] < 8:
        raise InputError(f"{path}: image is too small ({rgb.shape[1]}x{rgb.shape[0]})")
    return np.ascontiguousarray(rgb)


def write_image(path: str | os.PathLike, image: np.ndarray, marking=None) -> None:
    """Write (H, W, 3) uint8 RGB to ``path`` (format from its suffix), atomically. ``marking``: a
    ``reenact.io.marking.Marking`` to carry in the file's metadata and, unless its ``watermark``
    is off, in the pixels (outputs say they are synthetic)."""
    path = Path(path)
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"{path}: unsupported image suffix {path.suffix!r}")
    if marking is not None:
        image = marking.watermarked(image)
    try:
        with atomic_path(path) as tmp:
            suffix = path.suffix.lower()
            Image.fromarray(image).save(
                tmp, format=FORMATS[suffix], **SAVE_OPTIONS.get(FORMATS[suffix], {}),
                **(marking.image_kwargs(suffix) if marking is not None else {}))
    except OSError as exc:  # a full disk, a read-only folder: the user's path, not the part file
        raise InputError(f"{path}: cannot write the image ({exc.strerror or exc})") from None
