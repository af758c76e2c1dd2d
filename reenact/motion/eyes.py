"""Closed eyes: when the driver blinks or shuts its eyes, the re-enacted eye shows lid skin.

The warp squashes the eye opening (the fans from each eye's contour to its iris centre) into a
thin band as the lids meet, and drew the photo's eyeball squashed into it: a slit of white and
iris between the lids, which reads as a squint, not a closed eye. Where the re-enacted lids are
much closer than the photo's, the opening is drawn as a closed lid instead, and the lashes
where the lids meet: a soft dark line, thickest in the middle, in the colour of the photo's own
upper lash line. Without it the two lids' edges met in a hairline, jagged where the squashed
triangles alias, and a shut eye read as a half-open one.

The lid's colour is predicted from the photo's open eye: real blinks in the corpus (38 clips,
76 eyes; docs/expressions.md) show a closed lid about as bright as CLOSED_MIX of the skin just
above the open eye's lid and of the cheek below it. The strip of upper lid between the lashes
and the crease, mostly hidden (and often made up, or in the brow ridge's shadow) while the eye
is open, is stretched two to three times over a closing eye by the mesh's triangles there; it is
drawn in that lid colour too, fading out towards the ring above the crease.
"""

import functools

import cv2
import numpy as np
import torch

from reenact.face.expression import head_lid_gaps
from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.topology import (
    EYE_CREASES,
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    LEFT_IRIS_CENTER,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    RIGHT_IRIS_CENTER,
    landmark_topology,
)
from reenact.motion.completion import smoothstep
from reenact.render import rasterize
from reenact.render.compiled import usable_kernels

# The re-enacted lid gap over the photo's: the eyeball shows above CLOSED[1], lid skin below
# CLOSED[0]; photos whose own eyes are shut (a gap under PHOTO_OPEN head units) keep theirs.
CLOSED = (0.2, 0.45)
PHOTO_OPEN = (0.02, 0.04)
LID_ABOVE = 0.05  # head units above the upper lid where its skin colour is taken
# (iris centre, its ring, outer and inner eye corner) of the right and left eye
IRISES = ((RIGHT_IRIS_CENTER, (469, 470, 471, 472), RIGHT_EYE_OUTER, RIGHT_EYE_INNER),
          (LEFT_IRIS_CENTER, (474, 475, 476, 477), LEFT_EYE_OUTER, LEFT_EYE_INNER))
IRIS_RIGID = (1.3, 2.0)  # iris radii from its centre: moved rigidly inside, by the fans outside
OPENING_ERODE = 1  # px the photo's eye openings are shrunk by, so the lash line counts as lid
# A closed lid's colour: CLOSED_MIX[0] of the cheek's plus CLOSED_MIX[1] of the skin LID_ABOVE
# over the open lid (least squares over the corpus' blinks; the old rule, 0.7 of the skin above,
# was 2-3x the error on held-out people). CHEEKS: mediapipe points on each cheek below the eye.
CLOSED_MIX = (0.29, 0.69)
CHEEKS = ((117, 118, 119, 120, 101, 100), (346, 347, 348, 349, 330, 329))
# Each eye's upper and lower lid, corner to corner, in matching order (mediapipe's 478 points).
LIDS = (((33, 246, 161, 160, 159, 158, 157, 173, 133), (33, 7, 163, 144, 145, 153, 154, 155, 133)),
        ((263, 466, 388, 387, 386, 385, 384, 398, 362),
         (263, 249, 390, 373, 374, 380, 381, 382, 362)))
# Each eye's two rings above its upper lid: the crease (the lid strip's upper edge) and the one
# above it, where the drawn lid has faded out (LID_FADE: from that far up, upper lid 0, ring 1).
ABOVE_LIDS = ((EYE_CREASES[0], (113, 225, 224, 223, 222, 221, 189, 244)),
              (EYE_CREASES[1], (342, 445, 444, 443, 442, 441, 413, 464)))
