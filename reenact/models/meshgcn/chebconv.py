"""Chebyshev spectral graph convolution (Defferrard et al. 2016; mesh paper Eq. 2-3) and the
graph residual block of the motion net's encoder (Sec. 3.2; Kolotouros et al. 2019).

    y_j = sum_i sum_{k<K} theta_{ijk} T_k(L~) x_i,  T_0 = I, T_1 = L~, T_k = 2 L~ T_{k-1} - T_{k-2}
"""

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn


def sparse_tensor(matrix: sp.spmatrix, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """scipy sparse (n, m) -> torch sparse COO (n, m)."""
    coo = matrix.tocoo()
    index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.from_numpy(coo.data).to(dtype), coo.shape,
                                   check_invariants=True).coalesce()


def _spmm(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """matrix (m, n) sparse @ x (B, n, C) -> (B, m, C), for every batch row."""
    B, n, C = x.shape
    flat = x.transpose(0, 1).reshape(n, B * C)
    return torch.sparse.mm(matrix, flat).reshape(matrix.shape[0], B, C).transpose(0, 1)


class ChebConv(nn.Module):
    """(B, n, C_in) vertex features, scaled Laplacian (n, n) -> (B, n, C_out)."""

    def __init__(self, c_in: int, c_out: int, K: int = 3):
        super().__init__()
        if K < 1:
            raise ValueError(f"K must be >= 1, got {K}")
        self.K = K
        self.weight = nn.Parameter(torch.empty(K, c_in, c_out))
        self.bias = nn.Parameter(torch.zeros(c_out))
        nn.init.xavier_uniform_(self.weight.view(K * c_in, c_out))

    def forward(self, x: torch.Tensor, lap: torch.Tensor) -> torch.Tensor:
        t_prev, t = x, None
        out = x @ self.weight[0]
        for k in range(1, self.K):
            t_next = _spmm(lap, t_prev) if k == 1 else 2 * _spmm(lap, t_prev) - t
            t, t_prev = t_prev, t_next
            out = out + t_next @ self.weight[k]
        return out + self.bias


class GraphResBlock(nn.Module):
    """Chebyshev conv, instance norm, ReLU, graph linear (a per-vertex linear layer), plus the
    input (through a graph linear when the widths differ): the encoder's residual block."""

    def __init__(self, c_in: int, c_out: int, K: int = 3):
        super().__init__()
        self.conv = ChebConv(c_in, c_out, K)
        self.norm = nn.InstanceNorm1d(c_out, affine=True)
        self.linear = nn.Linear(c_out, c_out)
        self.skip = nn.Identity() if c_in == c_out else nn.Linear(c_in, c_out)

    def forward(self, x: torch.Tensor, lap: torch.Tensor) -> torch.Tensor:
        h = self.conv(x, lap)  # (B, n, C_out)
        h = torch.relu(self.norm(h.transpose(1, 2)).transpose(1, 2))
        return self.skip(x) + self.linear(h)
