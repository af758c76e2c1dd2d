"""Expression transfer for the landmark mesh, as head-frame vertex offsets to add to a source shape.

- **relative** (a driving video): the driver's deformation relative to a reference driving frame,
  ``head_drv[i] - head_drv[ref]``. Identity cancels in the difference, so nothing of the driver's face
  shape leaks into the source. Needs a reference frame in which the driver's expression is like the
  source's (the first frame by default).
- **absolute** (a single driving image): region-wise deformation transfer. Each expressive region
  (mouth, each eye with its iris, each brow) takes the driver's *shape relative to an anchor* that
  expressions barely move (the nose base for the mouth, the eye corners for eyes and brows), placed at
  the source's anchor; the rest of the face follows by Laplacian editing, with the stable upper face
  held where the source has it. The driver's face outline, proportions and feature positions stay out.
"""

import functools

import numpy as np
import torch

from reenact.face.landmark_model import stable_vertices
from reenact.face.mean_shape import mean_shape
from reenact.face.topology import (
    CHIN,
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    LID_PAIRS,
    LOWER_LIP_INNER,
    MOUTH_LEFT,
    MOUTH_RIGHT,
    NUM_VERTICES,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    UPPER_LIP_INNER,
    landmark_topology,
)
from reenact.geometry.laplacian import laplacian_edit, uniform_laplacian

# A face turned far from the camera is tracked badly: the tracker places the far side's points by
# guesswork and the fit mistakes the pose's error for expression (eyes squinting, a mouth twisted
# to one side). The expression taken from a driver is scaled down from EXPRESSION_TRUST[0] to
# none at EXPRESSION_TRUST[1], degrees between its face's forward direction and the camera's axis.
EXPRESSION_TRUST = (35.0, 60.0)


# A photo tracked this far from the camera is near profile: mediapipe's fit seldom reports much
# more (DECA/image00181, a man in full profile, fits at 58 degrees) and places the face's far half
# by guesswork, beyond the silhouette; a turn or an expression drawn from that mesh tore the
# profile's brow and chin and pulled background into them. The photo's head turn and expression
# are scaled down from PHOTO_TRUST[0] degrees off the camera's axis to none at PHOTO_TRUST[1];
# it still moves and scales with the driver.
PHOTO_TRUST = (40.0, 55.0)


def off_axis_degrees(rotation: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) image-from-head rotations -> (B,) degrees between the face's forward direction
    and the camera's axis."""
    return torch.rad2deg(torch.arccos(rotation[:, 2, 2].abs().clamp(max=1.0)))


def expression_trust(rotation: torch.Tensor, limits: tuple[float, float] = EXPRESSION_TRUST
                     ) -> torch.Tensor:
    """(B, 3, 3) image-from-head rotations -> (B,) in [0, 1]: how far an expression fitted to a face
    in that pose is to be believed, fully up to ``limits[0]`` degrees off axis, not at all from
    ``limits[1]`` (EXPRESSION_TRUST for a driver, PHOTO_TRUST for the photo)."""
    t = ((off_axis_degrees(rotation) - limits[0]) / (limits[1] - limits[0])).clamp(0, 1)
    return 1 - t * t * (3 - 2 * t)  # smoothstep: no kink where the scaling starts


# mediapipe's brow points often sit below a raised brow's hair (its prior pulls them towards a
# resting brow), so the hair lies in the forehead triangles above them; with the forehead held
# still, a brow that came down stretched that hair into a tall dark smudge. The skin above the
# brows moves with them, fading upwards: fully within FOREHEAD_CARRY[0] head units of the brow's
# points, not at all beyond FOREHEAD_CARRY[1] (the hairline lies about 0.3 above the brows).
FOREHEAD_CARRY = (0.1, 0.3)
CARRY_NEIGHBOURS = 3  # brow points whose motion a forehead point takes (inverse-distance weighted)


