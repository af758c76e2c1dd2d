"""The front end's spatial guidance for the learned models (DCG-GAN, mesh GCN), from one source and
one re-enacted warp: textured proxies P_s / P_r (of the landmark mesh, or of FLAME's / BFM's own
mesh with ``--face-model``), parsing maps M_s / M_r, landmark heatmaps L_s / L_r.

Sits beside ``pipeline.py``: it uses the prepared ``Source`` and a ``WarpResult`` and renders with
the same rasterizer and shaders as the analytic warp. All tensors are at crop resolution S.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from reenact.face.topology import REGION_NAMES, landmark_topology
from reenact.motion.analytic import WarpResult
from reenact.motion.scene import SourceScene
from reenact.render import landmark_heatmaps, parsing_map, rasterize, textured_proxy
from reenact.render.filters import identity_grid, outline_band
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
    frags_s = rasterize(scene.verts.float(), faces, (S, S))
    frags_r = warp.fragments
    B = warp.verts.shape[0]
    texture = scene.image.float()
    person_r = sample_image(scene.person_mask.float(), warp.coords_src_from_out)[:, 0]
    # The proxies: the landmark mesh, or a FLAME / BFM model's own mesh, textured from the source
    # (each vertex takes the source pixel under it). The parsing maps need the landmark mesh's
    # regions, so they stay its own.
    proxy_faces, proxy_frags_s, proxy_frags_r, uv = faces, frags_s, frags_r, scene.verts[..., :2]
    if warp.model_meshes is not None:
        m = warp.model_meshes
        proxy_faces, uv = m.faces, m.source[..., :2]
        proxy_frags_s = rasterize(m.source.float(), proxy_faces, (S, S))
        proxy_frags_r = rasterize(m.reenacted.float(), proxy_faces, (S, S))
    uv = uv.float()
    return Guidance(
        proxy_src=textured_proxy(proxy_frags_s, proxy_faces, uv, texture),
        proxy_reenacted=textured_proxy(proxy_frags_r, proxy_faces, uv.expand(B, -1, -1),
                                       texture.expand(B, -1, -1, -1)),
        parsing_src=parsing_map(frags_s, region, scene.person_mask[:, 0].float()),
        parsing_reenacted=parsing_map(frags_r, region, person_r),
        heatmaps_src=_heatmaps(scene.verts, S, sigma),
        heatmaps_reenacted=_heatmaps(warp.verts, S, sigma),
    )


LandmarkFeatures = Callable[[torch.Tensor], torch.Tensor]  # (B, 3, S, S) -> (B, K, S, S)
ParsingModel = Callable[[torch.Tensor], torch.Tensor]  # (B, 3, S, S) -> (B, S, S) int64 labels


def dcggan_inputs(scene: SourceScene, warp: WarpResult, guidance: Guidance | None = None,
                  num_classes: int = len(REGION_NAMES),
                  landmark_features: LandmarkFeatures | None = None,
                  parsing_model: ParsingModel | None = None) -> dict[str, torch.Tensor]:
    """The DCG-GAN batch for one source and a (batched) warp: I_s, P_s, P_r, L_s, L_r and one-hot
    M_s, M_r, all (B, C, S, S) float32.

    By default the grouped landmark heatmaps stand in for the paper's HRNet features and the mesh
    parsing map for its BiSeNet map. A user with those networks passes them: ``landmark_features``
    maps an image to feature maps (applied to I_s for L_s and to P_r for L_r, the re-enacted image
    being unknown), ``parsing_model`` maps an image to labels (``num_classes`` of them): I_s for
    M_s, P_r for M_r."""
    g = guidance or render_guidance(scene, warp)
    B = warp.verts.shape[0]

    def one_hot(labels: torch.Tensor) -> torch.Tensor:
        return F.one_hot(labels, num_classes).permute(0, 3, 1, 2).float()

    def batch(x: torch.Tensor) -> torch.Tensor:
        return x.float().expand(B, *x.shape[1:])

    image_s = batch(scene.image)
    if landmark_features is not None:
        landmarks_s, landmarks_r = landmark_features(image_s), landmark_features(g.proxy_reenacted)
    else:
        landmarks_s, landmarks_r = batch(g.heatmaps_src), g.heatmaps_reenacted
    if parsing_model is not None:  # M_r (used by sD) from the re-enacted proxy, like L_r
        parsing_s, parsing_r = parsing_model(image_s), parsing_model(g.proxy_reenacted.float())
    else:
        parsing_s = g.parsing_src.expand(B, *g.parsing_src.shape[1:])
        parsing_r = g.parsing_reenacted
    return {"image_s": image_s, "proxy_s": batch(g.proxy_src),
            "proxy_r": g.proxy_reenacted.float(), "landmarks_s": landmarks_s.float(),
            "landmarks_r": landmarks_r.float(), "parsing_s": one_hot(parsing_s),
            "parsing_r": one_hot(parsing_r)}


def meshgcn_inputs(scene: SourceScene, warp: WarpResult) -> dict[str, torch.Tensor]:
    """The mesh GCN's inputs (Sec. 3.1): I_s (B, 3, S, S) and the stacked meshes (B, n, 6) =
    [M_s | M_d], both posed to the crop: M_s the source's fit, M_d the source's identity with the
    driver's expression and pose. Coordinates are normalised as ``grid_sample`` reads them:
    x, y in [-1, 1] across the crop, z scaled alike. With a FLAME / BFM face model
    (``warp.model_meshes``) the meshes are that model's own, as in the paper (BFM)."""
    S = scene.size
    B = warp.verts.shape[0]

    def normalise(v: torch.Tensor) -> torch.Tensor:
        return (v.float() / S * 2 - torch.tensor([1.0, 1.0, 0.0])).float()

    meshes = warp.model_meshes  # FLAME / BFM: their own
    src, reenacted = (scene.verts, warp.verts) if meshes is None else (meshes.source,
                                                                       meshes.reenacted)
    m_s = normalise(src).expand(B, -1, -1)
    m_d = normalise(reenacted)
    return {"image_s": scene.image.float().expand(B, -1, -1, -1),
            "stacked": torch.cat([m_s, m_d], -1)}


