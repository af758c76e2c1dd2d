"""The first prototype of the invisible watermark, kept as the record (docs/marking.md, "What was
tried before it"); what ships is ``reenact/io/watermark.py``, in brightness. This one: a keyed,
tiled spread-spectrum pattern in the colour (Cb and Cr) channels that carries a 32-bit payload (the
tool's version and the day); it lost videos to a second H.264 encode.

    python experiments/watermark_prototype.py [--native] [--video CLIP.mp4]

measures it on corpus portraits (256 px, or their own size) after no attack, JPEG 75, halving, a
10 % crop off each side and H.264 at CRF 28, with false positives on the unmarked ones; with
--video, on a clip marked and written as ``animate`` writes (CRF 18), then re-encoded at CRF 28
whole, halved and cropped.

Why our own: the library this field reaches for, ``invisible-watermark``, requires
``opencv-python`` beside the ``opencv-contrib-python`` mediapipe needs (two packages writing one
``cv2``); its weight-free methods (DWT-DCT, DWT-DCT-SVD) embed on a fixed block grid, so a crop or
a resize loses them; its RivaGAN needs onnxruntime. This one is built for those attacks
(docs/marking.md has the figures):

- The pattern repeats every ``TILE`` pixels, so any crop holds whole periods: the detector folds
  the picture into one period (summing all of them) and finds the crop's offset as the peak of the
  circular cross-correlation with a sync pattern.
- A resized picture has a shorter period: the detector tries the scales a resize gives.
- The payload is four bytes, each the shift of its own pattern against the sync pattern; the five
  patterns are orthogonal (a QR basis of 4-pixel cells), smooth, and the same in Cb and Cr.
- It lives in colour, not brightness: faces and backgrounds have far less fine colour detail than
  fine brightness detail, so the pattern stands out to the detector at a lower strength (in
  brightness, the same detection needed a grain that showed on smooth skin).
- Presence needs a sync peak and four data peaks all far above their correlation's spread, so an
  unmarked picture is almost never called marked.
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
STRENGTH = 1.0  # the tile's RMS before ``strength``
# the pattern's RMS in Cb and Cr levels: 3 for a 256 x 256 picture, less for larger ones (the
# detector's evidence grows with the square root of the pixel count), never under 1.5
STRENGTH_256, MIN_STRENGTH = 3.0, 1.5
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


def strength(h: int, w: int) -> float:
    """The pattern's RMS for an h x w picture: equal detection strength at every size."""
    return float(np.clip(STRENGTH_256 * 256 / np.sqrt(h * w), MIN_STRENGTH, STRENGTH_256))