LID_FADE = (0.55, 1.0)
RELIT_DETAIL = 0.5  # how much of the warped strip's own variation the drawn lid keeps
# The lash line of a shut eye: its half width in the middle, in eye widths (corner to corner;
# about 2.5 px for a 30 px eye, as the corpus' closed eyes show), LASH_TAPER of it at the corners,
# and its opacity on a fully shut eye. The photo's lash colour: the darkest LASH_DARKEST of the
# pixels along its upper lid.
LASH_WIDTH, LASH_TAPER, LASH_OPACITY, LASH_DARKEST = 0.085, 0.35, 0.85, 0.25


@functools.cache
def eye_of_triangle() -> torch.Tensor:
    """(T,) of the landmark mesh: 0 for the right eye's fan triangles, 1 for the left's, -1
    elsewhere."""
    tris = landmark_topology().triangles
    out = np.full(len(tris), -1)
    out[(tris == RIGHT_IRIS_CENTER).any(1)] = 0
    out[(tris == LEFT_IRIS_CENTER).any(1)] = 1
    return torch.from_numpy(out)


@functools.cache
def strip_of_triangle() -> torch.Tensor:
    """(T,) of the landmark mesh: 0 for the triangles between the right eye's upper lid and the
    second ring above it, 1 for the left's, -1 elsewhere."""
    tris = landmark_topology().triangles
    out = np.full(len(tris), -1)
    for e, ((upper, _), rings) in enumerate(zip(LIDS, ABOVE_LIDS, strict=True)):
        band = set(upper) | set(rings[0]) | set(rings[1])
        out[np.isin(tris, list(band)).all(1)] = e
    return torch.from_numpy(out)


@functools.cache
def eye_area_of_triangle() -> torch.Tensor:
    """(T,) bool of the landmark mesh: an eye's fan triangle or a lid strip's."""
    return (eye_of_triangle() >= 0) | (strip_of_triangle() >= 0)


def cheek_colours(image: torch.Tensor, verts: torch.Tensor) -> torch.Tensor:
    """(1, 3, S, S) photo, (1, V, 3) its posed vertices -> (2, 3) the median colour of the 3x3
    pixels round each cheek's CHEEKS points (a median: a glasses rim or a shadow may cross one)."""
    S = image.shape[-1]
    out = []
    for points in CHEEKS:
        ij = np.round(verts[0, list(points), :2].double().numpy() - 0.5).astype(int)
        near = (ij[:, None] + np.stack(np.meshgrid([-1, 0, 1], [-1, 0, 1]), -1).reshape(1, 9, 2)
                ).reshape(-1, 2).clip(0, S - 1)
        out.append(image[0, :, near[:, 1], near[:, 0]].double().median(1).values)
    return torch.stack(out)


def lid_colours(image: torch.Tensor, verts: torch.Tensor, model: LandmarkFaceModel,
                scale: float) -> torch.Tensor:
    """(1, 3, S, S) photo, (1, V, 3) its posed vertices -> (2, 3) the mean colour of the skin just
    above each eye's upper lid (the contour's upper half moved LID_ABOVE head units up)."""
    S = image.shape[-1]
    mean = model.mean.numpy()
    out = []
    for name in ("right_eye", "left_eye"):
        loop = model.topology.regions[name]
        corner_y = mean[loop[[np.argmin(mean[loop, 0]), np.argmax(mean[loop, 0])]], 1].mean()
        upper = loop[mean[loop, 1] < corner_y]
        xy = verts[0, upper, :2].double().numpy() - [0.0, LID_ABOVE * scale]
        ij = np.clip(np.round(xy - 0.5).astype(int), 0, S - 1)
        out.append(image[0, :, ij[:, 1], ij[:, 0]].double().mean(1))
    return torch.stack(out)


