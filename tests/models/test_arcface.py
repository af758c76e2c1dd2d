import pytest
import torch

from reenact.models.arcface import IResNet, identity_loss, load_arcface


def test_shapes_and_insightface_key_layout():
    net = IResNet("r18").eval()
    out = net(torch.rand(2, 3, 112, 112))
    assert out.shape == (2, 512)
    keys = net.state_dict().keys()
    # arcface_torch's names, so its released state dicts load unchanged
    for k in ("conv1.weight", "bn1.running_mean", "prelu.weight", "layer1.0.bn1.weight",
              "layer1.0.downsample.0.weight", "layer4.1.conv2.weight", "bn2.weight",
              "fc.weight", "features.running_var"):
        assert k in keys, k
    assert sum(k.startswith("layer3.") and k.endswith("conv1.weight") for k in keys) == 2


def test_weight_file_round_trip_and_identity_loss(tmp_path):
    torch.manual_seed(0)
    net = IResNet("r18").eval()
    path = tmp_path / "backbone.pth"
    torch.save(net.state_dict(), path)
    loaded = load_arcface(path, "r18")
    x = torch.rand(2, 3, 112, 112)
    assert torch.allclose(loaded(x), net(x))
    assert not any(p.requires_grad for p in loaded.parameters())
    assert identity_loss(loaded, x, x).abs() < 1e-5
    y = torch.rand(2, 3, 112, 112, requires_grad=True)
    loss = identity_loss(loaded, y, x)
    loss.backward()
    assert loss > 0 and y.grad is not None


def test_bad_weight_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="arcface_torch"):
        load_arcface(tmp_path / "missing.pth")
    wrong = tmp_path / "r18.pth"
    torch.save(IResNet("r18").state_dict(), wrong)
    with pytest.raises(ValueError, match="IResNet-r50"):
        load_arcface(wrong, "r50")
