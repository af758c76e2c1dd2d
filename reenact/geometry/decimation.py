"""CoMA-style mesh sampling (Ranjan et al. 2018): quadric edge collapse (Garland and Heckbert
1997) that keeps a subset of the vertices, giving a sparse down-sampling matrix D (selection) and
an up-sampling matrix U (each original vertex as barycentric weights of its closest triangle on the
decimated mesh). Written here because no maintained PyPI package returns these matrices; built
once per topology (see ``sampling_matrices``' cache)."""

import hashlib
import heapq
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

from reenact.io.atomic import atomic_path


@dataclass(frozen=True)
class MeshLevel:
    faces: np.ndarray  # (F, 3) triangles over this level's vertices (connectivity; winding not kept)
    kept: np.ndarray  # (n_level,) indices into the previous level's vertices
    down: sp.csr_matrix  # (n_level, n_prev) selection
    up: sp.csr_matrix  # (n_prev, n_level) barycentric interpolation, rows sum to 1


def _face_quadrics(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per-vertex sums of the fundamental error quadrics K_p of adjacent face planes, (V, 4, 4)."""
    p0, p1, p2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    n = np.cross(p1 - p0, p2 - p0)
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(norm > 1e-12, n / np.maximum(norm, 1e-12), 0.0)
    plane = np.c_[n, -(n * p0).sum(1)]  # (F, 4): a x + b y + c z + d = 0
    K = plane[:, :, None] * plane[:, None, :]
    Q = np.zeros((len(verts), 4, 4))
    for k in range(3):
        np.add.at(Q, faces[:, k], K)
    return Q


def _collapse(verts: np.ndarray, faces: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Collapse edges (keeping one endpoint) until ``target`` vertices remain. Returns the kept
    vertex indices (sorted) and the faces re-indexed to them."""
    Q = _face_quadrics(verts, faces)
    h = np.c_[verts, np.ones(len(verts))]
    parent = np.arange(len(verts))

    def find(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    def cost(a: int, b: int) -> tuple[float, int, int]:
        q = Q[a] + Q[b]
        ca, cb = h[a] @ q @ h[a], h[b] @ q @ h[b]
        return (ca, a, b) if ca <= cb else (cb, b, a)  # (error, kept, removed)

    edges = {tuple(sorted(e)) for f in faces for e in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0]))}
    heap = [cost(a, b) for a, b in edges]
    heapq.heapify(heap)
    neighbours = [set() for _ in range(len(verts))]
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    alive = len(verts)
    while alive > target and heap:
        c, keep, drop = heapq.heappop(heap)
        keep, drop = find(keep), find(drop)
        if keep == drop:
            continue
        fresh = cost(keep, drop)
        if abs(fresh[0] - c) > 1e-12 * max(1.0, abs(c)):  # stale entry: re-queue current cost
            heapq.heappush(heap, fresh)
            continue
        keep, drop = fresh[1], fresh[2]
        parent[drop] = keep
        Q[keep] += Q[drop]
        neighbours[keep] |= neighbours[drop]
        neighbours[keep] -= {keep, drop}
        for n in list(neighbours[keep]):
            n = find(n)
            if n != keep:
                heapq.heappush(heap, cost(keep, n))
        alive -= 1
    roots = np.array([find(v) for v in range(len(verts))])
    kept = np.unique(roots)
    new_index = -np.ones(len(verts), dtype=np.int64)
    new_index[kept] = np.arange(len(kept))
    f = new_index[roots[faces]]
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    f = np.unique(np.sort(f, axis=1), axis=0) if len(f) else f
    # A vertex whose faces all degenerated has no edge left to collapse at the next level: drop it
    # (up-sampling still reaches it through its closest remaining triangle).
    used = np.unique(f)
    remap = -np.ones(len(kept), dtype=np.int64)
    remap[used] = np.arange(len(used))
    return kept[used], remap[f]


