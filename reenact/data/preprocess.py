"""``reenact preprocess``: track, crop, fit, segment and parse every real video of a dataset once, into
a cache of tar shards (``reenact.data.shards``) that training streams from.

Per video, ``frames`` frames are sampled evenly; mediapipe finds the face in each; one fixed square
crop box covers the face in all of them (VoxCeleb-style: the background stays still across the
video's frames); each crop gets its landmarks, the landmark model's coefficients, a person mask and
a parsing map, exactly as ``reenact animate`` computes them for a source photo.

The run is resumable: videos already in the cache's index (done or skipped) are not processed again,
and an interrupted run keeps every shard it completed. A bad video (truncated, empty, not a video, no
face) never stops the run: it is listed in the index and the summary with the reason.

    >>> from reenact.data.preprocess import preprocess
    >>> summary = preprocess("FaceForensics++", "cache/ffpp", frames=10, size=256)  # doctest: +SKIP
"""

import json
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from reenact.config import FACE_MODELS
from reenact.data.layouts import VideoItem, discover, frame_files
from reenact.data.shards import INDEX, SHARDS, ShardWriter, append_index, read_index
from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.topology import landmark_topology
from reenact.io import InputError, iter_video_frames, probe_video, read_image
from reenact.io.atomic import atomic_path
from reenact.io.native_log import native_stderr_to
from reenact.render import parsing_map, rasterize
from reenact.tracking.crop import CropBox, crop_image, face_crop_box
from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face
from reenact.tracking.segmentation import PersonSegmenter

META = "meta.json"
SUMMARY = "summary.json"
NATIVE_LOG = "preprocess.log"  # what mediapipe and TensorFlow Lite print
MAX_SIDE_GROWTH = 1.5  # the video's box side is at most this times the median face box side
KEEP_BYTES = 256 * 2**20  # decoded sampled frames a worker holds; above this, decode twice
TRUNCATED = 0.1  # a stream this much shorter than its header's frame count is truncated
log = logging.getLogger(__name__)

Result = tuple[VideoItem, dict[str, np.ndarray] | None, str]  # (item, record or None, reason)


@dataclass(frozen=True)
class PreprocessConfig:
    """What one cache holds (stored in ``meta.json``; a cache is never mixed)."""

    frames: int = 10  # sampled evenly per video; 0: every frame
    size: int = 256  # crop size S in pixels
    margin: float = 2.0  # crop side / face size
    face_model: str = "landmark"  # flame | bfm: also store that model's fit (backend_* keys)
    face_model_path: str | None = None  # its files (a folder, or the model file)

    def check(self) -> None:
        if self.frames < 0 or self.frames == 1:
            raise ValueError(f"frames must be 0 (all) or at least 2, got {self.frames}")
        if self.size < 32:
            raise ValueError(f"size must be at least 32 pixels, got {self.size}")
        if not self.margin > 0:
            raise ValueError(f"margin must be positive, got {self.margin}")
        if self.face_model not in FACE_MODELS:
            raise ValueError(f"face model must be landmark, flame or bfm, got "
                             f"{self.face_model!r}")


@dataclass
class Summary:
    found: int = 0  # videos found under SRC
    processed: int = 0  # stored by this run
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id, reason), this run
    frames: int = 0  # frames stored by this run
    already_done: int = 0  # found videos a previous run stored
    # (id, reason) of found videos a previous run skipped (not retried)
    skipped_before: list[tuple[str, str]] = field(default_factory=list)
    in_cache: int = 0  # videos with records in the cache after this run
    seconds: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["skipped"] = [{"id": i, "reason": r} for i, r in self.skipped]
        d["skipped_before"] = [{"id": i, "reason": r} for i, r in self.skipped_before]
        return d


class _Skip(Exception):
    """A video that decodes but cannot be used (too few faces); the message is the reason."""


def sample_indices(count: int, frames: int) -> np.ndarray:
    """``frames`` frame numbers spread evenly over ``count`` frames, first and last included
    (every frame when ``frames`` is 0 or at least ``count``). (K,) int64, increasing."""
    if frames == 0 or frames >= count:
        return np.arange(count, dtype=np.int64)
    return np.unique(np.linspace(0, count - 1, frames).round().astype(np.int64))


