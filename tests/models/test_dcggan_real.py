"""Overfitting one real same-video pair: DCG-GAN's reconstruction drops below the analytic warp's
error on that pair (d3.mp4, source frame 0, driving frame 150, 64 px, tiny widths)."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from reenact.io import image_to_tensor, iter_video_frames
from reenact.losses.dcggan import DCGGANLossWeights
from reenact.models.dcggan import CorrespondenceConfig
from reenact.models.dcggan.generator import GeneratorConfig
from reenact.models.dcggan.model import DCGGANConfig
from reenact.motion.guidance import dcggan_inputs
from reenact.pipeline import Reenactor
from reenact.tracking.crop import crop_image
from reenact.train.dcggan import DCGGANTrainConfig, DCGGANTrainer
from tests.conftest import data_path


@pytest.mark.slow  # a training run of its own (make test-slow)
def test_overfitting_a_real_pair_beats_the_analytic_warp():
    frames = list(itertools.islice(iter_video_frames(data_path("driving", "d3.mp4")), 151))
    r = Reenactor()
    src = r.prepare_source(frames[0], "d3.mp4 frame 0")
    warp = list(r.drive(src, [frames[0], frames[150]], 30.0, True))[-1]
    batch = {k: F.avg_pool2d(v, 4) for k, v in dcggan_inputs(src.scene, warp).items()}
    target = F.avg_pool2d(image_to_tensor(crop_image(frames[150], src.box, 256)), 4)
    analytic = float((F.avg_pool2d(warp.image.float(), 4) - target).abs().mean())
    batch.update(target=target, paired=torch.tensor([True]))
    cfg = DCGGANConfig(
        correspondence=CorrespondenceConfig(width=16, feature_dim=32, res_blocks=2),
        generator=GeneratorConfig(width=32, coarse_blocks=2))
    torch.manual_seed(0)
    trainer = DCGGANTrainer(DCGGANTrainConfig(model=cfg, lr=1e-3, disc_width=16,
                                              weights=DCGGANLossWeights(adv=0.1)))
    for _ in range(200):
        trainer.step(batch)
    with torch.no_grad():
        inputs = {k: v for k, v in batch.items() if k not in ("target", "paired")}
        learned = float((trainer.model(**inputs).image - target).abs().mean())
    print(f"L1 on the pair: analytic warp {analytic:.4f}, DCG-GAN after 200 steps {learned:.4f}")
    assert learned < analytic
