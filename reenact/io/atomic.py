"""Write to a temporary file beside the target, then rename it into place.

The temporary file is named ``.<stem>.reenact-<pid>-<random>.part<suffix>``: hidden, recognisably
ours, and carrying the writing process's id. A process killed outright (SIGKILL, a power cut)
cannot remove its part file; the next write to the same target removes those whose process is
gone (``remove_stale_parts``)."""

import contextlib
import glob
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

PART_TAG = "reenact"


def _parts_pattern(target: Path) -> str:
    return f".{glob.escape(target.stem)}.{PART_TAG}-*.part{glob.escape(target.suffix)}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another user's process, or no way to tell: leave its file
    return True


def remove_stale_parts(target: str | os.PathLike) -> list[Path]:
    """Remove the part files of ``target`` left by processes that no longer run; returns them."""
    target = Path(target)
    removed = []
    for p in target.parent.glob(_parts_pattern(target)):
        m = re.search(rf"\.{PART_TAG}-(\d+)-[^.]*\.part", p.name)
        if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``target`` only on success.

    On any exception (Ctrl-C and SIGTERM included, see ``reenact.cli``) the temporary file is
    removed and the target is untouched. The temporary name keeps the target's suffix so codecs
    that choose a format by suffix still work.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.{PART_TAG}-{os.getpid()}-",
                               suffix=f".part{target.suffix}", dir=target.parent)
    tmp_path = Path(tmp)
    try:  # from the moment the part file exists
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
