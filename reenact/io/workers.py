"""The helper threads' share of the CPU: less than the thread that makes the frames.

On a file ``Reenactor.run`` decodes and tracks, pastes back and encodes in threads of their own
beside the thread that fits, mixes and warps each frame, the longest step, which the others wait
for. With that many busy threads on two cores Linux shares the cores evenly, so the frames' thread
lost a third of its time to work that could wait. The helpers lower their own priority (their nice
value) so it keeps a core and they take the rest. Measured (s42 by d3.mp4, 200 frames, libx264,
two cores): 256 px pasted 17.4 -> 18.7 fps, and the cores busy 1.52 -> 1.66 of 2 (docs/speed.md).
"""

import contextlib
import os
import sys
import threading

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
NICE = 10  # added to a helper's nice value: its weight against the frames' thread is 1/10


def lower_priority() -> None:
    """Raise the calling thread's nice value by NICE (at most 19); the threads it starts later
    inherit it (mediapipe's, libx264's). Linux only: elsewhere ``setpriority`` sets a process's,
    not a thread's. Raising it needs no privilege; a refusal leaves it as it was."""
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + NICE))
    except OSError:
        pass


def signalled_with_parent(parent: int, sig: int) -> None:
    """Linux: this process gets ``sig`` when its parent (pid ``parent``) ends, however it ends
    (``PR_SET_PDEATHSIG``), and at once if it has ended already. A forked helper (``reenact
    serve``'s copies, the tracking process of ``reenact.tracking.ahead``) then does not work on
    for a process that is gone. Elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
    if os.getppid() != parent:  # it ended before that
        os.kill(os.getpid(), sig)