def lash_colours(image: torch.Tensor, verts: torch.Tensor) -> torch.Tensor:
    """(1, 3, S, S) photo, (1, V, 3) its posed vertices -> (2, 3) the colour of each eye's upper
    lash line: the darkest LASH_DARKEST of the pixels along the upper lid (corners left out)."""
    S = image.shape[-1]
    out = []
    for upper, _ in LIDS:
        xy = verts[0, list(upper), :2].double().numpy()
        t = np.linspace(0.15, 0.85, 40)[:, None] * (len(upper) - 1)  # along the lid
        i = np.minimum(t.astype(int)[:, 0], len(upper) - 2)
        f = t[:, 0:1] - i[:, None]
        line = (1 - f) * xy[i] + f * xy[i + 1]
        ij = np.clip(np.round(line - 0.5).astype(int), 0, S - 1)
        rgb = image[0, :, ij[:, 1], ij[:, 0]].double().T  # (40, 3)
        luma = rgb @ rgb.new_tensor([0.299, 0.587, 0.114])
        dark = torch.argsort(luma)[:max(1, int(LASH_DARKEST * len(luma)))]
        out.append(rgb[dark].mean(0))
    return torch.stack(out)


def lash_lines(points: torch.Tensor, closed: torch.Tensor, size: int
               ) -> list[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor, int]]:
    """The lash lines of the re-enacted eyes that close: for each (frame, eye) with a closed
    weight above zero, (b, y (n,), x (n,), opacity (n,), eye) of the crop pixels near the line
    where its lids meet (the middle of the upper and lower lid).

    Args:
        points: (B, V, 2) the re-enacted vertices, crop pixels. closed: (B, 2) ``closed_weight``.
    """
    # a few hundred pixels an eye: in NumPy (torch's per-operation cost was most of the time);
    # a drawing step nothing differentiates
    pts, shut, out = points.detach().cpu().numpy(), closed.detach().cpu().numpy(), []
    for b, e in np.argwhere(shut > 1e-3).tolist():
        upper, lower = LIDS[e]
        line = ((pts[b, list(upper)] + pts[b, list(lower)]) / 2).astype(np.float64)  # (9, 2)
        half = LASH_WIDTH * float(np.linalg.norm(line[-1] - line[0]))
        lo = np.clip(np.floor(line.min(0) - 2 * half), 0, size - 1).astype(np.int64)
        hi = np.clip(np.ceil(line.max(0) + 2 * half), 0, size - 1).astype(np.int64)
        ys, xs = np.meshgrid(np.arange(lo[1], hi[1] + 1), np.arange(lo[0], hi[0] + 1),
                             indexing="ij")
        ys, xs = ys.reshape(-1), xs.reshape(-1)
        dist, k, t = _nearest(np.stack([xs, ys], -1) + 0.5, line)
        along = (k + t) / (len(line) - 1)  # 0..1, corner to corner
        taper = LASH_TAPER + (1 - LASH_TAPER) * np.sin(np.pi * along)
        opacity = (1 - smoothstep(dist / (half * taper), 0.0, 1.0)) * LASH_OPACITY * \
            float(shut[b, e]) ** 2
        keep = opacity > 1e-3
        out.append((b, *(torch.from_numpy(x).to(points.device) for x in (
            ys[keep], xs[keep], opacity[keep].astype(np.float32))), e))
    return out


