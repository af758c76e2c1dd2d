"""The mesh GCN on FLAME- and BFM-sized topologies: sampling-matrix build time, peak memory, and
one training step of the tiny config's motion network.

FLAME (5,023 vertices) and BFM (53,215) cannot ship, so grid meshes of about their sizes stand in
(71 x 71 = 5,041 and 231 x 231 = 53,361 vertices).

    python benchmarks/gcn_sampling.py            # both sizes
    python benchmarks/gcn_sampling.py --sizes flame
"""

import argparse
import dataclasses
import resource
import time

import numpy as np
import torch

SIDES = {"flame": 71, "bfm": 231}


def grid_mesh(k: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:k, 0:k]
    verts = np.c_[xs.ravel(), ys.ravel(), 0.1 * k * np.sin(xs.ravel() / 15.0)] / k
    idx = np.arange(k * k).reshape(k, k)
    a, b, c, d = (idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(),
                  idx[1:, 1:].ravel())
    return verts, np.r_[np.c_[a, b, c], np.c_[b, d, c]]


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # Linux: KiB


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", choices=tuple(SIDES), default=list(SIDES))
    p.add_argument("--factors", type=int, nargs="+", default=[4, 4, 4, 4])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from reenact.geometry.decimation import build_levels
    from reenact.models.meshgcn.motion_net import MotionNet
    from reenact.train.setup import load_setup

    tiny = load_setup("configs/meshgcn/tiny.yaml", []).trainer_config().model.motion
    for name in args.sizes:
        verts, faces = grid_mesh(SIDES[name])
        t = time.perf_counter()
        levels = build_levels(verts, faces, tuple(args.factors))
        build = time.perf_counter() - t
        sizes = [len(verts)] + [len(lvl.kept) for lvl in levels]
        cfg = dataclasses.replace(tiny, factors=tuple(args.factors[:len(tiny.channels) - 1]))
        net = MotionNet(verts, faces, cfg)  # its own build is now cached in memory
        stacked = torch.from_numpy(np.c_[verts, verts + 0.01]).float()[None].repeat(2, 1, 1)
        t = time.perf_counter()
        net(stacked).square().mean().backward()
        step = time.perf_counter() - t
        print(f"{name}-sized: {' -> '.join(map(str, sizes))} vertices; sampling build "
              f"{build:.1f} s; a tiny-config motion-net step (batch 2) {step * 1000:.0f} ms; "
              f"peak RSS {peak_gb():.2f} GB")


if __name__ == "__main__":
    main()
