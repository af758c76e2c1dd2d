"""Is there one plausible face in an image? An independent check: dlib's HOG face detector and
68-point shape predictor (iBUG 300-W order) and OpenCV's Haar eye detector, not mediapipe, which the
pipeline itself tracks with. A metric for tests and contact sheets, not differentiable.

Checks, each with a short reason string when it fails:

- **faces**: the detector finds one face (with a ``box`` hint: one near the expected face; other
  people and mirrored crop borders elsewhere are ignored). Turned faces often escape the HOG
  detector; then the 68 points are predicted in the hint.
- **layout**, read in the face's own frame so head roll passes: ``u`` runs from the eye on the
  image left to the eye on the image right, ``v`` is ``u`` turned 90 degrees towards the chin, both
  in eye distances ``d`` (between the two eye centres). Both eyes lie in the box, the nose tip
  between the eyes along ``u`` (with slack for a turned head), the eyes above the nose tip above the
  mouth above the chin along ``v``, eye distance and mouth width in proportion.
- **stable points**: the predictor run again from slightly moved boxes lands on the same points
  (measured in a unit that does not shrink as the face turns).
- **a second eye** beside the eyes: the points alone never show it (the predictor always returns
  one face-shaped set of points). Issue 20: a turned source re-enacted towards frontal showed a
  mirrored copy of its visible eye on the cheek, just beyond that eye. A strip along the eye line is
  resampled upright; a window 0.85-1.15 d from the eyes' midpoint counts as a second eye when
  OpenCV's Haar eye detector finds it at both of two scales and it matches one of the subject's
  own eye patches or its mirror image (normalised cross-correlation, in the whole patch and in
  each half, scaled down in faint texture); a very strong match counts on its own. Given the
  verdict on the photo an output was made from (``reference``), windows where the photo itself
  shows an eye-like one (a glasses rim) do not count.

Thresholds were set on the unmodified crops of ``../shared/data/corpus/portraits`` and
``../shared/data/faces`` as ``Reenactor.prepare_source`` cuts them (none is rejected for a second
eye; four profile or group crops have no face the HOG detector finds without a box hint) and on the
turned-faces set (``scripts/turned_faces_sheet.py``). Of mirrored eyes pasted on the 168 crops with
a face 0.45, 0.5 and 0.6 d beyond an eye, 64, 79 and 82 % are found when sharp, 5-14 % when faint
and blurred (60 % opacity, 1.5 px blur): a one-scale detection or a wider zone found more of them
but took glasses rims, temples and ears in good outputs for eyes.

Example:
    >>> check = FaceLayoutCheck()  # doctest: +SKIP
    >>> verdict = check(image_rgb8, box=(64, 70, 192, 198))  # doctest: +SKIP
    >>> verdict.ok, verdict.reasons  # doctest: +SKIP
    (False, ('second eye at +0.9 d (echo 0.57)',))
"""

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reenact.eval.identity import _model_dir

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
UPSAMPLE = 1  # HOG detector pyramid upsampling (finds faces down to about 40 px)
MIN_EYE_DISTANCE = 2.0  # pixels; closer eye centres are no face

# iBUG 300-W indices of the 68 points
EYE_LEFT_IMG = slice(36, 42)  # the subject's right eye, on the image left for a frontal face
EYE_RIGHT_IMG = slice(42, 48)
NOSE_TIP = 30
CHIN = 8
MOUTH = slice(48, 68)
MOUTH_CORNERS = (48, 54)

# Plausible layout, in eye distances d along (u, v); every clean crop passes with a margin.
# nose tip at most this far outside the eyes along u: the landmark mesh's mean shape has the tip
# 0.57 d in front of the eyes, so a head turned 60 degrees shows it 0.57 tan 60 = 0.98 d from the
# eyes' midpoint (0.35 rejected real faces turned past 56 degrees)
NOSE_U_SLACK = 0.5
NOSE_BELOW_EYES = 0.05  # nose tip at least this far below the eye line (faces looking up: 0.14)
MOUTH_BELOW_NOSE = 0.10  # clean: at least 0.37
CHIN_BELOW_MOUTH = 0.10  # clean: at least 0.60
EYE_DISTANCE_IN_BOX = (0.18, 0.60)  # d / box side (clean: 0.32-0.47)
MOUTH_WIDTH = (0.45, 1.60)  # mouth corner distance / d (clean: 0.74-1.12)
# Stable points: the predictor from boxes moved by -10, 0, +10 % in x and y and scaled by 0.9 and
# 1.1; the mean point movement / d over these 18 boxes (clean crops: median 0.03, at most 0.27).
JITTER = tuple((dx, dy, s) for dx in (-0.1, 0.0, 0.1) for dy in (-0.1, 0.0, 0.1) for s in (0.9, 1.1))
UNSTABLE = 0.30
# The eyes' distance shrinks as a face turns, the eyes-to-mouth distance does not: wander is
# measured in max(d, eyes-to-mouth / FACE_HEIGHT_PER_D), which is d for all but far-turned faces
# (clean crops: eyes-to-mouth 0.95-1.23 d, 5th-95th percentile). In d alone, a real video frame
# of a face turned 58 degrees (corpus nice_clip1 frame 58) wandered 0.40 and was "unstable".
FACE_HEIGHT_PER_D = 1.25

