"""ArcFace's IResNet (Deng et al. 2019) as defined by insightface's ``arcface_torch``, so its
released ``.pth`` state dicts (r18 / r34 / r50 / r100) load as they are, with ``weights_only=True``.
Input: aligned 112 x 112 RGB faces in [0, 1]; output: (B, 512) embeddings. Used as a frozen
identity network for L_id (DCG-GAN Eq. 9) and for CSIM when the user has weights; nothing is
downloaded."""

import os

import torch
import torch.nn.functional as F
from torch import nn

from reenact.io.weights import load_weights

DEPTHS = {"r18": (2, 2, 2, 2), "r34": (3, 4, 6, 3), "r50": (3, 4, 14, 3), "r100": (3, 13, 30, 3)}


class IBasicBlock(nn.Module):
    """BN, conv3x3, BN, PReLU, conv3x3 (stride), BN, plus the (projected) input."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in, eps=1e-5)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out, eps=1e-5)
        self.prelu = nn.PReLU(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out, eps=1e-5)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                            nn.BatchNorm2d(c_out, eps=1e-5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
        return out + (x if self.downsample is None else self.downsample(x))


class IResNet(nn.Module):
    """(B, 3, 112, 112) in [0, 1] -> (B, 512) embedding (not normalised)."""

    def __init__(self, arch: str = "r50", num_features: int = 512):
        super().__init__()
        if arch not in DEPTHS:
            raise ValueError(f"unknown ArcFace architecture {arch!r}; one of {sorted(DEPTHS)}")
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
        self.prelu = nn.PReLU(64)
        c = 64
        for i, (width, depth) in enumerate(zip((64, 128, 256, 512), DEPTHS[arch], strict=True)):
            blocks = [IBasicBlock(c, width, stride=2)]
            blocks += [IBasicBlock(width, width) for _ in range(depth - 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            c = width
        self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(512 * 7 * 7, num_features)
        self.features = nn.BatchNorm1d(num_features, eps=1e-5)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = (image - 0.5) / 0.5  # arcface_torch's input normalisation
        x = self.prelu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.dropout(torch.flatten(self.bn2(x), 1))
        return self.features(self.fc(x))


def load_arcface(path: str | os.PathLike, arch: str = "r50") -> IResNet:
    """A frozen, eval-mode IResNet with insightface arcface_torch weights from ``path``."""
    state = load_weights(path, "ArcFace weight file (insightface arcface_torch releases, e.g. "
                               "ms1mv3_arcface_r50_fp16/backbone.pth)")
    net = IResNet(arch)
    try:
        net.load_state_dict(state)
    except RuntimeError as exc:
        raise ValueError(f"{path}: does not fit IResNet-{arch} "
                         f"({str(exc).splitlines()[0]})") from None
    net.eval().requires_grad_(False)
    return net


def identity_loss(net: IResNet, output: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
    """L_id (Eq. 9): 1 - cos(ArcFace(I_r), ArcFace(I_s)), images (B, 3, H, W) in [0, 1] resized
    to 112 (the crops are face-centred; finer alignment is the caller's)."""
    def embed(x):
        return net(F.interpolate(x, size=(112, 112), mode="bilinear", align_corners=False))

    return (1 - F.cosine_similarity(embed(output), embed(source), dim=-1)).mean()
