import numpy as np

from reenact.geometry.laplacian import laplacian_edit, uniform_laplacian


def test_uniform_laplacian_rows_sum_to_zero_and_normalized_spectrum():
    edges = np.array([[0, 1], [1, 2], [2, 0], [2, 3]])
    L = uniform_laplacian(edges, 4)
    assert np.allclose(np.asarray(L.sum(1)).ravel(), 0)
    Ln = uniform_laplacian(edges, 4, normalized=True).toarray()
    eig = np.linalg.eigvalsh(Ln)
    assert eig.min() > -1e-9 and eig.max() <= 2 + 1e-9


def test_laplacian_edit_translates_rigidly_when_all_handles_move_together():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(6, 3))
    edges = np.array([[i, j] for i in range(6) for j in range(i + 1, 6)])
    L = uniform_laplacian(edges, 6)
    handles = np.array([0, 1, 2])
    out = laplacian_edit(pts, L, handles, pts[handles] + [1.0, 0, 0], weight=100.0)
    assert np.allclose(out, pts + [1.0, 0, 0], atol=1e-3)
