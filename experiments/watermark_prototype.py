"""A prototype invisible watermark, not adopted yet (docs/marking.md has its figures): a keyed,
tiled spread-spectrum pattern in the luma that carries a 32-bit payload (the tool's version and the
day it ran).

    python experiments/watermark_prototype.py [--native]

measures it on corpus portraits (256 px, or their own size with --native) after no attack, JPEG 75,
halving, a 10 % crop off each side and H.264 at CRF 28, with false positives on the unmarked ones.

Why our own: the library this field reaches for, ``invisible-watermark``, pulls ``opencv-python``
beside the ``opencv-contrib-python`` that mediapipe needs (two packages writing one ``cv2``), and
its weight-free methods (DWT-DCT, DWT-DCT-SVD) sit on a fixed block grid, so a crop or a resize
loses them; its RivaGAN needs onnxruntime. This one is built to survive H.264, JPEG, halving and
cropping:

- The pattern repeats every ``TILE`` pixels, so any crop holds whole periods: the detector folds the
  picture into one tile (summing all tiles) and finds the crop's offset as the peak of the circular
  cross-correlation with a sync pattern.
- A resized picture has a shorter period: the detector tries the scales a resize gives (the period
  from the folded autocorrelation, then a list of common ones).
- The patterns are smooth (8-pixel cells), where JPEG and H.264 keep what they are given, and
  orthogonal to each other (a QR basis), so the bits do not blur into one another.
- Presence needs both a sync peak far above the correlation's spread and a CRC-8 that matches the
  payload, so an unmarked picture is almost never called marked.
"""

import datetime
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

TILE = 128  # the pattern's period in pixels
CELL = 4  # its smallest detail in pixels
GRID = TILE // CELL
BYTES = 4  # the payload: one byte per data pattern, as its shift against the sync pattern
STEP = 8  # shifts are multiples of this many pixels (TILE / STEP = 16 in each direction)
KEY = 0x7265656E  # "reen"
STRENGTH = 1.0  # the pattern's RMS in 0-255 luma levels, before the strength map
MIN_PEAK = 6.0  # sync peak, in standard deviations of the correlation over all offsets
MIN_DATA_PEAK = 4.5  # each data pattern's peak, likewise
EPOCH = datetime.date(2024, 1, 1)  # days are counted from here in the payload
SCALES = (1.0, 0.5, 0.75, 2 / 3, 0.8, 0.9, 1.25, 1.5, 2.0, 0.25, 0.33, 0.4, 0.6)


@dataclass(frozen=True)
class Payload:
    """What the watermark says: the tool's version and the day the output was made."""

    version: tuple[int, int, int]
    day: datetime.date

    def bytes(self) -> list[int]:
        major, minor, patch = self.version
        days = (self.day - EPOCH).days & 0xFFFF
        return [(major & 0xF) << 4 | (minor & 0xF), patch & 0xFF, days >> 8, days & 0xFF]

    @staticmethod
    def from_bytes(values: list[int]) -> "Payload":
        major, minor = values[0] >> 4, values[0] & 0xF
        days = values[2] << 8 | values[3]
        return Payload((major, minor, values[1]), EPOCH + datetime.timedelta(days=days))

    def __str__(self) -> str:
        return f"reenact {'.'.join(map(str, self.version))}, {self.day.isoformat()}"


@dataclass(frozen=True)
class Detection:
    found: bool
    payload: Payload | None
    peak: float  # the weakest of the sync and data peaks, in standard deviations
    scale: float  # the picture's scale against the marked original


