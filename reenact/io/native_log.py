"""Native libraries' console messages (mediapipe's absl and TensorFlow Lite lines such as
"W0000 ... inference_feedback_manager.cc") sent to a file, so progress bars stay readable.

Those libraries write straight to file descriptor 2 and ignore the usual environment switches
(GLOG_minloglevel, TF_CPP_MIN_LOG_LEVEL, tried with mediapipe 0.10.21), so the descriptor itself
is redirected.
"""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


def stderr_to(path: str | os.PathLike) -> None:
    """For the rest of this process (a worker): descriptor 2 appends to ``path``."""
    sys.stderr.flush()
    fd = os.open(Path(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)


@contextmanager
def native_stderr_to(path: str | os.PathLike) -> Iterator[TextIO]:
    """Within the block, descriptor 2 appends to ``path``; yields a text stream on the original
    standard error, for progress bars and messages meant for the person at the console."""
    sys.stderr.flush()
    saved = os.dup(2)
    console = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        stderr_to(path)
        yield console
    finally:
        sys.stderr.flush()
        console.close()
        os.dup2(saved, 2)
        os.close(saved)
