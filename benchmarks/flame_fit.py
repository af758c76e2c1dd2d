"""Time FLAME fitting at FLAME's size (5,023 vertices, 300 + 100 blendshapes, 105 mediapipe
landmarks), on a random model of that size (FLAME itself cannot ship): per image and per frame of
a 16-frame video, default FlameFitConfig.

    python benchmarks/flame_fit.py
"""

import time

import numpy as np
import torch

from reenact.face.flame import FlameData, FlameModel, LandmarkEmbedding
from reenact.face.flame_fit import fit_flame


def random_flame(seed: int = 0) -> FlameModel:
    rng = np.random.default_rng(seed)
    V, J = 5023, 5
    return FlameModel(FlameData(
        v_template=rng.normal(0, 0.05, (V, 3)), shapedirs=rng.normal(0, 1e-3, (V, 3, 300)),
        exprdirs=rng.normal(0, 1e-3, (V, 3, 100)), posedirs=rng.normal(0, 1e-3, (V, 3, 36)),
        j_regressor=rng.dirichlet(np.ones(V), J), parents=np.array([-1, 0, 1, 1, 1]),
        weights=rng.dirichlet(np.ones(J), V), faces=rng.integers(0, V, (9976, 3))))


def main() -> None:
    torch.set_num_threads(2)
    model = random_flame()
    rng = np.random.default_rng(1)
    emb = LandmarkEmbedding(rng.integers(0, 9976, 105), rng.dirichlet(np.ones(3), 105))
    z = torch.zeros(1, 1, dtype=torch.float64)
    rest = model.landmarks(model.vertices(z, z, torch.zeros(1, 5, 3, dtype=torch.float64)), emb)
    targets = rest * 2000 + 256 + torch.randn(rest.shape, dtype=torch.float64)
    fit_flame(model, emb, targets)  # warm-up
    for frames, video in ((1, False), (16, True)):
        t = time.perf_counter()
        fit = fit_flame(model, emb, targets.expand(frames, -1, -1).clone(), video=video)
        seconds = time.perf_counter() - t
        print(f"{'video' if video else 'image'} x {frames}: {seconds:.2f} s, "
              f"{1000 * seconds / frames:.0f} ms a frame, RMS error {float(fit.error.mean()):.2f} px")


if __name__ == "__main__":
    main()