def _nearest(p: np.ndarray, line: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (n, 2), a polyline (k, 2) -> (n,) each point's distance to it, the segment
    nearest it and how far along that segment (0..1) its nearest point lies (compiled where
    loaded: the same values)."""
    fast = usable_kernels()
    if fast is not None:
        return fast.nearest(p, line)
    a, d = line[:-1], line[1:] - line[:-1]
    # x and y apart: the same sums as over a last axis of two, without its (n, k, 2) arrays and
    # the slow reductions over them (a third of the time)
    ax, ay, dx, dy = a[:, 0], a[:, 1], d[:, 0], d[:, 1]
    px, py = p[:, 0, None], p[:, 1, None]
    t = (((px - ax) * dx + (py - ay) * dy) / np.maximum(dx * dx + dy * dy, 1e-9)).clip(0, 1)
    ex, ey = px - (ax + t * dx), py - (ay + t * dy)
    dist = np.sqrt(ex * ex + ey * ey)
    k = dist.argmin(1)
    rows = np.arange(len(p))
    return dist[rows, k], k, t[rows, k]


def lid_gaps(model: LandmarkFaceModel, coeffs) -> torch.Tensor:
    """(B, 2) the gap between the middle of each eye's upper and lower lid, head units."""
    return head_lid_gaps(model.head_vertices(coeffs.identity, coeffs.expression))


def closed_weight(model: LandmarkFaceModel, photo, shown) -> torch.Tensor:
    """(B, 2) how closed each re-enacted eye is against the photo's (0: the eyeball shows, 1: lid
    skin), 0 where the photo's own eye is shut."""
    photo_gap = lid_gaps(model, photo)  # (1, 2)
    ratio = lid_gaps(model, shown) / photo_gap.clamp(min=1e-6)
    return ((1 - smoothstep(ratio, *CLOSED)) * smoothstep(photo_gap, *PHOTO_OPEN)).float()


def closed_colour(lid: torch.Tensor, cheek: torch.Tensor) -> torch.Tensor:
    """(N, 3) colours of the skin above the open lids and of the cheeks -> (N, 3) the closed
    lids' colour. Uniform over the eye: the fans from the iris centre interleave across a squashed
    eye, so a shade that varied from lid to lid drew it as a dashed line."""
    return CLOSED_MIX[0] * cheek + CLOSED_MIX[1] * lid


def lid_strips(points: torch.Tensor, closed: torch.Tensor, at: tuple[torch.Tensor, ...],
               strip: torch.Tensor) -> torch.Tensor:
    """(N,) how much of the closed lid colour each of N pixels in the lid strips takes: the eye's
    closed weight, fading out from the crease to the ring above it (LID_FADE). In NumPy, as
    ``lash_lines``.

    Args:
        points: (B, V, 2) the re-enacted vertices, crop pixels. closed: (B, 2) ``closed_weight``.
        at: (b, y, x) of the pixels. strip: (N,) their eye (``strip_of_triangle``).
    """
    pts, shut = points.detach().cpu().numpy(), closed.detach().cpu().numpy()
    (b_at, y_at, x_at), eye = (a.cpu().numpy() for a in at), strip.cpu().numpy()
    out = np.zeros(len(eye), np.float32)
    for b, e in np.argwhere(shut > 1e-3).tolist():
        sel = np.flatnonzero((b_at == b) & (eye == e))
        if not len(sel):
            continue
        p = np.stack([x_at[sel], y_at[sel]], -1) + 0.5
        lid = _nearest(p, pts[b, list(LIDS[e][0])].astype(np.float64))[0]
        top = _nearest(p, pts[b, list(ABOVE_LIDS[e][1])].astype(np.float64))[0]
        t = lid / np.maximum(lid + top, 1e-6)  # 0 on the upper lid, 1 on the second ring
        out[sel] = (1 - smoothstep(t, *LID_FADE)) * float(shut[b, e])
    return torch.from_numpy(out).to(points.device)


def relit(rgb: torch.Tensor, w: torch.Tensor, group: torch.Tensor, target: torch.Tensor
          ) -> torch.Tensor:
    """(N, 3) pixels, (N,) their weights, (N,) their group (frame and eye), (N, 3) each one's
    target colour -> (N, 3) the target plus RELIT_DETAIL of each pixel's difference from its
    group's weighted mean: the shading and the lashes' shadow kept, softened."""
    out = rgb.clone()
    for g in torch.unique(group).tolist():
        sel = torch.nonzero(group == g)[:, 0]
        mean = (rgb[sel] * w[sel, None]).sum(0) / w[sel].sum().clamp(min=1e-6)
        out[sel] = (target[sel] + RELIT_DETAIL * (rgb[sel] - mean)).clamp(0, 1)
    return out


def eye_openings(image_size: int, verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(S, S) float in [0, 1]: where the photo (posed vertices (1, V, 3), crop pixels) shows its
    eyeballs: the eye fans rasterized, shrunk by OPENING_ERODE px and softened by as much."""
    fans = faces[eye_of_triangle() >= 0]
    mask = rasterize(verts, fans, (image_size, image_size)).mask[0].numpy().astype(np.float32)
    k = 2 * OPENING_ERODE + 1
    mask = cv2.erode(mask, np.ones((k, k), np.uint8))
    return torch.from_numpy(cv2.blur(mask, (k, k)))


def rigid_iris(coords: torch.Tensor, at: tuple[torch.Tensor, ...], which: torch.Tensor,
               src: torch.Tensor, out: torch.Tensor, openings: torch.Tensor | None = None
               ) -> torch.Tensor:
    """Source coordinates (N, 2) of N eye pixels at (b, y, x) of eye ``which`` (N,), with the
    iris moved as a whole: the fans from the eye's contour to the iris centre stretch the iris
    towards the side it moves away from and squeeze it on the other, so its dark disc moved
    about a quarter as far as the driver's (an independent iris locator on the outputs). Within
    IRIS_RIGID[0] iris radii of the re-enacted centre the pixel takes the photo's iris by the
    similarity of the eye's corners; the fans' map from IRIS_RIGID[1] out. Only where that lands
    inside the photo's eye opening (``openings``, ``eye_openings``): an eye opened wider than
    the photo's would otherwise take the photo's lid and lashes from above its iris, inside the
    wider opening, and look no wider; there the fans stretch the photo's eyeball instead.

    Args:
        src: (1, V, 2) the photo's vertices, out: (B, V, 2) the re-enacted ones (crop pixels).
        openings: (S, S) the photo's eye openings; None: everywhere.
    """
    b, y, x = at
    p = torch.stack([x, y], -1).to(coords.dtype) + 0.5
    result = coords.clone()
    for e, (centre, ring, outer, inner) in enumerate(IRISES):
        sel = torch.nonzero(which == e)[:, 0]
        if not len(sel):
            continue
        bs = b[sel]
        # per frame: the iris centre and radius, and the similarity from the output eye to the
        # photo's by the corners (scale and roll), as a complex factor
        c_out = out[:, centre]  # (B, 2)
        radius = (out[:, list(ring)] - c_out[:, None]).norm(dim=-1).mean(1).clamp(min=1e-3)
        v_out, v_src = out[:, inner] - out[:, outer], src[0, inner] - src[0, outer]
        # (in real arithmetic: torch's complex division rounds a batch's frames differently
        # from one frame's)
        norm = (v_out * v_out).sum(-1)  # (B,)
        fr = (v_src[0] * v_out[:, 0] + v_src[1] * v_out[:, 1]) / norm
        fi = (v_src[1] * v_out[:, 0] - v_src[0] * v_out[:, 1]) / norm
        d = p[sel] - c_out[bs]
        moved = torch.stack([d[:, 0] * fr[bs] - d[:, 1] * fi[bs],
                             d[:, 0] * fi[bs] + d[:, 1] * fr[bs]], -1) + src[0, centre]
        w = 1 - smoothstep(d.norm(dim=-1) / radius[bs], *IRIS_RIGID)
        if openings is not None:
            S = openings.shape[-1]
            ij = (moved - 0.5).round().long().clamp(0, S - 1)
            w = w * openings[ij[:, 1], ij[:, 0]].to(w.dtype)
        result[sel] = torch.lerp(coords[sel], moved.to(coords.dtype), w[:, None].to(coords.dtype))
    return result