def shrink(inputs: dict[str, torch.Tensor], size: int) -> dict[str, torch.Tensor]:
    """A model-input dict with its square (B, C, S, S) images resized to ``size`` by area
    interpolation (shrunk, as a rule), the other entries as they are: how a refiner takes
    ``reenact animate``'s crop to its training size, and how training samples are made with
    ``data.render_size``."""
    return {k: F.interpolate(v, size=(size, size), mode="area")
            if v.ndim == 4 and v.shape[-1] == v.shape[-2] != size else v
            for k, v in inputs.items()}


OUTLINE_WIDTH = 1 / 32  # prior_outline's half-width, of the crop side (2 px at 64, 8 at 256)


def prior_inputs(warp: WarpResult, size: int | None = None) -> dict[str, torch.Tensor]:
    """The analytic warp as a prior for models built with ``use_prior``: ``prior`` (B, 3, s, s) the
    warped crop, ``prior_flow`` (B, s, s, 2) its backward flow as offsets from the identity
    grid in ``grid_sample`` units (resolution-free) and ``prior_outline`` (B, 1, s, s) a band
    around the re-enacted face's outline, at ``size`` s (default: the crop's)."""
    image = warp.image.float()
    B, _, S, _ = image.shape
    grid = warp.coords_src_from_out.float() * (2.0 / S) - 1.0
    offsets = grid - identity_grid(B, S, S, grid)
    outline = outline_band(warp.face_mask, OUTLINE_WIDTH)
    size = size or S
    if size != S:
        image = F.interpolate(image, size=(size, size), mode="area")
        offsets = F.interpolate(offsets.permute(0, 3, 1, 2), size=(size, size),
                                mode="area").permute(0, 2, 3, 1)
        outline = F.interpolate(outline, size=(size, size), mode="area")
    return {"prior": image.clamp(0, 1), "prior_flow": offsets.contiguous(),
            "prior_outline": outline}
