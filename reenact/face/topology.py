"""The landmark mesh's topology: triangles recovered from mediapipe's tessellation edges, plus the
holes filled (mouth interior, eye openings), region labels and rigid ("stable") vertex sets.

mediapipe ships the face mesh as an edge list (``FACEMESH_TESSELATION``) and region contours
(``FACEMESH_LIPS``, ``..._EYE``, ...). Its 3-cliques are the triangles, except "separating" triangles
whose three edges each bound three cliques; those are dropped. The result is a disc of 468 vertices
with three holes (mouth, two eyes), which we close with fans so every pixel inside the face has a
triangle; the two iris centres (468, 473) are the fan centres of the eyes, so gaze moves the eye.
"""

import collections
import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np

TOPOLOGY_FILE = "data/landmark_topology.npz"  # in reenact.face
NUM_MESH_VERTICES = 468  # face surface; 468..477 are the refined iris points
NUM_VERTICES = 478

# Region labels, shared with the parsing-map shader (0 is background there).
REGION_NAMES = ("background", "skin", "brows", "eyes", "iris", "nose", "lips", "mouth", "hair")
REGION = {name: i for i, name in enumerate(REGION_NAMES)}

# A few named vertices of the mediapipe mesh (image-left = subject's right).
NOSE_TIP = 1
CHIN = 152
FOREHEAD = 10
RIGHT_EYE_OUTER, LEFT_EYE_OUTER = 33, 263
RIGHT_EYE_INNER, LEFT_EYE_INNER = 133, 362
RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER = 468, 473
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
UPPER_LIP_INNER, LOWER_LIP_INNER = 13, 14
# (upper lid, lower lid) middle vertices of the right and left eye
LID_PAIRS = ((159, 145), (386, 374))
# the ring over each upper lid, corner to corner, where its crease lies (right, left eye)
EYE_CREASES = ((130, 247, 30, 29, 27, 28, 56, 190, 243),
               (359, 467, 260, 259, 257, 258, 286, 414, 463))


@dataclass(frozen=True)
class Topology:
    """Triangles and per-triangle / per-vertex labels of a face mesh. Triangles share one winding:
    ``cross(v1 - v0, v2 - v0)`` points out of the face (to the camera, -z, when frontal)."""

    num_vertices: int
    triangles: np.ndarray  # (T, 3) int64, vertex indices
    triangle_region: np.ndarray  # (T,) int64, REGION ids
    vertex_region: np.ndarray  # (V,) int64, REGION ids
    boundary_loop: np.ndarray  # (K,) vertex indices of the outer contour (face oval), in order
    regions: dict  # name -> sorted vertex indices (numpy int64), for the named vertex sets

    def edges(self) -> np.ndarray:
        """(E, 2) unique undirected edges, smaller index first."""
        t = self.triangles
        e = np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]])
        return np.unique(np.sort(e, axis=1), axis=0)


def _connections():
    from reenact.face.mediapipe_loader import import_mediapipe  # heavy; import lazily

    import_mediapipe()  # quiet, and without pyplot
    from mediapipe.python.solutions import face_mesh_connections as fmc  # the module path the
    # shim of scripts/gpu_train.py also has

    return fmc


def _loop(edges) -> list[int]:
    """Order the vertices of edge set ``edges`` into one cycle (or a path joined end to start)."""
    nb = collections.defaultdict(list)
    for a, b in edges:
        nb[a].append(b)
        nb[b].append(a)
    ends = [v for v, n in nb.items() if len(n) == 1]
    start = ends[0] if ends else min(nb)
    order, prev, cur = [start], None, start
    while True:
        nxt = [n for n in nb[cur] if n != prev and n not in order[-2:]]
        nxt = [n for n in nxt if n not in order] or []
        if not nxt:
            break
        prev, cur = cur, nxt[0]
        order.append(cur)
    return order


def _paths(edges) -> list[list[int]]:
    """Split an edge set into its connected paths/cycles, each ordered."""
    nb = collections.defaultdict(set)
    for a, b in edges:
        nb[a].add(b)
        nb[b].add(a)
    seen, comps = set(), []
    for v in sorted(nb):
        if v in seen:
            continue
        stack, comp = [v], set()
        while stack:
            u = stack.pop()
            if u in comp:
                continue
            comp.add(u)
            stack.extend(nb[u] - comp)
        seen |= comp
        comps.append(_loop([e for e in edges if e[0] in comp]))
    return comps


