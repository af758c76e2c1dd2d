"""Which driving frames ``--reference-frame auto`` examines (``Reenactor.choose_reference``),
and those frames, as the tracking process (``reenact.tracking.ahead``) sent them or decoded
here. No torch: that process imports this."""

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from reenact.io.video import iter_video_frames, probe_video
from reenact.tracking import known

# at most this many frames, evenly spread over the driving video's first seconds (decoding all
# of a long video twice would cost more than it finds)
AUTO_REFERENCE_SECONDS, AUTO_REFERENCE_FRAMES = 10.0, 40
SENT_BYTES = 128 << 20  # the most the examined frames' pixels may take to be sent (720p's do)


def examined(fps: float, count: int | None = None) -> range:
    """The indices of the frames examined: at most about AUTO_REFERENCE_FRAMES, evenly spaced,
    among the first AUTO_REFERENCE_SECONDS (``count``: how many frames the clip has, if known)."""
    n = max(1, round(AUTO_REFERENCE_SECONDS * fps))
    n = min(n, count) if count else n
    return range(0, n, max(1, n // AUTO_REFERENCE_FRAMES))


def sent(width: int, height: int, picks: range) -> bool:
    """Whether the tracking process sends the examined frames' pixels with their landmarks, so
    that the command need not decode the video's first seconds a second time: where they take
    at most SENT_BYTES."""
    return width * height * 3 * len(picks) <= SENT_BYTES


def examined_frames(path: str | Path, fps: float, count: int | None = None
                    ) -> Iterator[np.ndarray | None]:
    """The video's first ``examined(fps, count).stop`` frames for ``choose_reference``: the
    examined ones as the tracking process sent them, None in place of the others; or, from the
    first examined frame it did not send (or where none runs), all of them decoded here."""
    picks, video = examined(fps, count), str(Path(path))
    if ahead := known.expecting():
        info = probe_video(path)
        ahead = sent(info.width, info.height, picks)
    for i in range(picks.stop):
        if i not in picks:
            yield None
            continue
        frame = known.frame(video, i) if ahead else None
        if frame is None:  # not sent: decoded here from this one on
            yield from itertools.islice(iter_video_frames(path), i, picks.stop)
            return
        yield frame
