"""The front end's spatial guidance for the learned models (DCG-GAN, mesh GCN), from one source and
one re-enacted warp: textured proxies P_s / P_r, parsing maps M_s / M_r, landmark heatmaps L_s / L_r.

Sits beside ``pipeline.py``: it uses the prepared ``Source`` and a ``WarpResult`` and renders with the
same rasterizer and shaders as the analytic warp. All tensors are at crop resolution S.
"""

from dataclasses import dataclass

import torch

from reenact.face.topology import REGION_NAMES, landmark_topology
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


def dcggan_inputs(scene: SourceScene, warp: WarpResult, guidance: Guidance | None = None,
                  num_classes: int = len(REGION_NAMES)) -> dict[str, torch.Tensor]:
    """The DCG-GAN batch for one source and a (batched) warp: I_s, P_s, P_r, L_s, L_r and one-hot
    M_s, M_r, all (B, C, S, S) float32. The landmark heatmaps stand in for the paper's HRNet
    features and the mesh parsing map for its BiSeNet map; both come from this function only, so
    a user with those networks replaces them here."""
    g = guidance or render_guidance(scene, warp)
    B = warp.verts.shape[0]

    def one_hot(labels: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.one_hot(labels, num_classes).permute(0, 3, 1, 2).float()

    def batch(x: torch.Tensor) -> torch.Tensor:
        return x.float().expand(B, *x.shape[1:])

    return {"image_s": batch(scene.image), "proxy_s": batch(g.proxy_src),
            "proxy_r": g.proxy_reenacted.float(), "landmarks_s": batch(g.heatmaps_src),
            "landmarks_r": g.heatmaps_reenacted.float(),
            "parsing_s": batch(one_hot(g.parsing_src)), "parsing_r": one_hot(g.parsing_reenacted)}
