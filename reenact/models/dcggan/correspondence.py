"""The dense correspondence estimator of DCG-GAN (Sec. 2.2, Eq. 1-3).

    f_s = E_res^(s)(E_corr(P_s), L_s, M_s)          (Eq. 1)
    f_r = E_res^(r)(E_corr(P_r), L_r)               (Eq. 2)
    F   = softmax(f_r^ f_s^T / tau)  in R^{hw x hw}  (Eq. 3, rows: re-enacted positions)

Warping is ``X^warp = F X~`` for any source representation X (image, parsing map, proxy) after
down-sampling to h x w. That is attention with queries f_r, keys f_s and values X~, so it is computed
with ``scaled_dot_product_attention`` (a fused kernel that never stores the hw x hw matrix: memory
linear in hw); ``correlation_matrix`` keeps the explicit F for tests and visualisation. The reverse
mapping for the cycle loss (Eq. 8) is the same attention with the roles of f_r and f_s swapped,
i.e. the softmax of the transposed correlation.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from reenact.models.blocks import ResBlock, conv_down


@dataclass(frozen=True)
class CorrespondenceConfig:
    proxy_channels: int = 3  # P_s, P_r: RGB proxies
    landmark_channels: int = 9  # L_s, L_r: heatmap groups (or HRNet features)
    parsing_classes: int = 9  # M_s: one-hot parsing map
    width: int = 64  # E_corr's first layer; doubles per down-sampling
    downsample: int = 2  # number of stride-2 stages: h = H / 2**downsample
    feature_dim: int = 256  # channels of f_s and f_r
    res_blocks: int = 3  # per E_res branch
    temperature: float = 0.01  # tau in Eq. 3


def normalize_features(f: torch.Tensor) -> torch.Tensor:
    """(B, D, h, w) -> (B, hw, D): each position's feature centred over channels and L2-normalised
    (the "normalised" f^ of Eq. 3), flattened row-major."""
    f = f - f.mean(dim=1, keepdim=True)
    f = F.normalize(f, dim=1)
    return f.flatten(2).transpose(1, 2)


def correlation_matrix(f_r: torch.Tensor, f_s: torch.Tensor, temperature: float) -> torch.Tensor:
    """Explicit F = softmax(f_r f_s^T / tau), (B, hw_r, hw_s); rows sum to 1.

    Args:
        f_r, f_s: (B, hw, D) normalised features (``normalize_features``).
    """
    return torch.softmax(f_r @ f_s.transpose(1, 2) / temperature, dim=-1)


def attention_warp(f_r: torch.Tensor, f_s: torch.Tensor, values: torch.Tensor,
                   temperature: float) -> torch.Tensor:
    """F @ values without materialising F: fused attention, memory linear in hw.

    Args:
        f_r: (B, hw_r, D) queries; f_s: (B, hw_s, D) keys, both normalised.
        values: (B, C, h_s, w_s) source representation at the feature resolution.
        temperature: tau.

    Returns:
        (B, C, hw_r) warped values (reshape to the re-enacted grid).
    """
    C = values.shape[1]
    v = values.flatten(2).transpose(1, 2)  # (B, hw_s, C)
    D = f_r.shape[-1]
    # The fused (flash) kernel wants q, k and v contiguous with one last dimension: zero-pad the
    # smaller (zero channels change neither the dot products nor the weighted sums). Otherwise
    # PyTorch silently falls back to the math kernel, which stores the hw x hw matrix.
    width = max(D, C)
    q = F.pad(f_r, (0, width - D)).contiguous()
    k = F.pad(f_s, (0, width - D)).contiguous()
    v = F.pad(v, (0, width - C)).contiguous()
    out = F.scaled_dot_product_attention(q[:, None], k[:, None], v[:, None],
                                         scale=1.0 / temperature)  # (B, 1, hw_r, width)
    return out[:, 0, :, :C].transpose(1, 2)


class CorrEncoder(nn.Module):
    """E_corr: proxy (B, 3, H, W) -> (B, width * 2**downsample, H / 2**d, W / 2**d)."""

    def __init__(self, cfg: CorrespondenceConfig):
        super().__init__()
        layers = [nn.Conv2d(cfg.proxy_channels, cfg.width, 3, padding=1), nn.LeakyReLU(0.2)]
        c = cfg.width
        for _ in range(cfg.downsample):
            layers.append(conv_down(c, 2 * c))
            c *= 2
        self.net = nn.Sequential(*layers)
        self.out_channels = c

    def forward(self, proxy: torch.Tensor) -> torch.Tensor:
        return self.net(proxy)


class ResEncoder(nn.Module):
    """E_res^(s) or E_res^(r): a 1x1 projection then ResBlocks to ``feature_dim`` channels."""

    def __init__(self, c_in: int, cfg: CorrespondenceConfig):
        super().__init__()
        blocks = [nn.Conv2d(c_in, cfg.feature_dim, 1)]
        blocks += [ResBlock(cfg.feature_dim, cfg.feature_dim) for _ in range(cfg.res_blocks)]
        self.net = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DenseCorrespondence(nn.Module):
    """Features f_s, f_r and the warps of Sec. 2.2.

    ``use_proxies=False`` builds the sD ablation: correspondence from parsing maps (and landmarks)
    only, without the textured proxies.
    """

    def __init__(self, cfg: CorrespondenceConfig = CorrespondenceConfig(), use_proxies: bool = True):
        super().__init__()
        self.cfg = cfg
        self.use_proxies = use_proxies
        self.e_corr = CorrEncoder(cfg) if use_proxies else None
        c = self.e_corr.out_channels if use_proxies else 0
        self.e_res_s = ResEncoder(c + cfg.landmark_channels + cfg.parsing_classes, cfg)
        # The re-enacted side has no parsing map in the paper; with proxies off (sD) the rendered
        # re-enacted parsing map stands in, so the branch still sees the target layout.
        self.e_res_r = ResEncoder(c + cfg.landmark_channels
                                  + (0 if use_proxies else cfg.parsing_classes), cfg)

    @property
    def scale(self) -> int:
        return 2**self.cfg.downsample

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, self.scale) if self.scale > 1 else x

    def features(self, proxy_s: torch.Tensor, proxy_r: torch.Tensor, landmarks_s: torch.Tensor,
                 landmarks_r: torch.Tensor, parsing_s: torch.Tensor,
                 parsing_r: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised (B, hw, D) features f_s and f_r.

        Args:
            proxy_s, proxy_r: P_s, P_r (B, 3, H, W) in [0, 1].
            landmarks_s, landmarks_r: L_s, L_r (B, K, H, W).
            parsing_s: M_s one-hot (B, classes, H, W); parsing_r: M_r, used only by sD.
        """
        parts_s = [self._down(landmarks_s), self._down(parsing_s)]
        parts_r = [self._down(landmarks_r)]
        if self.use_proxies:
            parts_s.insert(0, self.e_corr(proxy_s))
            parts_r.insert(0, self.e_corr(proxy_r))
        else:
            if parsing_r is None:
                raise ValueError("the sD variant needs the re-enacted parsing map parsing_r")
            parts_r.append(self._down(parsing_r))
        f_s = self.e_res_s(torch.cat(parts_s, 1))  # (B, D, h, w)
        f_r = self.e_res_r(torch.cat(parts_r, 1))
        return normalize_features(f_s), normalize_features(f_r)

    def warp(self, f_r: torch.Tensor, f_s: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """X^warp = F X~ for a source representation (B, C, H, W): (B, C, h, w)."""
        x = self._down(source)
        h, w = x.shape[-2:]
        return attention_warp(f_r, f_s, x, self.cfg.temperature).reshape(*x.shape[:2], h, w)

    def reverse(self, f_r: torch.Tensor, f_s: torch.Tensor, warped: torch.Tensor) -> torch.Tensor:
        """I_s' of Eq. 8: the warped representation (B, C, h, w) mapped back to the source grid
        with the softmax of the transposed correlation."""
        return attention_warp(f_s, f_r, warped, self.cfg.temperature).reshape(warped.shape)
