"""Where the analytic warp's landmark error lives: parts of the driving frame pasted into the warp.

Each row replaces one part of the warp with the same part of the driving frame (its target) and
scores the result as ``reenact.train.validate`` scores a model: re-tracked at the output size
against the re-tracked driving frame. The change in landmark error (AKD) is what a model that got
that part exactly right would win. Two rows change the warp alone: a slight blur and a slight
sharpening, to show how the tracker reads a picture that is only softer or crisper.

    python experiments/landmark_oracles.py configs/meshgcn/tiny128.yaml --figure docs/oracles.png

Each figure is the mean change over the config's test pairs against the warp, +- its standard
error.
"""

import argparse
import sys

import cv2
import numpy as np
import torch

from reenact.data.dataset import VideoStore, make_split, validation_pairs
from reenact.io import tensor_to_image, write_image
from reenact.losses.parts import part_mask
from reenact.metrics.face_mask import face_mask
from reenact.render.filters import gaussian_blur
from reenact.train.setup import load_setup
from reenact.train.validate import Validator

COLUMNS = ("psnr_face", "akd", "akd_oval", "akd_eyes", "akd_lips", "pose_error_deg")
SIGMA = 4  # px at 128 px output: the split between shading (below) and detail (above)
FIGURE = {"the driving frame": "driving frame", "eyes and mouth": "warp + its eyes, mouth",
          "face detail": "warp + its face detail", "face shading": "warp + its shading",
          "warp blurred": "warp blurred"}  # the figure's columns after the warp: row, label
PICKS = (5, 30, 50, 66)  # test pairs from three videos, with open and closed mouths
SIDE = 192  # pixels per panel in the figure


def soft(mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """A (B, 1, H, W) mask with its edge feathered, so a paste leaves no seam to track."""
    return gaussian_blur(mask.float(), sigma).clamp(0, 1)


def composites(warp: torch.Tensor, frame: torch.Tensor, landmarks: torch.Tensor
               ) -> dict[str, torch.Tensor]:
    """The rows' images from (B, 3, s, s) warps and driving frames and the frames' (B, 478, 2+)
    landmarks in output pixels."""
    s = warp.shape[-1]
    k = s / 128  # the masks' feathering and the detail split scale with the output size
    points = landmarks.numpy().astype(np.float64)
    face = soft(torch.from_numpy(np.stack([face_mask(p, (s, s)) for p in points]))[:, None],
                2 * k)
    parts = soft(part_mask(landmarks, s), k)
    sigma = SIGMA * k
    shading = gaussian_blur(frame, sigma) - gaussian_blur(warp, sigma)  # low frequencies
    return {
        "the driving frame": frame,
        "face (landmark mesh)": warp + face * (frame - warp),
        "background (outside the face)": frame + face * (warp - frame),
        "eyes and mouth (parts loss mask)": warp + parts * (frame - warp),
        f"face detail (above sigma {sigma:g} px)": warp + face * (frame - warp - shading),
        f"face shading (below sigma {sigma:g} px)": warp + face * shading,
        f"warp blurred (sigma {0.7 * k:g} px)": gaussian_blur(warp, 0.7 * k),
        "warp sharpened (unsharp 0.5)": warp + 0.5 * (warp - gaussian_blur(warp, k)),
    }


def change_row(name: str, rows: dict[str, np.ndarray], base: dict[str, np.ndarray]) -> str:
    """One table row: per column, mean (rows - base) +- s.e. over the pairs where both exist."""
    cells = []
    for key in COLUMNS:
        d = rows[key] - base[key]
        d = d[np.isfinite(d)]
        if len(d) < 2:
            cells.append("n/a")
            continue
        digits = 2 if key in ("psnr_face", "pose_error_deg") else 4
        se = d.std(ddof=1) / np.sqrt(len(d))
        cells.append(f"{d.mean():+.{digits}f} +- {se:.{digits}f}")
    return f"| {name} | " + " | ".join(cells) + " |"


def figure(warp: torch.Tensor, images: dict[str, torch.Tensor], picks: tuple[int, ...]
           ) -> np.ndarray:
    """(H, W, 3) uint8: a row per picked pair, columns the warp and the ``FIGURE`` composites,
    each headed by its label."""
    columns = {"warp": warp}
    for start, label in FIGURE.items():
        columns[label] = images[next(k for k in images if k.startswith(start))]
    rows = [np.concatenate([cv2.resize(tensor_to_image(c[i].clamp(0, 1)), (SIDE, SIDE),
                                       interpolation=cv2.INTER_NEAREST)
                            for c in columns.values()], 1) for i in picks]
    grid = np.concatenate(rows, 0)
    head = np.full((28, grid.shape[1], 3), 255, np.uint8)
    for j, label in enumerate(columns):
        cv2.putText(head, label, (j * SIDE + 6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return np.concatenate([head, grid], 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", help="a reenact train config (its cache, size and test pairs)")
    parser.add_argument("--pairs", type=int, default=10_000, help="at most this many pairs")
    parser.add_argument("--figure", help="also write a picture of some pairs' composites here")
    args = parser.parse_args(argv)
    try:
        setup = load_setup(args.config)
        store = VideoStore(setup.data.cache, setup.data.videos)
        pairs = validation_pairs(store, make_split(store, setup.data).test, args.pairs)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    validator = Validator(store, pairs, setup.data.size, setup.family)
    try:
        batch = validator.batch
        warp, frame = batch["prior"].float(), batch["target"].float()
        base = validator.per_pair(warp)
        print(f"{len(pairs)} test pairs of {args.config} at {setup.data.size} px; the warp: "
              f"AKD {np.nanmean(base['akd']):.4f}, face PSNR {np.nanmean(base['psnr_face']):.2f}"
              f" dB\n\nchange against the warp when the driving frame's ... is pasted in:\n")
        print("| pasted | face PSNR (dB) | AKD | oval | eyes | lips | pose (deg) |")
        print("|---|---|---|---|---|---|---|")
        images = composites(warp, frame, batch["target_landmarks"])
        if args.figure:
            picks = tuple(i for i in PICKS if i < len(pairs)) or (0,)
            write_image(args.figure, figure(warp, images, picks))
        for name, image in images.items():
            rows = validator.per_pair(image.clamp(0, 1))
            print(change_row(name, rows, base), flush=True)
    finally:
        validator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