# A second eye, looked for in upright strips along the eye line, the eyes D pixels apart (lengths
# below in eye distances d, along u from the eyes' midpoint).
CANON_D = 48  # the strip eye patches are matched in
HAAR_D = (48, 60)  # the Haar eye detector looks at two scales (it misses some eyes at each)
HAAR_FILE = "haarcascade_eye.xml"  # OpenCV's trained eye detector (cv2.data)
HAAR_SIZE = (0.30, 0.75)  # eye detections of this width count (wider ones cover both eyes)
STRIP = (2.3, 0.8)  # a strip's half width and half height
ECHO_PATCH = (0.60, 0.36)  # eye patch (width, height)
ECHO_CONTRAST = 0.5  # a match counts in full where its window has this share of the eye's contrast
SECOND_EYE_BAND = 0.25  # a second eye lies at most this far above or below the eye line
# Where a second eye is looked for (|u| from, to) and how well a Haar eye there must match an eye
# patch. An eye reaches about 0.3 d beyond its centre; issue 20's drawn-on eye sat just beyond
# that (+0.9 to +1.1 d). Beyond lie the face's edge, ears and glasses hinges, which the detector
# takes for eyes; between the eyes (where glasses have their bridge) is not searched.
SECOND_EYE_ZONE = (0.85, 1.15)
SECOND_EYE_ECHO = 0.45
ECHO_ALONE = 0.85  # an eye-patch match this strong in the zone is a second eye on its own
# A Haar eye counts where the detector finds it at both scales (HAAR_D) within this distance (d):
# at one scale only, it fires on glasses rims, a temple's hair line and a hand at the face.
HAAR_AGREE = 0.15
@dataclass(frozen=True, eq=False)
class FaceLayout:
    """The verdict on one image.

    faces: faces dlib's HOG detector found in the whole image.
    box: (left, top, right, bottom) pixels of the box the 68 points were predicted in, or None.
    box_source: "detector", "hint" (the caller's box: the detector missed the face) or "none".
    points: (68, 2) float64 image pixels (x, y) in iBUG 300-W order, or None without a box.
    wander: how far the points move when the box is moved a little (mean, in d, or for a face
        turned far in its eyes-to-mouth distance / FACE_HEIGHT_PER_D; nan without points).
    echo: the strongest eye-patch match beside the eyes (in [-1, 1]; nan without points).
    echo_at: where it lies along u, in eye distances from the eyes' midpoint (nan without points).
    eye_like: (u, v, echo) of each window beside the eyes that the Haar detector takes for an
        eye at both scales, whatever its echo (in d, the face's frame).
    reasons: why the layout is implausible, short strings; empty when the image passes.
    """

    faces: int
    box: tuple[int, int, int, int] | None
    box_source: str
    points: np.ndarray | None
    wander: float
    echo: float
    echo_at: float
    reasons: tuple[str, ...]
    eye_like: tuple[tuple[float, float, float], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.reasons


class FaceLayoutCheck:
    """dlib's HOG detector and 68-point predictor (the files of face_recognition_models) and
    OpenCV's Haar eye detector (shipped with opencv-python)."""

    def __init__(self) -> None:
        import dlib

        self._dlib = dlib
        self._detect = dlib.get_frontal_face_detector()
        self._predict = dlib.shape_predictor(str(_model_dir() / PREDICTOR_FILE))
        haar = Path(cv2.data.haarcascades) / HAAR_FILE
        self._haar = cv2.CascadeClassifier(str(haar))
        if self._haar.empty():
            raise FileNotFoundError(f"OpenCV's eye detector not found at {haar}")

    def __call__(self, image: np.ndarray,
                 box: tuple[float, float, float, float] | None = None,
                 reference: FaceLayout | None = None) -> FaceLayout:
        """Check an (H, W, 3) uint8 RGB image.

        Args:
            box: optional (left, top, right, bottom) pixels where the face is expected, in the
                detector's framing (about brows to chin, square). Detections whose centre lies
                outside it are ignored (other people, a mirrored border); with none inside it, the
                points are predicted in this box instead.
            reference: the verdict on the photo an output was made from: where the photo itself
                shows an eye-like window beside its eyes (a glasses rim, an earring), the output's
                is not taken for a second eye.
        """
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 image, got {image.dtype} "
                             f"{image.shape}")
        dets = [(d.left(), d.top(), d.right(), d.bottom()) for d in self._detect(image, UPSAMPLE)]
        reasons: list[str] = []
        near = dets if box is None else [d for d in dets if _centre_inside(d, box)]
        if len(near) > 1:
            reasons.append(f"{len(near)} faces")
        if near:
            used, source = max(near, key=lambda d: (d[2] - d[0]) * (d[3] - d[1])), "detector"
        elif box is not None:
            used, source = tuple(round(c) for c in box), "hint"
        else:
            nan = float("nan")
            return FaceLayout(len(dets), None, "none", None, nan, nan, nan, ("no face",))
        points = self._points(image, used)  # (68, 2)
        reasons += layout_reasons(points, used)
        if face_frame(points)[3] < MIN_EYE_DISTANCE:
            nan = float("nan")
            return FaceLayout(len(dets), used, source, points, nan, nan, nan, tuple(reasons))
        wander = self._wander(image, used, points)
        if wander > UNSTABLE:
            reasons.append(f"points unstable ({wander:.2f} d)")
        echo, echo_at, eye_like = second_eye(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), points,
                                             self._haar)
        doubled = doubled_eye(echo, echo_at, eye_like,
                              reference.eye_like if reference is not None else ())
        if doubled:
            reasons.append(doubled)
        return FaceLayout(len(dets), used, source, points, wander, echo, echo_at, tuple(reasons),
                          eye_like)

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """dlib's 68 points (68, 2) of the largest face its detector finds, or None: an
        independent landmark estimate for measures (not the tracker the pipeline uses)."""
        dets = self._detect(image, UPSAMPLE)
        if not dets:
            return None
        d = max(dets, key=lambda r: r.area())
        return self._points(image, (d.left(), d.top(), d.right(), d.bottom()))

    def _points(self, image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        rect = self._dlib.rectangle(*(round(c) for c in box))
        return np.array([(p.x, p.y) for p in self._predict(image, rect).parts()], np.float64)

    def _wander(self, image: np.ndarray, box: tuple[int, int, int, int],
                points: np.ndarray) -> float:
        """Mean movement of the points when predicted from slightly moved boxes, in d (or for
        a face turned far, its eyes-to-mouth distance / FACE_HEIGHT_PER_D)."""
        mid, _, _, d = face_frame(points)
        d = max(d, float(np.linalg.norm(points[MOUTH].mean(0) - mid)) / FACE_HEIGHT_PER_D)
        w, h = box[2] - box[0], box[3] - box[1]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        moves = []
        for dx, dy, s in JITTER:
            x0, y0 = cx + dx * w - s * w / 2, cy + dy * h - s * h / 2
            p = self._points(image, (x0, y0, x0 + s * w, y0 + s * h))
            moves.append(np.linalg.norm(p - points, axis=1).mean() / max(d, 1e-9))
        return float(np.mean(moves))


def _centre_inside(det: tuple[int, int, int, int], box: tuple[float, ...]) -> bool:
    cx, cy = (det[0] + det[2]) / 2, (det[1] + det[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def face_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(68, 2) points -> (eyes' midpoint, u, v, d): the face's own frame (module docstring)."""
    e1, e2 = points[EYE_LEFT_IMG].mean(0), points[EYE_RIGHT_IMG].mean(0)
    d = float(np.linalg.norm(e2 - e1))
    u = (e2 - e1) / max(d, 1e-9)
    v = np.array([-u[1], u[0]])
    return (e1 + e2) / 2, u, v, d


def layout_reasons(points: np.ndarray, box: tuple[int, int, int, int]) -> list[str]:
    """What is implausible about 68 points predicted in ``box``; [] when nothing is."""
    mid, u, v, d = face_frame(points)
    side = max(box[2] - box[0], box[3] - box[1], 1)
    if d < MIN_EYE_DISTANCE:
        return ["eyes on top of each other"]
    uv = (points - mid) @ np.stack([u, v], 1) / d  # (68, 2) in eye distances
    reasons = []
    nose_u, nose_v = uv[NOSE_TIP]
    if abs(nose_u) > 0.5 + NOSE_U_SLACK:
        reasons.append(f"nose outside the eyes ({nose_u:+.2f} d)")
    mouth_v, chin_v = uv[MOUTH, 1].mean(), uv[CHIN, 1]
    if nose_v < NOSE_BELOW_EYES:
        reasons.append(f"nose not below the eyes ({nose_v:+.2f} d)")
    if mouth_v - nose_v < MOUTH_BELOW_NOSE:
        reasons.append(f"mouth not below the nose ({mouth_v - nose_v:+.2f} d)")
    if chin_v - mouth_v < CHIN_BELOW_MOUTH:
        reasons.append(f"chin not below the mouth ({chin_v - mouth_v:+.2f} d)")
    x0, y0, x1, y1 = box
    for eye in (EYE_LEFT_IMG, EYE_RIGHT_IMG):
        ex, ey = points[eye].mean(0)
        if not (x0 <= ex <= x1 and y0 <= ey <= y1):
            reasons.append("an eye outside the face box")
            break
    lo, hi = EYE_DISTANCE_IN_BOX
    if not lo <= d / side <= hi:
        reasons.append(f"eye distance {d / side:.2f} of the box")
    mouth = np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]]) / d
    if not MOUTH_WIDTH[0] <= mouth <= MOUTH_WIDTH[1]:
        reasons.append(f"mouth width {mouth:.2f} d")
    return reasons


def _patch_size() -> tuple[int, int]:
    """Eye patch (width, height) in canonical pixels, both odd."""
    return tuple(round(f * CANON_D) // 2 * 2 + 1 for f in ECHO_PATCH)


def canonical_strip(grey: np.ndarray, points: np.ndarray, D: int
                    ) -> tuple[np.ndarray, int, int]:
    """The band around the eye line, resampled so the eyes lie on a horizontal line D pixels
    apart: ((H, W) float32 grey levels, x of the eyes' midpoint, y of the eye line)."""
    mid, u, v, d = face_frame(points)
    cx, cy = (round(f * D) for f in STRIP)
    s = D / d
    A = s * np.stack([u, v])  # (2, 2): image offsets -> canonical offsets
    M = np.concatenate([A, (np.array([cx, cy]) - A @ mid)[:, None]], 1)  # (2, 3)
    canon = cv2.warpAffine(grey, M, (2 * cx + 1, 2 * cy + 1), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    return canon.astype(np.float32), cx, cy


def _local_std(image: np.ndarray, pw: int, ph: int) -> np.ndarray:
    """Standard deviation of every (ph, pw) window, shaped like matchTemplate's result."""
    mean = cv2.boxFilter(image, -1, (pw, ph), normalize=True, borderType=cv2.BORDER_REFLECT)
    sq = cv2.boxFilter(image * image, -1, (pw, ph), normalize=True,
                       borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(sq - mean * mean, 0))
    y0, x0 = (ph - 1) // 2, (pw - 1) // 2  # boxFilter's anchor is the window centre
    return std[y0:y0 + image.shape[0] - ph + 1, x0:x0 + image.shape[1] - pw + 1]


def _match(image: np.ndarray, template: np.ndarray) -> np.ndarray:
    """NCC of ``template`` at every position, scaled down where the window has under
    ECHO_CONTRAST of the template's contrast (faint texture matches anything)."""
    ph, pw = template.shape
    ncc = cv2.matchTemplate(image, template, cv2.TM_CCOEFF_NORMED)
    if template.std() < 1.0:  # a flat template matches nothing
        return np.zeros_like(ncc)
    return ncc * np.minimum(1.0, _local_std(image, pw, ph) / (ECHO_CONTRAST * template.std()))


def echo_map(canon: np.ndarray, template: np.ndarray) -> np.ndarray:
    """How well each window of ``canon`` matches the eye ``template`` as a whole and in each of its
    left and right halves (an edge of hair against skin matches one half only): the least of the
    three contrast-weighted NCCs, (H - ph + 1, W - pw + 1), indexed by the window's top-left."""
    pw = template.shape[1]
    half = pw // 2 + 1  # the halves share the centre column
    full = _match(canon, template)
    left = _match(canon[:, :canon.shape[1] - (pw - half)], template[:, :half])
    right = _match(canon[:, pw - half:], template[:, pw - half:])
    return np.minimum(full, np.minimum(left, right))


def eye_echoes(canon: np.ndarray, cx: int, cy: int) -> np.ndarray:
    """The best match of either eye patch or its mirror image at every window centre of the
    strip, (H, W) with -1 where no window fits or an eye patch is flat."""
    pw, ph = _patch_size()
    best = np.full(canon.shape, -1.0, np.float32)
    for ex in (cx - CANON_D // 2, cx + CANON_D // 2):
        patch = canon[cy - ph // 2:cy + ph // 2 + 1, ex - pw // 2:ex + pw // 2 + 1]
        if patch.std() < 1.0:  # a flat patch matches nothing
            continue
        for t in (patch, np.ascontiguousarray(patch[:, ::-1])):
            m = echo_map(canon, t)
            view = best[ph // 2:ph // 2 + m.shape[0], pw // 2:pw // 2 + m.shape[1]]
            np.maximum(view, m, out=view)
    return best


def _in_zone(u: float, v: float) -> bool:
    """Whether canonical (u, v) (in d) lies where a second eye is looked for."""
    return abs(v) <= SECOND_EYE_BAND and SECOND_EYE_ZONE[0] <= abs(u) < SECOND_EYE_ZONE[1]


def second_eye(grey: np.ndarray, points: np.ndarray, haar
               ) -> tuple[float, float, tuple[tuple[float, float, float], ...]]:
    """Look for a second copy of an eye beside the eyes (module docstring).

    Returns (echo: the strongest eye-patch match in the zone searched, where it lies along u in d,
    and the eye-like windows there: (u, v, echo) of each Haar eye found at both scales)."""
    canon, cx, cy = canonical_strip(grey, points, CANON_D)
    echoes = eye_echoes(canon, cx, cy)
    ys, xs = np.mgrid[:canon.shape[0], :canon.shape[1]]
    u, v = (xs - cx) / CANON_D, (ys - cy) / CANON_D
    searched = (np.abs(v) <= SECOND_EYE_BAND) & (np.abs(u) >= SECOND_EYE_ZONE[0]) \
        & (np.abs(u) < SECOND_EYE_ZONE[1])
    i = int(np.argmax(np.where(searched, echoes, -np.inf)))
    echo, echo_at = float(echoes.flat[i]), float(u.flat[i])
    found = []  # per scale, the (u, v) of Haar eyes in the zone
    for D in HAAR_D:
        strip, sx, sy = canonical_strip(grey, points, D)
        lo, hi = (round(f * D) for f in HAAR_SIZE)
        found.append([((x + w / 2 - sx) / D, (y + h / 2 - sy) / D)
                      for x, y, w, h in haar.detectMultiScale(
                          np.clip(strip, 0, 255).astype(np.uint8), scaleFactor=1.05,
                          minNeighbors=3, minSize=(lo, lo), maxSize=(hi, hi))])
    r = max(1, CANON_D // 10)  # a detection's centre is only roughly the eye's
    eye_like = []
    for eu, ev in found[0]:
        if not _in_zone(eu, ev) or not any(np.hypot(eu - fu, ev - fv) <= HAAR_AGREE
                                           for fu, fv in found[1]):
            continue
        px, py = round(cx + eu * CANON_D), round(cy + ev * CANON_D)
        score = float(echoes[max(py - r, 0):py + r + 1, max(px - r, 0):px + r + 1].max())
        eye_like.append((float(eu), float(ev), score))
    return echo, echo_at, tuple(eye_like)


def doubled_eye(echo: float, echo_at: float, eye_like: tuple[tuple[float, float, float], ...],
                own: tuple[tuple[float, float, float], ...] = ()) -> str | None:
    """The reason an image shows a second eye, or None: an eye-patch match of ECHO_ALONE, or an
    eye-like window matching the subject's eye by SECOND_EYE_ECHO where the photo (``own``: its
    eye-like windows) shows none itself."""
    if echo >= ECHO_ALONE:
        return f"eye echo {echo:.2f} at {echo_at:+.1f} d"
    for u, v, score in eye_like:
        if score >= SECOND_EYE_ECHO and not any(np.hypot(u - ou, v - ov) <= HAAR_AGREE
                                                for ou, ov, _ in own):
            return f"second eye at {u:+.1f} d (echo {score:.2f})"
    return None
