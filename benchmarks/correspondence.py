"""DCG-GAN correspondence (Eq. 3): forward ms and peak memory, explicit hw x hw matrix vs fused
attention, for 32^2, 64^2 and 128^2 grids.

    python benchmarks/correspondence.py [--device cpu|cuda] [--dim 256] [--channels 15]

Each case runs in a fresh subprocess so its peak memory is its own: on CPU the peak resident set
size above the process's baseline, on CUDA ``torch.cuda.max_memory_allocated``. Prints a markdown
table; the attention path's memory should grow linearly in hw, the explicit path's quadratically.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

from reenact.models.dcggan import attention_warp, correlation_matrix, normalize_features


def _case(path: str, n: int, dim: int, channels: int, device: str, repeats: int = 3) -> dict:
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(0)
    f_r = normalize_features(torch.randn(1, dim, n, n, generator=g)).to(device)
    f_s = normalize_features(torch.randn(1, dim, n, n, generator=g)).to(device)
    values = torch.rand(1, channels, n, n, generator=g).to(device)

    def run():
        with torch.no_grad():
            if path == "explicit":
                F = correlation_matrix(f_r, f_s, 0.01)
                return F @ values.flatten(2).transpose(1, 2)
            return attention_warp(f_r, f_s, values, 0.01)

    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run()
    sync()
    t0 = time.perf_counter()
    for _ in range(repeats):
        run()
    sync()
    ms = 1000 * (time.perf_counter() - t0) / repeats
    if device == "cuda":
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_rss) / 1024
    return {"path": path, "n": n, "ms": ms, "peak_mib": peak}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dim", type=int, default=256, help="feature channels D of f_s, f_r")
    p.add_argument("--channels", type=int, default=15, help="warped channels (image+parsing+proxy)")
    p.add_argument("--case", nargs=2, metavar=("PATH", "N"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.case:
        print(json.dumps(_case(args.case[0], int(args.case[1]), args.dim, args.channels,
                               args.device)))
        return
    rows = []
    for n in (32, 64, 128):
        for path in ("explicit", "attention"):
            out = subprocess.run([sys.executable, __file__, "--device", args.device, "--dim",
                                  str(args.dim), "--channels", str(args.channels), "--case", path,
                                  str(n)], capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"device {args.device}, D = {args.dim}, {args.channels} warped channels, batch 1, "
          f"torch {torch.__version__}\n")
    print("| grid | hw | path | forward ms | peak MiB |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']}x{r['n']} | {r['n'] ** 2} | {r['path']} | {r['ms']:.1f} | "
              f"{r['peak_mib']:.1f} |")


if __name__ == "__main__":
    main()
