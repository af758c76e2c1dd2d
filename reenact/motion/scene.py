"""What the analytic warp precomputes once per source crop: the head-extension mesh (rings that
carry hair and ears rigidly with the head, a fixed frame that keeps the background still), the
background plate, the source face's texture completed where the photo does not show it, and the
mouth-interior coordinates."""

import functools
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from scipy.spatial import Delaunay

from reenact.face.base import FaceCoefficients, pose_vertices
from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.topology import REGION, points_in_polygon
from reenact.geometry.triangles import signed_area
from reenact.motion.background import StillBackground, still_background
from reenact.motion.completion import FaceTexture, build_face_texture, smoothstep
from reenact.motion.eyes import cheek_colours, eye_openings, lash_colours, lid_colours
from reenact.render import rasterize

RING_RADII = (1.3, 1.75)  # extension rings, as multiples of the face oval about its centre
RING_DEPTH = 0.5  # head units pushed back per unit of radius beyond the oval
BORDER_POINTS = 9  # fixed points per crop side
EXTENSION_DEPTH = 1e4  # added to extension depths so the face always wins the z-test
PLATES = ("shiftmap", "telea", "none")  # background plate inpainting (build_scene)


@dataclass(frozen=True)
class SourceScene:
    """Tensors are batch 1, in source-crop pixels (see reenact.geometry)."""

    image: torch.Tensor  # (1, 3, S, S) in [0, 1], the source crop
    coeffs: FaceCoefficients  # the source's fitted coefficients (crop pixels)
    verts: torch.Tensor  # (1, V, 3) posed source face vertices
    rings_head: torch.Tensor  # (R, 3) extension points in the head frame
    ring_rigidity: torch.Tensor  # (R,) 1 = moves with the head, 0 = moves with the body only
    ring_mobility: torch.Tensor  # (R,) 1 = moves as above, 0 = stays put (near the crop border)
    border: torch.Tensor  # (Nb, 3) fixed frame points
    faces: torch.Tensor  # (T, 3) face triangles
    ext_faces: torch.Tensor  # (Te, 3) extension triangles over [V face | oval copy | rings | border]
    oval: torch.Tensor  # (K,) face oval vertex indices
    outline_normal: torch.Tensor  # (K, 2) unit outward normals of the oval in the source crop
    oval_inside: torch.Tensor  # (K,) pixels from each oval vertex along its normal to where the
    #   photo's face mesh ends (0 where the oval is the outline; a turned face's far side lies
    #   behind its nose and lips)
    src_points: torch.Tensor  # (1, V + K + R + Nb, 2) source positions of every warp vertex
    texture: FaceTexture  # the face laid out flat, graded and completed (motion.completion)
    person_mask: torch.Tensor  # (1, 1, S, S) in [0, 1], person incl. the face
    carried: torch.Tensor  # (1, 1, S, S) in [0, 1], what moves with the head: the person and a
    #   halo around it (fly-away hair the segmentation misses); the plate is inpainted under it
    plate: torch.Tensor  # (1, 3, S, S) background with the person removed
    mouth_uv: torch.Tensor  # (V, 2) mouth-interior coordinates (u across, v down) per vertex
    lip_color: torch.Tensor  # (3,) mean lip colour of the source
    lid_color: torch.Tensor  # (2, 3) the skin colour above each eye's upper lid
    cheek_color: torch.Tensor  # (2, 3) the skin colour of the cheek below each eye
    lash_color: torch.Tensor  # (2, 3) the colour of each eye's upper lash line
    eye_openings: torch.Tensor  # (S, S) where the photo shows its eyeballs (eyes.eye_openings)
    src_tri_area: torch.Tensor  # (T,) projected triangle areas in the source, px^2
    still: StillBackground  # what the background's own flow needs of the photo (motion.background)
    own_teeth: float = 1.0  # how much of the photo's open mouth shows teeth (own_teeth)

    @functools.cached_property
    def image32(self) -> torch.Tensor:
        """``image`` in float32, made once: the warp samples it every frame (converting the
        float64 crop took 0.76 ms a frame at 512)."""
        return self.image.float()

    @property
    def size(self) -> int:
        return self.image.shape[-1]


