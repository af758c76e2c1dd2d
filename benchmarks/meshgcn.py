"""Per-component inference ms of the mesh-guided GCN at 256^2, like the paper's Table 5
(mesh regression 64, motion net 37, occlusion net 10, encoder 7, decoder 12 ms on a 2080Ti).

    python benchmarks/meshgcn.py [--device cpu|cuda] [--repeats 20] [--threads 2]

Mesh regression is our front end: mediapipe tracking of a driving frame, fitting, mixing and
posing the meshes (../shared/data/faces/s42.jpg and a frame of d3.mp4 when present, otherwise the
bundled sample photos). The networks use the default (paper-width) configs with random weights:
speed does not depend on the weights.
"""

import argparse
import itertools
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from reenact.app.runtime import configure_runtime
from reenact.face import landmark_topology
from reenact.face.mean_shape import mean_shape
from reenact.io import iter_video_frames, read_image
from reenact.io.samples import sample_images
from reenact.models.meshgcn.model import MeshGCN, MeshGCNConfig
from reenact.motion.guidance import meshgcn_inputs
from reenact.pipeline import Reenactor
from reenact.render.filters import identity_grid

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _ms(fn, repeats: int, sync) -> float:
    fn()
    sync()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync()
    return 1000 * (time.perf_counter() - t) / repeats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    configure_runtime(args.threads)
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    if (DATA / "faces" / "s42.jpg").exists():
        source = read_image(DATA / "faces" / "s42.jpg")
        driver = next(itertools.islice(iter_video_frames(DATA / "driving" / "d3.mp4"), 100, None))
    else:
        samples = sample_images()
        source, driver = samples["astronaut"], samples["grace_hopper"]
    r = Reenactor()
    src = r.prepare_source(source)
    warp = next(r.drive(src, [driver], is_video=False))

    def mesh_regression():  # track, fit, mix and pose: what the analytic front end does per frame
        next(r.drive(src, [driver], is_video=False))

    cfg = MeshGCNConfig()
    net = MeshGCN(mean_shape(), landmark_topology().triangles, cfg).to(args.device).eval()
    x = meshgcn_inputs(src.scene, warp)
    stacked = x["stacked"].to(args.device)
    image = F.interpolate(x["image_s"], size=(256, 256), mode="area").to(args.device)
    re = net.reenacting
    with torch.no_grad():
        flow = net.flow(stacked)
        warped = F.grid_sample(image, identity_grid(1, 256, 256, image) + flow,
                               align_corners=False)
        feats = re.encoder(image)
        rows = {
            "mesh regression (front end, per frame)": _ms(mesh_regression, max(3, args.repeats // 4),
                                                          sync),
            "motion net": _ms(lambda: net.flow(stacked), args.repeats, sync),
            "occlusion net": _ms(lambda: re.occlusion(warped), args.repeats, sync),
            "encoder": _ms(lambda: re.encoder(image), args.repeats, sync),
            "decoder": _ms(lambda: re.decoder(re.bottleneck(feats)), args.repeats, sync),
            "whole network": _ms(lambda: net(image, stacked), args.repeats, sync),
        }
    print(f"device {args.device}, {args.threads} threads, 256x256, landmark mesh "
          f"({len(mean_shape())} vertices), torch {torch.__version__}\n")
    print("| component | ms | paper (2080Ti) |")
    print("|---|---|---|")
    paper = {"mesh regression (front end, per frame)": 64, "motion net": 37, "occlusion net": 10,
             "encoder": 7, "decoder": 12}
    for name, ms in rows.items():
        print(f"| {name} | {ms:.1f} | {paper.get(name, '')} |")



if __name__ == "__main__":
    main()
