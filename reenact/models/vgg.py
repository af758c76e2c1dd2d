"""VGG19's convolutional part in torchvision's layout (``features.0.weight`` ...), so a torchvision
``vgg19`` state dict loads from a user's file with ``weights_only=True``; nothing is downloaded.
Returns the relu1_1, relu2_1, relu3_1, relu4_1 and relu5_1 activations used by perceptual losses."""

import os

import torch
from torch import nn

from reenact.io.weights import load_weights

_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
        512, 512, 512, 512, "M")
_TAPS = (1, 6, 11, 20, 29)  # indices of relu1_1 ... relu5_1 in ``features``
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def vgg_layers(cfg: tuple, last: int) -> nn.Sequential:
    """torchvision's VGG ``features`` (conv3x3 + ReLU per number, 2x2 max-pool per "M"), indices
    as torchvision numbers them (so its state-dict keys fit), up to and with layer ``last``."""
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=False)]
            c = v
    return nn.Sequential(*layers[: last + 1])


def tapped(features: nn.Sequential, x: torch.Tensor, taps: tuple[int, ...]) -> list[torch.Tensor]:
    """The activations after each layer index in ``taps``."""
    out = []
    for i, layer in enumerate(features):
        x = layer(x)
        if i in taps:
            out.append(x)
    return out


class VGG19Features(nn.Module):
    """(B, 3, H, W) in [0, 1] -> list of 5 feature maps (relu1_1 ... relu5_1)."""

    def __init__(self):
        super().__init__()
        self.features = vgg_layers(_CFG, _TAPS[-1])
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        return tapped(self.features, (image - self.mean) / self.std, _TAPS)


def load_vgg19(path: str | os.PathLike) -> VGG19Features:
    """Frozen VGG19 features from a torchvision-format state dict (classifier keys ignored)."""
    state = load_weights(path, "VGG19 weight file (torchvision's vgg19 state dict, e.g. "
                               "vgg19-dcbb9e9d.pth)")
    net = VGG19Features()
    wanted = {k: v for k, v in state.items() if k.startswith("features.")
              and int(k.split(".")[1]) <= _TAPS[-1]}
    missing = set(net.state_dict()) - set(wanted) - {"mean", "std"}
    if missing:
        raise ValueError(f"{path}: not a VGG19 state dict (missing {sorted(missing)[:3]} ...)")
    net.load_state_dict({**net.state_dict(), **wanted})
    return net.eval().requires_grad_(False)
