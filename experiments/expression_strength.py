"""Where expression strength is lost (issue 21, item 3): photos driven by corpus clips in relative
motion, every expression measure's change followed through the pipeline's stages.

For each driving frame and each measure (mouth opening, width, smile, each eye's opening, each
brow's height; ``reenact.eval.expression_error``), the change since the reference frame in:

- ``drv_dlib``: the driving frame, by dlib's 68 points (the independent judge);
- ``drv_mp``: the driving frame, by mediapipe's points (static tracker: what the tracker sees);
- ``mesh``: the re-enacted mesh the warp realises (after smoothing, transfer and trust);
- ``out_mp``: the output, by mediapipe's points again (what the warp draws of the mesh);
- ``out_dlib``: the output, by dlib's points.

The output's changes are against the unmoved photo's. Printed per measure: the slope (least
squares through the origin) of each stage on the one before it and of ``out_dlib`` on
``drv_dlib`` (1 = full strength), over all frames whose driver changed by more than a small
amount on that measure.

    python experiments/expression_strength.py out.json \\
        dreamtalk/W011_front_surprised_level3_001.mp4 faces/s42.jpg,faces/s1.jpg [--self]

``--self``: each video's own frame 0 is the photo (and the reference), so the output should
reproduce the driving frames.
"""

import itertools
import json
import sys
from pathlib import Path

import numpy as np

from reenact.config import AnimateConfig
from reenact.eval.expression_error import (
    DLIB_NAMES,
    dlib_expression_descriptor,
    expression_descriptor,
)
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.io import iter_video_frames, read_image
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FRAMES, EVERY = 240, 4  # driven: the first FRAMES frames (the first is the reference); scored: every EVERY-th
STAGES = ("drv_dlib", "drv_mp", "mesh", "out_mp", "out_dlib")
MIN_CHANGE = (0.03, 0.03, 0.01, 0.05, 0.05, 0.02, 0.02)  # below this the driver barely moved


def descriptors(tracker, check, image) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(dlib's 7, mediapipe's first 7) descriptors of the largest face in an image."""
    image = np.ascontiguousarray(image)
    face = pick_face(tracker.detect(image), 0)
    points = check.landmarks(image)
    return (None if points is None else dlib_expression_descriptor(points),
            None if face is None else expression_descriptor(face.points)[:7])


def run(video: str, photo_name: str | None, config: AnimateConfig, tracker, check) -> list[dict]:
    frames = list(itertools.islice(iter_video_frames(DATA / "corpus" / "videos" / video), FRAMES))
    photo = frames[0] if photo_name is None else read_image(DATA / photo_name)
    r = Reenactor(config)
    src = r.prepare_source(photo, photo_name or video)
    p_dlib, p_mp = descriptors(tracker, check, src.crop)
    r_dlib, r_mp = descriptors(tracker, check, frames[0])
    if any(x is None for x in (p_dlib, p_mp, r_dlib, r_mp)):
        return []
    rows, mesh0 = [], None
    for i, (frame, warp) in enumerate(zip(frames, r.drive(src, frames, 25.0, True, frames[0], video),
                                          strict=True)):
        mesh = expression_descriptor(warp.verts[0].numpy())[:7]
        mesh0 = mesh if mesh0 is None else mesh0  # the first frame is the reference: no motion
        if i % EVERY:
            continue
        d_dlib, d_mp = descriptors(tracker, check, frame)
        o_dlib, o_mp = descriptors(tracker, check, r.compose(src, warp))
        if any(x is None for x in (d_dlib, d_mp, o_dlib, o_mp)):
            continue
        rows.append({"drv_dlib": d_dlib - r_dlib, "drv_mp": d_mp - r_mp, "mesh": mesh - mesh0,
                     "out_mp": o_mp - p_mp, "out_dlib": o_dlib - p_dlib})
    return rows


def slope(y: np.ndarray, x: np.ndarray) -> float:
    return float((x * y).sum() / max((x * x).sum(), 1e-12))


def summarise(rows: list[dict]) -> dict:
    table = {}
    for k, name in enumerate(DLIB_NAMES):
        moved = [r for r in rows if abs(r["drv_dlib"][k]) > MIN_CHANGE[k]]
        if len(moved) < 5:
            continue
        col = {s: np.array([r[s][k] for r in moved]) for s in STAGES}
        table[name] = {"n": len(moved)} | {
            f"{b}/{a}": slope(col[b], col[a]) for a, b in itertools.pairwise(STAGES)} | {
            "out_dlib/drv_dlib": slope(col["out_dlib"], col["drv_dlib"]),
            "corr": float(np.corrcoef(col["out_dlib"], col["drv_dlib"])[0, 1])}
    return table


def main(out: str, videos: list[str], photos: list[str], self_mode: bool) -> None:
    config = AnimateConfig(crop_only=True, motion="relative", reference_frame=0)
    rows = []
    with FaceTracker(static=True) as tracker:
        check = FaceLayoutCheck()
        for v in videos:
            for p in [None] if self_mode else photos:
                got = run(v, p, config, tracker, check)
                rows += got
                print(v, p, len(got), flush=True)
    table = summarise(rows)
    Path(out).write_text(json.dumps(table, indent=1))
    head = ["n", *[f"{b}/{a}" for a, b in itertools.pairwise(STAGES)], "out_dlib/drv_dlib", "corr"]
    print(f"{'measure':15s}" + "".join(f"{h:>18s}" for h in head))
    for name, t in table.items():
        print(f"{name:15s}" + "".join(f"{t[h]:18.3f}" if h != "n" else f"{t[h]:18d}" for h in head))


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--self"]
    main(args[0], args[1].split(","), args[2].split(",") if len(args) > 2 else [],
         "--self" in sys.argv)
