"""Process-wide settings chosen by entry points (never at import): CPU threads and the allocator."""

import ctypes
import sys

import torch

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_IN_HEAP = 32 << 20  # glibc's largest allowed mmap threshold on 64-bit


def configure_runtime(threads: int) -> None:
    """Set torch's and OpenCV's CPU threads and keep large buffers in the heap.

    OpenCV's own pool (two threads here by default) is started by whichever thread first asks,
    so its threads keep that thread's priority: the helpers' watermark and masks then ran at the
    frames' thread's priority and took its core (``reenact.io.workers``). With one thread per
    operation (animate's default) OpenCV works in the calling thread. Measured (s42 by d3.mp4,
    200 frames, 512 px crop, three pairs): 29.2-30.2 -> 30.2-30.9 fps.

    Every video frame frees and re-allocates multi-megabyte tensors. By default glibc serves
    those with mmap and returns them with munmap, so each frame page-faults its buffers afresh;
    raising the mmap and trim thresholds keeps them in the heap. Measured with
    ``benchmarks/animate.py`` (256, full frame): paste-back 17 -> 9 ms per frame.
    """
    import cv2

    torch.set_num_threads(max(1, threads))
    cv2.setNumThreads(max(1, threads))
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6")
        except OSError:  # not glibc (e.g. musl): keep its defaults
            return
        libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_IN_HEAP)
        libc.mallopt(_M_TRIM_THRESHOLD, 4 * _KEEP_IN_HEAP)