def _smooth_periodic(cells: np.ndarray) -> np.ndarray:
    """(GRID, GRID) cell values -> (TILE, TILE) smooth periodic pattern (blocks blurred by a
    periodic Gaussian in the Fourier domain), zero mean."""
    blocks = np.kron(cells, np.ones((CELL, CELL)))
    f = np.fft.fftfreq(TILE)
    g = np.exp(-2 * (np.pi * CELL / 3) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    out = np.real(np.fft.ifft2(np.fft.fft2(blocks) * g))
    return out - out.mean()


@cache
def _patterns() -> np.ndarray:
    """(1 + BYTES, TILE, TILE): the sync pattern and one per payload byte, each of unit RMS,
    orthogonal (a QR basis of the cells), from the key."""
    rng = np.random.default_rng(KEY)
    q, _ = np.linalg.qr(rng.normal(size=(GRID * GRID, 1 + BYTES)))
    tiles = [_smooth_periodic(q[:, i].reshape(GRID, GRID)) for i in range(1 + BYTES)]
    return np.stack([t / np.sqrt((t ** 2).mean()) for t in tiles])


def _shift(value: int) -> tuple[int, int]:
    return (value >> 4) * STEP, (value & 0xF) * STEP


@cache
def _tile(payload: Payload) -> np.ndarray:
    """One period: the sync pattern plus each byte's pattern rolled by the byte's shift."""
    p = _patterns()
    tile = p[0].copy()
    for k, value in enumerate(payload.bytes()):
        tile += np.roll(p[1 + k], _shift(value), axis=(0, 1))
    return (STRENGTH * tile / np.sqrt((tile ** 2).mean())).astype(np.float32)


@cache
def _tiled(payload: Payload, h: int, w: int) -> np.ndarray:
    tile = _tile(payload)
    reps = (-(-h // TILE), -(-w // TILE))
    return np.ascontiguousarray(np.tile(tile, reps)[:h, :w, None])


def strength_map(luma: np.ndarray) -> np.ndarray:
    """How strongly each pixel takes the pattern: in proportion to the picture's own detail at
    the pattern's scale, which hides it (hair, fabric, edges), and ``FLOOR`` in flat skin and
    sky, up to ``CEIL``."""
    r = luma - cv2.GaussianBlur(luma, (0, 0), CELL)
    local = np.sqrt(cv2.GaussianBlur(r * r, (0, 0), 2 * CELL))
    return np.clip(MASK * local, FLOOR, CEIL)


MASK, FLOOR, CEIL = 0.5, 1.5, 6.0


def embed(image: np.ndarray, payload: Payload) -> np.ndarray:
    """The image (H, W, 3) uint8 with the watermark added to its luma (equally to R, G and B)."""
    h, w = image.shape[:2]
    luma = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    pattern = _tiled(payload, h, w) * strength_map(luma)[..., None]
    out = image.astype(np.float32) + pattern
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _residual(luma: np.ndarray) -> np.ndarray:
    """The picture's detail at the pattern's scale: minus its blur, normalised by local contrast
    (so edges and texture do not drown the pattern in flat skin and sky)."""
    r = luma - cv2.GaussianBlur(luma, (0, 0), CELL)
    local = np.sqrt(cv2.GaussianBlur(r * r, (0, 0), 2 * CELL)) + 1.0
    return r / local


def _fold(r: np.ndarray) -> np.ndarray:
    h, w = r.shape
    H, W = -(-h // TILE) * TILE, -(-w // TILE) * TILE
    padded = np.zeros((H, W), np.float64)
    padded[:h, :w] = r
    return padded.reshape(H // TILE, TILE, W // TILE, TILE).sum(axis=(0, 2))


@cache
def _filtered_patterns() -> np.ndarray:
    """The patterns as the detector sees them (minus their blur), in the Fourier domain."""
    f = np.fft.fftfreq(TILE)
    low = np.exp(-2 * (np.pi * CELL) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    return np.fft.fft2(_patterns(), axes=(1, 2)) * (1 - low)


def _peak(corr: np.ndarray) -> tuple[tuple[int, int], float]:
    at = np.unravel_index(int(np.argmax(corr)), corr.shape)
    return (int(at[0]), int(at[1])), float((corr[at] - corr.mean()) / (corr.std() + 1e-12))


def _detect_at(luma: np.ndarray) -> Detection:
    folded = np.fft.fft2(_fold(_residual(luma)))
    corr = np.real(np.fft.ifft2(folded[None] * np.conj(_filtered_patterns()), axes=(1, 2)))
    (sy, sx), peak = _peak(corr[0])
    values, weakest = [], peak
    for k in range(BYTES):
        # the byte's pattern sits at the sync's offset plus the byte's shift, on the STEP grid
        dy = (np.arange(0, TILE, STEP) + sy) % TILE
        dx = (np.arange(0, TILE, STEP) + sx) % TILE
        grid = corr[1 + k][np.ix_(dy, dx)]
        at = np.unravel_index(int(np.argmax(grid)), grid.shape)
        values.append(int(at[0]) << 4 | int(at[1]))
        z = float((grid[at] - corr[1 + k].mean()) / (corr[1 + k].std() + 1e-12))
        weakest = min(weakest, z)
    found = peak >= MIN_PEAK and weakest >= MIN_DATA_PEAK
    return Detection(found, Payload.from_bytes(values) if found else None, weakest, 1.0)


def detect(image: np.ndarray) -> Detection:
    """Look for the watermark in an (H, W, 3) uint8 picture at the scales a resize gives."""
    luma = image.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    best = None
    for scale in SCALES:
        h, w = luma.shape
        size = (round(w / scale), round(h / scale))
        if min(size) < TILE // 2 or max(size) > 8192:
            continue
        resized = luma if scale == 1.0 else cv2.resize(luma, size, interpolation=cv2.INTER_CUBIC)
        d = _detect_at(resized)
        d = Detection(d.found, d.payload, d.peak, scale)
        if d.found:
            return d
        if best is None or d.peak > best.peak:
            best = d
    return best if best is not None else Detection(False, None, 0.0, 1.0)


def _attacks() -> dict:
    import io

    import av
    from PIL import Image

    def jpeg(im):
        b = io.BytesIO()
        Image.fromarray(im).save(b, format="JPEG", quality=75)
        return np.asarray(Image.open(b).convert("RGB"))

    def half(im):
        return cv2.resize(im, (im.shape[1] // 2, im.shape[0] // 2), interpolation=cv2.INTER_AREA)

    def crop(im):
        h, w = im.shape[:2]
        return np.ascontiguousarray(im[h // 10:h - h // 10, w // 10:w - w // 10])

    def h264(im):  # eight frames, the content moving a pixel a frame; the sixth decoded
        b, (h, w) = io.BytesIO(), (im.shape[0] // 2 * 2, im.shape[1] // 2 * 2)
        with av.open(b, "w", format="mp4") as c:
            s = c.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt, s.options = w, h, "yuv420p", {"crf": "28"}
            for k in range(8):
                f = np.ascontiguousarray(np.roll(im, k, axis=1)[:h, :w])
                for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                    c.mux(p)
            for p in s.encode():
                c.mux(p)
        b.seek(0)
        with av.open(b) as c:
            return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)][5]

    return {"none": lambda x: x, "jpeg75": jpeg, "half": half, "crop10": crop, "h264": h264}


def main() -> None:
    import argparse
    import glob
    import time
    from pathlib import Path

    from reenact.io import read_image

    ap = argparse.ArgumentParser(description="measure the prototype watermark")
    ap.add_argument("--native", action="store_true", help="the portraits at their own size")
    ap.add_argument("--every", type=int, default=15, help="every n-th corpus portrait")
    args = ap.parse_args()
    root = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "corpus"
    paths = sorted(glob.glob(str(root / "portraits" / "*" / "*.jpg")))[::args.every]
    images = [read_image(p) for p in paths]
    if not args.native:
        images = [cv2.resize(i, (256, 256), interpolation=cv2.INTER_AREA) for i in images]
    payload = Payload((0, 1, 0), datetime.date(2026, 12, 4))
    t = time.perf_counter()
    marked = [embed(i, payload) for i in images]
    ms = 1000 * (time.perf_counter() - t) / len(images)
    psnr = [10 * np.log10(255 ** 2 / np.mean((m.astype(float) - i) ** 2))
            for m, i in zip(marked, images, strict=True)]
    print(f"{len(images)} portraits ({'own size' if args.native else '256 px'}); embedding "
          f"{ms:.1f} ms each; PSNR marked against unmarked {np.mean(psnr):.1f} dB")
    print("| attack | marked found | median peak | unmarked called marked |")
    print("|---|---|---|---|")
    for name, attack in _attacks().items():
        found = [detect(attack(m)) for m in marked]
        false = [detect(attack(i)) for i in images]
        ok = sum(d.found and d.payload == payload for d in found)
        print(f"| {name} | {ok}/{len(found)} | {np.median([d.peak for d in found]):.1f} | "
              f"{sum(d.found for d in false)}/{len(false)} |")


if __name__ == "__main__":
    main()
