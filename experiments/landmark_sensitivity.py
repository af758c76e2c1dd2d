"""How much the held-out landmark error moves when the analytic warp is changed in ways that carry
no geometry: noise, a slight blur, sharpening; and, for scale, blends toward the driving frame.

At the tiny configs' 64 px a learned correction's landmark-error change is a few thousandths;
this prints what blur and sharpening alone do on the same pairs, so those figures can be read
against it (README, Training). Each row is scored like ``reenact.train.validate``: the checkpoint's
run's test pairs, differences from the warp's own scores, mean +- standard error over the pairs.

    python experiments/landmark_sensitivity.py runs/meshgcn-tiny/checkpoints/calibrated.pt
"""

import argparse
import sys

import numpy as np
import torch

from reenact.render.filters import gaussian_blur
from reenact.train.validate import generated_image, load_run

METRICS = ("psnr_face", "sharpness", "akd", "akd_oval", "pose_error_deg")


def perturbations(warp: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
    """Name -> (N, 3, s, s) images: the warp changed without moving anything in it."""
    noise = torch.randn(warp.shape, generator=torch.Generator().manual_seed(0))
    return {
        "noise, sigma 1/255": warp + noise / 255,
        "noise, sigma 4/255": warp + 4 * noise / 255,
        "blur, sigma 0.5 px": gaussian_blur(warp, 0.5),
        "unsharp mask, sigma 0.5 px, amount 0.5": warp + 0.5 * (warp - gaussian_blur(warp, 0.5)),
        "unsharp mask, sigma 0.5 px, amount 1": warp + (warp - gaussian_blur(warp, 0.5)),
        "3/4 warp + 1/4 driving frame": 0.75 * warp + 0.25 * target,
    }


def row(name: str, rows: dict[str, np.ndarray], base: dict[str, np.ndarray]) -> str:
    cells = []
    for k in METRICS:
        d = rows[k] - base[k]
        d = d[np.isfinite(d)]
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        cells.append(f"{d.mean():+.4f} +- {se:.4f}")
    return f"| {name} | " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a reenact train checkpoint (its run's test pairs)")
    parser.add_argument("--pairs", type=int, default=10_000, help="at most this many pairs")
    parser.add_argument("--render-size", type=int, default=None,
                        help="render the pairs at this size, then shrink them (default: the "
                             "cache's crop size, as reenact animate's crop reaches a refiner; "
                             "0: at the training size)")
    args = parser.parse_args(argv)
    try:
        _, trainer, validator = load_run(args.checkpoint, "test", args.pairs, args.render_size)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        batch = validator.batch
        warp, target = batch["prior"].float(), batch["target"].float()
        base = validator.per_pair(warp)
        with torch.no_grad():
            model = generated_image(trainer, batch, trainer.model).float()
        print(f"{len(warp)} held-out pairs; the warp's sharpness is "
              f"{np.nanmean(base['sharpness']):.3f} of the driving frame's\n")
        print("| the warp, changed | " + " | ".join(METRICS) + " |")
        print("|---" * (len(METRICS) + 1) + "|")
        for name, images in {**perturbations(warp, target),
                             f"the model ({args.checkpoint})": model}.items():
            print(row(name, validator.per_pair(images.clamp(0, 1)), base), flush=True)
    finally:
        validator.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
