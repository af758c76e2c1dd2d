"""CoMA-style sampling matrices: sizes, selection, constant preservation, the cache, and a
FLAME-sized synthetic topology within this machine's memory."""

import time

import numpy as np

from reenact.face import landmark_topology
from reenact.face.mean_shape import mean_shape
from reenact.geometry import decimation
from reenact.geometry.decimation import build_levels, sampling_matrices


def _landmark_levels():
    topo = landmark_topology()
    return sampling_matrices(mean_shape(), topo.triangles, (4, 4))


def test_levels_shrink_and_down_then_up_preserves_a_constant_field():
    levels = _landmark_levels()
    n = 478
    for lvl in levels:
        m = len(lvl.kept)
        assert lvl.down.shape == (m, n) and lvl.up.shape == (n, m)
        assert m <= int(np.ceil(n / 4)) + 1 and len(lvl.faces) > 0
        assert np.allclose(np.asarray(lvl.down.sum(1)).ravel(), 1.0)
        assert np.allclose(np.asarray(lvl.up.sum(1)).ravel(), 1.0)  # rows: barycentric weights
        field = np.full((n, 3), 2.5)
        assert np.allclose(lvl.up @ (lvl.down @ field), field)
        # kept vertices come back exactly
        x = np.random.default_rng(0).normal(size=(n, 2))
        assert np.allclose((lvl.up @ (lvl.down @ x))[lvl.kept], x[lvl.kept])
        n = m


def test_up_sampling_reproduces_a_smooth_field_approximately():
    topo = landmark_topology()
    verts = mean_shape()
    lvl = sampling_matrices(verts, topo.triangles, (4, 4))[0]
    field = verts @ np.array([0.3, -0.2, 0.1])  # linear in position
    err = np.abs(lvl.up @ (lvl.down @ field) - field)
    assert err.mean() < 0.05 * np.ptp(field)


def test_matrices_are_built_once_per_topology(monkeypatch):
    calls = []
    real = decimation.build_levels

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(decimation, "build_levels", counting)
    verts = mean_shape() + 1e-3  # a template not cached yet
    faces = landmark_topology().triangles
    a = sampling_matrices(verts, faces, (4,))
    b = sampling_matrices(verts, faces, (4,))
    assert a is b and len(calls) == 1


def test_flame_sized_topology_builds_in_memory_and_time():
    """A 5,041-vertex grid mesh (FLAME has 5,023) decimates 4 x 4 x 4 x 4 in reasonable time."""
    k = 71
    ys, xs = np.mgrid[0:k, 0:k]
    verts = np.c_[xs.ravel(), ys.ravel(), 0.1 * np.sin(xs.ravel() / 5.0)].astype(np.float64)
    idx = np.arange(k * k).reshape(k, k)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    faces = np.r_[np.c_[a, b, c], np.c_[b, d, c]]
    t = time.perf_counter()
    levels = build_levels(verts, faces, (4, 4, 4, 4))
    seconds = time.perf_counter() - t
    sizes = [len(lvl.kept) for lvl in levels]
    print(f"5041 vertices -> {sizes} in {seconds:.1f} s")
    assert sizes[0] <= 1261 and sizes[-1] <= 21  # its time: benchmarks/gcn_sampling.py


def test_large_templates_are_also_cached_on_disk(monkeypatch, tmp_path):
    """A template of DISK_CACHE_MIN_VERTICES or more is stored in $REENACT_CACHE and read back
    (no rebuild) by a fresh process; an unreadable file is rebuilt, not an error."""
    monkeypatch.setenv("REENACT_CACHE", str(tmp_path))
    monkeypatch.setattr(decimation, "DISK_CACHE_MIN_VERTICES", 100)
    verts, faces = mean_shape() + 2e-3, landmark_topology().triangles  # not cached yet
    built = sampling_matrices(verts, faces, (4, 4))
    files = list((tmp_path / "sampling").glob("*.npz"))
    assert len(files) == 1
    decimation._CACHE.clear()  # as a new process starts

    def no_build(*args):
        raise AssertionError("rebuilt although the disk cache holds it")

    monkeypatch.setattr(decimation, "build_levels", no_build)
    loaded = sampling_matrices(verts, faces, (4, 4))
    for a, b in zip(built, loaded, strict=True):
        assert (a.kept == b.kept).all() and (a.faces == b.faces).all()
        assert (a.up != b.up).nnz == 0 and (a.down != b.down).nnz == 0
    files[0].write_bytes(b"not an npz")
    decimation._CACHE.clear()
    monkeypatch.setattr(decimation, "build_levels", build_levels)
    again = sampling_matrices(verts, faces, (4, 4))
    assert (again[1].kept == built[1].kept).all()
