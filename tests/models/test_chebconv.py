"""Chebyshev convolution against a dense reference, the scaled Laplacian's spectrum, and the
graph residual block on the landmark mesh."""

import numpy as np
import torch

from reenact.face import landmark_topology
from reenact.geometry.laplacian import scaled_laplacian
from reenact.models.meshgcn.chebconv import ChebConv, GraphResBlock, sparse_tensor


def test_scaled_laplacian_spectrum_lies_in_unit_interval():
    topo = landmark_topology()
    L, lam = scaled_laplacian(topo.edges(), topo.num_vertices)
    eig = np.linalg.eigvalsh(L.toarray())
    assert eig.min() >= -1 - 1e-6 and eig.max() <= 1 + 1e-6
    assert abs(eig.max() - 1) < 1e-4  # lambda_max maps to exactly 1
    assert 1.0 < lam <= 2.0


def test_chebconv_equals_dense_reference_in_float64():
    torch.manual_seed(0)
    topo = landmark_topology()
    L, _ = scaled_laplacian(topo.edges(), topo.num_vertices)
    lap = sparse_tensor(L, torch.float64)
    conv = ChebConv(6, 4, K=3).double()
    x = torch.randn(2, topo.num_vertices, 6, dtype=torch.float64)
    dense = torch.from_numpy(L.toarray())
    T = [torch.eye(topo.num_vertices, dtype=torch.float64), dense]
    T.append(2 * dense @ T[1] - T[0])
    ref = sum(torch.einsum("nm,bmc,cd->bnd", T[k], x, conv.weight[k]) for k in range(3))
    ref = ref + conv.bias
    assert (conv(x, lap) - ref).abs().max() < 1e-10


def test_graph_res_block_shapes_and_backward():
    topo = landmark_topology()
    L, _ = scaled_laplacian(topo.edges(), topo.num_vertices)
    lap = sparse_tensor(L)
    block = GraphResBlock(6, 16)
    x = torch.randn(2, topo.num_vertices, 6, requires_grad=True)
    y = block(x, lap)
    assert y.shape == (2, topo.num_vertices, 16)
    y.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