def embed(image: np.ndarray, payload: Payload) -> np.ndarray:
    """The image (H, W, 3) uint8 RGB with the watermark added to its Cb and Cr channels."""
    h, w = image.shape[:2]
    ycc = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    ycc[..., 1:] += strength(h, w) * _tiled(payload, h, w)
    return cv2.cvtColor(np.clip(np.rint(ycc), 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB)


def _residual(channel: np.ndarray) -> np.ndarray:
    """A channel's fine detail (minus its 5 x 5 median), normalised by its local contrast, so
    edges do not drown the pattern elsewhere."""
    r = channel - cv2.medianBlur(np.clip(channel, 0, 255).astype(np.uint8), 5).astype(np.float32)
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


def _detect_at(ycc: np.ndarray) -> Detection:
    folded = np.fft.fft2(_fold(_residual(ycc[..., 1])) + _fold(_residual(ycc[..., 2])))
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


def detect(image: np.ndarray, scales: tuple[float, ...] | None = None) -> Detection:
    """Look for the watermark in an (H, W, 3) uint8 RGB picture at the scales a resize gives
    (``scales``, default ``SCALES``; the first that finds it wins)."""
    ycc = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    best = None
    for scale in scales or SCALES:
        h, w = ycc.shape[:2]
        size = (round(w / scale), round(h / scale))
        if min(size) < TILE // 2 or max(size) > 8192:
            continue
        resized = ycc if scale == 1.0 else cv2.resize(ycc, size, interpolation=cv2.INTER_CUBIC)
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

    return {"none": lambda x: x, "jpeg75": jpeg, "half": half, "crop10": crop, "h264": h264,
            "crop10+h264": lambda x: h264(crop(x)), "h264 twice": lambda x: h264(h264(x))}


def main() -> None:
    import argparse
    import glob
    import time
    from pathlib import Path

    from reenact.io import read_image

    ap = argparse.ArgumentParser(description="measure the prototype watermark")
    ap.add_argument("--native", action="store_true", help="the portraits at their own size")
    ap.add_argument("--every", type=int, default=15, help="every n-th corpus portrait")
    ap.add_argument("--video", type=Path, help="also a clip: marked, written, re-encoded")
    args = ap.parse_args()
    if args.video is not None:
        _video(args.video)
        return
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


def _clip(frames: list, scale: float, payload: Payload) -> tuple[bool, float]:
    """Detection on the sum of every frame's folded residual (each normalised): the pattern
    stands still while the content moves. (found with the right payload, weakest peak)."""
    acc = None
    for f in frames:
        ycc = cv2.cvtColor(f, cv2.COLOR_RGB2YCrCb).astype(np.float32)
        if scale != 1.0:
            h, w = ycc.shape[:2]
            ycc = cv2.resize(ycc, (round(w / scale), round(h / scale)),
                             interpolation=cv2.INTER_CUBIC)
        folded = _fold(_residual(ycc[..., 1])) + _fold(_residual(ycc[..., 2]))
        folded = folded / (folded.std() + 1e-9)
        acc = folded if acc is None else acc + folded
    corr = np.real(np.fft.ifft2(np.fft.fft2(acc)[None] * np.conj(_filtered_patterns()),
                                axes=(1, 2)))
    (sy, sx), weakest = _peak(corr[0])
    values = []
    for k in range(BYTES):
        g = corr[1 + k][np.ix_((np.arange(0, TILE, STEP) + sy) % TILE,
                               (np.arange(0, TILE, STEP) + sx) % TILE)]
        at = np.unravel_index(int(np.argmax(g)), g.shape)
        values.append(int(at[0]) << 4 | int(at[1]))
        weakest = min(weakest, float((g[at] - corr[1 + k].mean()) / (corr[1 + k].std() + 1e-12)))
    ok = weakest >= MIN_DATA_PEAK and Payload.from_bytes(values) == payload
    return ok, weakest


def _video(clip) -> None:
    """Mark 60 frames of a clip (as a face crop, 256, and as a 512 picture), write them at CRF 18
    as animate does, re-encode at CRF 28 whole, halved and cropped; per-frame detection."""
    import itertools
    import tempfile
    from pathlib import Path

    import av

    from reenact.io import VideoWriter, iter_video_frames

    payload = Payload((0, 1, 0), datetime.date(2026, 12, 4))
    frames = list(itertools.islice(iter_video_frames(clip), 60))
    with tempfile.TemporaryDirectory() as tmp:
        for side in (256, 512):
            marked = Path(tmp) / f"m{side}.mp4"
            with VideoWriter(marked, 25) as w:
                for f in frames:
                    w.write(embed(cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA),
                                  payload))
            for kind in ("none", "crf28", "half", "crop"):
                path = marked if kind == "none" else Path(tmp) / f"{kind}{side}.mp4"
                if kind != "none":
                    with av.open(str(marked)) as i, av.open(str(path), "w", format="mp4") as o:
                        s = None
                        for fr in i.decode(video=0):
                            a = fr.to_ndarray(format="rgb24")
                            if kind == "half":
                                a = cv2.resize(a, (side // 2, side // 2),
                                               interpolation=cv2.INTER_AREA)
                            if kind == "crop":
                                a = a[side // 10:side - side // 10, side // 10:side - side // 10]
                            a = np.ascontiguousarray(a[:a.shape[0] // 2 * 2, :a.shape[1] // 2 * 2])
                            if s is None:
                                s = o.add_stream("libx264", rate=25)
                                s.width, s.height, s.pix_fmt = a.shape[1], a.shape[0], "yuv420p"
                                s.options = {"crf": "28"}
                            for p in s.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                                o.mux(p)
                        for p in s.encode():
                            o.mux(p)
                decoded = list(iter_video_frames(path))
                got = [detect(f, (1.0, 0.5)) for f in decoded]
                ok = sum(d.found and d.payload == payload for d in got)
                clip_found, clip_peak = max((_clip(decoded, s, payload) for s in (1.0, 0.5)),
                                            key=lambda r: r[1])
                print(f"{side} px, {kind}: found in {ok}/{len(got)} frames, median peak "
                      f"{np.median([d.peak for d in got]):.1f}; summed over the clip: "
                      f"{'found' if clip_found else 'not found'}, weakest peak {clip_peak:.1f}",
                      flush=True)


if __name__ == "__main__":
    main()

