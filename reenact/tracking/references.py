"""Which driving frames ``--reference-frame auto`` examines (``Reenactor.choose_reference``),
here without torch for ``reenact.tracking.ahead``, which tracks them ahead."""

# at most this many frames, evenly spread over the driving video's first seconds (decoding all
# of a long video twice would cost more than it finds)
AUTO_REFERENCE_SECONDS, AUTO_REFERENCE_FRAMES = 10.0, 40


def examined(fps: float, count: int | None = None) -> range:
    """The indices of the frames examined: at most about AUTO_REFERENCE_FRAMES, evenly spaced,
    among the first AUTO_REFERENCE_SECONDS (``count``: how many frames the clip has, if known)."""
    n = max(1, round(AUTO_REFERENCE_SECONDS * fps))
    n = min(n, count) if count else n
    return range(0, n, max(1, n // AUTO_REFERENCE_FRAMES))
