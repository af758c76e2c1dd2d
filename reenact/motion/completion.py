"""What the source photo does not show of its own face, completed once per source in a texture.

The texture is the face laid out flat: texel coordinates are the landmark model's symmetric mean
shape seen from the front, so a face's mirror image is the texture flipped left to right. Each texel
is sampled from the source photo through the fitted source mesh, and graded by how well the photo
sees it: covered by a nearer part of the face (the nose in front of the far cheek), turned away,
or seen edge-on (a thin strip of pixels that a turn towards the camera would smear). Texels the
photo does not show well are completed:

- skin from its mirror image across the midline, where that is skin the photo sees well (never an
  eye, brow, lip or the nose's base, which would draw a second copy of a feature), with the mirror's
  shading matched to the texels around it;
- anything else from the surrounding texture (OpenCV's Telea inpainting).

Per frame the warp keeps the photo's own pixels where they are seen well and not stretched much,
and takes the completed texture elsewhere (``reenact.motion.analytic``). Features the photo hides
(an eye or lip corner behind the nose) have no credible fill, so the head is not turned far enough
to reveal them: ``limit_turn``.
"""

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from reenact.face.base import FaceCoefficients
from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.topology import NOSE_TIP, REGION
from reenact.geometry import rotation_interpolate
from reenact.geometry.triangles import signed_area
from reenact.render import Fragments, interpolate_attributes, rasterize
from reenact.render.shaders import sample_image
from reenact.tracking.crop import fill_smooth

SEEN_DEPTH = 0.04  # head units: a texel nearer than the photo's depth there plus this is seen
FACING = (0.02, 0.2)  # |cos| of the surface to the view: turned away below, fully seen above
SHARP = (0.3, 0.6)  # the photo's foreshortening over the layout's: too squeezed ... fine
SILHOUETTE_PX = (1.0, 4.0)  # a mirror source this close to the photo's face outline is not used
STRETCH = (2.0, 4.0)  # output / source area (scale-normalised): own pixels used up to, none past
# Stretched further than the photo has detail for, the texture's fine structure (hair, stubble,
# the photo's outline) would be drawn out into streaks: the warp takes a smoothed texture instead,
# blurred more the more it is magnified in its most stretched direction: BLUR_STRETCH[0] -> [1]
# the sharp texture -> a Gaussian of BLUR_TEXELS[0], [1] -> [2] -> BLUR_TEXELS[1] (texels at
# T = 128).
BLUR_STRETCH = (2.0, 4.0, 8.0)
BLUR_TEXELS = (3.0, 8.0)
RIM_PX = (0.5, 2.0)  # texels this close to the photo's face outline (photo pixels) are not sharp
# The landmark mesh's outline is only near the face's silhouette: a turned photo's reaches past it
# (a profile's philtrum and chin lie on the dark gap in front of them). Texels within NEAR_RIM
# head units of the photo's mesh outline on the side a turned photo faces (FAR_SIDE), or whose
# photo pixel the person segmentation calls background (probability PERSON[0] ... PERSON[1])
# within OFF_PERSON_RIM, are not sharp, are hidden features to limit_turn, and are drawn from the
# completed texture where a turn carries them into the face (INWARD) or brings the side they are on
# round towards the camera (COMING_ROUND).
NEAR_RIM = (0.05, 0.12)
FAR_SIDE = (0.25, 0.45)  # sine of the photo's turn: its facing side's rim is in doubt from..to
PERSON = (0.3, 0.7)
OFF_PERSON_RIM = (0.15, 0.25)
INWARD = (0.03, 0.08)  # head units further from the output's outline than from the photo's
COMING_ROUND = (0.03, 0.12)  # or the facing side turned this far towards the camera (sine)
REVEAL_LIMIT = 0.004  # head units^2 of hidden feature a turn may reveal (an eye is about 0.03)
# A turn far from the photo's pose magnifies the skin the photo shows edge-on (the side of a
# frontal face turned to the camera) into a swollen, flat, pale crescent. The turn is cut back
# where more than MAGNIFY_LIMIT head units^2 of the face would be magnified past MAGNIFY (largest
# stretch, weighted by a smoothstep between the two), about 30 degrees from a frontal photo.
MAGNIFY = (3.0, 6.0)
MAGNIFY_LIMIT = 0.1
TURN_STEPS = 16  # fractions of a turn tried by limit_turn


