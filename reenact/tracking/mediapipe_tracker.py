"""mediapipe face mesh with iris refinement: 478 landmarks per face, in image space (pixels).

mediapipe returns x, y normalised by the image width and height and z normalised by the width
(smaller is closer); we scale all three to pixels so the landmarks are metric in image space.
Still images are detected afresh every call; videos use tracking mode, where mediapipe reuses
the previous frame's face region (faster and steadier).

A face just detected is meshed in the region mediapipe's detector gives, which can sit badly on a
face that fills the image: on one (a raised-brow frame of a 256-pixel clip) the mesh put the brows
on the upper lids, 20 pixels below where the next frame's tracked mesh (in the region the
landmarks give) put them. So every new face is meshed twice, the second time in the region of its
own first mesh, as tracking does (``SETTLE``): a photo, a driving image and a video's first frame
then agree with the tracked frames that follow, which relative motion compares them with.

Face mesh's own detector (short range) misses faces under about a tenth of the image's width. When
it finds nothing, mediapipe's full-range detector looks for smaller faces (in overlapping tiles for
stills), and the mesh runs on an enlarged crop around each; in a video the crop then follows the
face from frame to frame. Faces from about ``MIN_FACE_PIXELS`` wide are found this way.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from reenact.face.mediapipe_loader import import_mediapipe
from reenact.tracking import known

MIN_FACE_PIXELS = 56  # the smallest face (landmark box width) the search found in each test photo
CROP_SIZE = 320  # pixels of the enlarged crop the mesh runs on, for a small face
CROP_SCALE = 2.5  # crop side / detected face box side
SMALL_FACE = 0.2  # the largest face, as a share of the image's side, the search for small ones keeps
TILE_EVERY = 15  # video: frames between tiled searches while no face is found
TILE = 768  # tile side of the search for small faces in stills (the detector sees 192 pixels)
SETTLE = True  # mesh each newly detected face again in the region of its first mesh


@dataclass(frozen=True)
class TrackedFace:
    points: np.ndarray  # (478, 3) float64, image space, pixels
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the landmarks, pixels

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])

    @property
    def center(self) -> np.ndarray:
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2])


class FaceTracker:
    """Wraps ``mediapipe.solutions.face_mesh.FaceMesh``.

    Args:
        static: True for independent still images, False for consecutive video frames.
        max_faces: how many faces mediapipe looks for.
        min_confidence: mediapipe's detection (and, in video mode, tracking) confidence.
    """

    def __init__(self, static: bool = True, max_faces: int = 4, min_confidence: float = 0.5,
                 tiles: bool = True):
        self._mp = None if static else import_mediapipe()  # stills: on first need (``known``)
        self._static, self._max_faces, self._confidence = static, max_faces, min_confidence
        # the tiled search (about a second for a 4000-pixel photo): every still, and one video
        # frame in TILE_EVERY while no face is found
        self._tiles = tiles
        self._faceless = 0  # video: frames since a face was found (or since the last tiled search)
        self._mesh = None if static else self._new_mesh(False, max_faces)
        # video: whether the mesh is settled (``_one_face``, at the first frame with a face)
        self._decided = static or max_faces == 1
        # stills: a tracking-mode mesh per (static mode, max faces), made on first need and reset
        # for each image, which it meshes twice
        self._stills: dict[tuple[bool, int], object] = {}
        self._tracking = False  # video: whether the mesh found a face in the last frame
        self._crop_mesh = None  # the mesh on small faces' crops, made on first need (videos)
        self._detector = None  # the full-range face detector, made on first need
        self._roi = None  # video: (cx, cy, side) of the crop a small face is followed in

    @property
    def settings(self) -> tuple:
        """What a still's result depends on besides its pixels (``known``'s keys)."""
        return self._max_faces, self._confidence, self._tiles, SETTLE

    def _mediapipe(self):
        if self._mp is None:
            self._mp = import_mediapipe()
        return self._mp

    def _new_mesh(self, static: bool, max_faces: int):
        return self._mediapipe().solutions.face_mesh.FaceMesh(
            static_image_mode=static, max_num_faces=max_faces, refine_landmarks=True,
            min_detection_confidence=self._confidence,
            min_tracking_confidence=self._confidence)

    def _still(self, image: np.ndarray, max_faces: int) -> list:
        """mediapipe's results for a still: detected, then (``SETTLE``) tracked once in place.
        The mesh starts a new run of its graph for each still (``reset``): nothing of the last
        image is left, as in a new mesh, which took 8 ms more a still (47 -> 39 ms, 43 frames
        of d3.mp4, the same landmarks to the bit)."""
        kind = (not SETTLE, max_faces)
        if (mesh := self._stills.get(kind)) is None:
            mesh = self._stills[kind] = self._new_mesh(*kind)
        else:
            mesh.reset()
        first = mesh.process(image)
        return [first, mesh.process(image)] if SETTLE and first.multi_face_landmarks else [first]

    def detect(self, image: np.ndarray) -> list[TrackedFace]:
        """All faces in an (H, W, 3) uint8 RGB image, largest first. For a still, what
        ``reenact.tracking.known`` holds for its pixels and this tracker's settings, if any."""
        image = np.ascontiguousarray(image)
        if self._static and (found := known.faces(image, *self.settings)) is not None:
            return [TrackedFace(points, box) for points, box in found]
        if self._roi is None:
            if self._static:
                results = self._still(image, self._max_faces)
            else:  # a face just detected (none tracked in the last frame) is meshed again
                results = [self._mesh.process(image)]
                if SETTLE and not self._tracking and results[0].multi_face_landmarks:
                    results.append(self._mesh.process(image))
                self._tracking = bool(results[-1].multi_face_landmarks)
            faces = _settled([_faces(r, 0.0, 0.0, 1.0, image.shape) for r in results])
            if not self._decided and faces:
                self._one_face(image, len(results), len(faces))
            if faces:
                return faces
            rois = self._small_face_regions(image)
        else:  # a small face followed in its crop
            rois = [self._roi]
        faces = []
        for roi in rois:
            faces += self._in_crop(image, roi)
        # small faces only: a large one the mesh missed is turned or hidden, and the crop's
        # landmarks on it no better than none (a frame without a face holds the last motion)
        limit = SMALL_FACE * max(image.shape[:2])
        faces = _distinct(sorted([f for f in faces if max(f.box[2] - f.box[0],
                                                          f.box[3] - f.box[1]) < limit],
                                 key=lambda f: -f.area))
        if not self._static:
            self._roi = _follow(self._roi, faces[0]) if faces else None
            self._faceless = 0 if faces else self._faceless
        return faces

    def _one_face(self, image: np.ndarray, passes: int, found: int) -> None:
        """At a video's first frame with a face: where it shows one, the frames after it are
        meshed by a mesh that looks for one face. mediapipe's mesh runs its face detector on
        every frame while it tracks fewer faces than it may, to find more; for one face that
        cost 4.5 of 12 ms a frame (d3.mp4, 300 frames), and the tracked face's landmarks are the
        same to the bit. The new mesh is given this frame as often as the old one was, so it
        tracks on from the same landmarks. A video that starts with several faces keeps
        looking for them (the largest is driven, then the one nearest it)."""
        self._decided = True
        if found == 1:
            mesh = self._new_mesh(False, 1)
            for _ in range(passes):
                mesh.process(image)
            self._mesh.close()
            self._mesh = mesh

    def _small_face_regions(self, image: np.ndarray) -> list[tuple[float, float, float]]:
        """(cx, cy, side) crops around the faces the full-range detector finds: in the whole
        image, then (``tiles``) in overlapping tiles of it."""
        if self._detector is None:
            self._detector = self._mediapipe().solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=self._confidence)
        h, w = image.shape[:2]
        boxes = _detections(self._detector.process(image), 0, 0, w, h)
        tiles = self._tiles and max(h, w) > TILE and (self._static or self._faceless == 0)
        self._faceless = (self._faceless + 1) % TILE_EVERY
        if not boxes and tiles:
            for y in _starts(h):
                for x in _starts(w):
                    tile = np.ascontiguousarray(image[y:y + TILE, x:x + TILE])
                    boxes += _detections(self._detector.process(tile), x, y,
                                         tile.shape[1], tile.shape[0])
        return [(x0 + bw / 2, y0 + bh / 2, CROP_SCALE * max(bw, bh))
                for x0, y0, bw, bh in boxes[:self._max_faces * 4]]

    def _in_crop(self, image: np.ndarray, roi: tuple[float, float, float]
                 ) -> list[TrackedFace]:
        """The mesh on a CROP_SIZE crop around ``roi``, its landmarks back in image pixels."""
        cx, cy, side = roi
        k = CROP_SIZE / side
        x0, y0 = cx - side / 2, cy - side / 2
        M = np.array([[k, 0.0, -x0 * k], [0.0, k, -y0 * k]])
        crop = cv2.warpAffine(image, M, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        if self._static:
            results = self._still(crop, 1)
        else:  # the crop follows the face; mediapipe tracks it inside
            if self._crop_mesh is None:
                self._crop_mesh = self._new_mesh(False, 1)
            results = [self._crop_mesh.process(crop)]
        return _settled([_faces(r, x0, y0, 1 / k, crop.shape) for r in results])

    def close(self) -> None:
        for mesh in (self._mesh, self._crop_mesh, self._detector, *self._stills.values()):
            if mesh is not None:
                mesh.close()
        self._stills.clear()

    def __enter__(self) -> "FaceTracker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _faces(result, x0: float, y0: float, scale: float, shape: tuple) -> list[TrackedFace]:
    """mediapipe's landmarks of an image of ``shape`` -> faces in the pixels of the image it was
    cut from (``x0``, ``y0``: its corner there; ``scale``: source pixels per its pixel)."""
    h, w = shape[:2]
    faces = []
    for lms in result.multi_face_landmarks or []:
        pts = _normalised(lms) * np.array([w, h, w], np.float64)  # (p.x * w, p.y * h, p.z * w)
        pts *= scale
        pts[:, 0] += x0
        pts[:, 1] += y0
        box = (pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
        faces.append(TrackedFace(points=pts, box=tuple(float(b) for b in box)))
    return sorted(faces, key=lambda f: -f.area)


# a NormalizedLandmark serialised with x, y and z set (as mediapipe's mesh sets them): field 1 of
# the list, 15 bytes long, and the three float32 fields 1 to 3, each a tag byte then 4 bytes
_RECORD = np.dtype([("tag", "u1"), ("size", "u1"), ("x_tag", "u1"), ("x", "<f4"), ("y_tag", "u1"),
                    ("y", "<f4"), ("z_tag", "u1"), ("z", "<f4")])
_TAGS = {"tag": 0x0A, "size": 15, "x_tag": 0x0D, "y_tag": 0x15, "z_tag": 0x1D}


def _normalised(landmarks) -> np.ndarray:
    """A NormalizedLandmarkList -> (n, 3) float64 x, y, z. Read from its wire bytes, all at
    once, where each landmark has exactly x, y and z: the same float32 values as the landmarks'
    attributes, without a Python object per landmark (0.6 -> 0.08 ms of the tracking thread's
    time a frame, with the interpreter's lock held); otherwise from the attributes."""
    wire = landmarks.SerializeToString()
    if len(wire) == _RECORD.itemsize * len(landmarks.landmark):
        records = np.frombuffer(wire, _RECORD)
        if all((records[name] == value).all() for name, value in _TAGS.items()):
            return np.stack([records["x"], records["y"], records["z"]], 1).astype(np.float64)
    return np.array([(p.x, p.y, p.z) for p in landmarks.landmark], dtype=np.float64)


def _settled(passes: list[list[TrackedFace]]) -> list[TrackedFace]:
    """The last pass's faces, and any earlier pass's face that it lost, largest first."""
    faces = _distinct([f for p in reversed(passes) for f in p])
    return sorted(faces, key=lambda f: -f.area)


def _detections(result, x0: int, y0: int, w: int, h: int) -> list[tuple[float, ...]]:
    """The detector's boxes (x0, y0, width, height) in the pixels of the image the tile is in."""
    boxes = []
    for d in result.detections or []:
        b = d.location_data.relative_bounding_box
        boxes.append((x0 + b.xmin * w, y0 + b.ymin * h, b.width * w, b.height * h))
    return boxes


def _starts(n: int) -> list[int]:
    """Tile origins along an axis of ``n`` pixels: TILE wide, overlapping by half, to the end."""
    if n <= TILE:
        return [0]
    step = TILE // 2
    return sorted(set(list(range(0, n - TILE, step)) + [n - TILE]))


def _distinct(faces: list[TrackedFace]) -> list[TrackedFace]:
    """Drop faces whose centre lies inside a larger face's box (one face found in two tiles)."""
    kept: list[TrackedFace] = []
    for f in faces:
        cx, cy = f.center
        if not any(k.box[0] <= cx <= k.box[2] and k.box[1] <= cy <= k.box[3] for k in kept):
            kept.append(f)
    return kept


def _follow(roi: tuple[float, float, float] | None, face: TrackedFace
            ) -> tuple[float, float, float]:
    """The crop for the next frame: kept while the face stays well inside it (a still crop keeps
    mediapipe's tracking steady), else re-centred on the face."""
    side = CROP_SCALE * max(face.box[2] - face.box[0], face.box[3] - face.box[1])
    cx, cy = face.center
    if roi is not None:
        rx, ry, rs = roi
        if max(abs(cx - rx), abs(cy - ry)) < 0.1 * rs and 0.85 < side / rs < 1.18:
            return roi
    return (float(cx), float(cy), float(side))


def pick_face(faces: list[TrackedFace], index: int = 0,
              previous: TrackedFace | None = None) -> TrackedFace | None:
    """Choose a face: the one nearest the previous frame's face when there is one, else by size
    rank (0 = largest). Returns None when there is no face or fewer than ``index + 1`` faces."""
    if not faces:
        return None
    if previous is not None:
        return min(faces, key=lambda f: float(np.linalg.norm(f.center - previous.center)))
    return faces[index] if index < len(faces) else None