@functools.lru_cache(maxsize=1)
def _forehead() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Forehead vertices above the brows (F,), the brow vertices (Nb,), (F, Nb) weights that
    interpolate the brows' motion at each, and (F,) how much of it each takes."""
    mean = mean_shape()
    r = landmark_topology().regions
    brows = np.concatenate([r["right_brow"], r["left_brow"]])
    movers = np.concatenate([brows, r["right_eye"], r["left_eye"], r["iris"]])
    d = np.linalg.norm(mean[:, None, :2] - mean[None, brows, :2], axis=-1)  # (V, Nb)
    t = np.clip((d.min(1) - FOREHEAD_CARRY[0]) / (FOREHEAD_CARRY[1] - FOREHEAD_CARRY[0]), 0, 1)
    share = 1 - t * t * (3 - 2 * t)
    above = mean[:, 1] < mean[brows[d.argmin(1)], 1]  # y points down the face
    forehead = np.flatnonzero(above & (share > 0) & ~np.isin(np.arange(len(mean)), movers))
    near = np.argsort(d[forehead], 1)[:, :CARRY_NEIGHBOURS]
    weights = np.zeros((len(forehead), len(brows)))
    inv = 1 / np.maximum(np.take_along_axis(d[forehead], near, 1), 1e-6)
    np.put_along_axis(weights, near, inv / inv.sum(1, keepdims=True), 1)
    return forehead, brows, weights, share[forehead]


def carry_forehead(offsets: torch.Tensor) -> torch.Tensor:
    """Expression offsets (B, V, 3) with the forehead above the brows moved with them
    (FOREHEAD_CARRY)."""
    forehead, brows, weights, share = _forehead()
    w = torch.from_numpy(weights).to(offsets)
    s = torch.from_numpy(share).to(offsets)[None, :, None]
    out = offsets.clone()
    out[:, forehead] = (1 - s) * offsets[:, forehead] + s * (w @ offsets[:, brows])
    return out


# An eye opened much wider than the photo's shows eyeball the photo does not have: the warp
# stretched its closed lid, lashes or make-up into a dark smudge (a photo with shut, downcast or
# laughing eyes driven by open ones). Each re-enacted eye's lid gap is held to at most
# OPEN_AT_MOST times the photo's by scaling the offsets round that eye: fully within
# EYE_FALLOFF[0] head units of its contour, fading out by EYE_FALLOFF[1]; the brows keep theirs.
OPEN_AT_MOST = 1.3
EYE_FALLOFF = (0.02, 0.08)


@functools.lru_cache(maxsize=1)
def _eye_surroundings() -> np.ndarray:
    """(2, V) how much of each eye's opening limit a vertex takes (OPEN_AT_MOST, EYE_FALLOFF)."""
    mean = mean_shape()
    r = landmark_topology().regions
    out = []
    for name, iris in (("right_eye", r["iris"][:5]), ("left_eye", r["iris"][5:])):
        contour = np.union1d(r[name], iris)
        d = np.linalg.norm(mean[:, None, :2] - mean[None, contour, :2], axis=-1).min(1)
        t = np.clip((d - EYE_FALLOFF[0]) / (EYE_FALLOFF[1] - EYE_FALLOFF[0]), 0, 1)
        w = 1 - t * t * (3 - 2 * t)
        w[np.concatenate([r["right_brow"], r["left_brow"]])] = 0
        out.append(w)
    return np.stack(out)


