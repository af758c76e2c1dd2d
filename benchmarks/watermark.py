"""The pixel watermark (``reenact.io.watermark``) on real outputs, after the attacks an output meets.

    python benchmarks/watermark.py [--portraits 40] [--videos 8] [--frames 60]

- **Stills**: every n-th corpus portrait (``--portraits`` of them) driven by faces/d9.jpg, as
  ``animate`` writes it: the 256 px face crop and the photo with the face pasted back (its own
  size). Each marked as the writers mark it, then attacked: none, JPEG at quality 75, halved, 10 %
  cropped off each side, H.264 at CRF 28 (a one-second clip of the still; a middle frame read
  back). Found = the watermark and the right day. False positives: the same outputs unmarked and
  the portraits themselves, after the same attacks.
- **Videos**: self-reenactment of every n-th corpus video (``--videos``): its frame 0 is the photo,
  its first ``--frames`` frames drive it, 256 px crops written as ``animate`` writes them
  (``VideoWriter``, CRF 18, the writer marks each frame), then re-encoded at CRF 28 whole, halved,
  and with 10 % cropped off each side. Per file (all frames read together) and per frame. False
  positives: the same outputs unmarked, through the same attacks, and the corpus videos as they are.
- **Quality**: the face PSNR of the marked output against the unmarked one, and what the watermark
  costs the face PSNR against the ground truth (the videos' driving frames).
- **Time**: embedding a 256 px and a 512 px frame, beside the writer's own encoding of such a frame
  (libx264, what every frame pays anyway), measured in the same run.

Prints markdown tables. Needs ../shared/data (skipped with a message when absent).
"""

import argparse
import datetime
import glob
import io
import itertools
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from reenact.app.runtime import configure_runtime
from reenact.config import AnimateConfig
from reenact.io import VideoWriter, iter_video_frames, read_image
from reenact.io.marking import marking
from reenact.io.watermark import MIN_SYNC, MIN_SYNC_LADDER, detect, detect_frames, embed
from reenact.metrics.psnr import psnr
from reenact.pipeline import Reenactor

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
# the strongest sync peak seen where there is no mark (found: MIN_SYNC and up): the margin
HIGHEST = {"unmarked stills": 0.0, "unmarked video outputs": 0.0}


# -- attacks ----------------------------------------------------------------------------------
def jpeg75(image: np.ndarray) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=75)
    return np.asarray(Image.open(buf).convert("RGB"))