def _mesh_triangles() -> np.ndarray:
    fmc = _connections()
    edges = {tuple(sorted(e)) for e in fmc.FACEMESH_TESSELATION}
    nb = collections.defaultdict(set)
    for a, b in edges:
        nb[a].add(b)
        nb[b].add(a)
    cliques = {tuple(sorted((a, b, c))) for a, b in edges for c in nb[a] & nb[b]}
    count = collections.Counter()
    for a, b, c in cliques:
        count.update([(a, b), (a, c), (b, c)])
    kept = [t for t in cliques
            if not all(count[e] > 2 for e in ((t[0], t[1]), (t[0], t[2]), (t[1], t[2])))]
    return np.array(sorted(kept), dtype=np.int64)


def _fan(loop: list[int], center: int | None, points: np.ndarray) -> list[tuple[int, int, int]]:
    """Close a hole bounded by ``loop``: a fan around ``center``, or an ear-clipping-free strip."""
    if center is not None:
        return [(center, loop[i], loop[(i + 1) % len(loop)]) for i in range(len(loop))]
    # Mouth: the inner lip loop is two chains (upper, lower) between the corners; zip them.
    n = len(loop)
    xs = points[loop, 0]
    i0, i1 = int(np.argmin(xs)), int(np.argmax(xs))
    a = [loop[(i0 + k) % n] for k in range((i1 - i0) % n + 1)]
    b = [loop[(i0 - k) % n] for k in range((i0 - i1) % n + 1)]
    tris, i, j = [], 0, 0
    while i < len(a) - 1 or j < len(b) - 1:
        if j >= len(b) - 1 or (i < len(a) - 1 and points[a[i + 1], 0] <= points[b[j + 1], 0]):
            tris.append((a[i], a[i + 1], b[j]))
            i += 1
        else:
            tris.append((a[i], b[j + 1], b[j]))
            j += 1
    return [t for t in tris if len(set(t)) == 3]  # the chains share their corner vertices


def _orient(tris: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Give all triangles one winding (neighbours traverse their shared edge in opposite
    directions), chosen so the frontal mean shape's normals point to the camera (-z)."""
    tris = tris.copy()
    by_edge = collections.defaultdict(list)
    for i, t in enumerate(tris):
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            by_edge[(min(a, b), max(a, b))].append(i)
    done = np.zeros(len(tris), dtype=bool)
    for seed in range(len(tris)):
        if done[seed]:
            continue
        done[seed] = True
        stack = [seed]
        while stack:
            i = stack.pop()
            t = tris[i]
            for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
                for j in by_edge[(min(a, b), max(a, b))]:
                    if done[j]:
                        continue
                    u = tris[j]
                    same = any((u[k], u[(k + 1) % 3]) == (a, b) for k in range(3))
                    if same:  # j runs the edge the same way: flip it
                        tris[j] = u[[0, 2, 1]]
                    done[j] = True
                    stack.append(j)
    p = points[tris]
    normal_z = ((p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1])
                - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0]))
    # z of (e1 x e2) in image axes (x right, y down, z into the screen); the camera is at -z.
    if np.sum(normal_z) > 0:
        tris = tris[:, [0, 2, 1]]
    return tris


