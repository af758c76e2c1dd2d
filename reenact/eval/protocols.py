"""Evaluation sets and the papers' two protocols over them.

A collection is a plain folder of images and videos (one identity per file) or a preprocessed cache
(``reenact preprocess``; its identity-disjoint test split by default). Cases:

- **self-reenactment**: source = a video's first frame, driving = other frames of the same video
  (evenly spread), ground truth = those frames; relative motion from the source frame itself.
- **self-outside**: as users meet it, the photo is not a frame of the clip: source = the video's
  first frame, driving = frames from OUTSIDE frames (2 s at 25 fps) on, ground truth = those
  frames; relative motion from the reference the system chooses (``--reference-frame auto``).
- **cross-identity**: every source (an image, or a video's first frame) driven by the frames of
  each video of another identity, from the same collection or another (cross-dataset).

Each case also has a short contiguous clip of its driving video, animated as a video is, for the
temporal-jitter metric.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from reenact.io import InputError, iter_video_frames, probe_video, read_image
from reenact.io.image import IMAGE_SUFFIXES
from reenact.io.video import VIDEO_SUFFIXES

PROTOCOLS = ("self", "self-outside", "cross")
SELF_PROTOCOLS = ("self", "self-outside")  # scored against the driving frames as ground truth
OUTSIDE = 50  # self-outside: the clip starts this many frames after the source frame


@dataclass(frozen=True)
class Item:
    """One identity's media: a video, a still image or a cached video's frames."""

    name: str  # unique within its collection
    identity: str
    kind: str  # "video", "image" or "cache"
    path: str  # the file, or the cache folder
    frames: int  # 1 for an image
    contiguous: bool = True  # consecutive frames of the video (a cache may hold a sample)


@dataclass
class Collection:
    name: str
    items: list[Item]
    _load: Callable[[Item, list[int]], list[np.ndarray]] = field(repr=False)

    def frames(self, item: Item, indices: list[int]) -> list[np.ndarray]:
        """(H, W, 3) uint8 RGB frames of ``item`` at ``indices`` (in that order)."""
        return self._load(item, indices)


def open_collection(path: str | Path, split: str = "test") -> Collection:
    """A plain folder of images and videos, or a ``reenact preprocess`` cache (``split``: "test",
    its identity-disjoint test identities, or "all")."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a folder of images and videos, nor a preprocessed cache")
    if (path / "index.jsonl").exists():
        return _cache_collection(path, split)
    items = []
    for f in sorted(path.iterdir()):
        suffix = f.suffix.lower()
        if suffix in VIDEO_SUFFIXES:
            n = probe_video(f).num_frames or sum(1 for _ in iter_video_frames(f))
            items.append(Item(f.stem, f.stem, "video", str(f), n))
        elif suffix in IMAGE_SUFFIXES:
            items.append(Item(f.stem, f.stem, "image", str(f), 1))
    if not items:
        raise InputError(f"{path}: no images or videos in this folder")
    return Collection(path.name, items, load_file_frames)


def load_file_frames(item: Item, indices: list[int]) -> list[np.ndarray]:
    """The frames ``indices`` (in that order) of an image or video file item, decoding a video
    once up to the last one asked for."""
    if item.kind == "image":
        if set(indices) - {0}:
            raise ValueError(f"{item.path}: an image has only frame 0")
        return [read_image(item.path)] * len(indices)
    wanted, found = set(indices), {}
    for i, frame in enumerate(iter_video_frames(item.path)):
        if i in wanted:
            found[i] = frame
            if len(found) == len(wanted):
                break
    missing = wanted - set(found)
    if missing:
        raise InputError(f"{item.path}: frame {min(missing)} is past the last frame")
    return [found[i] for i in indices]


