"""LPIPS-VGG on random-init weights saved in the official key layouts: identity, monotonicity,
an independent re-computation of the paper's formula, and the error paths."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from reenact.eval.lpips import CHANNELS, LPIPS, VGG16Features

CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)  # conv indices in torchvision's vgg16
POOL_AFTER = {2, 7, 14, 21}  # max-pool follows these convs' ReLUs (features 4, 9, 16, 23)
TAP_AFTER = {2, 7, 14, 21, 28}  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(vgg16.pth, vgg.pth) with torchvision's and the lpips package's keys."""
    root = tmp_path_factory.mktemp("lpips")
    torch.manual_seed(0)
    vgg = VGG16Features()
    for m in vgg.modules():
        if isinstance(m, nn.Conv2d):  # torchvision's init keeps activations alive through 13 convs
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.normal_(m.bias, std=0.01)
    state = dict(vgg.state_dict())
    state["features.30.weight"] = torch.zeros(1)  # never read (beyond relu5_3)
    state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored
    torch.save(state, root / "vgg16.pth")
    lin = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1) + 0.1 for k, c in enumerate(CHANNELS)}
    torch.save(lin, root / "vgg.pth")
    return root / "vgg16.pth", root / "vgg.pth"


@pytest.fixture(scope="module")
def metric(files):
    return LPIPS(*files)


def face_like(seed: int = 0, size: int = 48) -> np.ndarray:
    """A smooth (size, size, 3) uint8 image with some structure."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([np.sin(6 * x + 1), np.cos(5 * y), np.sin(4 * (x + y))], axis=-1)
    img = 127.5 + 90 * base + rng.normal(0, 5, base.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def noisy(img: np.ndarray, sigma: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def test_zero_on_itself_and_grows_with_noise(metric):
    a = face_like()
    assert metric(a, a) == 0.0
    d = [metric(a, noisy(a, s)) for s in (4.0, 16.0, 64.0)]
    assert 0.0 < d[0] < d[1] < d[2]
    assert metric(noisy(a, 16.0), a) == pytest.approx(d[1], rel=1e-5)  # symmetric


def reference(files, a: np.ndarray, b: np.ndarray) -> float:
    """Eq. 1 of Zhang et al. written out with functional ops straight from the saved dicts."""
    vgg, lin = torch.load(files[0]), torch.load(files[1])
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def taps(img):
        x = torch.from_numpy(img).permute(2, 0, 1)[None].double() / 127.5 - 1
        x, out = (x - shift) / scale, []
        for i in CONVS:
            x = F.relu(F.conv2d(x, vgg[f"features.{i}.weight"].double(),
                                vgg[f"features.{i}.bias"].double(), padding=1))
            if i in TAP_AFTER:
                out.append(x)
            if i in POOL_AFTER:
                x = F.max_pool2d(x, 2)
        return out

    total = 0.0
    for k, (f0, f1) in enumerate(zip(taps(a), taps(b), strict=True)):
        n0 = f0 / (f0.norm(dim=1, keepdim=True) + 1e-10)
        n1 = f1 / (f1.norm(dim=1, keepdim=True) + 1e-10)
        w = lin[f"lin{k}.model.1.weight"].double()
        total += float(F.conv2d((n0 - n1) ** 2, w).mean())
    return total


def test_matches_the_formula_written_out(files, metric):
    a, b = face_like(0, 40), noisy(face_like(0, 40), 20.0)
    assert metric(a, b) == pytest.approx(reference(files, a, b), rel=1e-4)


def test_mismatched_or_bad_images_raise(metric):
    with pytest.raises(ValueError, match=r"\(48, 48, 3\) vs \(40, 48, 3\)"):
        metric(face_like(), face_like()[:40])
    with pytest.raises(ValueError, match="float"):
        metric(face_like().astype(np.float32), face_like().astype(np.float32))
    with pytest.raises(ValueError, match="smaller than 16"):
        metric(face_like(size=8), face_like(size=8))


def test_vgg_file_missing_a_key_names_the_file(files, tmp_path):
    state = torch.load(files[0])
    del state["features.14.weight"]
    bad = tmp_path / "vgg16_cut.pth"
    torch.save(state, bad)
    with pytest.raises(ValueError, match=r"vgg16_cut\.pth.*features\.14\.weight"):
        LPIPS(bad, files[1])


def test_head_file_errors_name_the_file(files, tmp_path):
    lin = torch.load(files[1])
    del lin["lin3.model.1.weight"]
    torch.save(lin, tmp_path / "no_lin3.pth")
    with pytest.raises(ValueError, match=r"no_lin3\.pth.*lin3\.model\.1\.weight"):
        LPIPS(files[0], tmp_path / "no_lin3.pth")
    alex = {f"lin{k}.model.1.weight": torch.ones(1, c, 1, 1)
            for k, c in enumerate((64, 192, 384, 256, 256))}
    torch.save(alex, tmp_path / "alex.pth")
    with pytest.raises(ValueError, match=r"alex\.pth: lin1\.model\.1\.weight has shape"):
        LPIPS(files[0], tmp_path / "alex.pth")
    with pytest.raises(FileNotFoundError, match="nothere.pth"):
        LPIPS(files[0], tmp_path / "nothere.pth")
