import numpy as np

from reenact.face import REGION, landmark_topology
from reenact.face.mean_shape import mean_shape, mirror_index


def test_triangles_are_a_manifold_disc_with_closed_holes():
    topo = landmark_topology()
    assert topo.num_vertices == 478
    tris = topo.triangles
    surface = tris[(topo.triangle_region != REGION["mouth"]) & (topo.triangle_region != REGION["eyes"])]
    assert len(surface) == 852  # V - E + F = 1 - 3 holes for the mediapipe tessellation
    e = np.sort(np.concatenate([tris[:, [0, 1]], tris[:, [1, 2]], tris[:, [2, 0]]]), 1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    assert counts.max() == 2  # every edge borders at most two triangles
    # After filling mouth and eyes only the face oval is a boundary.
    assert (counts == 1).sum() == len(topo.boundary_loop)


def test_every_region_is_present():
    counts = np.bincount(landmark_topology().triangle_region, minlength=len(REGION))
    for name in ("skin", "brows", "eyes", "nose", "lips", "mouth"):
        assert counts[REGION[name]] > 0, name


def test_mean_shape_is_symmetric_and_normalised():
    m, mirror = mean_shape(), mirror_index()
    assert np.array_equal(mirror[mirror], np.arange(478))
    assert np.allclose(m[mirror] * [-1, 1, 1], m, atol=1e-4)
    assert np.isclose(np.linalg.norm(m[263] - m[33]), 1.0, atol=1e-4)


def test_triangles_are_consistently_oriented_outwards():
    topo = landmark_topology()
    t = topo.triangles
    directed = {(int(a), int(b)) for tri in t for a, b in ((tri[0], tri[1]), (tri[1], tri[2]),
                                                             (tri[2], tri[0]))}
    assert len(directed) == 3 * len(t)  # no directed edge is used twice: one winding
    m = mean_shape()
    n = np.cross(m[t[:, 1]] - m[t[:, 0]], m[t[:, 2]] - m[t[:, 0]])
    assert (n[:, 2] < 0).mean() > 0.95  # out of a frontal face is towards the camera (-z)


def test_points_in_polygon_agrees_with_matplotlib():
    # OpenCV's test (matplotlib's cost its import at start-up): star-shaped polygons, concave
    # ones included, and the face oval of the mean shape with every vertex's neighbourhood
    from matplotlib.path import Path

    from reenact.face.topology import points_in_polygon

    rng = np.random.default_rng(0)
    for _ in range(50):
        n = rng.integers(3, 30)
        angle = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = rng.uniform(20, 200, n)
        poly = np.c_[256 + radius * np.cos(angle), 256 + radius * np.sin(angle)]
        pts = rng.uniform(0, 512, (400, 2))
        assert np.array_equal(points_in_polygon(poly, pts), Path(poly).contains_points(pts))
    m = mean_shape()[:, :2]
    oval = m[landmark_topology().boundary_loop]
    pts = m + rng.normal(0, 0.01, m.shape)
    inside = points_in_polygon(oval, pts)
    assert np.array_equal(inside, Path(oval).contains_points(pts))
    assert 0.5 < inside.mean() < 1.0


def test_the_shipped_topology_is_a_fresh_build():
    # landmark_topology reads data/landmark_topology.npz (scripts/build_landmark_topology.py):
    # the same arrays, dtypes and named sets as building it from mediapipe's edge lists now
    from reenact.face.topology import build_landmark_topology, topology_arrays

    shipped, fresh = topology_arrays(landmark_topology()), topology_arrays(build_landmark_topology())
    assert shipped.keys() == fresh.keys() and len(shipped) > 10
    for k, v in fresh.items():
        assert shipped[k].dtype == v.dtype and np.array_equal(shipped[k], v), (
            f"{k} differs: rebuild it with python scripts/build_landmark_topology.py")
    assert landmark_topology().regions.keys() == build_landmark_topology().regions.keys()