def limit_opening(head_src: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Expression offsets (B, V, 3) for the source shape (1, V, 3) with each eye opened at most
    OPEN_AT_MOST times the source's lid gap; closing is not limited."""
    head = head_src + offsets
    around = torch.from_numpy(_eye_surroundings()).to(offsets)
    keep = torch.ones(offsets.shape[:2], dtype=offsets.dtype, device=offsets.device)
    for e, (up, lo) in enumerate(LID_PAIRS):
        photo = (head_src[:, lo] - head_src[:, up]).norm(dim=-1)  # (1,)
        shown = (head[:, lo] - head[:, up]).norm(dim=-1)  # (B,)
        most = OPEN_AT_MOST * photo
        share = ((most - photo) / (shown - photo).clamp(min=1e-9)).clamp(0, 1)
        share = torch.where(shown > most, share, torch.ones_like(share))
        keep = keep * (1 - (1 - share)[:, None] * around[e][None])
    return offsets * keep[..., None]


# Relative motion moves the lids by the driver's distances: a photo with wider eyes than the
# driver's reference kept part of its eyeball open when the driver shut its eyes (a blue slit
# between the lids). A driver's eye that closes to a share of its reference's lid gap closes
# the photo's to at least that share of the gap it has at the reference (its offsets round that
# eye scaled up, at most CLOSE_AT_MOST times); opening keeps the distances (limit_opening).
# Only a real closing: the gain comes in as the driver's share falls from CLOSING[1] to
# CLOSING[0], and moves the lids up and down only. Scaling every offset for any narrowing
# tripled a surprised driver's small squint and its sideways glance with it: the iris's fan
# centre left the eye and its opening smeared (W009 surprised, frames 28-44).
CLOSE_AT_MOST = 3.0
CLOSING = (0.5, 0.8)


def head_lid_gaps(head: torch.Tensor) -> torch.Tensor:
    """(B, V, 3) head-frame vertices -> (B, 2) each eye's lid gap (LID_PAIRS), head units."""
    return torch.stack([(head[:, lo] - head[:, up]).norm(dim=-1) for up, lo in LID_PAIRS], -1)


def _lid_heights(head: torch.Tensor) -> torch.Tensor:
    """(B, V, 3) head-frame vertices -> (B, 2) each eye's lower lid below its upper (LID_PAIRS),
    head units, negative where they cross: the gap's norm grows again past a crossing."""
    return torch.stack([head[:, lo, 1] - head[:, up, 1] for up, lo in LID_PAIRS], -1)


def close_as_driver(head_src: torch.Tensor, offsets: torch.Tensor, base: torch.Tensor,
                    share: torch.Tensor) -> torch.Tensor:
    """Expression offsets (B, V, 3) for the source shape (1, V, 3), ``base`` the offsets at the
    driver's reference (1 or B, V, 3), ``share`` (B, 2) each driver eye's lid gap over its
    reference's -> the offsets with each eye the driver closes closed to at least ``share`` of
    its gap at ``base`` (CLOSE_AT_MOST, CLOSING)."""
    around = torch.from_numpy(_eye_surroundings()).to(offsets)
    start = _lid_heights(head_src + base)  # (1 or B, 2)
    moved = start - _lid_heights(head_src + offsets)  # how far the distances close each eye
    want = start * (1 - share.to(offsets).clamp(0, 1))
    gain = (want / moved.clamp(min=1e-9)).clamp(1, CLOSE_AT_MOST)
    closing = ((CLOSING[1] - share.to(offsets)) / (CLOSING[1] - CLOSING[0])).clamp(0, 1)
    gain = torch.where(moved > 0, 1 + (gain - 1) * closing, torch.ones_like(gain))  # (B, 2)
    scale = 1 + ((gain - 1)[:, :, None] * around[None]).sum(1)  # (B, V): the eyes do not overlap
    out = offsets.clone()
    out[..., 1] = base[..., 1] + (offsets[..., 1] - base[..., 1]) * scale  # the lids: up and down
    return out


def relative_expression(head_drv: torch.Tensor, head_drv_ref: torch.Tensor) -> torch.Tensor:
    """Offsets (B, V, 3) = head_drv (B, V, 3) - head_drv_ref (1 or B, V, 3)."""
    return head_drv - head_drv_ref


BROWS = 3  # _regions()'s brows come from this index on


@functools.lru_cache(maxsize=1)
def _regions() -> list[tuple[np.ndarray, np.ndarray]]:
    """(region vertices, anchor vertices) for the expressive regions: mouth, eyes, brows."""
    topo = landmark_topology()
    r = topo.regions
    mean = mean_shape()
    nose = r["nose"]
    nose_base = nose[np.argsort(mean[nose, 1])[-5:]]  # the five lowest nose points
    iris = r["iris"]
    right_iris, left_iris = iris[:5], iris[5:]
    mouth = np.union1d(r["outer_lip"], r["inner_lip"])
    # Also carry the skin ring just around the lips so lip shape and mouth shape move together.
    ring = np.flatnonzero(np.linalg.norm(mean[:, None, :2] - mean[None, mouth, :2], axis=-1)
                          .min(1) < 0.06)
    mouth = np.setdiff1d(np.union1d(mouth, ring), stable_vertices())
    right_eye = np.union1d(r["right_eye"], right_iris)
    left_eye = np.union1d(r["left_eye"], left_iris)
    right_anchor = np.array([RIGHT_EYE_OUTER, RIGHT_EYE_INNER])
    left_anchor = np.array([LEFT_EYE_OUTER, LEFT_EYE_INNER])
    return [(mouth, nose_base), (np.setdiff1d(right_eye, right_anchor), right_anchor),
            (np.setdiff1d(left_eye, left_anchor), left_anchor),
            (r["right_brow"], right_anchor), (r["left_brow"], left_anchor)]


@functools.lru_cache(maxsize=1)
def _laplacian():
    topo = landmark_topology()
    return uniform_laplacian(topo.edges(), NUM_VERTICES)


JAW_SHARE = 0.8  # of a wider lip gap that comes from the jaw dropping (the rest: the lips part)


@functools.lru_cache(maxsize=1)
def _jaw() -> tuple[np.ndarray, np.ndarray]:
    """Lower face-oval vertices and how far each follows a jaw drop (1 at the chin, 0 at the
    height of the mouth corners)."""
    mean = mean_shape()
    oval = landmark_topology().regions["face_oval"]
    corner_y = mean[[MOUTH_LEFT, MOUTH_RIGHT], 1].mean()
    lower = oval[mean[oval, 1] > corner_y]
    share = np.clip((mean[lower, 1] - corner_y) / (mean[CHIN, 1] - corner_y), 0.0, 1.0)
    return lower, share


def absolute_expression(head_src: torch.Tensor, head_drv: torch.Tensor, brows: bool = True
                        ) -> torch.Tensor:
    """Offsets (B, V, 3) that give the source shapes (B, V, 3) the drivers' (B, V, 3) expressions.

    Besides the regions, the jaw: when the driver's lips are further apart than the source's, the
    lower face outline drops by ``JAW_SHARE`` of the difference (fully at the chin), so an open
    mouth opens the face rather than squeezing between a fixed chin and nose. ``brows=False``
    holds the brows where the source has them: how high a brow sits above the eye differs more
    between two people than raising it moves it, so the brows' transfer is mostly identity.
    """
    out = []
    jaw, share = _jaw()
    for src, drv in zip(head_src.detach().cpu().double().numpy(),
                        head_drv.detach().cpu().double().numpy(), strict=True):
        handles, targets = [stable_vertices()], [src[stable_vertices()]]
        for k, (region, anchor) in enumerate(_regions()):
            moved = src[anchor].mean(0) + (drv[region] - drv[anchor].mean(0))
            handles.append(region)
            targets.append(moved if brows or k < BROWS else src[region])
        gap = np.linalg.norm(drv[LOWER_LIP_INNER] - drv[UPPER_LIP_INNER]) - np.linalg.norm(
            src[LOWER_LIP_INNER] - src[UPPER_LIP_INNER])
        drop = JAW_SHARE * max(gap, 0.0)
        handles.append(jaw)
        targets.append(src[jaw] + np.outer(share * drop, [0.0, 1.0, 0.0]))
        h = np.concatenate(handles)
        h, first = np.unique(h, return_index=True)  # the first listed target wins
        t = np.concatenate(targets)[first]
        out.append(laplacian_edit(src, _laplacian(), h, t) - src)
    return torch.from_numpy(np.stack(out)).to(head_src)
