"""``reenact verify FILE...``: does each image or video say it is synthetic?

One line per file; exit 0 when every file is marked, 1 when one is not, 3 when one cannot be read
(that wins over 1). Today the signal is the metadata (``reenact.io.marking``); no pixel watermark
is embedded yet (docs/marking.md), so a file whose metadata a messaging app or a video site
stripped reads as not marked.
"""

import sys
from pathlib import Path

from reenact.io import InputError
from reenact.io.credentials import read_credentials
from reenact.io.marking import read_marking

EXIT_MARKED, EXIT_UNMARKED, EXIT_UNREADABLE = 0, 1, 3


def verify_file(path: Path) -> tuple[int, str]:
    """(exit code for this file, its line)."""
    if path.is_dir():
        return EXIT_UNREADABLE, f"{path}: is a folder; give image or video files"
    if not path.is_file():
        return EXIT_UNREADABLE, f"{path}: no such file"
    try:
        mark = read_marking(path)
    except InputError as exc:
        return EXIT_UNREADABLE, str(exc)
    credentials = read_credentials(path)
    if mark is None and credentials is None:
        return EXIT_UNMARKED, (f"{path}: not marked (no synthetic-media metadata or C2PA "
                               f"manifest; no watermark is looked for yet)")
    parts = []
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
