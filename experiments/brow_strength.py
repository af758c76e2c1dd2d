"""How far the brows move (issue 21, item 3), judged from the pixels as well as by landmarks.

Both landmark models see brows poorly (their priors pull the points towards a resting brow, and
``expression_strength.py`` found their brow changes barely correlated). This script adds a judge
from the pixels: above each eye (dlib's eye corners give the place, the
eye line the roll, the outer corners' distance the scale), the brightness profile across a band
0.12-0.48 eye distances above the corners; the brow's move is the vertical shift that best aligns a
frame's profile with the reference's (normalised cross-correlation, 0.002 eye-distance steps).
Since ``reenact/tracking/brows.py`` registers driving frames the same way (with mediapipe's eye
corners), the pixels judge the driver here; the output is judged by dlib's points.

For each driving frame, each brow's rise since the reference, in eye distances, by: ``drv_px`` (the
driving frame's pixels), ``drv_dlib`` and ``drv_mp`` (the mean brow point's height above the eye
corners' line), ``mesh`` (the re-enacted mesh, the same points), ``out_mp``, ``out_dlib`` and
``out_px`` (the output against the unmoved photo). Printed: slopes through the origin of each on
``drv_px`` over frames whose driver moved a brow by more than 0.01, and the correlations.

    python experiments/brow_strength.py out.json dreamtalk/W009_front_surprised_level3_001.mp4 \\
        [faces/s42.jpg,...]      # no photos: self-reenactment, the clip's frame 0 is the photo
"""

import itertools
import json
import sys
from pathlib import Path

import cv2
import numpy as np
from mediapipe.python.solutions import face_mesh_connections as fmc

from reenact.config import AnimateConfig
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.io import iter_video_frames, read_image
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FRAMES, EVERY = 200, 4
STAGES = ("drv_px", "drv_dlib", "drv_mp", "mesh", "out_mp", "out_dlib", "out_px")
MP_BROWS = [sorted({i for e in s for i in e})
            for s in (fmc.FACEMESH_RIGHT_EYEBROW, fmc.FACEMESH_LEFT_EYEBROW)]
MP_EYES = ((33, 133), (362, 263))  # (outer, inner) right, (inner, outer) left: image left to right
DLIB_BROWS = (range(17, 22), range(22, 27))
DLIB_EYES = ((36, 39), (42, 45))
BAND = (0.12, 0.48)  # the profile's rows, eye distances above the corners' line
SEARCH = 0.12  # the largest shift tried, eye distances


def brow_heights(points: np.ndarray, brows, eyes) -> np.ndarray:
    """Each brow's mean point above its eye corners' line, over the outer corners' distance."""
    p = np.asarray(points, np.float64)[:, :2]
    u = p[eyes[1][1]] - p[eyes[0][0]]
    iod = np.linalg.norm(u)
    up = np.array([u[1], -u[0]]) / iod  # image y grows down: up is (u_y, -u_x)
    return np.array([(p[list(b)].mean(0) - p[list(e)].mean(0)) @ up / iod
                     for b, e in zip(brows, eyes, strict=True)])


def profiles(image: np.ndarray, dlib_points: np.ndarray, step: float = 0.002) -> list[np.ndarray]:
    """Each eye's brightness profile upwards from its corners' line, one sample per ``step`` eye
    distances, from BAND[0] - SEARCH to BAND[1] + SEARCH eye distances, 0.2 wide."""
    p = dlib_points
    u = p[45] - p[36]
    iod = np.linalg.norm(u)
    u = u / iod
    up = np.array([u[1], -u[0]])
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)
    out = []
    for a, b in DLIB_EYES:
        c = (p[a] + p[b]) / 2
        heights = np.arange(BAND[0] - SEARCH, BAND[1] + SEARCH, step)
        across = np.linspace(-0.1, 0.1, 24)
        xy = c + (heights[:, None, None] * up + across[None, :, None] * u) * iod
        rows = cv2.remap(grey, xy[..., 0].astype(np.float32), xy[..., 1].astype(np.float32),
                         cv2.INTER_LINEAR)
        out.append(rows.mean(1))
    return out


