"""How much landmark error a learned model can win over the analytic warp, by output size.

The landmark error (AKD) of a held-out pair re-tracks two images at the output size: the output
and the driving frame. Both carry the tracker's error at that size. This script measures it
against the driving frame's landmarks tracked at the cache's crop size (256 px, stored by
``reenact preprocess``):

- ``frame``: the driving frame itself, shrunk to the output size and re-tracked;
- ``warp``: the analytic warp, as ``reenact animate`` renders it (its crop, shrunk);
- ``headroom``: warp - frame, the most a model can take off the warp's error against the crop's
  landmarks by reproducing the driving frame exactly;
- ``warp vs frame``: the error ``reenact.train.validate`` reports for the warp.

Each figure is the mean over the config's test pairs (+- standard error for the headroom).

    python experiments/landmark_floor.py configs/meshgcn/tiny.yaml --sizes 64 128 256
"""

import argparse
import sys

import numpy as np

from reenact.data.dataset import VideoStore, make_split, validation_pairs
from reenact.metrics.landmark_error import landmark_error
from reenact.train.setup import load_setup
from reenact.train.validate import Validator

FACE = 468  # the face mesh's landmarks; the irises are left out, as in validation


def floor_rows(validator: Validator) -> dict[str, np.ndarray]:
    """Per pair: the re-tracked driving frame and warp against the crop's landmarks, and the warp
    against the re-tracked frame; NaN where a face was not found."""
    n = len(validator.pairs)
    rows = {k: np.full(n, np.nan) for k in ("frame", "warp", "warp_vs_frame")}
    for i in range(n):
        crop = validator.batch["target_landmarks"][i].numpy()[:FACE]
        frame, _, _ = validator.track(validator.batch["target"][i])
        warp, _, _ = validator.track(validator.batch["prior"][i])
        if frame is not None:
            rows["frame"][i] = landmark_error(frame[:FACE], crop)
        if warp is not None:
            rows["warp"][i] = landmark_error(warp[:FACE], crop)
        if frame is not None and warp is not None:
            rows["warp_vs_frame"][i] = landmark_error(warp[:FACE], frame[:FACE])
    return rows


def summary(size: int, rows: dict[str, np.ndarray]) -> str:
    d = rows["warp"] - rows["frame"]
    d = d[np.isfinite(d)]
    se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return (f"| {size} | {np.nanmean(rows['frame']):.4f} | {np.nanmean(rows['warp']):.4f} | "
            f"{d.mean():+.4f} +- {se:.4f} | {np.nanmean(rows['warp_vs_frame']):.4f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="a reenact train config (its cache and test pairs)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256],
                        help="output sizes to measure at")
    parser.add_argument("--pairs", type=int, default=10_000, help="at most this many pairs")
    args = parser.parse_args(argv)
    try:
        setup = load_setup(args.config)
        store = VideoStore(setup.data.cache, setup.data.videos)
        pairs = validation_pairs(store, make_split(store, setup.data).test, args.pairs)
        for size in args.sizes:
            store.check_render_size(size)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{len(pairs)} test pairs of {args.config}; landmark error against the crop's landmarks")
    print("\n| output px | frame | warp | headroom (warp - frame) | warp vs frame |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        validator = Validator(store, pairs, size, setup.family)
        try:
            print(summary(size, floor_rows(validator)), flush=True)
        finally:
            validator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
