"""docs/render-size.png: a few test pairs of the tiny runs, as columns: the driving frame, the
analytic warp rendered at the training size, the warp as `reenact animate` renders it (its crop
shrunk), and the two models' calibrated outputs on the latter.

    python experiments/figure_render_size.py runs/meshgcn-tiny/checkpoints/calibrated.pt \\
        runs/dcggan-tiny/checkpoints/calibrated.pt docs/render-size.png
"""

import argparse

import cv2
import numpy as np
import torch

from reenact.io import tensor_to_image, write_image
from reenact.train.validate import generated_image, load_run

PICKS = [5, 30, 50, 66]  # test pairs from three videos, with open and closed mouths
SIDE = 192  # pixels per panel (the 64 px images, enlarged without smoothing)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("meshgcn")
    p.add_argument("dcggan")
    p.add_argument("out")
    args = p.parse_args()
    _, mesh_trainer, as_animate = load_run(args.meshgcn, "test", 10_000)
    _, dcg_trainer, dcg_pairs = load_run(args.dcggan, "test", 10_000)
    _, _, small = load_run(args.meshgcn, "test", 10_000, render_size=0)

    def picked(batch: dict) -> dict:
        return {k: v[PICKS] for k, v in batch.items()}

    with torch.no_grad():
        mesh = generated_image(mesh_trainer, picked(as_animate.batch), mesh_trainer.model)
        dcg = generated_image(dcg_trainer, picked(dcg_pairs.batch), dcg_trainer.model)
    gains = [float(t.model.fusion.gain) for t in (mesh_trainer, dcg_trainer)]
    columns = {"driving frame": as_animate.batch["target"][PICKS],
               "warp, rendered at 64": small.batch["prior"][PICKS],
               "warp, as animate": as_animate.batch["prior"][PICKS],
               f"mesh GCN, scale {gains[0]:g}": mesh, f"DCG-GAN, scale {gains[1]:g}": dcg}
    rows = [np.concatenate([cv2.resize(tensor_to_image(c[i].float()), (SIDE, SIDE),
                                       interpolation=cv2.INTER_NEAREST)
                            for c in columns.values()], 1) for i in range(len(PICKS))]
    grid = np.concatenate(rows, 0)
    head = np.full((28, grid.shape[1], 3), 255, np.uint8)
    for j, name in enumerate(columns):
        cv2.putText(head, name, (j * SIDE + 6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.48, (0, 0, 0), 1,
                    cv2.LINE_AA)
    write_image(args.out, np.concatenate([head, grid], 0))
    for validator in (as_animate, dcg_pairs, small):
        validator.close()


if __name__ == "__main__":
    main()