def points_in_polygon(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Which of ``points`` (N, 2) lie strictly inside the closed ``polygon`` (K, 2): (N,) bools.
    OpenCV's ``pointPolygonTest`` (a point on the outline is outside): cv2 is loaded by then,
    where matplotlib's test cost its import (0.13 s of a one-image command).

    Example:
        >>> points_in_polygon(np.array([[0, 0], [2, 0], [2, 2], [0, 2]]), np.array([[1, 1], [3, 1]]))
        array([ True, False])
    """
    import cv2

    contour = np.asarray(polygon, np.float32).reshape(-1, 1, 2)
    return np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), False) > 0
                     for x, y in np.asarray(points, np.float64)], dtype=bool)


@functools.lru_cache(maxsize=1)
def landmark_topology() -> Topology:
    """The landmark mesh's topology (cached): 478 vertices, 852 surface + hole-filling triangles.
    Read from ``data/landmark_topology.npz``, which ``scripts/build_landmark_topology.py`` writes
    from ``build_landmark_topology`` (a test holds them equal): building it took 0.055 s of every
    command's start, reading it 2 ms."""
    try:
        with resources.files("reenact.face").joinpath(TOPOLOGY_FILE).open("rb") as f:
            data = np.load(f)
            arrays = {k: data[k] for k in data.files}
    except FileNotFoundError:  # not built yet (the build script's first run)
        return build_landmark_topology()
    return Topology(num_vertices=int(arrays.pop("num_vertices")),
                    triangles=arrays.pop("triangles"),
                    triangle_region=arrays.pop("triangle_region"),
                    vertex_region=arrays.pop("vertex_region"),
                    boundary_loop=arrays.pop("boundary_loop"),
                    regions={k.removeprefix("region_"): v for k, v in arrays.items()})


def topology_arrays(topology: Topology) -> dict[str, np.ndarray]:
    """A topology's arrays by name, as ``landmark_topology`` reads them."""
    return {"num_vertices": np.array(topology.num_vertices), "triangles": topology.triangles,
            "triangle_region": topology.triangle_region, "vertex_region": topology.vertex_region,
            "boundary_loop": topology.boundary_loop,
            **{f"region_{k}": v for k, v in topology.regions.items()}}


def build_landmark_topology() -> Topology:
    """The landmark mesh's topology from mediapipe's edge lists and the mean shape."""
    from reenact.face.mean_shape import mean_shape  # frontal positions for the 2D region tests

    fmc = _connections()
    pts = mean_shape()[:, :2]
    lips = _paths(sorted(tuple(sorted(e)) for e in fmc.FACEMESH_LIPS))
    lips.sort(key=lambda loop: -np.ptp(pts[loop, 0]) * np.ptp(pts[loop, 1]))
    outer_lip, inner_lip = lips[0], lips[1]
    eyes = [_loop(sorted(tuple(sorted(e)) for e in s))
            for s in (fmc.FACEMESH_RIGHT_EYE, fmc.FACEMESH_LEFT_EYE)]
    brows = []
    for s in (fmc.FACEMESH_RIGHT_EYEBROW, fmc.FACEMESH_LEFT_EYEBROW):
        p = _paths(sorted(tuple(sorted(e)) for e in s))
        brows.append(p[0] + (p[1][::-1] if len(p) > 1 else []))
    nose = sorted({v for e in fmc.FACEMESH_NOSE for v in e})

    surface = _mesh_triangles()
    mouth = _fan(inner_lip, None, pts)
    eye_fans = [_fan(eyes[0], RIGHT_IRIS_CENTER, pts), _fan(eyes[1], LEFT_IRIS_CENTER, pts)]
    tris = np.concatenate([surface, np.array(mouth), np.array(eye_fans[0] + eye_fans[1])])
    tris = _orient(tris, mean_shape())

    label = np.full(len(tris), REGION["skin"], dtype=np.int64)
    centroid = pts[tris].mean(axis=1)
    ns = len(surface)
    label[:ns][points_in_polygon(pts[outer_lip], centroid[:ns])] = REGION["lips"]
    for brow in brows:
        label[:ns][points_in_polygon(pts[brow], centroid[:ns])] = REGION["brows"]
    nose_hull = pts[nose][_convex_hull(pts[nose])]
    in_nose = points_in_polygon(nose_hull, centroid[:ns]) & (label[:ns] == REGION["skin"])
    label[:ns][in_nose] = REGION["nose"]
    label[ns:ns + len(mouth)] = REGION["mouth"]
    label[ns + len(mouth):] = REGION["eyes"]

    vertex_region = np.full(NUM_VERTICES, REGION["skin"], dtype=np.int64)
    vertex_region[nose] = REGION["nose"]
    for loop, name in ((outer_lip, "lips"), (inner_lip, "lips")):
        vertex_region[loop] = REGION[name]
    for loop in brows:
        vertex_region[loop] = REGION["brows"]
    for loop in eyes:
        vertex_region[loop] = REGION["eyes"]
    iris = np.arange(NUM_MESH_VERTICES, NUM_VERTICES)
    vertex_region[iris] = REGION["iris"]

    oval = _loop(sorted(tuple(sorted(e)) for e in fmc.FACEMESH_FACE_OVAL))
    regions = {
        "outer_lip": np.array(outer_lip), "inner_lip": np.array(inner_lip),
        "right_eye": np.array(eyes[0]), "left_eye": np.array(eyes[1]),
        "right_brow": np.array(brows[0]), "left_brow": np.array(brows[1]),
        "nose": np.array(nose), "iris": iris, "face_oval": np.array(oval),
    }
    return Topology(num_vertices=NUM_VERTICES, triangles=tris.astype(np.int64),
                    triangle_region=label, vertex_region=vertex_region,
                    boundary_loop=np.array(oval), regions=regions)


def _convex_hull(points: np.ndarray) -> np.ndarray:
    from scipy.spatial import ConvexHull

    return ConvexHull(points).vertices