def shift(ref: np.ndarray, cur: np.ndarray, step: float = 0.002) -> float:
    """The upward shift (eye distances) of ``cur``'s profile that best matches ``ref``'s middle."""
    k = round(SEARCH / step)
    core = ref[k:-k]
    core = (core - core.mean()) / (core.std() + 1e-6)
    best, where = -2.0, 0
    for s in range(-k, k + 1):
        seg = cur[k + s: len(cur) - k + s]
        seg = (seg - seg.mean()) / (seg.std() + 1e-6)
        r = float((core * seg).mean())
        if r > best:
            best, where = r, s
    return where * step


class Judges:
    def __init__(self):
        self.tracker = FaceTracker(static=True)
        self.check = FaceLayoutCheck()

    def look(self, image: np.ndarray) -> dict | None:
        image = np.ascontiguousarray(image)
        face = pick_face(self.tracker.detect(image), 0)
        d = self.check.landmarks(image)
        if face is None or d is None:
            return None
        return {"mp": brow_heights(face.points, MP_BROWS, MP_EYES),
                "dlib": brow_heights(d, DLIB_BROWS, DLIB_EYES), "px": profiles(image, d)}


def run(video: str, photo_name: str | None, judges: Judges) -> list[dict]:
    frames = list(itertools.islice(iter_video_frames(DATA / "corpus" / "videos" / video), FRAMES))
    photo = frames[0] if photo_name is None else read_image(DATA / photo_name)
    r = Reenactor(AnimateConfig(crop_only=True, motion="relative", reference_frame=0))
    src = r.prepare_source(photo, photo_name or video)
    p, ref = judges.look(src.crop), judges.look(frames[0])
    if p is None or ref is None:
        return []
    rows, mesh0 = [], None
    warps = r.drive(src, frames, 25.0, True, frames[0], video)
    for i, (frame, warp) in enumerate(zip(frames, warps, strict=True)):
        mesh = brow_heights(warp.verts[0].numpy(), MP_BROWS, MP_EYES)
        mesh0 = mesh if mesh0 is None else mesh0
        if i % EVERY:
            continue
        d, o = judges.look(frame), judges.look(r.compose(src, warp))
        if d is None or o is None:
            continue
        rows.append({
            "clip": video, "photo": photo_name, "frame": i,
            "drv_px": [shift(a, b) for a, b in zip(ref["px"], d["px"], strict=True)],
            "drv_dlib": (d["dlib"] - ref["dlib"]).tolist(),
            "drv_mp": (d["mp"] - ref["mp"]).tolist(),
            "mesh": (mesh - mesh0).tolist(), "out_mp": (o["mp"] - p["mp"]).tolist(),
            "out_dlib": (o["dlib"] - p["dlib"]).tolist(),
            "out_px": [shift(a, b) for a, b in zip(p["px"], o["px"], strict=True)]})
    return rows


def summarise(rows: list[dict], min_change: float = 0.01) -> dict:
    table = {}
    for k, side in enumerate(("right", "left")):
        moved = [r for r in rows if abs(r["drv_px"][k]) > min_change]
        if len(moved) < 5:
            continue
        col = {s: np.array([r[s][k] for r in moved]) for s in STAGES}
        x = col["drv_px"]
        table[side] = {"n": len(moved), "driver_rise": float(np.abs(x).mean())} | {
            s: [float((x * col[s]).sum() / (x * x).sum()), float(np.corrcoef(x, col[s])[0, 1])]
            for s in STAGES[1:]}
    return table


def main(out: str, videos: list[str], photos: list[str]) -> None:
    judges, rows = Judges(), []
    for v in videos:
        for p in photos or [None]:
            got = run(v, p, judges)
            rows += got
            print(v, p, len(got), summarise(got).get("right", {}).get("out_px"), flush=True)
    table = summarise(rows)
    Path(out).write_text(json.dumps({"table": table, "rows": rows}, indent=1))
    print(f"{'brow':6s}{'n':>5s}{'rise':>7s}" + "".join(f"{s:>14s}" for s in STAGES[1:]))
    for side, t in table.items():
        print(f"{side:6s}{t['n']:5d}{t['driver_rise']:7.3f}"
              + "".join(f"{t[s][0]:7.2f} ({t[s][1]:4.2f})" for s in STAGES[1:]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",") if len(sys.argv) > 3 else [])