def half(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def crop10(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[h // 10:h - h // 10, w // 10:w - w // 10])


def h264(frames: list[np.ndarray], crf: int = 28, fps: int = 25) -> list[np.ndarray]:
    """Frames through libx264 at ``crf`` (as a video site re-encodes), decoded back."""
    import av

    buf = io.BytesIO()
    h, w = frames[0].shape[0] // 2 * 2, frames[0].shape[1] // 2 * 2
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf)}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(f[:h, :w]), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    with av.open(buf) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


STILL_ATTACKS = {"none": lambda x: x, "JPEG 75": jpeg75, "halved": half, "10 % crop": crop10,
                 "H.264 CRF 28": lambda x: h264([x] * 25)[12]}
VIDEO_ATTACKS = {"none": None, "H.264 CRF 28": lambda x: x, "halved, CRF 28": half,
                 "10 % crop, CRF 28": crop10}


# -- stills -----------------------------------------------------------------------------------
def still_outputs(count: int) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, portrait, 256 crop output, pasted output) for every n-th corpus portrait."""
    paths = sorted(p for p in glob.glob(str(DATA / "corpus" / "portraits" / "*" / "*"))
                   if p.lower().endswith((".jpg", ".jpeg", ".png")))
    paths = paths[:: max(1, len(paths) // count)][:count]
    driver = read_image(DATA / "faces" / "d9.jpg")
    out = []
    for i, path in enumerate(paths):
        print(f"\rportraits: {i + 1}/{len(paths)}", end="", file=sys.stderr, flush=True)
        reenactor = Reenactor(AnimateConfig())
        photo = read_image(path)
        try:
            src = reenactor.prepare_source(photo, path)
        except Exception as exc:  # noqa: BLE001 - a portrait without a usable face is skipped
            print(f"\n{path}: skipped ({exc})", file=sys.stderr)
            continue
        frame = next(reenactor.run(src, reenactor.open_driving(src, driver)))
        crop = (frame.warp.image[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round()
        out.append((Path(path).name, photo, crop.astype(np.uint8), frame.image))
    print(file=sys.stderr)
    return out


def stills(outputs, day: datetime.date) -> None:
    print("\n## Stills: found (with the right day)\n")
    print("| attack | 256 crop | pasted, own size | unmarked outputs called marked | "
          "portraits called marked |")
    print("|---|---|---|---|---|")
    for name, attack in STILL_ATTACKS.items():
        found = {"crop": 0, "pasted": 0}
        right = {"crop": 0, "pasted": 0}
        false = real = 0
        for _, photo, crop, pasted in outputs:
            for kind, image in (("crop", crop), ("pasted", pasted)):
                d = detect(attack(embed(image, day)))
                found[kind] += d.found
                right[kind] += d.found and d.day == day
                u = detect(attack(image))
                false += u.found
                HIGHEST["unmarked stills"] = max(HIGHEST["unmarked stills"], u.strength)
            r = detect(attack(photo))
            real += r.found
            HIGHEST["unmarked stills"] = max(HIGHEST["unmarked stills"], r.strength)
        n = len(outputs)
        print(f"| {name} | {found['crop']}/{n} ({right['crop']}) | {found['pasted']}/{n} "
              f"({right['pasted']}) | {false}/{2 * n} | {real}/{n} |", flush=True)
    ps = [psnr(embed(o, day), o) for _, _, crop, pasted in outputs for o in (crop, pasted)]
    print(f"\nPSNR marked against unmarked (whole picture): median {np.median(ps):.1f} dB, "
          f"lowest {min(ps):.1f} dB")


# -- videos -----------------------------------------------------------------------------------
def video_outputs(count: int, frames: int):
    """(name, driving crops, unmarked output crops, face masks) of self-reenacted corpus videos."""
    paths = sorted(glob.glob(str(DATA / "corpus" / "videos" / "*" / "*.mp4")))
    paths = paths[:: max(1, len(paths) // count)][:count]
    out = []
    for i, path in enumerate(paths):
        print(f"\rvideos: {i + 1}/{len(paths)}", end="", file=sys.stderr, flush=True)
        clip = list(itertools.islice(iter_video_frames(path), frames))
        reenactor = Reenactor(AnimateConfig(crop_only=True, reference_frame=0))
        try:
            src = reenactor.prepare_source(clip[0], path)
            run = list(reenactor.run(src, reenactor.open_driving(src, clip)))
        except Exception as exc:  # noqa: BLE001 - a clip without a usable face is skipped
            print(f"\n{path}: skipped ({exc})", file=sys.stderr)
            continue
        truth = [f.driving_crop(256) for f in run]
        masks = [f.warp.face_mask[0].numpy() for f in run]
        out.append((Path(path).name, truth, [f.image for f in run], masks))
    print(file=sys.stderr)
    return out


def written(frames: list[np.ndarray], mark) -> list[np.ndarray]:
    """The frames as ``animate`` writes them (the writer marks them), decoded back."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.mp4"
        with VideoWriter(path, 25, marking=mark) as writer:
            for f in frames:
                writer.write(f)
        return list(iter_video_frames(path))