def _cache_collection(path: Path, split: str) -> Collection:
    from reenact.data.dataset import DataConfig, VideoStore, make_split

    if split not in ("test", "all"):
        raise ValueError(f"split must be 'test' or 'all', got {split!r}")
    store = VideoStore(str(path))
    videos = sorted(store.entries)
    if split == "test":
        videos = sorted(make_split(store, DataConfig(cache=str(path), split="identity")).test)
        if not videos:
            raise InputError(f"{path}: its identity-disjoint test split is empty (too few "
                             "identities); use --split all")
    items = []
    for v in videos:
        index = store.entries[v].get("frame_index") or []
        contiguous = all(b - a == 1 for a, b in pairwise(index))
        items.append(Item(v, store.identity(v), "cache", str(path), store.frame_count(v),
                          contiguous))

    def load(item: Item, indices: list[int]) -> list[np.ndarray]:
        frames = store.record(item.name)["frames"]
        return [np.ascontiguousarray(frames[i]) for i in indices]

    return Collection(path.name, items, load)


@dataclass(frozen=True)
class Case:
    protocol: str  # "self", "self-outside" or "cross"
    pair: str  # "<source collection> -> <driving collection>"
    key: str  # unique: protocol/source/driver
    source: Item
    driver: Item
    driving: tuple[int, ...]  # sampled driving frames
    clip: tuple[int, ...]  # contiguous driving frames for jitter (empty: none)


def spread(first: int, last: int, count: int) -> tuple[int, ...]:
    """``count`` frame indices spread evenly over [first, last] (fewer if the range is shorter).

    Example:
        >>> spread(1, 9, 3)
        (1, 5, 9)
    """
    if last < first or count <= 0:
        return ()
    return tuple(int(i) for i in np.unique(np.rint(np.linspace(first, last, count))))


def make_cases(sources: Collection, drivers: Collection, protocols: tuple[str, ...] = PROTOCOLS,
               frames: int = 8, clip: int = 16, max_cases: int | None = None) -> list[Case]:
    """Self cases from the source collection's videos; cross cases pairing each source with each
    video of another identity in the driving collection. ``max_cases`` per protocol, spread
    evenly over the list."""
    unknown = set(protocols) - set(PROTOCOLS)
    if unknown:
        raise ValueError(f"unknown protocol {min(unknown)!r}; one of {', '.join(PROTOCOLS)}")
    pair = f"{sources.name} -> {drivers.name}"
    cases: list[Case] = []
    if "self" in protocols:
        own = [Case("self", f"{sources.name} -> {sources.name}", f"self/{s.name}", s, s,
                    spread(1, s.frames - 1, frames), _clip(s, 1, clip))
               for s in sources.items if s.kind != "image" and s.frames > 1]
        cases += _at_most(own, max_cases)
    if "self-outside" in protocols:
        later = [Case("self-outside", f"{sources.name} -> {sources.name}",
                      f"self-outside/{s.name}", s, s, spread(OUTSIDE, s.frames - 1, frames),
                      _clip(s, OUTSIDE, clip))
                 for s in sources.items if s.kind != "image" and s.frames > OUTSIDE + 1]
        cases += _at_most(later, max_cases)
    if "cross" in protocols:
        cross = [Case("cross", pair, f"cross/{s.name}/{d.name}", s, d,
                      spread(0, d.frames - 1, frames), _clip(d, 0, clip))
                 for s in sources.items for d in drivers.items
                 if d.kind != "image" and d.identity != s.identity]
        cases += _at_most(cross, max_cases)
    return cases


def _clip(item: Item, start: int, length: int) -> tuple[int, ...]:
    """Consecutive frames for jitter; none from a cache of sampled frames (jitter needs video)."""
    if not item.contiguous:
        return ()
    end = min(item.frames, start + length)
    return tuple(range(start, end)) if end - start >= 3 else ()


def _at_most(cases: list[Case], count: int | None) -> list[Case]:
    if count is None or len(cases) <= count:
        return cases
    return [cases[i] for i in np.linspace(0, len(cases) - 1, count).round().astype(int)]