def video_box(points: list[np.ndarray], margin: float) -> CropBox:
    """One crop box for a video's faces (each (478, >=2) image pixels): the median of the per-frame
    face boxes' centres, and a side that covers every frame's box about that centre, but at most
    ``MAX_SIDE_GROWTH`` x the median side (one stray detection must not shrink the face)."""
    boxes = np.array([(b.cx, b.cy, b.side) for b in (face_crop_box(p, margin) for p in points)])
    cx, cy, side = np.median(boxes, axis=0)
    reach = np.maximum(np.abs(boxes[:, 0] - cx), np.abs(boxes[:, 1] - cy)) + boxes[:, 2] / 2
    return CropBox(float(cx), float(cy), float(min(2 * reach.max(), MAX_SIDE_GROWTH * side)))


def _frame_count(item: VideoItem) -> tuple[int, int]:
    """(frames in the video, bytes of one decoded frame; for images, a full-HD guess)."""
    if item.kind == "frames":
        return len(frame_files(item.path)), 1920 * 1080 * 3
    info = probe_video(item.path)
    count = info.num_frames
    if count == 0:  # the container does not say: count by decoding
        count = sum(1 for _ in iter_video_frames(item.path))
    return count, info.width * info.height * 3


def _read_frames(item: VideoItem, wanted: np.ndarray, count: int
                 ) -> Iterator[tuple[int, np.ndarray]]:
    """Frames ``wanted`` (increasing) of ``count`` as (index, (H, W, 3) uint8 RGB).

    A video whose stream ends a little before its header's frame count (a common rounding) gives
    its actual last frame in place of those past the end; one that ends well before it (under
    ``1 - TRUNCATED`` of the count) raises ``InputError``: it is truncated."""
    if item.kind == "frames":
        files = frame_files(item.path)
        for i in wanted:
            yield int(i), read_image(files[i])
        return
    want, last = set(wanted.tolist()), int(wanted[-1])
    previous = None
    frames = iter_video_frames(item.path)
    try:
        for i, frame in enumerate(frames):
            if i in want:
                yield i, frame
            if i >= last:
                return
            previous = (i, frame)
    finally:
        frames.close()
    decoded = 0 if previous is None else previous[0] + 1
    if decoded < (1 - TRUNCATED) * count:
        raise InputError(f"{item.path}: truncated: only {decoded} of the {count} frames its "
                         f"header lists can be decoded")
    if previous is not None and previous[0] not in want:
        yield previous


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no message'}"


