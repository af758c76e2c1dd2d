"""``reenact verify FILE...``: does each image or video say it is synthetic?

One line per file; exit 0 when every file is marked, 1 when one is not, 3 when one cannot be read
(that wins over 1). Three signals: the pixel watermark (``reenact.io.watermark``), which survives
re-encoding, resizing and cropping; the metadata (``reenact.io.marking``), which re-encoding
strips; and a C2PA manifest (``reenact.io.credentials``). A video's watermark is read from every
frame (at most ``MAX_FRAMES``, spread over the clip) and from all of them together.
"""

import itertools
import sys
from pathlib import Path

from reenact.io import InputError, read_image
from reenact.io.credentials import read_credentials
from reenact.io.marking import read_marking

EXIT_MARKED, EXIT_UNMARKED, EXIT_UNREADABLE = 0, 1, 3
MAX_FRAMES = 300  # a longer video's frames are read at an even step


def read_watermark(path: Path) -> str | None:
    """What the pixel watermark says ("watermark: ..."), or None where there is none. Raises
    ``InputError`` on a file that cannot be decoded."""
    from reenact.io.video import VIDEO_SUFFIXES, iter_video_frames, probe_video
    from reenact.io.watermark import detect, detect_frames

    if path.suffix.lower() in VIDEO_SUFFIXES:
        step = max(1, -(-probe_video(path).num_frames // MAX_FRAMES))
        clip = detect_frames(itertools.islice(iter_video_frames(path), 0, None, step))
        if not clip.clip.found:
            return None
        share = f"in {clip.frames_found}/{clip.frames} frames"
        if step > 1:
            share += f" read (one in {step})"
        return f"watermark: {_payload(clip.clip)}, {share}"
    d = detect(read_image(path))
    return f"watermark: {_payload(d)}" if d.found else None


def _payload(d) -> str:
    return f"reenact, made {d.day.isoformat()}" if d.day is not None else "reenact, date unreadable"


def verify_file(path: Path) -> tuple[int, str]:
    """(exit code for this file, its line)."""
    if path.is_dir():
        return EXIT_UNREADABLE, f"{path}: is a folder; give image or video files"
    if not path.is_file():
        return EXIT_UNREADABLE, f"{path}: no such file"
    try:
        mark = read_marking(path)
        watermark = read_watermark(path)
    except InputError as exc:
        return EXIT_UNREADABLE, str(exc)
    credentials = read_credentials(path)
    if mark is None and credentials is None and watermark is None:
        return EXIT_UNMARKED, (f"{path}: not marked (no watermark in its pixels, no "
                               f"synthetic-media metadata, no C2PA manifest)")
    parts = [] if watermark is None else [watermark]
    if mark is not None:
        kind = mark.source_type.rsplit("/", 1)[-1]
        parts.append(f"metadata: {mark.tool}, made {mark.made}, IPTC digital source type {kind}")
    if credentials is not None:
        parts.append(credentials)
    return EXIT_MARKED, f"{path}: synthetic ({'; '.join(parts)})"


def run_verify(args) -> int:
    codes = []
    for name in args.files:
        code, line = verify_file(Path(name))
        print(line, file=sys.stderr if code == EXIT_UNREADABLE else sys.stdout)
        codes.append(code)
    if EXIT_UNREADABLE in codes:
        return EXIT_UNREADABLE
    return EXIT_UNMARKED if EXIT_UNMARKED in codes else EXIT_MARKED
