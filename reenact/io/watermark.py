"""An invisible watermark in the pixels of every frame we write, and its detector.

Our own, because no library met the aims here (docs/marking.md has the figures):
``invisible-watermark``'s DWT-DCT read back 2 of 10 of its own 256 px marks whole, embeds on a
fixed grid a crop loses, and needs ``opencv-python`` beside mediapipe's ``opencv-contrib-python``; its RivaGAN
took 262 ms a 256 px frame and lost the payload when a frame was halved.

The design, for the attacks an output meets (a video site's H.264 re-encode, halving, JPEG, a crop):

- A keyed pattern of 4 px cells in **brightness**, repeating every 128 px, so a crop still holds
  whole periods: the detector folds the picture into one period and finds the crop's offset as the
  peak of a circular correlation. Brightness, not colour: H.264 keeps far less of colour, and a
  second encode (ours, then a site's) lost a colour pattern in every frame.
- Its strength follows the picture's own texture (hair, grain and skin texture hide it; smooth
  skin, flat backgrounds and the sides of lone edges get 0.4 of it, what a re-encode of a smooth
  face needs), so it is not seen as grain or smudges; large pictures get a coarser, weaker
  pattern (the detector tries the scales a resize gives).
- The payload, the day the output was made, is the shift of a second pattern against the first:
  presence needs only the first, and a video's payload is read from all its frames together.
"""

import datetime
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np

