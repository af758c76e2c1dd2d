"""Graph Laplacians of meshes and least-squares Laplacian editing (scipy sparse).

Laplacian editing (Sorkine et al. 2004): find vertices x whose Laplacian coordinates stay those of
the rest shape v while handle vertices reach target positions:
``min ||L x - L v||^2 + w^2 ||x_H - p_H||^2``. The solve is per axis with one sparse factorisation.
"""

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla


def uniform_laplacian(edges: np.ndarray, num_vertices: int, normalized: bool = False) -> sp.csr_matrix:
    """L = D - A (or I - D^-1/2 A D^-1/2 when ``normalized``) of an undirected graph.

    Args:
        edges: (E, 2) vertex index pairs, each undirected edge once.
        num_vertices: V.

    Returns:
        (V, V) sparse float64 matrix.

    Example:
        >>> L = uniform_laplacian(np.array([[0, 1], [1, 2]]), 3)
        >>> L.toarray().tolist()
        [[1.0, -1.0, 0.0], [-1.0, 2.0, -1.0], [0.0, -1.0, 1.0]]
    """
    i, j = edges[:, 0], edges[:, 1]
    A = sp.coo_matrix((np.ones(2 * len(edges)), (np.r_[i, j], np.r_[j, i])),
                      shape=(num_vertices, num_vertices)).tocsr()
    A.data[:] = 1.0  # duplicate edges count once
    deg = np.asarray(A.sum(1)).ravel()
    if normalized:
        inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-12)), 0.0)
        return (sp.identity(num_vertices) - sp.diags(inv) @ A @ sp.diags(inv)).tocsr()
    return (sp.diags(deg) - A).tocsr()


def laplacian_edit(rest: np.ndarray, L: sp.csr_matrix, handles: np.ndarray, targets: np.ndarray,
                   weight: float = 10.0) -> np.ndarray:
    """Deform ``rest`` (V, 3) so ``handles`` (H,) reach ``targets`` (H, 3), keeping its detail.

    Vertices that must stay put are handles whose target is their rest position.
    """
    V = rest.shape[0]
    C = sp.coo_matrix((np.full(len(handles), weight), (np.arange(len(handles)), handles)),
                      shape=(len(handles), V)).tocsr()
    A = sp.vstack([L, C]).tocsc()
    b = np.vstack([L @ rest, weight * targets])
    solve = spla.factorized((A.T @ A).tocsc())
    rhs = A.T @ b
    return np.stack([solve(rhs[:, k]) for k in range(3)], axis=1)


def scaled_laplacian(edges: np.ndarray, num_vertices: int) -> tuple[sp.csr_matrix, float]:
    """The Chebyshev-scaled normalised Laplacian L~ = 2 L / lambda_max - I (mesh paper, Eq. 2),
    with L = I - D^-1/2 A D^-1/2; its spectrum lies in [-1, 1]. Returns (L~, lambda_max)."""
    L = uniform_laplacian(edges, num_vertices, normalized=True)
    if num_vertices <= 2:
        lam = float(np.linalg.eigvalsh(L.toarray()).max())
    else:
        lam = float(spla.eigsh(L, k=1, which="LA", return_eigenvectors=False, tol=1e-6)[0])
    lam = max(lam, 1e-6)
    return (2.0 / lam * L - sp.identity(num_vertices)).tocsr(), lam
