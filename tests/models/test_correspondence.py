"""DCG-GAN's dense correspondence estimator (Eq. 1-3): the fused attention path against the
explicit matrix, the softmax rows, the identity case, shapes and a backward pass."""

import pytest
import torch

from reenact.models.dcggan import (
    CorrespondenceConfig,
    DenseCorrespondence,
    attention_warp,
    correlation_matrix,
    normalize_features,
)

TINY = CorrespondenceConfig(width=8, downsample=2, feature_dim=16, res_blocks=1,
                            landmark_channels=4, parsing_classes=5, temperature=0.05)


def _features(B=2, D=16, h=6, w=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return normalize_features(torch.randn(B, D, h, w, generator=g, dtype=dtype))


@pytest.mark.parametrize("channels", [3, 16, 40])  # fewer, as many and more than feature dims
def test_attention_path_equals_explicit_matrix_in_float64(channels):
    f_r, f_s = _features(seed=1), _features(seed=2)
    values = torch.randn(2, channels, 6, 5, dtype=torch.float64)
    fused = attention_warp(f_r, f_s, values, temperature=0.05)
    explicit = correlation_matrix(f_r, f_s, 0.05) @ values.flatten(2).transpose(1, 2)
    assert (fused - explicit.transpose(1, 2)).abs().max() < 1e-6


def test_rows_of_F_sum_to_one():
    F = correlation_matrix(_features(seed=3), _features(seed=4), 0.01)
    assert F.shape == (2, 30, 30)
    assert torch.allclose(F.sum(-1), torch.ones(2, 30, dtype=torch.float64))
    assert (F >= 0).all()


def test_identical_features_warp_returns_the_input():
    f = _features(D=64, seed=5)  # distinct positions: cosine similarity well below 1
    values = torch.randn(2, 7, 6, 5, dtype=torch.float64)
    out = attention_warp(f, f, values, temperature=0.01).reshape(values.shape)
    assert (out - values).abs().max() < 1e-6


def test_normalised_features_have_unit_norm_and_zero_mean():
    f = _features()
    assert torch.allclose(f.norm(dim=-1), torch.ones(2, 30, dtype=torch.float64))
    assert f.mean(-1).abs().max() < 1e-12


@pytest.mark.parametrize("use_proxies", [True, False])  # full and the sD ablation
def test_module_shapes_warp_reverse_and_backward(use_proxies):
    torch.manual_seed(0)
    net = DenseCorrespondence(TINY, use_proxies=use_proxies)
    B, H = 2, 32
    proxy_s, proxy_r = torch.rand(B, 3, H, H), torch.rand(B, 3, H, H)
    lm_s, lm_r = torch.rand(B, 4, H, H), torch.rand(B, 4, H, H)
    parse_s, parse_r = torch.rand(B, 5, H, H), torch.rand(B, 5, H, H)
    f_s, f_r = net.features(proxy_s, proxy_r, lm_s, lm_r, parse_s, parse_r)
    h = H // net.scale
    assert f_s.shape == f_r.shape == (B, h * h, TINY.feature_dim)
    image = torch.rand(B, 3, H, H)
    warped = net.warp(f_r, f_s, image)
    assert warped.shape == (B, 3, h, h)
    back = net.reverse(f_r, f_s, warped)
    assert back.shape == (B, 3, h, h)
    loss = (warped - proxy_r[:, :, ::net.scale, ::net.scale]).abs().mean() + back.mean()
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_sd_variant_needs_the_reenacted_parsing_map():
    net = DenseCorrespondence(TINY, use_proxies=False)
    x = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="parsing_r"):
        net.features(x, x, torch.rand(1, 4, 32, 32), torch.rand(1, 4, 32, 32),
                     torch.rand(1, 5, 32, 32))


def test_attention_path_runs_on_the_fused_kernel():
    """The memory-linear claim rests on PyTorch choosing the fused (flash) kernel; it silently
    falls back to the hw x hw math kernel for non-contiguous inputs. Allow only the fused one."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    f_r = _features(D=32, dtype=torch.float32, seed=6)
    f_s = _features(D=32, dtype=torch.float32, seed=7)
    values = torch.rand(2, 5, 6, 5)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        out = attention_warp(f_r, f_s, values, 0.05)
    explicit = correlation_matrix(f_r, f_s, 0.05) @ values.flatten(2).transpose(1, 2)
    assert (out - explicit.transpose(1, 2)).abs().max() < 1e-4
