"""Hopenet (Ruiz et al. 2018, "Fine-Grained Head Pose Estimation Without Keypoints"): a ResNet-50
in torchvision's layout with three classification heads over 66 pose bins of 3 degrees, so the
official ``hopenet_robust_alpha1.pkl`` state dict loads as it is with ``weights_only=True``.
DCG-GAN measures PoseMSE with it. Nothing is downloaded.

Input: (B, 3, 224, 224) RGB in [0, 1] (ImageNet normalisation is applied inside); output: the
yaw, pitch and roll logits, and ``expected_angle_deg`` turns them into degrees (softmax over the
bins, expectation of ``bin * 3 - 99``, so angles lie in [-99, 96])."""

import os

import torch
from torch import nn

from reenact.io.weights import load_weights

NUM_BINS = 66
BIN_DEG, FIRST_BIN_DEG = 3.0, -99.0  # bin k stands for k * 3 - 99 degrees
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)
_DEPTHS = (3, 4, 6, 3)  # ResNet-50
_IGNORED = ("fc_finetune.",)  # a vestigial head in the official file: (2048 + 3) -> 3, unused


class Bottleneck(nn.Module):
    """torchvision's ResNet bottleneck (stride on the 3x3 conv): 1x1, 3x3, 1x1 (x4 channels)."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                            nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Hopenet(nn.Module):
    """(B, 3, 224, 224) RGB in [0, 1] -> (B, 3, 66) logits over pose bins, rows (yaw, pitch, roll)
    (Hopenet's own order)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        c = 64
        for i, (width, depth) in enumerate(zip((64, 128, 256, 512), _DEPTHS, strict=True)):
            blocks = [Bottleneck(c, width, stride=1 if i == 0 else 2)]
            c = width * Bottleneck.expansion
            blocks += [Bottleneck(c, width) for _ in range(depth - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc_yaw = nn.Linear(c, NUM_BINS)
        self.fc_pitch = nn.Linear(c, NUM_BINS)
        self.fc_roll = nn.Linear(c, NUM_BINS)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = (image - self.mean) / self.std
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (B, 64, 56, 56)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (B, 2048, 7, 7)
        x = x.mean(dim=(2, 3))  # (B, 2048): Hopenet's AvgPool2d(7) at 224 px input
        return torch.stack([self.fc_yaw(x), self.fc_pitch(x), self.fc_roll(x)], dim=1)


def expected_angle_deg(logits: torch.Tensor) -> torch.Tensor:
    """(..., 66) bin logits -> (...) degrees: sum_k softmax(logits)_k * (k * 3 - 99).

    Example:
        >>> expected_angle_deg(torch.tensor([[0.0] * 33 + [1e4] + [0.0] * 32]))
        tensor([0.])
    """
    centres = torch.arange(logits.shape[-1], dtype=logits.dtype, device=logits.device)
    return (logits.softmax(dim=-1) * centres).sum(dim=-1) * BIN_DEG + FIRST_BIN_DEG


def load_hopenet(path: str | os.PathLike) -> Hopenet:
    """A frozen, eval-mode Hopenet from the official state dict at ``path``
    (``hopenet_robust_alpha1.pkl`` or any file with the same keys; ``fc_finetune.*`` is ignored,
    ``num_batches_tracked`` may be absent as in files saved by PyTorch < 0.4.1)."""
    state = load_weights(path, "Hopenet weight file (e.g. hopenet_robust_alpha1.pkl)")
    state = {k: v for k, v in state.items() if not k.startswith(_IGNORED)}
    net = Hopenet()
    own = net.state_dict()
    missing = sorted(k for k in set(own) - set(state) if not k.endswith("num_batches_tracked"))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise ValueError(f"{path}: not a Hopenet (ResNet-50) state dict (missing {missing[:3]}, "
                         f"unexpected {unexpected[:3]})")
    try:
        net.load_state_dict({**own, **state})
    except RuntimeError as exc:
        raise ValueError(f"{path}: does not fit Hopenet ({str(exc).splitlines()[-1].strip()})") \
            from None
    return net.eval().requires_grad_(False)
