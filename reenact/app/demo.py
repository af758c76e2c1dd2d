"""``reenact demo``: scikit-image's astronaut driven by matplotlib's grace_hopper photo, no download.

Writes ``demo.png`` (source | driver | result, face crops), ``demo_full.png`` (the result pasted
back into the whole photo) and ``demo_sweep.mp4``, which sweeps alpha from 0
(the astronaut's own pose and expression) to 1 (Grace Hopper's) and back.
"""

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from reenact.config import AnimateConfig
from reenact.io import VideoWriter, write_image
from reenact.io.marking import marking
from reenact.io.native_log import native_stderr_to
from reenact.io.samples import sample_images
from reenact.motion.paste import side_by_side, warp_crop
from reenact.pipeline import Reenactor


def run_demo(out_dir: Path, num_frames: int = 48) -> None:
    with native_stderr_to(os.devnull) as console:  # mediapipe's native lines, not the console
        _demo(out_dir, num_frames, console)
    print(f"wrote {out_dir / 'demo.png'} and {out_dir / 'demo_sweep.mp4'}", file=sys.stderr)


def _demo(out_dir: Path, num_frames: int, console) -> None:
    images = sample_images()
    source, driver = images["astronaut"], images["grace_hopper"]
    config = AnimateConfig()
    reenactor = Reenactor(config)
    src = reenactor.prepare_source(source, "astronaut")
    frame = next(reenactor.run(src, reenactor.open_driving(src, driver)))
    out_dir.mkdir(parents=True, exist_ok=True)
    mark = marking()  # every output says it is synthetic
    write_image(out_dir / "demo.png", side_by_side(src.crop, frame.driving_crop(config.size),
                                                   warp_crop(frame.warp), h=256), mark)
    write_image(out_dir / "demo_full.png", frame.image, mark)
    half = np.linspace(0.0, 1.0, max(2, num_frames // 2))
    alphas = np.r_[half, half[::-1]]
    with VideoWriter(out_dir / "demo_sweep.mp4", 24, marking=mark) as writer:
        for a in tqdm(alphas, desc="sweep", unit="frame", disable=None, file=console):
            r = Reenactor(dataclasses.replace(config, alpha=float(a), crop_only=True))
            writer.write(r.animate(src, driver)[0])