def _closest_barycentric(points: np.ndarray, tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest point on each of (N, M) candidate triangles (N, M, 3, 3) to points (N, 3):
    barycentric weights (N, M, 3) and squared distances (N, M)."""
    a, b, c = tri[..., 0, :], tri[..., 1, :], tri[..., 2, :]
    p = points[:, None, :]
    ab, ac, ap = b - a, c - a, p - a
    d00, d01, d11 = (ab * ab).sum(-1), (ab * ac).sum(-1), (ac * ac).sum(-1)
    d20, d21 = (ap * ab).sum(-1), (ap * ac).sum(-1)
    den = np.maximum(d00 * d11 - d01 * d01, 1e-18)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    bary = np.stack([1 - v - w, v, w], -1)
    bary = np.clip(bary, 0.0, None)  # project onto the triangle (approximately), renormalise
    bary /= np.maximum(bary.sum(-1, keepdims=True), 1e-12)
    closest = (bary[..., None] * tri).sum(-2)
    return bary, ((closest - p) ** 2).sum(-1)


def _upsampling(verts: np.ndarray, kept: np.ndarray, faces_low: np.ndarray) -> sp.csr_matrix:
    n, m = len(verts), len(kept)
    low = verts[kept]
    rows, cols, vals = list(kept), list(range(m)), [1.0] * m  # kept vertices map to themselves
    others = np.setdiff1d(np.arange(n), kept)
    if len(others) and len(faces_low):
        centroids = low[faces_low].mean(1)
        k = min(16, len(faces_low))
        _, cand = cKDTree(centroids).query(verts[others], k=k)
        cand = cand.reshape(len(others), k)
        bary, dist = _closest_barycentric(verts[others], low[faces_low[cand]])
        best = dist.argmin(1)
        tri = faces_low[cand[np.arange(len(others)), best]]  # (N, 3)
        w = bary[np.arange(len(others)), best]
        rows += np.repeat(others, 3).tolist()
        cols += tri.reshape(-1).tolist()
        vals += w.reshape(-1).tolist()
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, m))


def build_levels(verts: np.ndarray, faces: np.ndarray, factors: tuple[int, ...]
                 ) -> list[MeshLevel]:
    """Successive decimations of a template mesh, each by ``factors[i]`` in vertex count."""
    levels, v, f = [], np.asarray(verts, np.float64), np.asarray(faces, np.int64)
    for factor in factors:
        kept, f_low = _collapse(v, f, max(3, int(np.ceil(len(v) / factor))))
        down = sp.csr_matrix((np.ones(len(kept)), (np.arange(len(kept)), kept)),
                             shape=(len(kept), len(v)))
        levels.append(MeshLevel(faces=f_low, kept=kept, down=down,
                                up=_upsampling(v, kept, f_low)))
        v, f = v[kept], f_low
    return levels


def _key(verts: np.ndarray, faces: np.ndarray, factors: tuple[int, ...]) -> str:
    h = hashlib.sha1()
    for a in (np.ascontiguousarray(verts, np.float64), np.ascontiguousarray(faces, np.int64)):
        h.update(a.tobytes())
    h.update(repr(factors).encode())
    return h.hexdigest()


_CACHE: dict[str, list[MeshLevel]] = {}
DISK_CACHE_MIN_VERTICES = 4000  # larger templates (FLAME, BFM) take seconds to minutes to build
#   (a BFM-sized 53,361-vertex grid: 135 s, benchmarks/gcn_sampling.py), so they are also kept
#   on disk, in $REENACT_CACHE or ~/.cache/reenact


def disk_cache_dir() -> Path:
    return Path(os.environ.get("REENACT_CACHE") or Path.home() / ".cache" / "reenact") / "sampling"


def _save_levels(path: Path, levels: list[MeshLevel]) -> None:
    arrays = {}
    for i, lvl in enumerate(levels):
        up = lvl.up.tocsr()
        arrays.update({f"{i}_faces": lvl.faces, f"{i}_kept": lvl.kept, f"{i}_up_data": up.data,
                       f"{i}_up_indices": up.indices, f"{i}_up_indptr": up.indptr,
                       f"{i}_up_shape": np.array(up.shape)})
    with atomic_path(path) as tmp:
        np.savez(tmp, count=np.array(len(levels)), **arrays)


def _load_levels(path: Path) -> list[MeshLevel] | None:
    """The stored levels, or None when the file is missing or unreadable (then rebuilt)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            levels = []
            for i in range(int(z["count"])):
                kept = z[f"{i}_kept"]
                up = sp.csr_matrix((z[f"{i}_up_data"], z[f"{i}_up_indices"], z[f"{i}_up_indptr"]),
                                   shape=tuple(z[f"{i}_up_shape"]))
                down = sp.csr_matrix((np.ones(len(kept)), (np.arange(len(kept)), kept)),
                                     shape=(len(kept), up.shape[0]))
                levels.append(MeshLevel(faces=z[f"{i}_faces"], kept=kept, down=down, up=up))
            return levels
    except (OSError, KeyError, ValueError):
        return None


def sampling_matrices(verts: np.ndarray, faces: np.ndarray, factors: tuple[int, ...] = (4, 4, 4)
                      ) -> list[MeshLevel]:
    """``build_levels``, computed once per (template, topology, factors) and cached in memory
    (arrays are not hashable, so the key is a digest of their bytes); templates of
    ``DISK_CACHE_MIN_VERTICES`` or more are also cached on disk (``disk_cache_dir``)."""
    key = _key(verts, faces, tuple(factors))
    if key not in _CACHE:
        path = disk_cache_dir() / f"{key}.npz" if len(verts) >= DISK_CACHE_MIN_VERTICES else None
        levels = _load_levels(path) if path is not None and path.is_file() else None
        if levels is None:
            levels = build_levels(verts, faces, tuple(factors))
            if path is not None:
                try:
                    _save_levels(path, levels)
                except OSError:  # a read-only home: build again next time
                    pass
        _CACHE[key] = levels
    return _CACHE[key]