@dataclass(frozen=True)
class FaceTexture:
    """The source face laid out in texture space (T texels a side; see the module docstring)."""

    texture: torch.Tensor  # (1, 3, T, T) in [0, 1], completed where the photo does not show it
    smooth: torch.Tensor  # (1, 6, T, T) the texture blurred twice (BLUR_TEXELS), for what a turn
    # magnifies far past the photo's detail
    seen: torch.Tensor  # (1, 1, T, T) in [0, 1], how well the photo shows each texel
    verts_uv: torch.Tensor  # (V, 2) texel coordinates of each vertex (pixel units of the texture)
    fully_seen: torch.Tensor  # (T,) bool, every texel of the triangle seen: nothing to fill
    rim: torch.Tensor  # (1, 2, T, T) per texel: the doubt that its photo pixel is this face (at
    # the mesh's outline, on the segmented background), and its distance to the photo's mesh
    # outline (head units)
    sure: torch.Tensor  # (T,) bool, no texel of the triangle is in doubt
    hidden_feature: torch.Tensor  # (F,) int64 triangles of features the photo does not show
    src_area: torch.Tensor  # (F,) their projected source area / scale^2 (head units^2)
    stretch_basis: torch.Tensor  # (1, T, 2, 2) float64, stretch_basis() of the photo's mesh


def smoothstep(x: np.ndarray | torch.Tensor, lo: float, hi: float):
    """0 below ``lo``, 1 above ``hi``, a smooth cubic between (numpy or torch)."""
    t = ((x - lo) / (hi - lo)).clip(0, 1)
    return t * t * (3 - 2 * t)


def texel_layout(model: LandmarkFaceModel, size: int) -> torch.Tensor:
    """(V, 3) vertex positions in texture space: the mean shape from the front, x and y in texels
    (centred, the same scale on both axes, 4% margin), z the mean's depth (for folds)."""
    mean = model.mean
    lo, hi = mean[:, :2].min(0).values, mean[:, :2].max(0).values
    span = float((hi - lo).max()) * 1.08
    centre = (lo + hi) / 2
    xy = (mean[:, :2] - centre) / span * size + size / 2
    return torch.cat([xy, mean[:, 2:3]], 1)


@functools.lru_cache(maxsize=4)
def _layout(size: int) -> tuple[torch.Tensor, Fragments]:
    """``texel_layout`` and its rasterization: the same for every photo (the landmark model's mean
    shape is a constant of the package), so built once per texture size."""
    model = LandmarkFaceModel()
    layout = texel_layout(model, size)
    faces = torch.from_numpy(model.topology.triangles)
    return layout, rasterize(layout[None], faces, (size, size))


