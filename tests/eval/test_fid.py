import re
from pathlib import Path

import numpy as np
import pytest
import torch

from reenact.eval.fid import FIDFeatures, frechet_distance
from reenact.io.tensor import image_to_tensor
from reenact.models.inception import (
    FIDInceptionA,
    FIDInceptionE_1,
    FIDInceptionE_2,
    FIDInceptionV3,
    load_fid_inception,
)


@pytest.fixture(scope="module")
def inception() -> FIDInceptionV3:
    """The random FID Inception (~24M parameters), built once; BN statistics randomised so the
    features are not all near zero."""
    torch.manual_seed(0)
    net = FIDInceptionV3()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.fixture(scope="module")
def weights_file(inception, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("fid") / "pt_inception-random.pth"
    torch.save(inception.state_dict(), path)
    return path


# ---- Fréchet distance ------------------------------------------------------------------------


def _with_exact_stats(rng, n: int, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """(n, D) samples whose sample mean is ``mean`` and sample covariance (N - 1) is diag(var)."""
    z = rng.standard_normal((n, mean.size))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False)).T)  # whitened exactly
    return mean + z * np.sqrt(var)


def test_frechet_distance_of_identical_sets_is_zero():
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((300, 16)) @ rng.standard_normal((16, 16))
    assert abs(frechet_distance(feats, feats)) < 1e-8
    few = rng.standard_normal((5, 32))  # N < D: singular covariances
    assert abs(frechet_distance(few, few)) < 1e-3


def test_frechet_distance_matches_the_closed_form_for_diagonal_gaussians():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.2, 3.0, 6), rng.uniform(0.2, 3.0, 6)
    a = _with_exact_stats(rng, 200, mu1, s1)
    b = _with_exact_stats(rng, 150, mu2, s2)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2.0 * np.sqrt(s1 * s2))
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    # a common rotation changes nothing: the distance depends on the Gaussians, not the axes
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    assert frechet_distance(a @ q, b @ q) == pytest.approx(expected, rel=1e-6)
    # hand-computed 1-D case: means 1 and 4, variances 2 and 2 -> 9
    assert frechet_distance(np.array([[0.0], [2.0]]), np.array([[3.0], [5.0]])) == \
        pytest.approx(9.0)


def test_frechet_distance_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(10, 4\) vs \(10, 5\)"):
        frechet_distance(np.zeros((10, 4)), np.zeros((10, 5)))
    with pytest.raises(ValueError, match="feats_b.*N >= 2"):
        frechet_distance(np.ones((10, 4)), np.ones((1, 4)))


# ---- the network -----------------------------------------------------------------------------


def test_state_dict_has_the_pytorch_fid_layout(inception):
    state = inception.state_dict()
    # names and shapes of torchvision's Inception3(aux_logits=False, num_classes=1008)
    expected = {
        "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
        "Conv2d_1a_3x3.bn.weight": (32,),
        "Conv2d_4a_3x3.bn.running_var": (192,),
        "Mixed_5b.branch1x1.conv.weight": (64, 192, 1, 1),
        "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
        "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
        "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
        "Mixed_6e.branch7x7dbl_5.conv.weight": (192, 192, 1, 7),
        "Mixed_7a.branch7x7x3_4.conv.weight": (192, 192, 3, 3),
        "Mixed_7b.branch_pool.conv.weight": (192, 1280, 1, 1),
        "Mixed_7c.branch3x3dbl_1.conv.weight": (448, 2048, 1, 1),
        "Mixed_7c.branch3x3_2b.bn.running_mean": (384,),
        "fc.weight": (1008, 2048),
        "fc.bias": (1008,),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith("AuxLogits") for k in state)
    # 94 conv+BN units (5 keys each without num_batches_tracked) and fc
    assert sum(not k.endswith("num_batches_tracked") for k in state) == 94 * 5 + 2
    # torchvision's inception_v3 has 27,161,264 parameters; minus AuxLogits (3,326,696), plus
    # 8 more classes in fc (8 * 2049)
    assert sum(p.numel() for p in inception.parameters()) == 27_161_264 - 3_326_696 + 8 * 2049


