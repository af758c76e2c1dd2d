import numpy as np
import pytest
import torch

from reenact.geometry.fastpath import nonzero, unravel


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 9, 11), (4, 1, 6, 3), (0, 4)])
def test_nonzero_gives_torchs_indices_in_torchs_order(shape):
    g = torch.Generator().manual_seed(len(shape))
    mask = torch.rand(shape, generator=g) < 0.4
    for m in (mask, mask.flip(0), mask.transpose(0, -1)):  # views that are not contiguous too
        got, want = nonzero(m), torch.nonzero(m, as_tuple=True)
        assert len(got) == len(want)
        for a, b in zip(got, want, strict=True):
            assert a.dtype == b.dtype and torch.equal(a, b)


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 9, 11), (4, 1, 6, 3)])
def test_unravel_gives_numpys_indices(shape):
    g = np.random.default_rng(len(shape))
    for n in (0, 1, 40):
        flat = torch.from_numpy(g.integers(0, np.prod(shape), n))
        got, want = unravel(flat, shape), np.unravel_index(flat.numpy(), shape)
        assert len(got) == len(shape)
        for a, b in zip(got, want, strict=True):
            assert a.dtype == torch.int64 and np.array_equal(a.numpy(), b)
