"""LPIPS (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep Features as a Perceptual
Metric"), VGG variant v0.1, from weight files the user supplies; nothing is downloaded.

Two files are needed:

- torchvision's ``vgg16`` state dict (e.g. ``vgg16-397923af.pth``): the keys ``features.0.weight``
  ... ``features.28.bias`` are read, the classifier keys are ignored;
- the linear heads of the ``lpips`` package, ``lpips/weights/v0.1/vgg.pth``: keys
  ``lin0.model.1.weight`` ... ``lin4.model.1.weight``, each (1, C, 1, 1) with C = 64, 128, 256,
  512, 512 (``model.0`` is a weightless dropout in the package's layout).

The distance (Eq. 1 of the paper): images in [-1, 1] go through the package's scaling layer,
VGG16 is tapped at relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3, each tap is unit-normalised
along channels, the squared difference is weighted per channel by the 1 x 1 head, averaged over
space, and the five layers are summed. 0 for identical images; about 0.1 - 0.7 between
different natural images with the official weights.

Example:
    >>> metric = LPIPS("vgg16-397923af.pth", "lpips/weights/v0.1/vgg.pth")  # doctest: +SKIP
    >>> metric(output_rgb8, target_rgb8)  # doctest: +SKIP
    0.183...
"""

import os

import numpy as np
import torch
from torch import nn

from reenact.io.tensor import image_to_tensor
from reenact.io.weights import load_weights
from reenact.models.vgg import tapped, vgg_layers

# torchvision's vgg16 ``features`` up to relu5_3 (the last max-pool is not needed).
_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
_TAPS = (3, 8, 15, 22, 29)  # indices of relu1_2, relu2_2, relu3_3, relu4_3, relu5_3 in ``features``
CHANNELS = (64, 128, 256, 512, 512)  # channels at the taps (= the heads' input channels)
# The lpips package's ScalingLayer: (x - shift) / scale maps [-1, 1] input to ImageNet statistics.
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)
_EPS = 1e-10  # lpips.normalize_tensor's epsilon
MIN_SIDE = 16  # four max-pools before relu5_3


class VGG16Features(nn.Module):
    """torchvision's VGG16 ``features`` layout: (B, 3, H, W) ImageNet-normalised -> the five taps
    [(B, 64, H, W), (B, 128, H/2, W/2), (B, 256, H/4, W/4), (B, 512, H/8, W/8),
    (B, 512, H/16, W/16)]."""

    def __init__(self):
        super().__init__()
        self.features = vgg_layers(_CFG, _TAPS[-1])

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return tapped(self.features, x, _TAPS)


def _unit_channels(feat: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) divided by its per-pixel L2 norm over C (lpips.normalize_tensor)."""
    return feat / (feat.pow(2).sum(dim=1, keepdim=True).sqrt() + _EPS)


class LPIPSNet(nn.Module):
    """The LPIPS network: two (B, 3, H, W) images in [-1, 1] -> (B,) distances."""

    def __init__(self):
        super().__init__()
        self.vgg = VGG16Features()
        self.heads = nn.ParameterList([nn.Parameter(torch.zeros(1, c, 1, 1)) for c in CHANNELS])
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        f0 = self.vgg((x0 - self.shift) / self.scale)
        f1 = self.vgg((x1 - self.shift) / self.scale)
        dist = x0.new_zeros(x0.shape[0])
        for a, b, w in zip(f0, f1, self.heads, strict=True):
            diff = (_unit_channels(a) - _unit_channels(b)) ** 2  # (B, C, h, w)
            dist = dist + (diff * w).sum(dim=1).mean(dim=(1, 2))  # 1x1 head, then spatial mean
        return dist


def _load_vgg(net: VGG16Features, path: str | os.PathLike) -> None:
    state = load_weights(path, "VGG16 weight file (torchvision's vgg16 state dict, e.g. "
                               "vgg16-397923af.pth)")
    wanted = {k: v for k, v in state.items() if k in net.state_dict()}
    missing = sorted(set(net.state_dict()) - set(wanted))
    if missing:
        raise ValueError(f"{path}: not a torchvision VGG16 state dict (missing {missing[:3]}, "
                         f"{len(missing)} keys in all)")
    try:
        net.load_state_dict(wanted)
    except RuntimeError as exc:
        last = str(exc).splitlines()[-1].strip()
        raise ValueError(f"{path}: does not fit VGG16 ({last})") from None


def _load_heads(heads: nn.ParameterList, path: str | os.PathLike) -> None:
    state = load_weights(path, "LPIPS linear-head file (the lpips package's weights/v0.1/vgg.pth)")
    for k, c in enumerate(CHANNELS):
        key = f"lin{k}.model.1.weight"
        if key not in state:
            raise ValueError(f"{path}: not an LPIPS VGG head file (no {key!r}; expected "
                             f"lin0.model.1.weight ... lin4.model.1.weight)")
        w = state[key]
        if tuple(w.shape) != (1, c, 1, 1):
            raise ValueError(f"{path}: {key} has shape {tuple(w.shape)}, expected (1, {c}, 1, 1) "
                             "(is it the VGG file, not alex.pth or squeeze.pth?)")
        heads[k].data.copy_(w)


class LPIPS:
    """LPIPS-VGG between two RGB images, from the user's VGG16 and lpips head files.

    Args:
        vgg16: torchvision ``vgg16`` state dict (``vgg16-397923af.pth``).
        lin: the lpips package's ``weights/v0.1/vgg.pth``.
        device: where the network runs.
    """

    name = "lpips"

    def __init__(self, vgg16: str | os.PathLike, lin: str | os.PathLike,
                 device: torch.device | str = "cpu"):
        net = LPIPSNet()
        _load_vgg(net.vgg, vgg16)
        _load_heads(net.heads, lin)
        self.device = torch.device(device)
        self.net = net.to(self.device).eval().requires_grad_(False)

    def distance(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB in [-1, 1] twice -> (B,) distances (differentiable in the inputs)."""
        if x0.shape != x1.shape:
            raise ValueError(f"LPIPS: shapes differ: {tuple(x0.shape)} vs {tuple(x1.shape)}")
        return self.net(x0, x1)

    @torch.no_grad()
    def __call__(self, a: np.ndarray, b: np.ndarray) -> float:
        """LPIPS of two (H, W, 3) uint8 RGB images of the same shape (H, W >= 16)."""
        if a.shape != b.shape:
            raise ValueError(f"LPIPS: image shapes differ: {a.shape} vs {b.shape}")
        if a.ndim == 3 and min(a.shape[:2]) < MIN_SIDE:
            raise ValueError(f"LPIPS: image {a.shape} is smaller than {MIN_SIDE} px on a side")
        x0 = image_to_tensor(a, self.device) * 2 - 1  # (1, 3, H, W) in [-1, 1]
        x1 = image_to_tensor(b, self.device) * 2 - 1
        return float(self.net(x0, x1)[0])
