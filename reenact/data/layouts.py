"""Find the real videos of a dataset root: FaceForensics++, Celeb-DF (v1/v2), VoxCeleb1, or a plain
folder of videos and frame folders. Only file names are read here, nothing is decoded.

    >>> from reenact.data.layouts import discover
    >>> items = discover("FaceForensics++")  # doctest: +SKIP
    >>> items[0].id, items[0].identity  # doctest: +SKIP
    ('ffpp__original_sequences__youtube__c23__videos__000', 'ffpp/youtube/000')

Each ``VideoItem`` has an ``id`` that is unique and safe as a file name (the dataset and the path
relative to the root, separators as ``__``, no extension) and an ``identity`` (the person), which
identity-disjoint splits group by. Fakes (FF++ ``manipulated_sequences``, ``Celeb-synthesis``) are
never listed.
"""

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from reenact.io import InputError
from reenact.io.video import VIDEO_SUFFIXES

VIDEO_SUFFIXES = tuple(sorted(VIDEO_SUFFIXES))  # what reenact.io decodes: .mp4 .avi .mov ...
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
VOX_ID = re.compile(r"id\d{5}")
MAX_ID_LENGTH = 96  # a tar (USTAR) member name, "<id>.npz", must stay under 100 characters


@dataclass(frozen=True)
class VideoItem:
    id: str  # unique, file-name safe
    identity: str  # the person, e.g. "vox1/id10001"
    dataset: str  # "ffpp" | "celebdf" | "vox1" | "plain"
    path: Path  # the video file, or the folder of frames
    kind: str  # "video" | "frames"


def discover(src: str | os.PathLike) -> list[VideoItem]:
    """The real videos under ``src``, sorted by id.

    Raises:
        InputError: ``src`` is not a folder, or holds no usable video or frame folder.
    """
    root = Path(src)
    if not root.exists():
        raise InputError(f"{src}: no such folder")
    if not root.is_dir():
        raise InputError(f"{src}: not a folder (expected a dataset root or a folder of videos)")
    if (root / "original_sequences").is_dir():
        items, what = _ffpp(root), "FaceForensics++ (original_sequences/*/*/videos/*.mp4)"
    elif (root / "Celeb-real").is_dir() or (root / "YouTube-real").is_dir():
        items, what = _celebdf(root), "Celeb-DF (Celeb-real/*.mp4, YouTube-real/*.mp4)"
    elif vox := _vox_identity_dirs(root):
        items, what = _vox1(root, vox), "VoxCeleb1 (idXXXXX/<video>/<clip>.mp4 or frame folders)"
    else:
        items = _plain(root)
        what = (f"video files ({' '.join(VIDEO_SUFFIXES)}) or folders of >= 2 images "
                f"({' '.join(IMAGE_SUFFIXES)})")
    if not items:
        raise InputError(f"{src}: nothing to preprocess: no {what} found")
    return sorted(_unique_ids(items, root), key=lambda it: it.id)


def _visible(name: str) -> bool:
    return not name.startswith(".")  # hidden files, macOS "._x.mp4" resource forks


def _is_video(p: Path) -> bool:
    return p.suffix.lower() in VIDEO_SUFFIXES and _visible(p.name) and p.is_file()


def _is_frame_folder(p: Path) -> bool:
    return p.is_dir() and len(frame_files(p)) >= 2


def frame_files(folder: Path) -> list[Path]:
    """The images of a frame folder, sorted by name."""
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES and _visible(p.name) and p.is_file())


def _item(root: Path, path: Path, dataset: str, identity: str, kind: str = "video") -> VideoItem:
    rel = path.relative_to(root)
    stem = rel.with_suffix("") if kind == "video" else rel
    parts = stem.parts or (path.resolve().name,)  # SRC itself is a frame folder
    return VideoItem(id="__".join([dataset, *parts]), identity=identity, dataset=dataset,
                     path=path, kind=kind)


def _ffpp(root: Path) -> list[VideoItem]:
    items = []
    for group in ("youtube", "actors"):
        for video in sorted((root / "original_sequences" / group).glob("*/videos/*")):
            if _is_video(video):
                person = video.stem.split("__")[0] if group == "actors" else video.stem
                items.append(_item(root, video, "ffpp", f"ffpp/{group}/{person}"))
    return items


def _celebdf(root: Path) -> list[VideoItem]:
    items = []
    for video in sorted((root / "Celeb-real").glob("*")):
        if _is_video(video):
            items.append(_item(root, video, "celebdf", f"celebdf/{video.stem.split('_')[0]}"))
    for video in sorted((root / "YouTube-real").glob("*")):
        if _is_video(video):
            items.append(_item(root, video, "celebdf", f"celebdf/yt/{video.stem}"))
    return items


def _vox_identity_dirs(root: Path) -> list[Path]:
    """``idXXXXX`` folders at the root or up to two levels below it (``dev/mp4/id10001``)."""
    for pattern in ("*", "*/*", "*/*/*"):  # the shallowest level that has any
        found = [p for p in root.glob(pattern) if VOX_ID.fullmatch(p.name) and p.is_dir()]
        if found:
            return sorted(found)
    return []


def _vox1(root: Path, identity_dirs: list[Path]) -> list[VideoItem]:
    items = []
    for person in identity_dirs:
        for entry in sorted(person.glob("*/*")):  # <youtube id>/<clip>.mp4 or <clip>/
            if _is_video(entry):
                items.append(_item(root, entry, "vox1", f"vox1/{person.name}"))
            elif _visible(entry.name) and _is_frame_folder(entry):
                items.append(_item(root, entry, "vox1", f"vox1/{person.name}", "frames"))
    return items


def _plain(root: Path) -> list[VideoItem]:
    items, seen = [], set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        # follow symlinked folders, but each real folder once (no loops)
        dirs[:] = sorted(d for d in dirs if _visible(d)
                         and os.path.realpath(os.path.join(folder, d)) not in seen)
        seen.update(os.path.realpath(os.path.join(folder, d)) for d in dirs)
        here = Path(folder)
        for name in sorted(files):
            p = here / name
            if _is_video(p):
                items.append(_item(root, p, "plain", f"plain/{p.stem}"))
        if len(frame_files(here)) >= 2:
            name = here.resolve().name if here == root else here.name
            items.append(_item(root, here, "plain", f"plain/{name}", "frames"))
    return items


def _unique_ids(items: list[VideoItem], root: Path) -> list[VideoItem]:
    """Make ids file-name safe and short, and unique: an id that collides (``a.mp4`` and ``a.avi``;
    names that differ only in unsafe characters) or is cut short gets a hash of its path."""

    def safe(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]", "_", text)

    def tagged(text: str, path: Path) -> str:
        tag = hashlib.sha1(path.relative_to(root).as_posix().encode()).hexdigest()[:8]
        return f"{text[:MAX_ID_LENGTH - 9]}-{tag}"

    short = [replace(it, id=safe(it.id)) for it in items]
    short = [it if len(it.id) <= MAX_ID_LENGTH else replace(it, id=tagged(it.id, it.path))
             for it in short]
    counts = Counter(it.id for it in short)
    return [it if counts[it.id] == 1 else replace(it, id=tagged(it.id, it.path)) for it in short]
