"""Cross-identity expression error by an estimator the pipeline does not use (issue 21): photos
driven by corpus clips of other people, as `animate` drives them (relative motion from the auto
reference unless --motion says otherwise), scored by dlib's 68 points. Printed: the mean squared
error of dlib's 7-number expression descriptor (mouth opening, width, smile, eye openings, brows)
between output and driving frame, the unmoved photo's, their ratio, and identity (dlib cosine
similarity of output and photo).

    python experiments/cross_expression.py out.json PHOTOS VIDEOS [--motion absolute] \
        [--reference-expression R]

PHOTOS and VIDEOS: comma-separated, relative to ../shared/data (photos) and its corpus/videos.
"""

import argparse
import itertools
import json
from pathlib import Path

import numpy as np

from reenact.config import AnimateConfig
from reenact.eval.expression_error import DLIB_NAMES, dlib_expression_descriptor
from reenact.eval.face_layout import FaceLayoutCheck
from reenact.eval.identity import DlibIdentity
from reenact.io import iter_video_frames, read_image
from reenact.pipeline import Reenactor, open_driving

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
FRAMES, EVERY = 100, 10  # driven: the first FRAMES frames; scored: every EVERY-th


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def main(out: str, photos: list[str], videos: list[str], motion: str | None,
         level: float | None = None) -> None:
    # given only when set: code before the option (59e59fa) has no such field
    options = {} if level is None else {"reference_expression": level}
    check, identity = FaceLayoutCheck(), DlibIdentity()
    rows = []
    for v in videos:
        clip = list(itertools.islice(iter_video_frames(DATA / "corpus" / "videos" / v), FRAMES))
        truth = {i: check.landmarks(clip[i]) for i in range(0, len(clip), EVERY)}
        for p in photos:
            r = Reenactor(AnimateConfig(crop_only=True, motion=motion, **options))
            src = r.prepare_source(read_image(DATA / p), p)
            still_points, still_id = check.landmarks(src.crop), identity.embed(src.crop)
            if hasattr(r, "open_driving"):
                d = r.open_driving(src, clip)
            else:  # before the auto reference (59e59fa): the first frame
                d = open_driving(clip, r.config)
            row = {"photo": p, "video": v, "out": [], "still": [], "csim": [], "out_parts": [],
                   "still_parts": []}
            for i, warp in enumerate(r.drive(src, d.frames, d.fps, d.is_video, d.reference,
                                             d.name)):
                if truth.get(i) is None or still_points is None:
                    continue
                target = dlib_expression_descriptor(truth[i])
                out_image = np.ascontiguousarray(r.compose(src, warp))
                got = check.landmarks(out_image)
                if got is None:
                    continue
                out_parts = (dlib_expression_descriptor(got) - target) ** 2
                still_parts = (dlib_expression_descriptor(still_points) - target) ** 2
                row["out"].append(float(out_parts.mean()))
                row["still"].append(float(still_parts.mean()))
                row["out_parts"].append(out_parts.tolist())
                row["still_parts"].append(still_parts.tolist())
                emb = identity.embed(out_image)
                if emb is not None and still_id is not None:
                    row["csim"].append(cosine(emb, still_id))
            rows.append(row)
            print(f"{v} {p}: ExpMSE {np.mean(row['out']):.4f} (photo {np.mean(row['still']):.4f}), "
                  f"CSIM {np.mean(row['csim']):.4f}", flush=True)
    Path(out).write_text(json.dumps(rows))
    o = np.mean([x for r in rows for x in r["out"]])
    s = np.mean([x for r in rows for x in r["still"]])
    c = np.mean([x for r in rows for x in r["csim"]])
    print(f"ExpMSE (dlib) {o:.5f}, unmoved photo {s:.5f}, ratio {o / s:.3f}; CSIM (dlib) {c:.4f}; "
          f"{sum(len(r['out']) for r in rows)} frames")
    parts = {k: np.array([x for r in rows for x in r[k]]).mean(0) for k in ("out_parts", "still_parts")}
    for name, o, s in zip(DLIB_NAMES, parts["out_parts"], parts["still_parts"], strict=True):
        print(f"  {name:15s} output {o:.5f}, unmoved photo {s:.5f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("photos")
    parser.add_argument("videos")
    parser.add_argument("--motion", choices=["relative", "absolute"])
    parser.add_argument("--reference-expression", type=float)
    a = parser.parse_args()
    main(a.out, a.photos.split(","), a.videos.split(","), a.motion, a.reference_expression)
