"""Frontal faces do not get worse (issue 20's check): the four ``faces/`` portraits s42, s1, s2
and s5, each driven by ten evenly spaced frames of each ``driving/`` video (160 outputs, video
relative motion as ``animate`` drives them, crops at 256). Prints the dlib identity similarity of
each output to its photo (cosine of dlib's embedding, which the pipeline does not use) and the
pose error against the driver (pitch, yaw, roll in degrees, from mediapipe's points of output
and driving frame), and writes every figure to JSON so two checkouts can be compared pairwise:

    python experiments/frontal_check.py new.json
    python experiments/frontal_check.py --compare old.json new.json
"""

import argparse
import json
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PHOTOS = ("s42", "s1", "s2", "s5")
FRAMES = 10


def measure(out: Path) -> None:
    from reenact.config import AnimateConfig
    from reenact.eval.csim import DlibEmbedder
    from reenact.eval.pose_error import head_pose_deg
    from reenact.io import iter_video_frames
    from reenact.pipeline import Reenactor
    from reenact.tracking.mediapipe_tracker import FaceTracker

    embed = DlibEmbedder()
    r = Reenactor(AnimateConfig(crop_only=True))
    rows = []
    videos = sorted((DATA / "driving").glob("*.mp4"))
    for name in PHOTOS:
        src = r.prepare_source(DATA / "faces" / f"{name}.jpg")
        e_src = embed(src.crop, None)
        for video in videos:
            frames = list(iter_video_frames(video))
            keep = set(np.linspace(0, len(frames) - 1, FRAMES).round().astype(int).tolist())
            d = r.open_driving(src, frames)
            stream, is_video, fps, reference, label = d.frames, d.is_video, d.fps, d.reference, d.name
            with FaceTracker(static=True) as t:
                for i, warp in enumerate(r.drive(src, stream, fps, is_video, reference, label)):
                    if i not in keep:
                        continue
                    image = r.compose(src, warp)
                    e = embed(image, None)
                    out_faces, drv_faces = t.detect(image), t.detect(frames[i])
                    pose = None
                    if out_faces and drv_faces:
                        pose = np.abs(head_pose_deg(out_faces[0].points)
                                      - head_pose_deg(drv_faces[0].points)).tolist()
                    cs = None if e is None or e_src is None else float(
                        e @ e_src / np.linalg.norm(e) / np.linalg.norm(e_src))
                    rows.append({"photo": name, "video": video.name, "frame": i, "csim": cs,
                                 "pose_err": pose})
        print(name, "done", flush=True)
    out.write_text(json.dumps(rows))
    summary(rows)


def summary(rows: list[dict]) -> None:
    cs = [r["csim"] for r in rows if r["csim"] is not None]
    pe = np.array([r["pose_err"] for r in rows if r["pose_err"] is not None])
    print(f"{len(rows)} outputs: dlib identity similarity {np.mean(cs):.4f}; pose error (pitch, "
          f"yaw, roll) {', '.join(f'{v:.2f}' for v in pe.mean(0))} degrees")


def compare(old: list[dict], new: list[dict]) -> None:
    key = lambda r: (r["photo"], r["video"], r["frame"])
    o = {key(r): r for r in old}
    for label, get in (("identity", lambda r: r["csim"]),
                       ("pose error (mean of 3)",
                        lambda r: None if r["pose_err"] is None else np.mean(r["pose_err"]))):
        d = [get(r) - get(o[key(r)]) for r in new
             if key(r) in o and get(r) is not None and get(o[key(r)]) is not None]
        d = np.array(d)
        print(f"{label}: paired difference new - old {d.mean():+.5f} +- "
              f"{d.std(ddof=1) / np.sqrt(len(d)):.5f} (s.e., {len(d)} pairs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", type=Path, nargs="+")
    parser.add_argument("--compare", action="store_true", help="compare two JSON files")
    args = parser.parse_args()
    if args.compare:
        old, new = (json.loads(p.read_text()) for p in args.json)
        summary(old)
        summary(new)
        compare(old, new)
    else:
        measure(args.json[0])


if __name__ == "__main__":
    main()