class VideoProcessor:
    """One process's models; ``processor(item)`` -> (item, record or None, reason)."""

    def __init__(self, config: PreprocessConfig):
        self.config = config
        self.tracker = FaceTracker(static=True)
        self.segmenter = PersonSegmenter()
        self.model = LandmarkFaceModel()
        from reenact.face.backends import cached_transfer

        self.transfer = cached_transfer(config.face_model, config.face_model_path)
        topology = landmark_topology()
        self.triangles = torch.from_numpy(topology.triangles)  # (T, 3)
        self.triangle_region = torch.from_numpy(topology.triangle_region)  # (T,)

    def __call__(self, item: VideoItem) -> Result:
        try:
            return item, self.record(item), ""
        except _Skip as exc:
            return item, None, str(exc)
        except Exception as exc:  # noqa: BLE001 - a bad video is skipped with its reason
            return item, None, _one_line(exc)

    def _track(self, item: VideoItem, wanted: np.ndarray, count: int, keep: bool
               ) -> list[tuple[int, np.ndarray, np.ndarray | None]]:
        """(index, landmarks (478, 3) image pixels, the frame if ``keep``) of frames with a face."""
        found = []
        for i, frame in _read_frames(item, wanted, count):
            face = pick_face(self.tracker.detect(frame), 0)
            if face is not None:
                found.append((i, face.points, frame if keep else None))
        return found

    def record(self, item: VideoItem) -> dict[str, np.ndarray]:
        """The video's record (see ``reenact.data.shards``). Raises on a bad video."""
        S = self.config.size
        count, frame_bytes = _frame_count(item)
        wanted = sample_indices(count, self.config.frames)
        if len(wanted) == 0:
            raise _Skip("the video has no frame")
        keep = len(wanted) * frame_bytes <= KEEP_BYTES
        found = self._track(item, wanted, count, keep)
        if len(found) < 2:
            raise _Skip(f"no face in any of {len(wanted)} sampled frames" if not found else
                        f"a face in only 1 of {len(wanted)} sampled frames")
        index = np.array([i for i, _, _ in found], dtype=np.int64)
        box = video_box([p for _, p, _ in found], self.config.margin)
        if keep:
            frames = [f for _, _, f in found]
        else:  # a second pass, to hold only the crops
            frames = [f for _, f in _read_frames(item, index, count)]
        crops = np.stack([crop_image(f, box, S) for f in frames])  # (N, S, S, 3)
        landmarks = np.stack([box.to_crop(p, S) for _, p, _ in found])  # (N, 478, 3)
        coeffs = self.model.fit(torch.from_numpy(landmarks))
        person = np.stack([np.round(self.segmenter.mask(c) * 255) for c in crops]).astype(np.uint8)
        frags = rasterize(self.model.vertices(coeffs), self.triangles, (S, S))
        parsing = parsing_map(frags, self.triangle_region,
                              torch.from_numpy(person).float() / 255)  # (N, S, S) int64

        def f32(t: torch.Tensor) -> np.ndarray:
            return t.detach().numpy().astype(np.float32)

        backend = {}
        if self.transfer is not None:  # one face per video: FLAME fits one shape, smoothed
            b = self.transfer.fit(torch.from_numpy(landmarks), video=True)
            backend = {f"backend_{k}": f32(getattr(b, k)) for k in
                       ("identity", "expression", "rotation", "scale", "translation")}
        return {**backend, "frames": crops, "frame_index": index,
                "landmarks": landmarks.astype(np.float32),
                "identity": f32(coeffs.identity), "expression": f32(coeffs.expression),
                "rotation": f32(coeffs.rotation), "scale": f32(coeffs.scale),
                "translation": f32(coeffs.translation),
                "parsing": parsing.numpy().astype(np.uint8), "person": person,
                "box": np.array([box.cx, box.cy, box.side])}

    def close(self) -> None:
        self.tracker.close()
        self.segmenter.close()


_PROCESSOR: VideoProcessor | None = None  # a worker process's own


def _init_worker(config: PreprocessConfig) -> None:
    global _PROCESSOR
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the main process stops the pool
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    _PROCESSOR = VideoProcessor(config)


def _process_in_worker(item: VideoItem) -> Result:
    assert _PROCESSOR is not None, "worker not initialised"
    return _PROCESSOR(item)


def _results(todo: list[VideoItem], config: PreprocessConfig, workers: int) -> Iterator[Result]:
    """Results as they finish, in this process (``workers`` 1) or a pool of spawned processes
    (mediapipe and torch do not survive ``fork``)."""
    if not todo:
        return
    if workers == 1:
        processor = VideoProcessor(config)
        try:
            for item in todo:
                yield processor(item)
        finally:
            processor.close()
        return
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker,
                                                   initargs=(config,)) as pool:
        yield from pool.imap_unordered(_process_in_worker, todo)