def videos(outputs, day: datetime.date, frames_per_clip: int) -> None:
    when = datetime.datetime.combine(day, datetime.time(12), datetime.timezone.utc)
    marked_clips = [written(out, marking(when=when)) for _, _, out, _ in outputs]
    unmarked_clips = [written(out, marking(when=when, watermark=False))
                      for _, _, out, _ in outputs]
    print("\n## Videos (256 px crops): found\n")
    print("| attack | files (with the right day) | frames (lowest file) | unmarked outputs "
          "called marked: files | frames |")
    print("|---|---|---|---|---|")
    for name, attack in VIDEO_ATTACKS.items():
        files = right = frames_found = frames = 0
        false_files = false_frames = 0
        lowest = 1.0
        for marked, unmarked in zip(marked_clips, unmarked_clips, strict=True):
            if attack is not None:
                marked = h264([attack(f) for f in marked])
                unmarked = h264([attack(f) for f in unmarked])
            d = detect_frames(marked)
            files += d.clip.found
            right += d.clip.found and d.clip.day == day
            frames_found += d.frames_found
            frames += d.frames
            lowest = min(lowest, d.frames_found / d.frames)
            u = detect_frames(unmarked)
            HIGHEST["unmarked video outputs"] = max(HIGHEST["unmarked video outputs"],
                                                    u.clip.strength)
            false_files += u.clip.found
            false_frames += u.frames_found
        n = len(outputs)
        print(f"| {name} | {files}/{n} ({right}) | {frames_found / frames:.1%} ({lowest:.0%}) | "
              f"{false_files}/{n} | {false_frames}/{frames} |", flush=True)
    # the corpus videos themselves, unmarked, as they are
    paths = sorted(glob.glob(str(DATA / "corpus" / "videos" / "*" / "*.mp4")))
    real = [detect_frames(itertools.islice(iter_video_frames(p), frames_per_clip)) for p in paths]
    HIGHEST["unmarked video outputs"] = max([HIGHEST["unmarked video outputs"]]
                                            + [r.clip.strength for r in real])
    print(f"\nCorpus videos as they are (unmarked): {sum(r.clip.found for r in real)}/{len(real)} "
          f"called marked, {sum(r.frames_found for r in real)}/{sum(r.frames for r in real)} "
          f"frames")
    # quality: against the unmarked output, and what it costs against the ground truth
    vs_unmarked, cost = [], []
    for (_, truth, out, masks), marked, unmarked in zip(outputs, marked_clips, unmarked_clips,
                                                        strict=True):
        for t, m, u, mask in zip(truth[1:], marked[1:], unmarked[1:], masks[1:], strict=True):
            vs_unmarked.append(psnr(m, u, mask))
            cost.append(psnr(u, t, mask) - psnr(m, t, mask))
    print(f"Face PSNR, marked against unmarked output: median {np.median(vs_unmarked):.1f} dB; "
          f"face PSNR against the ground truth, unmarked minus marked: mean {np.mean(cost):.3f} "
          f"dB (largest {max(cost):.3f})")


def timing(day: datetime.date) -> None:
    print("\n## Time per frame (this machine, this run)\n")
    print("| size | embedding, ms | libx264 encoding of the frame, ms | ratio |")
    print("|---|---|---|---|")
    photo = read_image(DATA / "faces" / "s42.jpg")
    for side in (256, 512):
        frame = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
        frames = [np.roll(frame, k, axis=1) for k in range(50)]
        embed(frames[0], day)  # the pattern's tile is made once
        t = time.perf_counter()
        for f in frames:
            embed(f, day)
        mark_ms = 1000 * (time.perf_counter() - t) / len(frames)
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            with VideoWriter(Path(tmp) / "x.mp4", 25) as writer:
                for f in frames:
                    writer.write(f)
            enc_ms = 1000 * (time.perf_counter() - t) / len(frames)
        print(f"| {side} | {mark_ms:.2f} | {enc_ms:.2f} | {mark_ms / enc_ms:.2f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--portraits", type=int, default=40, help="how many corpus portraits")
    ap.add_argument("--videos", type=int, default=8, help="how many corpus videos")
    ap.add_argument("--frames", type=int, default=60, help="frames of each video")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if not (DATA / "corpus").is_dir():
        print(f"benchmarks/watermark.py: {DATA / 'corpus'} is absent; nothing to measure")
        return
    configure_runtime(args.threads)
    day = datetime.date(2026, 12, 4)
    timing(day)
    if args.videos:
        videos(video_outputs(args.videos, args.frames), day, args.frames)
    if args.portraits:
        stills(still_outputs(args.portraits), day)
    print(f"\nThe strongest peak where there is no mark, at any scale (a find needs {MIN_SYNC:g} "
          f"at the common resizes, {MIN_SYNC_LADDER:g} at other scales): "
          + ", ".join(f"{k} {v:.1f}" for k, v in HIGHEST.items()))


if __name__ == "__main__":
    main()