def _rings(head: np.ndarray, oval: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts = head[oval]
    center = pts[:, :2].mean(0)
    chin_y = pts[:, 1].max()
    rings, rigid = [], []
    for r in RING_RADII:
        xy = center + r * (pts[:, :2] - center)
        z = pts[:, 2] + (r - 1) * RING_DEPTH
        rings.append(np.c_[xy, z])
        # Below the jaw the neck and shoulders follow the head only partly.
        below = np.clip((xy[:, 1] - (chin_y - 0.3)) / 0.6, 0.0, 1.0)
        rigid.append(1.0 - 0.7 * below)
    return np.concatenate(rings), np.concatenate(rigid)


def _mouth_uv(model: LandmarkFaceModel) -> np.ndarray:
    loop = model.topology.regions["inner_lip"]
    mean = model.mean.numpy()
    uv = np.full((model.num_vertices, 2), 0.5)
    xs = mean[loop, 0]
    uv[loop, 0] = (xs - xs.min()) / (xs.max() - xs.min())
    # Upper chain (above the corner line) gets v = 0, lower chain v = 1.
    corner_y = 0.5 * (mean[loop[np.argmin(xs)], 1] + mean[loop[np.argmax(xs)], 1])
    uv[loop, 1] = np.where(mean[loop, 1] < corner_y, 0.0, 1.0)
    corners = [loop[np.argmin(xs)], loop[np.argmax(xs)]]
    uv[corners, 1] = 0.5
    return uv


def build_scene(image: torch.Tensor, coeffs: FaceCoefficients, model: LandmarkFaceModel,
                person_mask: np.ndarray, plate: str = "telea") -> SourceScene:
    """Precompute the source side of the analytic warp.

    Args:
        image: (1, 3, S, S) source crop in [0, 1].
        coeffs: the source's coefficients fitted in crop pixels.
        person_mask: (S, S) float person probability from selfie segmentation.
        plate: how the background plate is inpainted: "telea" (a smooth fill, what `reenact
            animate` uses: it copies no hair or face edges into the uncovered background, and is
            a pure function of the image, which training batches need), "shiftmap" (texture
            from shifted copies of the background, which brings jagged copies of nearby edges
            along) or "none" (the source crop itself: cheapest).
    """
    S = image.shape[-1]
    topo = model.topology
    faces = torch.from_numpy(topo.triangles)
    verts = model.vertices(coeffs)  # (1, V, 3)
    head = model.head_vertices(coeffs.identity, coeffs.expression)[0].numpy()
    oval = topo.boundary_loop
    rings_head, rigidity = _rings(head, oval)
    rings_img = pose_vertices(torch.from_numpy(rings_head)[None], coeffs)[0].numpy()
    # The crop border must stay pinned (it is where the paste-back blends): ring points outside
    # or at the border are dropped, and those near it move less, down to not at all.
    to_border = np.minimum(rings_img[:, :2], S - rings_img[:, :2]).min(1)
    inside = to_border > 0.04 * S
    rings_head, rigidity, rings_img = rings_head[inside], rigidity[inside], rings_img[inside]
    mobility = np.clip((to_border[inside] - 0.04 * S) / (0.2 * S), 0.0, 1.0)
    t = np.linspace(0, S, BORDER_POINTS)
    border_xy = np.unique(np.concatenate([np.c_[t, np.zeros_like(t)], np.c_[t, np.full_like(t, S)],
                                          np.c_[np.zeros_like(t), t], np.c_[np.full_like(t, S), t]]),
                          axis=0)
    V, K = model.num_vertices, len(oval)
    pts2d = np.concatenate([verts[0, oval, :2].numpy(), rings_img[:, :2], border_xy])
    tri = Delaunay(pts2d).simplices
    inside = points_in_polygon(verts[0, oval, :2].numpy(), pts2d[tri].mean(1))
    tri = tri[~(inside & (tri < K).all(1))]
    ext_faces = torch.from_numpy(tri + V).long()  # local [oval | rings | border] -> global
    src_points = torch.cat([verts[0, :, :2], verts[0, oval, :2], torch.from_numpy(rings_img[:, :2]),
                            torch.from_numpy(border_xy)])[None]
    border = torch.from_numpy(np.c_[border_xy, np.zeros(len(border_xy))])

    mask = np.clip(person_mask, 0, 1).astype(np.float32)
    frags = rasterize(verts, faces, (S, S))
    face_cov = frags.mask[0].numpy()
    mask = np.maximum(mask, face_cov.astype(np.float32))
    if plate not in PLATES:
        raise ValueError(f"plate must be one of {', '.join(PLATES)}, got {plate!r}")
    carried = _halo(mask)
    plate = image.clone() if plate == "none" else _background_plate(image, carried, plate)
    carried = torch.from_numpy(carried)[None, None]
    lips = rasterize(verts, faces[torch.from_numpy(topo.triangle_region == 6)], (S, S)).mask[0]
    img_hw3 = image[0].permute(1, 2, 0)
    lip_color = img_hw3[lips].mean(0) if lips.any() else torch.tensor([0.6, 0.3, 0.3])
    gap = rasterize(verts, faces[torch.from_numpy(topo.triangle_region == REGION["mouth"])],
                    (S, S)).mask[0]
    area = signed_area(verts[0][faces]).abs()
    normal = _outward_normals(verts[0, oval, :2])
    return SourceScene(
        image=image, coeffs=coeffs, verts=verts, rings_head=torch.from_numpy(rings_head),
        ring_rigidity=torch.from_numpy(rigidity), ring_mobility=torch.from_numpy(mobility),
        border=border, faces=faces, ext_faces=ext_faces,
        oval=torch.from_numpy(oval), src_points=src_points,
        outline_normal=normal,
        oval_inside=_inside_along(face_cov, verts[0, oval, :2].numpy(), normal.numpy()),
        texture=build_face_texture(image, verts, frags, float(coeffs.scale[0]), model,
                                   np.clip(person_mask, 0, 1), coeffs.rotation[0]),
        person_mask=torch.from_numpy(mask)[None, None], plate=plate, carried=carried,
        mouth_uv=torch.from_numpy(_mouth_uv(model)), lip_color=lip_color.double(),
        lid_color=lid_colours(image, verts, model, float(coeffs.scale[0])),
        cheek_color=cheek_colours(image, verts), lash_color=lash_colours(image, verts),
        eye_openings=eye_openings(S, verts, faces),
        src_tri_area=area, still=still_background(image, carried, plate),
        own_teeth=own_teeth(img_hw3, gap, lips, float(coeffs.scale[0])))


# Teeth are brighter than the lips around them; a mouth's dark inside, and mostly its tongue, are
# not. The share of the lip gap brighter than TEETH_BRIGHT times the lips' mean luma, from
# OWN_TEETH[0] (none: a dark open mouth) to OWN_TEETH[1] (a smile that shows its teeth). Set on
# 9 photos: smiles with teeth 0.53-0.59, screams showing some teeth and a tongue 0.11-0.20.
TEETH_BRIGHT = 1.3
OWN_TEETH = (0.25, 0.45)
OPEN_GAP = 0.005  # head units^2: a lip gap smaller than this shows nothing to judge
LUMA = torch.tensor([0.299, 0.587, 0.114])  # Rec. 601 luma weights


def own_teeth(image: torch.Tensor, gap: torch.Tensor, lips: torch.Tensor, scale: float) -> float:
    """(S, S, 3) image in [0, 1], (S, S) bool masks of the lip gap and the lips, the face's scale
    (px per head unit) -> in [0, 1], how much the photo's own open mouth shows teeth; 1 for a
    mouth too closed to tell (its inside is never shown as it is)."""
    if not lips.any() or gap.sum() < OPEN_GAP * scale * scale:
        return 1.0
    luma = image @ LUMA.to(image.dtype)
    return float(teeth_shown(luma[gap].double(), luma[lips].mean()))


def teeth_shown(luma: torch.Tensor, lips: torch.Tensor | float) -> torch.Tensor:
    """(..., N) lumas of a mouth's inside, the lips' luma -> (...) in [0, 1], how much of it is
    teeth (TEETH_BRIGHT, OWN_TEETH): for the photo's own mouth and for the driver's."""
    bright = (luma > TEETH_BRIGHT * lips).to(luma.dtype).mean(-1)
    return smoothstep(bright, *OWN_TEETH)


def _inside_along(mask: np.ndarray, points: np.ndarray, normals: np.ndarray,
                  reach: float = 0.4) -> torch.Tensor:
    """(S, S) bool mask, (K, 2) points, (K, 2) unit normals -> (K,) pixels from each point along
    its normal to the first pixel outside the mask, searched up to ``reach`` of the crop side."""
    S = mask.shape[0]
    steps = np.arange(0, reach * S, 0.5)
    at = points[:, None] + steps[None, :, None] * normals[:, None]  # (K, n, 2)
    ij = np.clip(np.floor(at).astype(int), 0, S - 1)
    inside = mask[ij[..., 1], ij[..., 0]] & (at >= 0).all(-1) & (at < S).all(-1)
    first_out = np.where(inside.all(1), len(steps) - 1, np.argmin(inside, 1))
    return torch.from_numpy(steps[first_out])


def _outward_normals(loop: torch.Tensor) -> torch.Tensor:
    """(K, 2) closed polygon -> (K, 2) unit normals pointing away from its inside (either order)."""
    tangent = torch.roll(loop, -1, 0) - torch.roll(loop, 1, 0)
    normal = torch.stack([tangent[:, 1], -tangent[:, 0]], 1)
    normal = normal / normal.norm(dim=1, keepdim=True).clamp(min=1e-9)
    outward = ((loop - loop.mean(0)) * normal).sum(1).mean() > 0
    return normal if outward else -normal


HALO = 0.02  # of the crop side: how far past the segmented person the head carries its outline


def _halo(person: np.ndarray) -> np.ndarray:
    """(S, S) person probability -> the same with a soft halo HALO * S wide around it. The selfie
    segmentation stops short of fly-away hair and soft hair edges; left in the background plate
    they would stay behind as a ghost of the old outline when the head moves."""
    S = person.shape[0]
    r = max(1, round(HALO * S))
    grown = cv2.dilate((person > 0.1).astype(np.float32),
                       cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    soft = cv2.GaussianBlur(grown, (0, 0), r / 2)
    return np.maximum(person, np.clip(2 * soft, 0, 1)).astype(np.float32)


def _background_plate(image: torch.Tensor, person: np.ndarray, method: str = "shiftmap"
                      ) -> torch.Tensor:
    """The background with the person removed, at half resolution: OpenCV-contrib's shift-map
    inpainting (He and Sun 2012), which rebuilds the hole from shifted copies of the surrounding
    background, so an uncovered area shows texture rather than a smear. Pixels it leaves unfilled
    (holes touching the border) take OpenCV's Telea diffusion instead; ``method="telea"`` uses
    Telea throughout."""
    S = image.shape[-1]
    rgb = (image[0].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    half = max(32, S // 2)
    hole = cv2.dilate((person > 0.3).astype(np.uint8), np.ones((5, 5), np.uint8), iterations=2)
    rgb_s = cv2.resize(rgb, (half, half), interpolation=cv2.INTER_AREA)
    hole_s = cv2.resize(hole, (half, half), interpolation=cv2.INTER_NEAREST)
    if hole_s.all():  # nothing to learn the background from: a neutral grey
        filled = np.full_like(rgb_s, 127)
    elif method == "telea":
        filled = cv2.inpaint(rgb_s, hole_s, 5, cv2.INPAINT_TELEA)
    else:
        lab = cv2.cvtColor(rgb_s, cv2.COLOR_RGB2LAB)
        out = np.zeros_like(lab)
        # Shift-map is not a pure function of its input: its result changed after unrelated
        # native code ran (scipy's Delaunay, matplotlib's import), hence "telea" for training.
        cv2.xphoto.inpaint(lab, (1 - hole_s).astype(np.uint8), out, cv2.xphoto.INPAINT_SHIFTMAP)
        filled = cv2.cvtColor(out, cv2.COLOR_LAB2RGB)
        unfilled = ((out == 0).all(-1) & (hole_s > 0)).astype(np.uint8)
        if unfilled.any():
            telea = cv2.inpaint(rgb_s, hole_s, 5, cv2.INPAINT_TELEA)
            filled[unfilled > 0] = telea[unfilled > 0]
    up = cv2.resize(filled, (S, S), interpolation=cv2.INTER_CUBIC)
    # Where the source shows background (person < 0.15; a ramp to 0.5 over soft hair edges) the plate
    # is the source itself, so a still head comes out unchanged; inpainting only where the person
    # was.
    inpaint = np.clip((person - 0.15) / 0.35, 0.0, 1.0)[..., None]
    plate = (1 - inpaint) * rgb.astype(np.float32) + inpaint * up.astype(np.float32)
    return torch.from_numpy(plate / 255.0).permute(2, 0, 1)[None].to(image.dtype)
