"""The front end's spatial guidance for the learned models (DCG-GAN, mesh GCN), from one source and
one re-enacted warp: textured proxies P_s / P_r, parsing maps M_s / M_r, landmark heatmaps L_s / L_r.

Sits beside ``pipeline.py``: it uses the prepared ``Source`` and a ``WarpResult`` and renders with the
same rasterizer and shaders as the analytic warp. All tensors are at crop resolution S.
"""

from dataclasses import dataclass

import torch

from reenact.face.topology import landmark_topology
from reenact.motion.analytic import WarpResult
from reenact.motion.scene import SourceScene
from reenact.render import landmark_heatmaps, parsing_map, rasterize, textured_proxy
from reenact.render.shaders import sample_image

# Heatmap channels: one per landmark group (HRNet features stand in for these in the paper).
HEATMAP_GROUPS = ("face_oval", "right_brow", "left_brow", "right_eye", "left_eye", "nose",
                  "outer_lip", "inner_lip", "iris")


@dataclass(frozen=True)
class Guidance:
    proxy_src: torch.Tensor  # P_s (1, 3, S, S) in [0, 1], black off the face
    proxy_reenacted: torch.Tensor  # P_r (B, 3, S, S)
    parsing_src: torch.Tensor  # M_s (1, S, S) int64 region labels (reenact.face.REGION)
    parsing_reenacted: torch.Tensor  # M_r (B, S, S)
    heatmaps_src: torch.Tensor  # L_s (1, G, S, S) in [0, 1]
    heatmaps_reenacted: torch.Tensor  # L_r (B, G, S, S)


def _heatmaps(verts: torch.Tensor, S: int, sigma: float) -> torch.Tensor:
    regions = landmark_topology().regions
    maps = [landmark_heatmaps(verts[:, torch.from_numpy(regions[g])][..., :2][:, None].float(),
                              (S, S), sigma) for g in HEATMAP_GROUPS]
    return torch.cat(maps, 1)


def render_guidance(scene: SourceScene, warp: WarpResult, sigma: float | None = None) -> Guidance:
    """Render P_s, P_r, M_s, M_r, L_s, L_r for a source scene and a (batched) warp."""
    S = scene.size
    sigma = sigma or S / 128
    faces = scene.faces
    region = torch.from_numpy(landmark_topology().triangle_region)
    uv = scene.verts[..., :2].float()
    frags_s = rasterize(scene.verts.float(), faces, (S, S))
    frags_r = warp.fragments
    B = warp.verts.shape[0]
    texture = scene.image.float()
    person_r = sample_image(scene.person_mask.float(), warp.coords_src_from_out)[:, 0]
    return Guidance(
        proxy_src=textured_proxy(frags_s, faces, uv, texture),
        proxy_reenacted=textured_proxy(frags_r, faces, uv.expand(B, -1, -1),
                                       texture.expand(B, -1, -1, -1)),
        parsing_src=parsing_map(frags_s, region, scene.person_mask[:, 0].float()),
        parsing_reenacted=parsing_map(frags_r, region, person_r),
        heatmaps_src=_heatmaps(scene.verts, S, sigma),
        heatmaps_reenacted=_heatmaps(warp.verts, S, sigma),
    )