def test_blocks_pool_like_tensorflow():
    x = torch.ones(1, 4, 5, 5)
    a = FIDInceptionA(4, pool_features=2)
    assert a(torch.rand(2, 4, 9, 9)).shape == (2, 64 + 64 + 96 + 2, 9, 9)
    # count_include_pad=False: the average of a constant map stays constant at the borders
    e1, e2 = FIDInceptionE_1(4), FIDInceptionE_2(4)
    assert torch.equal(e1.pool(x), x)
    spike = torch.zeros(1, 1, 5, 5)
    spike[0, 0, 2, 2] = 9.0
    assert torch.equal(e2.pool(spike)[0, 0, 1:4, 1:4], torch.full((3, 3), 9.0))  # max pool
    assert e1.pool(spike)[0, 0, 2, 2] == pytest.approx(1.0)  # average pool


def test_features_from_a_saved_state_dict(inception, weights_file):
    rng = np.random.default_rng(2)
    small = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    full = rng.integers(0, 256, (299, 299, 3), dtype=np.uint8)
    one_by_one = FIDFeatures(weights_file, batch_size=1)
    feats = one_by_one([small, full])
    assert feats.shape == (2, 2048) and feats.dtype == np.float64
    assert np.isfinite(feats).all() and feats.std() > 1e-3
    assert not np.allclose(feats[0], feats[1])
    assert not any(p.requires_grad for p in one_by_one.net.parameters())
    np.testing.assert_allclose(FIDFeatures(weights_file, batch_size=2)([small, full]), feats,
                               rtol=1e-4, atol=1e-5)
    # the loaded weights are the saved ones, and the per-image resize matches the network's own
    with torch.no_grad():
        direct = inception(image_to_tensor(small)).double().numpy()[0]
    np.testing.assert_allclose(feats[0], direct, rtol=1e-4, atol=1e-5)


def test_feature_inputs_are_checked(weights_file):
    features = FIDFeatures(weights_file)
    with pytest.raises(ValueError, match="image 1: expected"):
        features([np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.uint8)])
    with pytest.raises(ValueError, match="no images"):
        features([])


# ---- weight files ----------------------------------------------------------------------------


def test_weight_files_that_do_not_fit_are_named(inception, tmp_path):
    state = inception.state_dict()
    missing = tmp_path / "missing_key.pth"
    torch.save({k: v for k, v in state.items() if k != "Mixed_6c.branch1x1.bn.running_mean"},
               missing)
    with pytest.raises(ValueError, match=re.escape(str(missing)) + r".*missing 1 keys.*Mixed_6c"):
        load_fid_inception(missing)

    imagenet_fc = tmp_path / "torchvision_like.pth"
    torch.save({**state, "fc.weight": torch.zeros(1000, 2048), "fc.bias": torch.zeros(1000)},
               imagenet_fc)
    with pytest.raises(ValueError, match=re.escape(str(imagenet_fc)) + ".*wrong shape.*fc"):
        load_fid_inception(imagenet_fc)

    with pytest.raises(FileNotFoundError, match="pt_inception-2015-12-05"):
        load_fid_inception(tmp_path / "absent.pth")

    # files without BatchNorm's num_batches_tracked (older PyTorch) still load
    old = tmp_path / "no_batches_tracked.pth"
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, old)
    loaded = load_fid_inception(old)
    assert torch.equal(loaded.Mixed_7c.branch_pool.bn.running_var,
                       inception.Mixed_7c.branch_pool.bn.running_var)


def _payload(marker: str) -> None:
    Path(marker).write_text("the pickle ran code")


class _CodePayload:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (_payload, (str(self.marker),))


def test_a_pickle_with_code_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran.txt"
    evil = tmp_path / "pt_inception-evil.pth"
    torch.save({"fc.weight": _CodePayload(marker)}, evil)
    with pytest.raises(ValueError, match=re.escape(str(evil)) + ": not a FID Inception"):
        load_fid_inception(evil)
    assert not marker.exists()
