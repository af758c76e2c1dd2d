"""The background around a moving head: what the warp shows where its flow lands off the person.

The person (the segmentation plus a halo of fly-away hair, ``SourceScene.carried``) moves with the
head; the background stays where the photo has it. Where the head moves away it uncovers background
the photo never showed. It used to be drawn from a Telea fill of the whole person region, a smear
that over a wide uncovered area (long hair by a head turned far) read as a grey band through the
picture or a ghost of the old outline, and the crop-resolution plate also stood in for the still
background, which pasted into a large photo drew a soft square round the head.

Now the background is the photo itself, seen through a flow of its own: still (the identity) where
the photo shows background, and over an uncovered band a smooth stretch of the background beside
it, as if on a rubber sheet pinned to the moved person's edge and, MARGIN times the person's move
beyond the old outline, to the still background (a membrane: Laplace's equation on a 32 x 32
grid). It shows the photo's own background, stretched near the head, with no copy of the hair's
edge and no line where the old outline was. A move of a few pixels uncovers a sliver the Telea
plate fills unseen; the sheet fades in from SHEET_FROM[0] to SHEET_FROM[1] pixels (at 256) of move,
so it comes and goes smoothly. Where the stretch still lands on the person, the plate fills in.
Written here: OpenCV and scipy have no warp of this kind; the membrane is scipy's sparse solve.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse
import scipy.sparse.linalg
import torch

from reenact.geometry import pixel_centres
from reenact.geometry.fastpath import plain
from reenact.motion.completion import smoothstep
from reenact.render.compiled import usable_kernels
from reenact.render.shaders import resize_bilinear, sample_image

SOLVE_SIZE = 32  # the background flow is smooth: solved on a grid this size (or the crop's)
MARGIN = 1.5  # the sheet reaches this many times the person's move past the old outline
SHEET_FROM = (6.0, 16.0)  # px at 256 the person moves off the background: the sheet fades in
UNCOVERED = 0.3  # uncovered: the photo's person cover there exceeds the moved one's by this
PLATE_RAMP = (0.15, 0.5)  # carried where the background flow lands: the plate takes over
EDGE_BAND = 2.0  # px at 256: round the moved person, colours come at crop resolution
SAMPLE_SIZE = 128  # where the sheet lands on the person: looked up this size across, upsampled


def _laplace(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(h, w, C) values, (h, w) bool -> the values with the unknown pixels filled by the solution
    of Laplace's equation (the membrane through the known ones), solved directly: one row per
    unknown pixel of the grid's 4-neighbour Laplacian, scipy's SuperLU. The rows are built here
    rather than sliced from ``reenact.geometry.laplacian.uniform_laplacian``'s: on this per-frame
    path the slicing cost more than the solve; and ``laplacian_edit``'s soft handles solve
    a different (biharmonic) problem."""
    h, w, C = values.shape
    unknown = ~known
    n = int(unknown.sum())
    if n == 0:
        return values
    index = np.full((h, w), -1, dtype=np.int64)
    index[unknown] = np.arange(n)
    ys, xs = np.nonzero(unknown)
    rhs, degree = np.zeros((n, C)), np.zeros(n)
    # the matrix is symmetric: column c holds pixel c's unknown neighbours above, to the left,
    # itself, to the right and below, whose indices grow in that order (raster order), so its
    # compressed columns are laid out directly (from (row, column) pairs scipy sorted them, a
    # third of the solve's time)
    neighbour = np.full((n, 5), -1, dtype=np.int64)
    neighbour[:, 2] = np.arange(n)
    for slot, (dy, dx) in zip((0, 4, 1, 3), ((-1, 0), (1, 0), (0, -1), (0, 1)), strict=True):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)  # off the grid: no neighbour
        degree += inside
        r, qy, qx = np.flatnonzero(inside), ny[inside], nx[inside]
        j = index[qy, qx]
        free = j >= 0
        neighbour[r[free], slot] = j[free]
        np.add.at(rhs, r[~free], values[qy[~free], qx[~free]])
    entry = np.full((n, 5), -1.0)
    entry[:, 2] = degree
    kept = neighbour >= 0
    A = scipy.sparse.csc_matrix((entry[kept], neighbour[kept],
                                 np.concatenate([[0], np.cumsum(kept.sum(1))])), shape=(n, n))
    out = values.copy()
    out[ys, xs] = scipy.sparse.linalg.splu(A).solve(rhs)
    return out


