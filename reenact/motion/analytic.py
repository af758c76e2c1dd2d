"""The training-free analytic warp: exact dense correspondence from the shared mesh topology.

For every pixel of the re-enacted crop, the rasterizer gives a triangle and barycentrics; the same
barycentrics in the same triangle of the source mesh give the source pixel it shows (a backward flow).
Beyond the face the head-extension mesh carries hair and ears rigidly with the head while the crop
frame stays still. What the source cannot show is filled rather than smeared:

- background: pixels off the moved person show the photo's background through a flow of its own,
  still where the photo shows it, a stretch of it over a band the head uncovers
  (``reenact.motion.background``), the background plate where that finds none;
- face the photo does not show, or shows too small for the pose: the completed face texture
  (``reenact.motion.completion``), smoothed where the pose magnifies it far;
- the inside of a mouth that opens (mouth triangles stretched far beyond their source size): a
  synthetic mouth interior (dark cavity, upper and lower teeth) in mouth coordinates.
"""

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from reenact.face.base import FaceCoefficients, ModelMeshes, pose_vertices
from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.topology import (
    LOWER_LIP_INNER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    REGION,
    UPPER_LIP_INNER,
    landmark_topology,
)
from reenact.geometry import pixel_centres
from reenact.geometry.fastpath import nonzero, plain
from reenact.geometry.triangles import signed_area
from reenact.motion.background import background_layers
from reenact.motion.completion import (
    BLUR_STRETCH,
    FAR_SIDE,
    INWARD,
    STRETCH,
    coming_round,
    largest_stretch,
    limit_turn,
    side_looks,
    smoothstep,
)
from reenact.motion.eyes import (
    closed_colour,
    closed_weight,
    eye_area_of_triangle,
    eye_of_triangle,
    lash_lines,
    lid_strips,
    relit,
    rigid_iris,
    strip_of_triangle,
)
from reenact.motion.scene import EXTENSION_DEPTH, LUMA, RING_RADII, SourceScene, teeth_shown
from reenact.render import Fragments, interpolate_attributes, rasterize
from reenact.render.compiled import usable_kernels
from reenact.render.shaders import covered_pixels_at, resize_bilinear, sample_image

TEETH = (0.86, 0.83, 0.78)
TEETH_UPPER, TEETH_LOWER = 0.13, 0.07  # visible teeth heights, head units
# The photo's own mouth interior is shown up to 1.5x its area and the synthetic fill from 4x;
# with the driver's interior, from DRIVER_STRETCH[0] to all of it at DRIVER_STRETCH[1], or at
# any size where the photo's open mouth shows no teeth (scene.own_teeth).
DRIVER_STRETCH = (1.2, 2.0)
# A photo's own teeth squeezed into a much narrower mouth (a grin driven into a pursed "o") read
# as a block of teeth: where the driver's mouth shows no teeth, its dark interior takes over as
# the re-enacted mouth's width falls from DRIVER_NARROW[1] to DRIVER_NARROW[0] of the photo's
# (corner to corner, head units). Where the driver shows teeth, the photo keeps its own (the
# driver's, matched to the photo's light, came out grey beside them).
DRIVER_NARROW = (0.6, 0.7)


class _DrawnOnRead:
    """A dataclass field that may be given a function of no arguments instead of its value: the
    function is called on the first read and its value kept. The warp's crop image is such a
    field: a frame pasted into the photo never reads it (paste-back samples the photo through the
    layers), and a crop's is drawn by the thread that encodes it, not the one that warps the next
    frame. Written here: ``functools.cached_property`` cannot be given a value (``replace``)."""

    def __set_name__(self, owner, name: str) -> None:
        self.slot = "_" + name

    def __get__(self, obj, owner=None):
        if obj is None:  # the class's attribute: no default for the dataclass
            raise AttributeError(self.slot[1:])
        value = obj.__dict__[self.slot]
        if callable(value):
            value = obj.__dict__[self.slot] = value()
        return value

    def __set__(self, obj, value) -> None:
        obj.__dict__[self.slot] = value