TILE = 128  # the pattern's period in pixels (at scale 1)
CELL = 4  # its cells in pixels
BLUR = 1 / 3  # the cells blurred by a Gaussian of this many cells (0.5 held less after halving)
KEY = 0x7265656E  # "reen": the key of both patterns; only reenact's pattern is looked for
STRENGTH = 3.2  # brightness levels (RMS of the pattern) where the fine detail has MASK_LEVEL
MASK_LEVEL = 4.0  # the picture's fine detail, in levels (RMS-like), that takes the full strength
MASK_FLOOR, MASK_CEIL = 0.4, 1.6  # the strength's share on flat areas, on busy ones
SYNC_SHARE = 0.85  # of the pattern's amplitude; the payload pattern has the rest (0.53)
MIN_SYNC = 6.0  # presence: the sync peak, in standard deviations of the correlation
MIN_SYNC_LADDER = 6.5  # the same at a scale off the common resizes (many more places to look)
# a video's frame, once all its frames together found the mark: the sync's correlation at their
# offset (one place, not the best of TILE * TILE, so a lower bar holds false finds as rare)
MIN_FRAME = 4.0
STEP = 4  # the payload's shifts are multiples of this (a peak may sit a pixel off)
DAYS = (TILE // STEP) ** 2  # the payload: the day, modulo this (1024 days, 2.8 years)
MIN_DATA = 4.0  # the payload's peak among its DAYS places, in standard deviations
EPOCH = datetime.date(2024, 1, 1)
NATIVE_BELOW = 0.45  # pictures under this share of the pattern's scale: detail at their own size
MAX_COARSE = 4  # the coarsest pattern: 16 px cells, a 512 px period (photos from 1536 px)
# the resizes the detector tries (a picture is found within about 1.5 % of its scale): the
# picture's size over the marked one's
RESIZES = (1.0, 0.5, 0.75, 2 / 3, 0.8, 0.9, 0.6, 0.4, 1 / 3, 0.25, 1.1, 1.25, 1.5, 2.0)


@dataclass(frozen=True)
class Detection:
    """What the detector found in one picture (or a clip's frames together)."""

    found: bool
    day: datetime.date | None  # the payload, when its peak is clear
    strength: float  # the sync peak in standard deviations (MIN_SYNC and up: found)
    scale: float  # the picture's scale against the marked pattern's
    offset: tuple[int, int] = (0, 0)  # where the sync peak is in the folded period


def _smooth_periodic(cells: np.ndarray) -> np.ndarray:
    """(TILE/CELL)^2 cell values -> a (TILE, TILE) periodic pattern, the blocks blurred (a
    periodic Gaussian, in the Fourier domain), zero mean, unit RMS."""
    blocks = np.kron(cells, np.ones((CELL, CELL)))
    f = np.fft.fftfreq(TILE)
    g = np.exp(-2 * (np.pi * CELL * BLUR) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    out = np.real(np.fft.ifft2(np.fft.fft2(blocks) * g))
    out -= out.mean()
    return out / np.sqrt((out ** 2).mean())


@cache
def _patterns() -> np.ndarray:
    """(2, TILE, TILE): the sync and payload patterns, random signs from the key."""
    rng = np.random.default_rng(KEY)
    grid = TILE // CELL
    return np.stack([_smooth_periodic(rng.choice([-1.0, 1.0], size=(grid, grid)))
                     for _ in range(2)])


def _shift(day: datetime.date) -> tuple[int, int]:
    value = (day - EPOCH).days % DAYS
    return value // (TILE // STEP) * STEP, value % (TILE // STEP) * STEP


def _day(value: int, today: datetime.date | None = None) -> datetime.date:
    """The latest day up to ``today`` whose payload is ``value``."""
    today = today or datetime.datetime.now(datetime.timezone.utc).date()
    return today - datetime.timedelta(days=((today - EPOCH).days - value) % DAYS)


@cache
def _tile(day: datetime.date, period: int) -> np.ndarray:
    """One period of the mark for ``day``, resized to ``period`` pixels, float32."""
    import cv2

    sync, data = _patterns()
    tile = SYNC_SHARE * sync + np.sqrt(1 - SYNC_SHARE ** 2) * np.roll(data, _shift(day), (0, 1))
    if period != TILE:
        tile = cv2.resize(tile, (period, period), interpolation=cv2.INTER_CUBIC)
    return tile.astype(np.float32)


def _period_scale(h: int, w: int) -> int:
    """Large pictures get a coarser pattern (k times the cells and the period), so one shrunk to a
    quarter for the web still holds it."""
    return int(np.clip(min(h, w) // 384, 1, MAX_COARSE))


@cache
def _scales(h: int, w: int) -> tuple[tuple[float, float], ...]:
    """The scales to try for an h x w picture, likeliest first, each with the peak that finds the
    mark there: as marked (a pattern k times as coarse, k from the picture's size), then the
    common resizes of every pattern (MIN_SYNC), then every other scale from 1/4 to
    2 * MAX_COARSE in steps of 3 % (a site's 240p or 144p of a 256 px video, a photo shrunk to
    any width; MIN_SYNC_LADDER: three times the places to look, so a higher bar)."""
    own = float(_period_scale(h, w))
    listed = [own] + [k * r for r in RESIZES for k in range(1, MAX_COARSE + 1)]
    ladder = 0.25 * 1.03 ** np.arange(int(np.log(8 * MAX_COARSE) / np.log(1.03)) + 1)
    fine = [s for s in ladder if min(abs(s / x - 1) for x in listed) > 0.01]
    bars = {round(float(s), 4): MIN_SYNC for s in listed}
    for s in fine:
        bars.setdefault(round(float(s), 4), MIN_SYNC_LADDER)
    return tuple(bars.items())


@lru_cache(maxsize=4)  # a video's frames share one size
def _tiled(day: datetime.date, k: int, h: int, w: int) -> np.ndarray:
    tile = _tile(day, TILE * k)
    return np.ascontiguousarray(np.tile(tile, (-(-h // tile.shape[0]), -(-w // tile.shape[1])))
                                [:h, :w])


def _texture(luma: np.ndarray) -> np.ndarray:
    """The picture's texture, not its edges, in levels, at half its size: the median of its fine
    detail's size over about 6 x 6 pixels is small beside a lone edge (a lid, a brow, a cartoon's
    outline), where a pattern shows as a smudge, and large in hair, grain and skin texture, which
    hide it. (At half size: the median filter is most of the mark's time, and the strength it
    gives varies slowly anyway.)"""
    import cv2

    detail = luma - cv2.GaussianBlur(luma, (0, 0), 1.5)
    magnitude = cv2.resize(np.abs(detail), (luma.shape[1] // 2, luma.shape[0] // 2),
                           interpolation=cv2.INTER_AREA)
    magnitude = np.clip(magnitude * 8, 0, 255).astype(np.uint8)  # 1/8 levels, for medianBlur
    texture = cv2.GaussianBlur(cv2.medianBlur(magnitude, 3).astype(np.float32), (0, 0), 1.0)
    return texture * (1.48 / 8)  # x 1.48: a Gaussian's RMS from its median size


def embed(image: np.ndarray, day: datetime.date | None = None) -> np.ndarray:
    """The (H, W, 3) uint8 RGB picture with the watermark for ``day`` (today, UTC) added to its
    brightness: the same amount on R, G and B, which leaves its colour (Cb, Cr) unchanged."""
    import cv2

    day = day or datetime.datetime.now(datetime.timezone.utc).date()
    h, w = image.shape[:2]
    if min(h, w) < 16:
        return image
    k = _period_scale(h, w)
    luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if k > 1:  # a k times coarser pattern: its strength from a k times smaller picture
        luma = cv2.resize(luma, (w // k, h // k), interpolation=cv2.INTER_AREA)
    texture = _texture(luma.astype(np.float32))
    # a 512 px picture holds four times a 256 one's periods: the same evidence at half the power
    strength = STRENGTH * float(np.clip(np.sqrt(256 / (min(h, w) / k)), 0.7, 1.0))
    gain = np.clip(texture * (strength / MASK_LEVEL), MASK_FLOOR * strength,
                   MASK_CEIL * strength)
    gain = cv2.resize(gain, (w, h), interpolation=cv2.INTER_LINEAR)
    delta = cv2.multiply(gain, _tiled(day, k, h, w))
    # the same change on R, G and B, rounded and saturated by OpenCV
    return cv2.add(image, cv2.merge([delta, delta, delta]), dtype=cv2.CV_8U)


def _detail(luma: np.ndarray) -> np.ndarray:
    """Brightness (uint8) -> its fine detail (less its 5 x 5 median), normalised by its local
    contrast, so edges do not drown the pattern elsewhere."""
    import cv2

    r = luma.astype(np.float32) - cv2.medianBlur(luma, 5).astype(np.float32)
    return r / (np.sqrt(cv2.GaussianBlur(r * r, (0, 0), 2 * CELL)) + 1.0)


def _folded(image: np.ndarray, scale: float, native: dict | None = None) -> np.ndarray | None:
    """The picture's fine detail at the marked pattern's scale, folded into one period (None
    where the picture at that scale would be under one period or over 4096 px). The picture is
    resized to the pattern's scale first, except one under 0.45 of it: its detail is taken at its
    own size and enlarged (cheaper: ``native`` keeps that detail for the next scale, and the
    search tries many; enlarging the picture first holds more of the pattern, worth it from a
    half, the common case)."""
    import cv2

    native = {} if native is None else native
    h, w = image.shape[:2]
    size = (round(w / scale), round(h / scale))
    if min(size) < TILE or max(size) > 4096:
        return None
    if 0 not in native:  # the brightness, then halves of it (level n: 2^n times smaller)
        native[0] = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    if scale >= NATIVE_BELOW:
        level = 0  # shrinking: from the nearest half at least as large (a 12 MP photo is slow)
        while scale >= 2 ** (level + 1):
            if level + 1 not in native:
                below = native[level]
                native[level + 1] = cv2.resize(below, (below.shape[1] // 2, below.shape[0] // 2),
                                               interpolation=cv2.INTER_AREA)
            level += 1
        luma = native[level]
        if luma.shape[::-1] != size:
            luma = cv2.resize(luma, size, interpolation=cv2.INTER_AREA if scale > 1 else
                              cv2.INTER_CUBIC)
        r = _detail(luma)
    else:
        if "detail" not in native:
            native["detail"] = _detail(native[0])
        r = cv2.resize(native["detail"], size, interpolation=cv2.INTER_LINEAR)
    H, W = -(-r.shape[0] // TILE) * TILE, -(-r.shape[1] // TILE) * TILE
    padded = np.zeros((H, W), np.float32)
    padded[:r.shape[0], :r.shape[1]] = r
    folded = padded.reshape(H // TILE, TILE, W // TILE, TILE).sum(axis=(0, 2), dtype=np.float64)
    return folded / (folded.std() + 1e-9)


@cache
def _detector_patterns() -> np.ndarray:
    """The two patterns as the detector sees them (less their blur), in the Fourier domain,
    conjugated."""
    f = np.fft.fftfreq(TILE)
    low = np.exp(-2 * (np.pi * CELL) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    return np.conj(np.fft.fft2(_patterns(), axes=(1, 2)) * (1 - low))


def _correlations(folded: np.ndarray) -> np.ndarray:
    """(2, TILE, TILE): each pattern's circular correlation with the folded detail at every
    offset, in standard deviations of its own spread."""
    corr = np.real(np.fft.ifft2(np.fft.fft2(folded)[None] * _detector_patterns(), axes=(1, 2)))
    return (corr - corr.mean(axis=(1, 2), keepdims=True)) / (corr.std(axis=(1, 2), keepdims=True)
                                                            + 1e-12)


def _sync_at(folded: np.ndarray, at: tuple[int, int]) -> float:
    """The sync pattern's correlation at a known offset (the best of the pixels round it)."""
    z = _correlations(folded)[0]
    return float(np.roll(z, (1 - at[0], 1 - at[1]), (0, 1))[:3, :3].max())


def _read(folded: np.ndarray, scale: float, bar: float = MIN_SYNC) -> Detection:
    z = _correlations(folded)
    sy, sx = np.unravel_index(int(np.argmax(z[0])), z[0].shape)
    sync = float(z[0, sy, sx])
    # the payload pattern's shift against the sync's, on the STEP grid: each grid place takes
    # the best of its neighbourhood (either peak may sit a pixel off)
    data = np.roll(z[1], (STEP // 2 - sy, STEP // 2 - sx), (0, 1))
    n = TILE // STEP
    data = data.reshape(n, STEP, n, STEP).max(axis=(1, 3))
    dy, dx = np.unravel_index(int(np.argmax(data)), data.shape)
    day = None
    if sync >= bar and data[dy, dx] >= MIN_DATA:
        day = _day(int(dy) * n + int(dx))
    return Detection(sync >= bar, day, sync, scale, (int(sy), int(sx)))


REFINE = (0.99, 1.01, 0.98, 1.02)  # a found scale is tried this much either side too


def _search(pictures: list[np.ndarray], shape: tuple[int, int]) -> tuple[Detection, float]:
    """The pictures' folded detail summed, at each scale to try; the first scale that finds the
    mark, refined (the ladder's steps are 3 %: the payload needs the scale within about 1 %),
    or else the strongest peak seen; with the bar that scale's find had to clear."""
    natives: list[dict] = [{} for _ in pictures]

    def read(scale: float, bar: float) -> Detection | None:
        folded = [f for f in (_folded(p, scale, n) for p, n in zip(pictures, natives, strict=True))
                  if f is not None]
        return _read(sum(folded), scale, bar) if folded else None

    best = (Detection(False, None, 0.0, 1.0), MIN_SYNC)
    for scale, bar in _scales(*shape):
        d = read(scale, bar)
        if d is None:
            continue
        if d.found:
            near = [n for n in (read(scale * r, bar) for r in REFINE) if n is not None]
            return max([d, *near], key=lambda n: n.strength), bar
        if d.strength > best[0].strength:
            best = (d, bar)
    return best


def detect(image: np.ndarray) -> Detection:
    """Look for the watermark in an (H, W, 3) uint8 RGB picture at each scale a resize or a
    large picture's coarser pattern gives."""
    return _search([image], image.shape[:2])[0]


@dataclass(frozen=True)
class ClipDetection:
    """A video's frames: each on its own, and all together."""

    clip: Detection  # the frames' folded detail summed: the pattern stands still, content moves
    frames_found: int  # frames whose own correlation at the clip's offset reaches MIN_FRAME
    frames: int


def detect_frames(frames: Iterable[np.ndarray]) -> ClipDetection:
    """Find the scale on the first 4 frames summed, then read all frames together at it (the
    mark stands still while the content moves) and, where they find it, each frame at their
    offset. Each frame is kept folded (one period, 128 KB), not whole."""
    frames = iter(frames)
    first = list(itertools.islice(frames, 4))
    if not first:
        return ClipDetection(Detection(False, None, 0.0, 1.0), 0, 0)
    best, bar = _search(first, first[0].shape[:2])
    folded, count = [], 0
    for frame in itertools.chain(first, frames):
        count += 1
        f = _folded(frame, best.scale)
        if f is not None:
            folded.append(f)
    if not folded:
        return ClipDetection(best, 0, count)
    clip = _read(sum(folded), best.scale, bar)
    found = sum(_sync_at(f, clip.offset) >= MIN_FRAME for f in folded) if clip.found else 0
    return ClipDetection(clip, found, count)
