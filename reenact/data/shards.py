"""The preprocessed cache: tar shards of per-video ``.npz`` records, and an index that finds them.

A cache folder holds ``shards/shard-NNNNN.tar`` (plain tar, so shards stream sequentially with any
tar reader) and ``index.jsonl``: one JSON line per processed video, ``status`` "ok" (with the shard,
the member's byte offset and size, so one video is read with a single seek) or "skipped" (with the
reason). A shard is written under a temporary name and renamed when complete, and its videos are
appended to the index only after that, so an interrupted run leaves nothing half-indexed.

Each video record (an ``.npz``) holds, for its N sampled frames, all at crop size S:

- ``frames`` (N, S, S, 3) uint8 RGB crops, one fixed box per video (``box``: cx, cy, side)
- ``frame_index`` (N,) int64 frame numbers in the original video
- ``landmarks`` (N, 478, 3) float32 mediapipe points in crop pixels
- ``identity``, ``expression`` (N, C) float32; ``rotation`` (N, 3, 3); ``scale`` (N,);
  ``translation`` (N, 3): the face model's coefficients in crop pixels
- ``parsing`` (N, S, S) uint8 region labels (``reenact.face.topology.REGION``)
- ``person`` (N, S, S) uint8 selfie-segmentation mask, 0..255
"""

import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from reenact.io.atomic import atomic_path

INDEX = "index.jsonl"
SHARDS = "shards"
RECORD_KEYS = ("frames", "frame_index", "landmarks", "identity", "expression", "rotation",
               "scale", "translation", "parsing", "person", "box")


BACKEND_KEYS = ("backend_identity", "backend_expression", "backend_rotation", "backend_scale",
                "backend_translation")  # the FLAME / BFM fit, in caches made with --face-model


def encode_record(record: dict[str, np.ndarray]) -> bytes:
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        raise ValueError(f"video record lacks {', '.join(missing)}")
    buf = io.BytesIO()
    keys = RECORD_KEYS + tuple(k for k in BACKEND_KEYS if k in record)
    np.savez_compressed(buf, **{k: np.asarray(record[k]) for k in keys})
    return buf.getvalue()


def decode_record(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


class ShardWriter:
    """Collects video records and writes a shard of ``per_shard`` videos at a time.

    ``add`` returns the index entries of the shard it completed (already renamed into place), or
    [] while the shard is still filling; ``close`` writes the last, partial shard."""

    def __init__(self, cache: str | os.PathLike, per_shard: int = 64):
        self.dir = Path(cache) / SHARDS
        self.dir.mkdir(parents=True, exist_ok=True)
        self.per_shard = per_shard
        self.pending: list[tuple[dict, bytes]] = []
        taken = [int(p.stem.split("-")[1]) for p in self.dir.glob("shard-*.tar")]
        self.next = max(taken, default=-1) + 1

    def add(self, entry: dict, record: dict[str, np.ndarray]) -> list[dict]:
        self.pending.append((entry, encode_record(record)))
        return self.flush() if len(self.pending) >= self.per_shard else []

    def flush(self) -> list[dict]:
        if not self.pending:
            return []
        name = f"shard-{self.next:05d}.tar"
        target = self.dir / name
        with atomic_path(target) as tmp:
            with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
                for entry, data in self.pending:
                    info = tarfile.TarInfo(f"{entry['id']}.npz")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
            with tarfile.open(tmp, "r") as tar:  # where each member's bytes start, for seeking
                where = {m.name: (m.offset_data, m.size) for m in tar.getmembers()}
        entries = []
        for entry, _ in self.pending:
            member = f"{entry['id']}.npz"
            offset, size = where[member]
            entries.append({**entry, "status": "ok", "shard": f"{SHARDS}/{name}",
                            "member": member, "offset": offset, "size": size})
        self.pending = []
        self.next += 1
        return entries

    close = flush


def append_index(cache: str | os.PathLike, entries: list[dict]) -> None:
    """Append entries to the index (one line each, flushed and synced)."""
    if not entries:
        return
    with open(Path(cache) / INDEX, "a", encoding="utf-8") as f:
        f.writelines(json.dumps(e, sort_keys=True) + "\n" for e in entries)
        f.flush()
        os.fsync(f.fileno())


def read_index(cache: str | os.PathLike, status: str | None = "ok") -> list[dict]:
    """The index entries (by default only the videos that have records). A torn last line (a
    crash mid-write) is ignored."""
    path = Path(cache) / INDEX
    if not path.is_file():
        raise FileNotFoundError(f"{cache}: not a preprocessed cache (no {INDEX}); "
                                f"run `reenact preprocess SRC -o {cache}` first")
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue
        if status is None or e.get("status") == status:
            entries.append(e)
    return entries


def load_video(cache: str | os.PathLike, entry: dict) -> dict[str, np.ndarray]:
    """One video's record, read with a single seek into its shard."""
    with open(Path(cache) / entry["shard"], "rb") as f:
        f.seek(entry["offset"])
        data = f.read(entry["size"])
    if len(data) != entry["size"]:
        raise ValueError(f"{cache}/{entry['shard']}: truncated at video {entry['id']}")
    return decode_record(data)


def iter_shard(path: str | os.PathLike) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
    """Stream a shard's records in order: (video id, record)."""
    with tarfile.open(path, "r|") as tar:
        for member in tar:
            f = tar.extractfile(member)
            if f is not None:
                yield member.name.removesuffix(".npz"), decode_record(f.read())