@dataclass(frozen=True)
class WarpResult:
    """Crop-resolution warp layers (batch B). The output is
    ``(1 - overlay_weight) * sample(source, coords_src_from_out) + overlay_weight * overlay``."""

    # (B, 3, S, S) the composed output at crop resolution (drawn when first read, see
    # ``analytic_warp``'s ``draw_later``)
    image: torch.Tensor = _DrawnOnRead()  # type: ignore[assignment]
    coords_src_from_out: torch.Tensor  # (B, S, S, 2) source-crop pixels
    overlay: torch.Tensor  # (B, 3, S, S) plate / mouth interior
    overlay_weight: torch.Tensor  # (B, 1, S, S)
    fragments: Fragments  # of the face mesh, at crop resolution
    face_mask: torch.Tensor  # (B, S, S) bool, pixels covered by the face mesh
    verts: torch.Tensor  # (B, V, 3) re-enacted face vertices
    coeffs: FaceCoefficients  # the re-enacted coefficients C_r the warp realises
    # with --face-model flame|bfm: that model's own meshes (the mesh GCN's input when trained on
    # them, and the textured proxies); None with the landmark mesh
    model_meshes: ModelMeshes | None = None
    # (B, 1, S, S) a factor the output's face was shaded by (the driver's expression folds,
    # ``reenact.motion.detail``), already in ``image``; paste-back applies it too. None: none.
    shading: torch.Tensor | None = None

    def __getstate__(self) -> dict:  # a copy to pickle holds the crop drawn, not the function
        return {**self.__dict__, "_image": self.image}


def warp_frames(warp: WarpResult) -> list[WarpResult]:
    """A batch's warp result -> one per frame (views of its tensors; the crop images are drawn
    for the whole batch when the first is read). Without ``model_meshes`` or ``shading``."""
    B = warp.overlay.shape[0]
    if B == 1:
        return [warp]
    f = warp.fragments
    return [WarpResult(image=functools.partial(_frame_image, warp, i),
                       coords_src_from_out=warp.coords_src_from_out[i:i + 1],
                       overlay=warp.overlay[i:i + 1], overlay_weight=warp.overlay_weight[i:i + 1],
                       fragments=Fragments(f.pix_to_face[i:i + 1], f.bary[i:i + 1],
                                           f.zbuf[i:i + 1]),
                       face_mask=warp.face_mask[i:i + 1], verts=warp.verts[i:i + 1],
                       coeffs=warp.coeffs.index(i)) for i in range(B)]


def _frame_image(warp: WarpResult, i: int) -> torch.Tensor:
    return warp.image[i:i + 1]