def background_flow(carried_low: np.ndarray, flow: np.ndarray, person: np.ndarray, S: int
                    ) -> np.ndarray | None:
    """``carried`` (what the photo carries with the head) on the solve grid (low, low), the
    warp's backward flow at the grid's cell centres (low, low, 2) in source pixels, the moved
    person's cover (S, S) and the crop size -> the background's displacement (source minus output
    pixel, crop pixels) on the solve grid (low, low, 2): zero where the photo shows background,
    the rubber sheet over a band the move uncovers (module docstring); None where there is
    none."""
    low = carried_low.shape[0]
    step = S / low
    at = ((np.arange(low) + 0.5) * step).astype(int)  # cell centres
    cells = np.ix_(at, at)
    cover = person[cells]
    moved = cover > 0.5
    uncovered = ((carried_low - cover > UNCOVERED) & ~moved).astype(np.uint8)
    edge = moved & (cv2.dilate(uncovered, np.ones((3, 3), np.uint8)) > 0)
    if not edge.any():
        return None
    centres = pixel_centres(S, torch.float32)[0].numpy()
    shift = (flow - centres[cells]) / step  # in grid cells
    # how far the person moved off it, in pixels at 256
    reach = float(np.linalg.norm(shift[edge], axis=-1).max())
    share = float(smoothstep(np.float64(reach * 256 / low), *SHEET_FROM))
    if share == 0:
        return None
    away = cv2.distanceTransform(1 - uncovered, cv2.DIST_L2, 3)
    known = moved | (away > MARGIN * max(reach, 1.0))
    known[[0, -1], :] = known[:, [0, -1]] = True  # the crop's border stays put
    values = np.where(moved[..., None], share * shift, 0.0)
    values[[0, -1], :] = values[:, [0, -1]] = 0.0
    return (_laplace(values, known) * step).astype(np.float32)


@dataclass(frozen=True)
class StillBackground:
    """What ``background_layers`` needs of one photo, float32 (``SourceScene.still``)."""

    carried_low: np.ndarray  # (low, low) what the photo carries with the head, on the solve grid
    use: torch.Tensor  # (1, 1, S, S) the plate's weight where the photo is still
    behind: torch.Tensor  # (1, 3, S, S) the background there: the photo, the plate where it
    #   carries the person
    source: torch.Tensor  # (1, 4, S, S) the photo with what it carries as a fourth channel
    plate: torch.Tensor  # (1, 3, S, S)


def still_background(image: torch.Tensor, carried: torch.Tensor, plate: torch.Tensor
                     ) -> StillBackground:
    """The photo (1, 3, S, S), what it carries with the head (1, 1, S, S) and its plate
    (1, 3, S, S) -> what ``background_layers`` uses of them, once per photo."""
    low = min(carried.shape[-1], SOLVE_SIZE)
    image, carried, plate = image.float(), carried.float(), plate.float()
    use = smoothstep(carried, *PLATE_RAMP)
    return StillBackground(
        carried_low=cv2.resize(carried[0, 0].numpy(), (low, low), interpolation=cv2.INTER_AREA),
        use=use, behind=torch.lerp(image, plate, use), source=torch.cat([image, carried], 1),
        plate=plate)