def vertex_normals_z(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(1, V, 3) posed vertices -> (V,) cosine between each vertex normal and the direction to the
    camera (1 facing it, 0 edge-on, negative turned away). Triangles wind outwards (topology)."""
    tri = verts[0][faces]  # (T, 3, 3)
    n = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)  # area-weighted
    acc = torch.zeros_like(verts[0]).index_add_(0, faces.reshape(-1), n.repeat_interleave(3, 0))
    return -acc[:, 2] / acc.norm(dim=-1).clamp(min=1e-12)  # the camera looks along +z


def build_face_texture(image: torch.Tensor, verts: torch.Tensor, fragments: Fragments,
                       scale: float, model: LandmarkFaceModel,
                       person: np.ndarray | None = None,
                       rotation: torch.Tensor | None = None) -> FaceTexture:
    """Lay out, grade and complete the source face.

    Args:
        image: (1, 3, S, S) source crop in [0, 1].
        verts: (1, V, 3) posed source vertices, crop pixels.
        fragments: the source mesh rasterized at (S, S).
        scale: the source's scale (pixels per head unit).
        person: (S, S) person probability from the segmentation, or None (all person).
        rotation: (3, 3) the photo's head rotation, or None (frontal).
    """
    S = image.shape[-1]
    T = max(64, S // 2)
    faces = torch.from_numpy(model.topology.triangles)
    layout, frags = _layout(T)
    layout = layout.to(verts.dtype)
    covered = frags.mask[0].numpy()
    facing = vertex_normals_z(verts, faces)
    facing_layout = vertex_normals_z(model.mean[None].to(verts.dtype), faces)
    attrs = torch.cat([verts[0], facing[:, None], facing_layout[:, None]], 1)[None]
    at = interpolate_attributes(frags, faces, attrs)[0]  # (T, T, 5): photo x, y, z; facings
    xy = at[..., :2]
    texture = sample_image(image.to(verts.dtype), xy[None]).float()  # (1, 3, T, T)
    # Seen: nothing nearer in the photo at that pixel (or it is this very triangle there).
    px = xy.floor().long().clamp(0, S - 1)
    zbuf = fragments.zbuf[0][px[..., 1], px[..., 0]]
    here = fragments.pix_to_face[0][px[..., 1], px[..., 0]]
    unoccluded = (at[..., 2] <= zbuf + SEEN_DEPTH * scale) | (here == frags.pix_to_face[0])
    cos = at[..., 3].numpy()
    seen = unoccluded.numpy() * smoothstep(cos, *FACING) * covered
    # blurred within the layout only: with the zeros beyond it, the layout's own edge read as
    # half seen and drew the completed texture's dark rim (hair at the forehead) as a thin
    # line along the face's outline
    inside = covered.astype(np.float32)
    seen = local_mean(seen.astype(np.float32)[..., None], inside, 1.0)[0][..., 0] * inside
    # photo pixels per layout texel, relative (1 for a frontal photo, whatever the surface)
    squeeze = (cos + 0.05) / (np.maximum(at[..., 4].numpy(), 0) + 0.05)
    outline = fragments.mask[0].numpy().astype(np.uint8)
    to_edge = cv2.remap(cv2.distanceTransform(outline, cv2.DIST_L2, 3),
                        xy[..., 0].float().numpy() - 0.5, xy[..., 1].float().numpy() - 0.5,
                        cv2.INTER_LINEAR)
    inner = smoothstep(to_edge, *SILHOUETTE_PX)
    # Doubt: how surely a texel's photo pixel is not this face. The mesh's outline is only close
    # to the face's silhouette (within NEAR_RIM), and reaches past it onto what the person
    # segmentation calls background (a profile's lips): such texels are not sharp, and a turn
    # that carries them into the face draws them from the completed texture.
    doubt = (1 - smoothstep(to_edge / scale, *NEAR_RIM)) * _facing_side(xy.float().numpy(), verts,
                                                                     rotation, scale)
    off_person = np.zeros_like(to_edge)
    if person is not None:
        at = cv2.remap(np.asarray(person, np.float32), xy[..., 0].float().numpy() - 0.5,
                       xy[..., 1].float().numpy() - 0.5, cv2.INTER_LINEAR)
        off_person = (1 - smoothstep(at, *PERSON)) * (1 - smoothstep(to_edge / scale,
                                                                     *OFF_PERSON_RIM))
    doubt = np.maximum(doubt, off_person) * covered
    # the rim at the photo's outline samples what lies beyond it (hair, background): not sharp
    sharp = unoccluded.numpy() * covered * smoothstep(squeeze, *SHARP) * smoothstep(
        to_edge, *RIM_PX)
    # features the photo shows on the background are hidden (limit_turn keeps them so)
    sharp_feature = cv2.GaussianBlur((sharp * (1 - doubt)).astype(np.float32), (0, 0), 1.0)
    sharp = cv2.GaussianBlur((sharp * (1 - doubt)).astype(np.float32), (0, 0), 1.0)
    region = np.where(covered, _mirror_regions(model)[frags.pix_to_face[0].clamp(min=0).numpy()],
                      REGION["background"])
    completed = _complete(texture[0].permute(1, 2, 0).numpy(), sharp, sharp * inner, region,
                          covered)
    hidden, area = _hidden_features(verts, faces, frags, sharp_feature, model, scale)
    # Features keep their sharp texels at every level: blurred, a magnified eye would vanish.
    feature = np.isin(region, [REGION[n] for n in (*FEATURES, "nose")]).astype(np.float32)
    feature = np.minimum(2 * cv2.GaussianBlur(feature, (0, 0), 1.5), 1)[..., None]  # soft outside
    smooth = np.concatenate([feature * completed + (1 - feature)
                             * _smooth(completed, covered, b * T / 128) for b in BLUR_TEXELS], -1)
    return FaceTexture(texture=torch.from_numpy(_padded(completed, covered)).permute(2, 0, 1)[None],
                       smooth=torch.from_numpy(smooth).permute(2, 0, 1)[None],
                       seen=torch.from_numpy(_padded(seen, covered))[None, None],
                       verts_uv=layout[:, :2].float(),
                       fully_seen=_fully_seen(frags, seen, len(faces)),
                       rim=torch.from_numpy(np.stack([_padded(doubt, covered),
                                                      _padded(to_edge / scale, covered)]))[None],
                       sure=_fully_seen(frags, doubt <= 1e-3, len(faces), empty=True),
                       hidden_feature=hidden, src_area=area,
                       stretch_basis=stretch_basis(verts.double(), torch.tensor([float(scale)],
                                                                                dtype=torch.float64),
                                                   faces))


def _padded(values: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """(T, T) or (T, T, C) per-texel values -> float32, continued past the layout's edge by the
    values near it (push-pull), as texture atlases are padded: the warp samples bilinearly, and
    where an output triangle runs along the layout's staircase edge, the values beyond it (zeros,
    the crop's corner pixel) came in and out of the samples and drew the edge as dashes (a
    turned photo's far cheek)."""
    v = values.astype(np.float32).reshape(*covered.shape, -1)
    out = np.where(covered[..., None], v, fill_smooth(v, covered.astype(np.float32)))
    return out.reshape(values.shape)


def side_looks(rotation: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) head rotations -> (B, 2) the head's forward direction in the image, its part
    along the head's own left-right axis: the sine of the left-right turn, pointing where the
    face looks (a face looking up or down hides no cheek behind its nose)."""
    R = rotation.double()
    across = R[:, :2, 0] / R[:, :2, 0].norm(dim=-1, keepdim=True).clamp(min=1e-9)
    return -(R[:, :2, 2] * across).sum(-1, keepdim=True) * across


def coming_round(photo: torch.Tensor, shown: torch.Tensor) -> torch.Tensor:
    """(3, 3) photo rotation, (B, 3, 3) shown rotations -> (B,) in [0, 1]: how far each shown
    pose turns the side the photo faces towards the camera (COMING_ROUND, in the sine of the
    turn), for photos turned past FAR_SIDE[0]; 0 for an unmoved face or a turn the other way."""
    looks = side_looks(photo[None])[0]
    size = looks.norm().clamp(min=1e-9)
    towards = size - side_looks(shown) @ (looks / size)
    return (smoothstep(towards, *COMING_ROUND) * smoothstep(size, *FAR_SIDE)).float()


def _facing_side(xy: np.ndarray, verts: torch.Tensor, rotation: torch.Tensor | None,
                 scale: float) -> np.ndarray:
    """(T, T, 2) photo positions of the texels -> (T, T) in [0, 1]: on the side of the face the
    photo's head is turned towards (where the outline is the nose, lips and chin seen from the
    side rather than the cheek's silhouette), for photos turned more than FAR_SIDE[0]."""
    if rotation is None:
        return np.zeros(xy.shape[:2], np.float32)
    looks = side_looks(rotation[None])[0].numpy()
    strength = float(smoothstep(np.linalg.norm(looks), *FAR_SIDE))
    centre = verts[0, :, :2].double().mean(0).numpy()
    unit = looks / max(np.linalg.norm(looks), 1e-9)
    return (strength * smoothstep(((xy - centre) @ unit) / scale, 0.0, 0.1)).astype(np.float32)


def _fully_seen(frags: Fragments, seen: np.ndarray, num_triangles: int,
                empty: bool = False) -> torch.Tensor:
    """(T,) bool: triangles whose texels are all seen (without texels: ``empty``). The warp
    samples the texture only elsewhere, or where the pose stretches the photo."""
    p2f = frags.pix_to_face[0].numpy()
    inside = p2f >= 0
    worst = np.ones(num_triangles)
    np.minimum.at(worst, p2f[inside], seen[inside].astype(np.float64))
    has = np.bincount(p2f[inside], minlength=num_triangles) > 0
    return torch.from_numpy((has | empty) & (worst >= 0.999))


def _complete(tex: np.ndarray, sharp: np.ndarray, mirror_ok: np.ndarray, region: np.ndarray,
              covered: np.ndarray) -> np.ndarray:
    """(T, T, 3) texture -> completed texture: the own texels where ``sharp``, else the shading-
    matched mirror where that is skin the photo shows well, else the surrounding texture."""
    T = tex.shape[0]
    skin = (region == REGION["skin"]) & (region[:, ::-1] == REGION["skin"])  # also nose sides
    m_tex, m_ok = tex[:, ::-1], (mirror_ok[:, ::-1] * skin)  # the texture's mirror image
    # Shading: the ratio of the own and the mirrored local means, each over its well-seen texels,
    # spread into the holes by normalised convolution (a wide Gaussian).
    own_mean, own_den = local_mean(tex, sharp, T / 10)
    mir_mean, _ = local_mean(m_tex, m_ok, T / 10)
    gain = np.clip(own_mean / np.maximum(mir_mean, 1e-3), 0.6, 1.6)
    gain = np.where(own_den > 1e-3, gain, 1.0)
    mirrored = np.clip(m_tex * gain, 0, 1)
    fill = _inpaint(tex, (sharp >= 0.5) & (region == REGION["skin"]) & covered, covered)
    fill = m_ok[..., None] * mirrored + (1 - m_ok[..., None]) * fill
    s = sharp[..., None]
    return (s * tex + (1 - s) * fill).astype(np.float32)


def local_mean(tex: np.ndarray, weight: np.ndarray, sigma: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """(T, T, 3) texture, (T, T) weights -> the weighted Gaussian mean of the texture (normalised
    convolution: texels of weight 0 do not bleed in) and the (T, T, 1) blurred weight."""
    # reshaped: OpenCV drops the channel axis of a single-channel image
    num = cv2.GaussianBlur(tex * weight[..., None], (0, 0), sigma).reshape(tex.shape)
    den = cv2.GaussianBlur(weight.astype(np.float32), (0, 0), sigma)[..., None]
    return num / np.maximum(den, 1e-4), den


def _smooth(tex: np.ndarray, covered: np.ndarray, sigma: float) -> np.ndarray:
    """The texture blurred over the face only (the background beyond the layout's outline does
    not bleed in)."""
    mean, den = local_mean(tex, covered.astype(np.float32), sigma)
    return np.where(den > 1e-3, mean, tex).astype(np.float32)


def _inpaint(tex: np.ndarray, skin: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """The ``covered`` texels that are not well-seen ``skin``, filled from the skin around them
    (Telea): a hidden eye corner becomes skin, not a smear of the visible part of the eye. At half
    resolution (a smooth fill; Telea's time grows with the hole's area), in uint8."""
    T = tex.shape[0]
    h = T // 2
    rgb = cv2.resize((tex * 255 + 0.5).clip(0, 255).astype(np.uint8), (h, h),
                     interpolation=cv2.INTER_AREA)
    known = cv2.resize(skin.astype(np.float32), (h, h), interpolation=cv2.INTER_AREA) > 0.99
    # everything but well-seen skin is a hole, beyond the layout too: Telea takes whatever is
    # not a hole as known, and the texels beyond the layout hold the crop's corner pixel (black
    # on a photo with a black border), which it spread into the face's rim as a dark line
    hole = (~known).astype(np.uint8)
    if not known.any() or not (hole & cv2.resize(covered.astype(np.uint8), (h, h),
                                                  interpolation=cv2.INTER_NEAREST)).any():
        return tex
    filled = cv2.inpaint(rgb, hole, 3, cv2.INPAINT_TELEA)
    return cv2.resize(filled, (T, T), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255


FEATURES = ("eyes", "brows", "lips")  # the mouth's inside has its own fill (analytic)


def _mirror_regions(model: LandmarkFaceModel) -> np.ndarray:
    """(T,) triangle regions with the nose's sides and bridge counted as skin: only the base of
    the nose (below its tip: the nostrils) is a feature that must not be mirrored."""
    region = model.topology.triangle_region.copy()
    region[(region == REGION["nose"]) & ~_nose_base(model)] = REGION["skin"]
    return region


def _nose_base(model: LandmarkFaceModel) -> np.ndarray:
    mean = model.mean.numpy()
    centre_y = mean[model.topology.triangles, 1].mean(1)
    return (model.topology.triangle_region == REGION["nose"]) & (centre_y > mean[NOSE_TIP, 1])


def _hidden_features(verts: torch.Tensor, faces: torch.Tensor, frags: Fragments,
                     sharp: np.ndarray, model: LandmarkFaceModel, scale: float
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Feature triangles (eyes, brows, lips, the base of the nose) the photo shows much worse than a
    frontal photo would: their mean texel grade is under one half. Triangles a frontal view does
    not show either (no texel: the underside of the nose) do not count."""
    region = model.topology.triangle_region
    feature = np.isin(region, [REGION[n] for n in FEATURES]) | _nose_base(model)
    p2f = frags.pix_to_face[0].numpy()
    inside = p2f >= 0
    total = np.bincount(p2f[inside], weights=sharp[inside], minlength=len(faces))
    count = np.bincount(p2f[inside], minlength=len(faces))
    grade = np.where(count > 0, total / np.maximum(count, 1), 1.0)  # none: hidden from the front

    hidden = np.flatnonzero(feature & (grade < 0.5))
    idx = torch.from_numpy(hidden)
    area = signed_area(verts[0][faces[idx]]).abs() / scale**2 if len(hidden) else \
        torch.zeros(0, dtype=verts.dtype)
    return idx, area


def revealed_area(texture: FaceTexture, verts: torch.Tensor, faces: torch.Tensor,
                  scale: torch.Tensor) -> torch.Tensor:
    """(B, V, 3) posed vertices -> (B,) head units^2 of hidden features shown past the stretch the
    warp accepts: what a pose would have to invent."""
    tris = faces[texture.hidden_feature]
    area = signed_area(verts[:, tris]) / scale[:, None] ** 2  # (B, F), facing the camera > 0
    # the mesh winds outwards and y points down, so a triangle facing the camera has negative area
    shown = (-area).clamp(min=0)
    return (shown - STRETCH[0] * texture.src_area.to(shown.dtype)).clamp(min=0).sum(1)


def _edges(v: torch.Tensor) -> torch.Tensor:
    """(..., T, 3, 2) -> (..., T, 2, 2), a triangle's edge vectors as columns."""
    return torch.stack([v[..., 1, :] - v[..., 0, :], v[..., 2, :] - v[..., 0, :]], -1)


def stretch_basis(src_xy: torch.Tensor, src_scale: torch.Tensor, faces: torch.Tensor
                  ) -> torch.Tensor:
    """(1, T, 2, 2) per triangle the inverse of the source projection's (1, V, >=2) edge matrix,
    per unit of the face's scale (1,): what ``largest_stretch`` needs of the photo, once per
    photo (``FaceTexture.stretch_basis``)."""
    e_src = _edges(src_xy[:, faces, :2]) / src_scale[:, None, None, None].to(src_xy.dtype)
    det = e_src[..., 0, 0] * e_src[..., 1, 1] - e_src[..., 0, 1] * e_src[..., 1, 0]
    det = torch.where(det < 0, det.clamp(max=-1e-6), det.clamp(min=1e-6))
    adj = torch.stack([torch.stack([e_src[..., 1, 1], -e_src[..., 0, 1]], -1),
                       torch.stack([-e_src[..., 1, 0], e_src[..., 0, 0]], -1)], -2)
    return adj / det[..., None, None]


def largest_stretch(basis: torch.Tensor, xy: torch.Tensor, scale: torch.Tensor,
                    faces: torch.Tensor) -> torch.Tensor:
    """(B, T) per triangle: the most the map from the source's projection (1, V, >=2) to the
    posed one (B, V, >=2) stretches it in any one direction (the larger singular value of the
    affine map, per unit of the face's scale). A triangle the photo shows edge-on and a pose turns
    to the camera is magnified along one direction only, which its area ratio hides. ``basis``:
    the source's ``stretch_basis``."""
    dtype = xy.dtype
    e_out = _edges(xy[:, faces, :2]) / scale[:, None, None, None].to(dtype)
    m = e_out @ basis.to(dtype)  # (B, T, 2, 2) source -> output
    q = (m * m).sum((-2, -1))
    d = m[..., 0, 0] * m[..., 1, 1] - m[..., 0, 1] * m[..., 1, 0]
    return ((q + (q * q - 4 * d * d).clamp(min=0).sqrt()) / 2).sqrt()


def magnified_area(model: LandmarkFaceModel, source: FaceCoefficients, verts: torch.Tensor,
                   scale: torch.Tensor, basis: torch.Tensor | None = None) -> torch.Tensor:
    """(B, V, 3) posed vertices -> (B,) head units^2 of the face (not the lips' gap, whose stretch
    is the mouth interior's business) facing the camera and magnified past MAGNIFY. ``basis``:
    the source's ``stretch_basis`` (computed from ``source`` when not given)."""
    faces = torch.from_numpy(model.topology.triangles)
    if basis is None:
        basis = stretch_basis(model.vertices(source), source.scale, faces)
    mag = largest_stretch(basis, verts, scale, faces)
    # the mesh winds outwards and y points down: a triangle facing the camera has negative area
    area = (-signed_area(verts[:, faces]) / scale[:, None].to(verts.dtype) ** 2).clamp(min=0)
    lips_gap = torch.from_numpy(model.topology.triangle_region == REGION["mouth"])
    return (area * smoothstep(mag, *MAGNIFY)).masked_fill(lips_gap, 0).sum(1)


def _turn_excess(texture: FaceTexture, model: LandmarkFaceModel, source: FaceCoefficients,
                 coeffs: FaceCoefficients, frac: torch.Tensor) -> torch.Tensor:
    """(B, n): what turning from the source's pose by each fraction (n,) of the way to the pose
    in ``coeffs`` reveals of hidden features and magnifies of the face, over their limits (the
    larger of the two; 1 is at the limit). ``frac[0]`` must be 0: an expression may reveal and
    magnify some by itself, and only the turn's share counts."""
    B, n = coeffs.rotation.shape[0], len(frac)
    R0 = source.rotation.expand(B, -1, -1)
    R = rotation_interpolate(R0[:, None].expand(B, n, 3, 3), coeffs.rotation[:, None]
                             .expand(B, n, 3, 3), frac[None].expand(B, n))  # (B, n, 3, 3)
    trial = FaceCoefficients(
        identity=coeffs.identity.repeat_interleave(n, 0),
        expression=coeffs.expression.repeat_interleave(n, 0),
        rotation=R.reshape(B * n, 3, 3), scale=coeffs.scale.repeat_interleave(n, 0),
        translation=coeffs.translation.repeat_interleave(n, 0))
    verts = model.vertices(trial)
    faces = torch.from_numpy(model.topology.triangles)
    shown = revealed_area(texture, verts, faces, trial.scale).reshape(B, n) / REVEAL_LIMIT
    magnified = magnified_area(model, source, verts, trial.scale, texture.stretch_basis
                               ).reshape(B, n) / MAGNIFY_LIMIT
    return torch.maximum(shown - shown[:, :1], magnified - magnified[:, :1])


def limit_turn(texture: FaceTexture, model: LandmarkFaceModel, source: FaceCoefficients,
               coeffs: FaceCoefficients) -> FaceCoefficients:
    """The coefficients with the head's rotation away from the source's cut back (geodesically, per
    face) to the largest fraction that reveals at most ``REVEAL_LIMIT`` of hidden features and
    magnifies at most ``MAGNIFY_LIMIT`` of the face past what the photo has detail for.
    Continuous in the driver's pose: the fraction is interpolated between the tried steps."""
    dtype = coeffs.rotation.dtype
    if bool((_turn_excess(texture, model, source, coeffs, torch.tensor([0.0, 1.0], dtype=dtype))
             <= 1).all()):
        return coeffs  # the whole turn is within the limits (most frames): no search
    B, n = coeffs.rotation.shape[0], TURN_STEPS + 1
    frac = torch.linspace(0, 1, n, dtype=dtype)
    shown = _turn_excess(texture, model, source, coeffs, frac)
    over = shown > 1
    over[:, 0] = False  # the source's own pose is always allowed
    first = torch.where(over.any(1), over.float().argmax(1), torch.full((B,), n - 1))
    # between the last allowed step and the first one over the limit, where the limit is crossed
    i0 = (first - 1).clamp(min=0)
    a0, a1 = shown[torch.arange(B), i0], shown[torch.arange(B), first]
    t = ((1 - a0) / (a1 - a0).clamp(min=1e-12)).clamp(0, 1)
    f = torch.where(over.any(1), (i0 + t) / (n - 1), torch.ones(B, dtype=frac.dtype))
    rot = rotation_interpolate(source.rotation.expand(B, -1, -1), coeffs.rotation, f)
    return coeffs.replace(rotation=rot)