def warp_vertices(scene: SourceScene, model: LandmarkFaceModel, coeffs: FaceCoefficients
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Re-enacted positions of every warp vertex: (B, V + K + R + Nb, 3), and the face's (B, V, 3)."""
    verts = model.vertices(coeffs)  # (B, V, 3)
    B = verts.shape[0]
    rings_r = pose_vertices(scene.rings_head[None].expand(B, -1, -1), coeffs)
    rings_s = pose_vertices(scene.rings_head[None], scene.coeffs)
    shift = (coeffs.translation - scene.coeffs.translation)[:, None]  # body follows translation
    body = rings_s + shift
    w = scene.ring_rigidity[None, :, None]
    m = scene.ring_mobility[None, :, None]
    rings = m * (w * rings_r + (1 - w) * body) + (1 - m) * rings_s
    rings = torch.cat([rings[..., :2], rings_r[..., 2:] + EXTENSION_DEPTH], -1)
    oval = verts[:, scene.oval].clone()
    oval[..., 2] += EXTENSION_DEPTH
    border = scene.border[None].expand(B, -1, -1).clone()
    border[..., 2] = 4 * EXTENSION_DEPTH
    return torch.cat([verts, oval, rings.to(verts.dtype), border.to(verts.dtype)], 1), verts


def _closed_eyes(model: LandmarkFaceModel, scene: SourceScene, coeffs: FaceCoefficients,
                 at: tuple[torch.Tensor, ...], strips: tuple[torch.Tensor, torch.Tensor],
                 eyes: tuple[torch.Tensor, torch.Tensor], photo: torch.Tensor,
                 coords: torch.Tensor, overlay: torch.Tensor, weight: torch.Tensor,
                 points: torch.Tensor) -> None:
    """Draw lid skin over the eye openings the pose closes and over the lid strips above them,
    and the lashes where the lids meet (``reenact.motion.eyes``), in place on the overlay and its
    weight. ``at``: (b, y, x) of the face's pixels; ``strips``, ``eyes``: which of them lie in a
    lid strip and in an eye opening, (n,) ascending, and that strip's or eye's side (0, 1), (n,);
    ``photo`` (1, 3, S, S) warped by ``coords`` (B, S, S, 2) is what the strips show;
    ``points``: (B, V, 2) the re-enacted vertices."""
    closed = closed_weight(model, scene.coeffs, coeffs)  # (B, 2)
    if not (closed > 1e-3).any():
        return
    colour = closed_colour(scene.lid_color.float(), scene.cheek_color.float())  # (2, 3)
    sel, strip = strips
    if len(sel):
        w = lid_strips(points, closed, tuple(a[sel] for a in at), strip)
        keep = torch.nonzero(w > 1e-3)[:, 0]
        sel, w, e = sel[keep], w[keep], strip[keep]
        b, y, x = at[0][sel], at[1][sel], at[2][sel]
        # the photo's strip as warped there, its mean brought to the lid colour: the shading
        # and the lashes' shadow stay, the make-up's or the brow ridge's darkness goes
        shown = sample_image(photo, coords[b, y, x][None, None])[0, :, 0].T  # (n, 3)
        _blend(overlay, weight, b, y, x, w[:, None], relit(shown, w, b * 2 + e, colour[e]))
    sel, which = eyes
    shut = torch.nonzero(closed[at[0][sel], which] > 0)[:, 0]
    if len(shut):
        sel, e = sel[shut], which[shut]
        b, y, x = at[0][sel], at[1][sel], at[2][sel]
        _blend(overlay, weight, b, y, x, closed[b, e][:, None], colour[e])
    for b, y, x, w, e in lash_lines(points, closed, overlay.shape[-1]):
        _blend(overlay, weight, torch.full_like(y, b), y, x, w[:, None],
               scene.lash_color.float()[e])


def _blend(overlay: torch.Tensor, weight: torch.Tensor, b, y, x, w: torch.Tensor,
           colour: torch.Tensor) -> None:
    """Lay ``colour`` over the overlay at (b, y, x) with opacity ``w`` (N, 1), in place: it
    covers both what the overlay showed there and the warped photo below it."""
    old_w = weight[b, 0, y, x][:, None]
    new_w = old_w + (1 - old_w) * w
    overlay[b, :, y, x] = (old_w * (1 - w) * overlay[b, :, y, x] + w * colour) / new_w.clamp(
        min=1e-6)
    weight[b, 0, y, x] = new_w[:, 0]


def _with_driver_mouth(colour: torch.Tensor, uv: torch.Tensor, b: torch.Tensor,
                       texture: torch.Tensor, use: torch.Tensor) -> torch.Tensor:
    """(N, 3) synthetic mouth colours of N pixels at mouth coordinates ``uv`` (N, 2) of batch
    items ``b`` -> blended with the driver's mouth ``texture`` (B, 3, h, w) by ``use`` (B,)."""
    h, w = texture.shape[-2:]
    at = uv * uv.new_tensor([w, h])
    out = colour.clone()
    for i in torch.unique(b).tolist():
        sel = torch.nonzero(b == i)[:, 0]
        if float(use[i]) <= 0:
            continue
        drv = sample_image(texture[i:i + 1].float(), at[sel][None, None].float())[0, :, 0].T
        out[sel] = torch.lerp(colour[sel], drv, float(use[i]))
    return out


def _mouth_interior(uv: torch.Tensor, lip_color: torch.Tensor, opening: torch.Tensor,
                    teeth_visible: torch.Tensor) -> torch.Tensor:
    """Mouth coordinates (N, 2) of N pixels -> (N, 3) colour: upper teeth under the upper lip,
    lower teeth above the lower lip, a dark cavity between, darker towards the corners.

    ``opening`` (N,) is the lip gap in head units; teeth keep a fixed height in those units (about
    0.13 upper, 0.07 lower), so a slight opening shows mostly teeth and a wide one a cavity.
    ``teeth_visible`` (N,) in [0, 1] scales them: lips stretched wide (a smile, speech) bare the
    teeth, lips pursed into an "O" cover them.
    """
    u, v = uv[:, 0], uv[:, 1]
    gap = opening.clamp(min=1e-3)
    upper_edge = (TEETH_UPPER / gap).clamp(max=0.65)
    lower_edge = 1 - (TEETH_LOWER / gap).clamp(max=0.3)
    corner = (1 - (2 * u - 1).abs().clamp(max=1) ** 2).clamp(min=0)  # 1 mid, 0 at corners
    cavity = lip_color[None] * 0.22 * (0.5 + 0.5 * (2 * v - 1).abs())[:, None]
    upper = (torch.sigmoid((upper_edge - v) * 40) * teeth_visible)[:, None]
    lower = (torch.sigmoid((v - lower_edge) * 40) * 0.8 * teeth_visible)[:, None]
    teeth = torch.tensor(TEETH, dtype=uv.dtype)
    shade = ((0.35 + 0.65 * corner) * (1 - 0.25 * v))[:, None]
    return cavity * (1 - upper - lower).clamp(min=0) + (upper + lower) * teeth * shade


OUTLINE_SKIP = 0.5  # head units: the most the band past a revealed outline is skipped
OUTLINE_MARGIN = 0.08  # head units skipped past where the photo's face mesh ends (see below)
OUTLINE_RAMP = 0.03  # head units of outward move over which that skip comes in
BEHIND_PX = 2.0  # an oval vertex this far inside the photo's face mesh lies behind it
# The band is skipped only on the photo's far side, the side its face is turned towards (where
# the far cheek's edge shows just beyond the nose), and only on photos turned well away: the
# outline's outward normal dotted with the face's forward direction along its own left-right axis
# (the sine of the turn on that side), from none at FAR_SIDE[0] (about 15 degrees) to all at
# FAR_SIDE[1] (about 27). Less turned photos' outlines are close to their silhouettes.
# The extension's rings move out with the skip where it would pass them; each keeps at least
# this share of its band (in the photo, along the outline's normal) beyond the one inside it.
RING_KEEP = 0.3


def _outline_sources(scene: SourceScene, verts: torch.Tensor, coeffs: FaceCoefficients
                     ) -> torch.Tensor:
    """(B, N, 2) source positions of every warp vertex. Where the pose moves the face's outline
    outwards (the far side of a turned face coming round), the extension mesh starts as much
    further out in the photo, up to OUTLINE_SKIP: the landmark outline of a turned face lies
    inside its true silhouette, and the band between them (the cheek's edge, an eye corner) would
    otherwise be drawn a second time beside the turned face. Only on the side the photo's face
    is turned towards (FAR_SIDE); unmoved, nothing changes."""
    B, K = verts.shape[0], len(scene.oval)
    V = verts.shape[1]
    normal = scene.outline_normal.to(verts.dtype)  # (K, 2)
    out = verts[:, scene.oval, :2]
    src_oval = scene.verts[:, scene.oval, :2].to(verts.dtype)
    reach_out = ((out - out.mean(1, keepdim=True)) * normal).sum(-1) / coeffs.scale[:, None]
    reach_src = ((src_oval - src_oval.mean(1, keepdim=True)) * normal).sum(-1) / \
        scene.coeffs.scale[:, None].to(verts.dtype)
    move = reach_out - reach_src
    # where the photo's oval lies behind the face (a turned face's far side, behind its nose and
    # lips), the band up to where the face mesh ends and a little past it (the profile beyond
    # the mesh) is face: skip it as soon as the outline comes out
    inside = (scene.oval_inside.to(verts.dtype) / scene.coeffs.scale.to(verts.dtype) +
              OUTLINE_MARGIN) * (scene.oval_inside > BEHIND_PX).to(verts.dtype)
    push = torch.maximum(2 * move, inside[None] * smoothstep(move, 0.0, OUTLINE_RAMP))
    push = torch.minimum(push.clamp(min=0), torch.maximum(inside, torch.full_like(
        inside, OUTLINE_SKIP))[None]) * scene.coeffs.scale.to(verts.dtype)
    # the head's forward direction (-z) in the image, its part along the head's own left-right
    # axis: a face looking up or down hides no cheek behind its nose
    looks = side_looks(scene.coeffs.rotation)[0].to(verts.dtype)
    push = push * smoothstep(normal @ looks, *FAR_SIDE)[None]
    src = scene.src_points.expand(B, -1, -1).clone()
    # The rings move out ahead of the oval's copy where it would pass them (on a turned photo's
    # far side they lie a few pixels out): past them the extension would fold over itself and
    # draw what lies beyond a second time, detached beside the face (RING_KEEP).
    n = normal.to(src.dtype)
    at = [((scene.src_points[:, V + m * K:V + (m + 1) * K] - scene.src_points[:, V:V + K]) * n)
          .sum(-1) for m in range(1 + len(RING_RADII))]  # (1, K) each, along n from the oval

    def reaches(first):  # where each ring starts, the oval's copy starting at ``first``
        out = [first]
        for m in range(1, len(at)):
            out.append(torch.maximum(at[m], out[-1] + RING_KEEP * (at[m] - at[m - 1]).clamp(min=0)))
        return out

    # relative to the unmoved mesh's, so that an unmoved pose changes nothing
    for m, (moved, still) in enumerate(zip(reaches(push.to(src.dtype)),
                                            reaches(torch.zeros_like(at[0])))):
        src[:, V + m * K:V + (m + 1) * K] += (moved - still)[..., None] * n
    return src


EXTENSION_SCALE = 4  # the head-extension flow is piecewise affine and smooth: rasterize it at 1/4


def _extension_coords(scene: SourceScene, points: torch.Tensor, S: int,
                      src_points: torch.Tensor) -> torch.Tensor:
    """Backward flow of the face + extension mesh at 1/EXTENSION_SCALE resolution, upsampled
    bilinearly to (B, S, S, 2). Only used outside the face, whose flow is rasterized at full size.
    The displacement (not the absolute position) is upsampled, so the pinned border stays exact.
    ``src_points``: (B, N, 2) source positions of the warp vertices (see ``_outline_sources``)."""
    low = max(16, S // EXTENSION_SCALE)
    k = low / S
    faces_all = torch.cat([scene.faces, scene.ext_faces])
    pts = points.clone()
    pts[..., :2] *= k
    frags = rasterize(pts, faces_all, (low, low))
    coords = interpolate_attributes(frags, faces_all, src_points.to(points.dtype))
    here = pixel_centres(low, points.dtype) / k  # low-res pixel centres in crop pixels
    shift = torch.where(frags.mask[..., None], coords - here, torch.zeros_like(coords))
    up = resize_bilinear(shift.permute(0, 3, 1, 2), S)
    # a (B, S, S, 2) array: its pixels are written by flat index after. Resized channels-last
    # (OpenCV's), the centres are added in place; else the sum takes the centres' layout
    up = up.permute(0, 2, 3, 1)
    if up.is_contiguous():
        return up.add_(pixel_centres(S, points.dtype))
    return pixel_centres(S, points.dtype) + up


RIM_PX = 3.0  # the face's rim that fades into the extension, pixels at 256 (scaled with size)


def _rim_pixels(mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(B, S, S) bool face mask -> the face's rim: the pixels (b, y, x) where the weight of the
    face's own colour is below 1, and that weight (n,): 1 from RIM_PX inside the face's outline,
    falling smoothly to 0 at it (OpenCV's distance transform, over the face's box: its weights
    to an ulp of the whole crop's). Only the pixels nearer the outline than RIM_PX get the
    smoothstep (beyond it the weight is 1), not the whole crop."""
    px = RIM_PX * mask.shape[-1] / 256
    found = []
    for b, m in enumerate(mask.numpy()):
        rows = np.flatnonzero(m.any(1))
        if not len(rows):
            continue
        # only the face's bounding box and a pixel round it: the same distances, as a path to a
        # zero pixel farther out crosses that ring of zeros first (a quarter of the pixels)
        cols = np.flatnonzero(m.any(0))
        y0, x0 = max(rows[0] - 1, 0), max(cols[0] - 1, 0)
        box = m[y0:rows[-1] + 2, x0:cols[-1] + 2]
        dist = cv2.distanceTransform(box.astype(np.uint8), cv2.DIST_L2, 3)
        y, x = np.nonzero(box & (dist < px))
        found.append((np.full(len(y), b), y + y0, x + x0, dist[y, x]))
    if not found:
        return (*(torch.zeros(0, dtype=torch.long) for _ in range(3)), torch.zeros(0))
    rb, ry, rx, dist = (torch.from_numpy(np.concatenate(a)) for a in zip(*found, strict=True))
    weight = smoothstep(dist, 0.0, px).float()
    fading = nonzero(weight < 1)[0]  # rounding may bring one just below px to 1
    return rb[fading], ry[fading], rx[fading], weight[fading]


def _teeth_visibility(model: LandmarkFaceModel, scene: SourceScene, coeffs: FaceCoefficients
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per face: the lip gap (head units), how much teeth show (lips stretched vs pursed) and
    the mouth's width over the photo's (corner to corner)."""
    head = model.head_vertices(coeffs.identity, coeffs.expression)
    head_src = model.head_vertices(scene.coeffs.identity, scene.coeffs.expression)
    opening = (head[:, LOWER_LIP_INNER] - head[:, UPPER_LIP_INNER]).norm(dim=-1)
    width = (head[:, MOUTH_LEFT] - head[:, MOUTH_RIGHT]).norm(dim=-1)
    width_src = (head_src[:, MOUTH_LEFT] - head_src[:, MOUTH_RIGHT]).norm(dim=-1)
    ratio = width / width_src
    # Lips pulled narrower than the source's relaxed width (minus a little slack) cover teeth.
    teeth = ((ratio - 0.92) / 0.1).clamp(0, 1)
    return opening.float(), teeth.float(), ratio.float()


def _narrowed(width_ratio: torch.Tensor) -> torch.Tensor:
    """(B,) mouth widths over the photo's -> 1 where much narrower (DRIVER_NARROW)."""
    return 1 - smoothstep(width_ratio, *DRIVER_NARROW)


def _driver_teeth(scene: SourceScene, texture: torch.Tensor) -> torch.Tensor:
    """(B,) how much the driver's mouth interior (B, 3, h, w), matched to the photo's light,
    shows teeth against the photo's lips, by the rule of the photo's own (``teeth_shown``)."""
    luma = torch.einsum("bchw,c->bhw", texture.float(), LUMA)
    return teeth_shown(luma.flatten(1), float(scene.lip_color.float() @ LUMA))


@functools.lru_cache(maxsize=1)
def _vertex_mean() -> torch.Tensor:
    """(T, V) the landmark mesh's triangle -> vertex averaging matrix over the triangles around
    each vertex, leaving out the lip gap's (its stretch is the mouth interior's business, and
    would unweight the lips)."""
    topo = landmark_topology()
    faces = torch.from_numpy(topo.triangles)
    counted = torch.from_numpy(topo.triangle_region != REGION["mouth"]).double()
    M = torch.zeros(len(faces), topo.num_vertices, dtype=torch.float64)
    M[torch.arange(len(faces))[:, None].expand(-1, 3), faces] = counted[:, None]
    return M / M.sum(0).clamp(min=1)


def _own_weight(scene: SourceScene, verts: torch.Tensor, coeffs: FaceCoefficients
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, V) per vertex: 1 where the photo's own pixels may be shown, falling to 0 where the pose
    stretches the surrounding triangles past what a photo's texture stands (output area over
    source area, both per unit of the face's scale, from STRETCH[0] to STRETCH[1]); and (B, V)
    which of the sharp and smoothed textures to show, 0 (sharp) to 2 (the smoothest), by how far
    the pose magnifies the triangles in their most stretched direction (BLUR_STRETCH)."""
    area = signed_area(verts[:, scene.faces]).abs() / coeffs.scale[:, None].to(verts.dtype) ** 2
    src = scene.src_tri_area.to(verts.dtype) / scene.coeffs.scale.to(verts.dtype) ** 2
    stretch = area / src.clamp(min=1e-6)[None]  # (B, T)
    mean = _vertex_mean().to(stretch.dtype)
    mag = largest_stretch(scene.texture.stretch_basis, verts, coeffs.scale, scene.faces) @ mean
    blur = smoothstep(mag, *BLUR_STRETCH[:2]) + smoothstep(mag, *BLUR_STRETCH[1:])
    return (1 - smoothstep(stretch @ mean, *STRETCH)).float(), blur.float()


def _inward(mask: torch.Tensor, scale: torch.Tensor, at: tuple[torch.Tensor, ...],
            src_depth: torch.Tensor) -> torch.Tensor:
    """How far pixels ``at`` (b, y, x) of the output face moved into it: their distance to the
    output face's outline minus their texel's to the photo's (head units), smoothstepped over
    INWARD. 0 for an unmoved or only shifted face."""
    b = at[0]
    depth = torch.zeros(len(b))
    for i in torch.unique(b).tolist():  # one distance transform per frame with pixels asked for
        dist = cv2.distanceTransform(mask[i].numpy().astype(np.uint8), cv2.DIST_L2, 3)
        sel = b == i
        depth[sel] = torch.from_numpy(dist)[at[1][sel], at[2][sel]] / float(scale[i])
    return smoothstep(depth - src_depth, *INWARD)


def analytic_warp(scene: SourceScene, model: LandmarkFaceModel, coeffs: FaceCoefficients,
                  mouth_fill: bool = True, turn_limit: bool = True,
                  driver_mouth: tuple[torch.Tensor, torch.Tensor] | None = None,
                  draw_later: bool = False) -> WarpResult:
    """Warp the source crop to the re-enacted coefficients (batch B), at crop resolution.

    With ``turn_limit`` the head turns away from the source's pose only as far as it reveals no
    feature the photo hides (``reenact.motion.completion.limit_turn``); the result's ``coeffs``
    are the pose it shows. ``driver_mouth``: the driver's mouth interior laid out in mouth
    coordinates, (B, 3, h, w), and (B,) how much of it to use over the synthetic one
    (``reenact.motion.mouth``). ``draw_later``: the result's crop ``image`` is drawn when first
    read (or pickled), not here."""
    S = scene.size
    if turn_limit:
        coeffs = limit_turn(scene.texture, model, scene.coeffs, coeffs)
    points, verts = warp_vertices(scene, model, coeffs)
    points = points.float()
    B = points.shape[0]
    V = model.num_vertices
    frags = rasterize(points[:, :V], scene.faces, (S, S))
    # Face pixels: one gather for every per-vertex attribute (source xy, texel uv, own weight).
    src = scene.src_points[:, :V].float()
    own, blur = _own_weight(scene, verts, coeffs)  # (B, V) each
    attrs = torch.cat([src.expand(B, -1, -1), scene.texture.verts_uv[None].expand(B, -1, -1),
                       own[..., None],
                       scene.mouth_uv[None].float().expand(B, -1, -1), blur[..., None]], -1)
    # (N,) flat indices, their (b, y, x), (N, 8) values
    pix, (b, y, x), vals = covered_pixels_at(frags, scene.faces, attrs)
    tri = frags.pix_to_face.view(-1).index_select(0, pix)  # (N,)
    outline = _outline_sources(scene, verts, coeffs)
    coords = _extension_coords(scene, points, S, outline)  # (B, S, S, 2); the face goes over it
    # the face's rim: where the face's and the extension's flows part (a turn), a seam would show
    mask = frags.mask  # (B, S, S) the face's pixels (a pass over the maps: made once here)
    rb, ry, rx, rim = _rim_pixels(mask)  # falling to 0 at the face's outline
    rim_coords = coords[rb, ry, rx]  # (n, 2) the extension's flow there
    coords.view(-1, 2).index_copy_(0, pix, vals[:, 0:2])
    # the few pixels in an eye or a lid strip, picked by one pass over the face's
    around = nonzero(eye_area_of_triangle()[tri])[0]
    which, strip = eye_of_triangle()[tri[around]], strip_of_triangle()[tri[around]]
    in_eye, in_strip = nonzero(which >= 0)[0], nonzero(strip >= 0)[0]
    eye, which = around[in_eye], which[in_eye]
    # the iris moves as a whole with the driver's gaze, not stretched along its fans
    if len(eye):
        at = (b[eye], y[eye], x[eye])
        coords[at] = rigid_iris(vals[eye, 0:2], at, which, scene.src_points[:, :V],
                                points[:, :V, :2], scene.eye_openings)
    # Texels the photo does not show well, or shows squeezed and the pose stretches, come from
    # the completed texture instead of the photo (reenact.motion.completion).
    tex = scene.texture
    # pixels whose triangle the photo does not all see, or that the pose stretches; elsewhere the
    # photo's own pixels, with the overlay weight 0 that the face has below
    doubtful = ~tex.fully_seen | ~tex.sure  # (T,): per triangle, then looked up per pixel
    need = nonzero(doubtful[tri] | (vals[:, 4] < 0.999))[0]
    fill = torch.zeros(len(tri))
    fill_rgb = torch.zeros(len(tri), 3)
    if len(need):
        uv = vals[need][None, None, :, 2:4]
        texels = sample_image(torch.cat([tex.texture, tex.seen, tex.rim], 1), uv)[0, :, 0].T
        rgb = texels[:, :3]  # (n, 6): rgb, seen, doubt, distance to the photo's outline
        # magnified far past the photo's detail: the smoothed textures, not streaks
        level = vals[need, 7]
        far = torch.nonzero(level > 1e-3)[:, 0]
        if len(far):
            smooth = sample_image(tex.smooth, uv[:, :, far])[0, :, 0].T  # (m, 6)
            lv = level[far, None]
            rgb[far] = torch.lerp(torch.lerp(rgb[far], smooth[:, :3], lv.clamp(max=1)),
                                  smooth[:, 3:], (lv - 1).clamp(min=0))
        fill_rgb[need] = rgb
        # the photo's background under the mesh's rim, carried into the face by a turn
        own_seen = texels[:, 3] * vals[need, 4]
        doubt = torch.nonzero(texels[:, 4] > 1e-3)[:, 0]
        if len(doubt):
            at = need[doubt]
            round_ = coming_round(scene.coeffs.rotation[0], coeffs.rotation)[b[at]]
            own_seen[doubt] *= 1 - texels[doubt, 4] * torch.maximum(round_, _inward(
                mask, coeffs.scale, (b[at], y[at], x[at]), texels[doubt, 5]))
        fill[need] = 1 - own_seen
    # (B, 1, S, S) what the photo carries with the head, moved; the face covers
    fast = usable_kernels() if plain(coords) and coords.dtype == scene.still.source.dtype == \
        torch.float32 else None
    if fast is not None:  # the same values, not sampled under the face (compiled)
        person = torch.from_numpy(fast.sample_cover(scene.still.source[0].numpy(),
                                                    coords.numpy(), mask.numpy()))
    else:
        person = sample_image(scene.still.source[:, 3:], coords)
        person.view(-1).index_fill_(0, pix, 1.0)
    # off the person: the background's own flow, the plate only where that finds none
    coords, overlay, weight = background_layers(scene.still, coords, person, overwrite=True)
    if len(need):
        bn, yn, xn = b[need], y[need], x[need]
        overlay[bn, :, yn, xn] = fill_rgb[need]
        weight[bn, 0, yn, xn] = fill[need]
    # the mouth's pixels, by one index (each boolean mask below would find them again)
    region = torch.from_numpy(model.topology.triangle_region)
    mouth = nonzero((region == REGION["mouth"])[tri])[0] if mouth_fill else tri[:0]
    if len(mouth):
        bm, ym, xm, tm = b[mouth], y[mouth], x[mouth], tri[mouth]
        area_r = signed_area(points[bm[:, None], scene.faces[tm]]).abs()  # (Nm,)
        stretch = area_r / scene.src_tri_area[tm].float().clamp(min=0.5)
        w_m = ((stretch - 1.5) / 2.5).clamp(0, 1)  # the source shows too little of this mouth
        opening, teeth, width_ratio = _teeth_visibility(model, scene, coeffs)
        at_mouth = vals[mouth, 5:7]
        colour = _mouth_interior(at_mouth, scene.lip_color.float(), opening[bm], teeth[bm])
        if driver_mouth is not None:
            colour = _with_driver_mouth(colour, at_mouth, bm, *driver_mouth)
            # teeth do not stretch: with the driver's real interior at hand, a mouth opened
            # past the photo's takes it sooner (DRIVER_STRETCH) than the synthetic one
            soon = ((stretch - DRIVER_STRETCH[0]) / (DRIVER_STRETCH[1] - DRIVER_STRETCH[0]))
            narrowed = _narrowed(width_ratio) * (1 - _driver_teeth(scene, driver_mouth[0]))
            soon = torch.maximum(soon.clamp(0, 1), narrowed[bm])
            # and a photo whose open mouth shows no teeth (a dark inside) takes it at any size
            soon = torch.lerp(soon, torch.ones_like(soon), 1 - scene.own_teeth)
            w_m = torch.lerp(w_m, soon, driver_mouth[1].float()[bm])
        weight[bm, 0, ym, xm] = torch.maximum(w_m, fill[mouth])
        overlay[bm, :, ym, xm] = torch.lerp(fill_rgb[mouth], colour, (w_m / weight[bm, 0, ym, xm]
                                                                      .clamp(min=1e-6))[:, None])
    _closed_eyes(model, scene, coeffs, (b, y, x), (around[in_strip], strip[in_strip]),
                 (eye, which), scene.image32, coords, overlay, weight, points[:, :V, :2])
    rim_pixels = (rb, ry, rx, rim_coords, rim)
    image = functools.partial(_crop_image, scene, coords, overlay, weight, rim_pixels)
    return WarpResult(image=image if draw_later else image(), coords_src_from_out=coords,
                      overlay=overlay, overlay_weight=weight, fragments=frags,
                      face_mask=mask, verts=verts, coeffs=coeffs)


def _crop_image(scene: SourceScene, coords: torch.Tensor, overlay: torch.Tensor,
                weight: torch.Tensor, rim_pixels: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """(B, 3, S, S) the warp's crop: the photo's crop sampled through ``coords``, the overlay
    over it, and at ``rim_pixels`` (b, y, x, the extension's flow there (n, 2), the rim's weight
    (n,)) faded into what the extension would show there."""
    fast = None
    if plain(coords, overlay, weight) and coords.dtype == overlay.dtype == weight.dtype == \
            scene.image32.dtype == torch.float32:
        fast = usable_kernels()
    if fast is not None:  # the same pixels in one compiled pass (reenact.render.compiled)
        image = torch.from_numpy(fast.sample_over(scene.image32[0].numpy(), coords.numpy(),
                                                  overlay.numpy(), weight.numpy()))
    else:
        image = torch.lerp(sample_image(scene.image32, coords), overlay, weight)
    rb, ry, rx, rim_coords, rim = rim_pixels
    if len(rb):
        at = rim_coords[None, None].float()  # (1, 1, n, 2)
        ext = sample_image(scene.image32, at)[0, :, 0].T  # (n, 3)
        carried = sample_image(scene.still.source[:, 3:], at)[0, 0, 0]  # (n,)
        ext = torch.lerp(scene.still.plate[0, :, ry, rx].T, ext, carried[:, None])
        image[rb, :, ry, rx] = torch.lerp(ext, image[rb, :, ry, rx], rim[:, None])
    return image