def background_layers(still: StillBackground, coords: torch.Tensor, person: torch.Tensor,
                      overwrite: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The warp's (coords, overlay, overlay weight) off the face: (B, S, S, 2), (B, 3, S, S),
    (B, 1, S, S), for ``image = lerp(sample(image, coords), overlay, weight)``, given the photo's
    ``still_background``, the warp's flow (B, S, S, 2) and the moved person's cover (B, 1, S, S).

    Clear of the moved person the flow is the background's own (``background_flow``), so a pasted
    result samples the full-resolution photo there; the overlay only holds the Telea plate where
    that flow lands on the person. On the person's soft edge and EDGE_BAND pixels round it the
    flow stays the person's and the background comes in the overlay at crop resolution: two flows
    that part there would otherwise be blended by the paste-back's upsampling. (Masks blend by
    ``torch.lerp``: ``torch.where`` over channels is ten times slower here.) ``overwrite``: the
    caller no longer needs ``coords``; the compiled pass writes the result's flow into it
    (no new (B, S, S, 2) array: 8 MB a batch at 512)."""
    B, S = coords.shape[0], coords.shape[1]
    dtype = coords.dtype
    use, behind, plate = still.use.to(dtype), still.behind.to(dtype), still.plate.to(dtype)
    r = max(1, round(EDGE_BAND * S / 256))
    square = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    covers = person[:, 0].detach().float().numpy()
    near = np.stack([cv2.dilate((c > 0.02).astype(np.uint8), square) for c in covers]).view(
        bool)  # (B, S, S) (a dilated 0 / 1 mask)
    low = still.carried_low.shape[0]
    cells = ((torch.arange(low) + 0.5) * (S / low)).long()  # the flow is smooth: its cells
    flows = coords.detach()[:, cells][:, :, cells].float().numpy()  # (B, low, low, 2)
    sheets = [background_flow(still.carried_low, f, c, S) for f, c in zip(flows, covers, strict=True)]
    at = pixel_centres(S, dtype).permute(0, 3, 1, 2).expand(B, -1, -1, -1)  # (B, 2, S, S)
    # the same selects compiled (reenact.render.compiled), bitwise equal, the ring's colours too
    fast = usable_kernels() if dtype == torch.float32 and plain(coords, person) else None
    if any(x is not None for x in sheets):
        sheet = torch.from_numpy(np.stack([np.zeros((low, low, 2), np.float32) if x is None else x
                                           for x in sheets])).permute(0, 3, 1, 2).to(dtype)
        at = resize_bilinear(sheet, S).add_(at)  # (the same sums, in the resized array)
        # where the sheet lands on the person (the plate's weight off it) is smooth: looked up
        # at most SAMPLE_SIZE across (the pinned border keeps the sheet inside the crop)
        n = min(S, SAMPLE_SIZE)
        pts = at if n == S else pixel_centres(n, dtype).permute(0, 3, 1, 2) * (S / n) + \
            resize_bilinear(sheet, n)
        use = smoothstep(sample_image(still.source[:, 3:].to(dtype).expand(B, -1, -1, -1),
                                      pts.permute(0, 2, 3, 1)), *PLATE_RAMP)
        use = use if n == S else resize_bilinear(use, S)
        if fast is None:
            # the colours in the ring round the person, at crop resolution (only there they show)
            b, y, x = torch.nonzero(torch.from_numpy(near) & (person[:, 0].detach() < 1),
                                    as_tuple=True)
            seen = sample_image(still.source.to(dtype), at[b, :, y, x][None, None])[0, :, 0]
            behind = behind.expand(B, -1, -1, -1).clone()
            behind[b, :, y, x] = torch.lerp(seen[:3].T, plate[0, :, y, x].T,
                                            smoothstep(seen[3:].T, *PLATE_RAMP))
        still_frames = [i for i, x in enumerate(sheets) if x is None]
        if still_frames:  # in a batch, the frames with no sheet keep the photo's own
            use[still_frames] = still.use.to(dtype)
            if fast is None:
                behind[still_frames] = still.behind.to(dtype)
    if fast is not None:
        return tuple(torch.from_numpy(a) for a in fast.select_layers(
            near, person[:, 0].float().numpy(), coords.numpy(), at.numpy(),
            use[:, 0].numpy(), behind.numpy(), plate[0].numpy(), still.source[0].numpy(),
            np.array([x is not None for x in sheets]), PLATE_RAMP,
            into=coords.numpy() if overwrite else None))
    near = torch.from_numpy(near)[:, None].to(dtype)  # (B, 1, S, S)
    out = torch.lerp(at, coords.permute(0, 3, 1, 2), near).permute(0, 2, 3, 1).contiguous()
    overlay = torch.lerp(plate.expand(B, -1, -1, -1), behind, near)
    weight = torch.lerp(use.expand(B, -1, -1, -1), 1 - person.to(dtype), near)
    return out, overlay, weight