def _check_meta(cache: Path, config: PreprocessConfig) -> None:
    """Write ``meta.json`` in a new cache; in an existing one, insist on the same settings."""
    want = {k: v for k, v in asdict(config).items() if k != "face_model_path"}  # not the place
    path = cache / META
    if not path.is_file():
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(want, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return
    try:
        have = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable ({exc})") from None
    for key in ("size", "margin", "frames", "face_model"):
        if have.get(key) != want[key]:
            flag = f"--{key}" if key != "face_model" else "face model"
            raise InputError(f"{cache}: this cache was made with {flag} {have.get(key)}, not "
                             f"{want[key]}; one cache holds one setting (use another -o folder)")


def _tidy_cache(cache: Path) -> list[dict]:
    """Undo what an interrupted run left behind, and return the index (every status).

    Removes temporary files (``.shard-*.part.tar`` and the like), a torn last index line (so the
    next append starts on a line of its own), and complete shards no index entry refers to (their
    videos were never indexed and are processed again; a shard reader would see them twice)."""
    stale = [*(cache / SHARDS).glob(".shard-*.part.tar"), *cache.glob(".*.part.json")]
    index = cache / INDEX
    if index.is_file():
        data = index.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(index, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)
    entries = read_index(cache, status=None) if index.is_file() else []
    used = {e.get("shard") for e in entries}
    stale += [p for p in (cache / SHARDS).glob("shard-*.tar") if f"{SHARDS}/{p.name}" not in used]
    for p in stale:
        p.unlink(missing_ok=True)
    if stale:
        log.warning("%s: removed %d file(s) an interrupted run left: %s", cache, len(stale),
                    ", ".join(p.name for p in stale))
    return entries


def preprocess(src: str | os.PathLike, cache: str | os.PathLike, frames: int = 10,
               size: int = 256, margin: float = 2.0, workers: int | None = None,
               per_shard: int = 64, progress: bool = True, face_model: str = "landmark",
               face_model_path: str | os.PathLike | None = None) -> Summary:
    """Preprocess the real videos under ``src`` (see ``reenact.data.layouts``) into ``cache``.

    Args:
        frames: frames sampled evenly per video (0: all). size: crop size in pixels.
        margin: crop side / face size. workers: processes (default: the CPU count, at most 8;
            1 runs in this process). per_shard: videos per shard.
        face_model, face_model_path: also fit FLAME or BFM (``reenact.face.backends``) to every
            frame and store the fit (``backend_*`` keys) for ``data.face_model`` in training.

    Raises:
        InputError: ``src`` holds nothing usable, or ``cache`` was made with other settings.
    """
    config = PreprocessConfig(frames=frames, size=size, margin=margin, face_model=face_model,
                              face_model_path=None if face_model_path is None else
                              str(face_model_path))
    config.check()
    if face_model != "landmark":  # a missing or bad model file: one error now, not per video
        from reenact.face.backends import cached_transfer

        cached_transfer(face_model, config.face_model_path)
    if per_shard < 1:
        raise ValueError(f"per_shard must be at least 1, got {per_shard}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    start = time.perf_counter()
    src, cache = Path(src), Path(cache)
    items = discover(src)
    if cache.exists() and not cache.is_dir():
        raise InputError(f"{cache}: exists and is not a folder (the cache is a folder)")
    cache.mkdir(parents=True, exist_ok=True)
    _check_meta(cache, config)
    before = {e["id"]: e for e in _tidy_cache(cache)}  # done or skipped by a previous run
    todo = [item for item in items if item.id not in before]
    earlier = [before[item.id] for item in items if item.id in before]
    summary = Summary(found=len(items),
                      already_done=sum(e.get("status") == "ok" for e in earlier),
                      skipped_before=[(e["id"], e.get("reason", "")) for e in earlier
                                      if e.get("status") == "skipped"])
    workers = max(1, min(workers or min(os.cpu_count() or 1, 8), len(todo)))

    writer = ShardWriter(cache, per_shard)
    # mediapipe's native messages go to the log (workers inherit it), the bar to the console
    with native_stderr_to(cache / NATIVE_LOG) as console:
        bar = tqdm(total=len(todo), unit="video", desc="preprocess", disable=not progress,
                   file=console)
        results = _results(todo, config, workers)
        try:
            for item, record, reason in results:
                entry = {"id": item.id, "identity": item.identity, "dataset": item.dataset,
                         "source": item.path.relative_to(src).as_posix()}
                if record is None:
                    append_index(cache, [{**entry, "status": "skipped", "reason": reason}])
                    summary.skipped.append((item.id, reason))
                else:
                    n = len(record["frame_index"])
                    entry.update(frames=n, frame_index=record["frame_index"].tolist(),
                                 crop_size=size, box=record["box"].tolist())
                    append_index(cache, writer.add(entry, record))
                    summary.processed += 1
                    summary.frames += n
                bar.update(1)
                bar.set_postfix(ok=summary.processed, skipped=len(summary.skipped))
        finally:  # also on Ctrl-C: stop the workers, keep every finished video
            results.close()
            append_index(cache, writer.close())
            bar.close()
    summary.in_cache = len(read_index(cache))
    summary.seconds = time.perf_counter() - start
    with atomic_path(cache / SUMMARY) as tmp:
        tmp.write_text(json.dumps({"src": str(src), **summary.to_dict()}, indent=2) + "\n",
                       encoding="utf-8")
    return summary
