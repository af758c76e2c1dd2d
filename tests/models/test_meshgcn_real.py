"""Overfitting one real same-video pair: the mesh GCN's reconstruction drops below the analytic
warp's error on that pair (d3.mp4, source frame 0, driving frame 150, 64 px, tiny widths)."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from reenact.face import landmark_topology
from reenact.face.mean_shape import mean_shape
from reenact.io import image_to_tensor, iter_video_frames
from reenact.losses.meshgcn import MeshGCNLossWeights
from reenact.models.meshgcn.model import MeshGCNConfig
from reenact.models.meshgcn.motion_net import MotionNetConfig
from reenact.models.meshgcn.reenacting import ReenactingConfig
from reenact.motion.guidance import meshgcn_inputs
from reenact.pipeline import Reenactor
from reenact.tracking.crop import crop_image
from reenact.train.meshgcn import MeshGCNTrainConfig, MeshGCNTrainer
from tests.conftest import data_path


@pytest.mark.slow  # a training run of its own (make test-slow)
def test_overfitting_a_real_pair_beats_the_analytic_warp():
    frames = list(itertools.islice(iter_video_frames(data_path("driving", "d3.mp4")), 151))
    r = Reenactor()
    src = r.prepare_source(frames[0], "d3.mp4 frame 0")
    warp = list(r.drive(src, [frames[0], frames[150]], 30.0, True))[-1]
    x = meshgcn_inputs(src.scene, warp)
    target = F.avg_pool2d(image_to_tensor(crop_image(frames[150], src.box, 256)), 4)
    analytic = float((F.avg_pool2d(warp.image.float(), 4) - target).abs().mean())
    batch = {"image_s": F.avg_pool2d(x["image_s"], 4), "stacked": x["stacked"], "target": target}
    cfg = MeshGCNConfig(
        motion=MotionNetConfig(channels=(16, 16, 32, 32), factors=(4, 2, 2), latent=64, size=64,
                               decoder_width=64, decoder_res_blocks=1),
        reenacting=ReenactingConfig(width=16, res_blocks=1, hourglass_width=16))
    torch.manual_seed(0)
    trainer = MeshGCNTrainer(mean_shape(), landmark_topology().triangles, MeshGCNTrainConfig(
        model=cfg, lr=1e-3, critic_width=16, use_coefficient_loss=False,
        weights=MeshGCNLossWeights(adv=0.01, fm=1.0)))
    for _ in range(200):
        trainer.step(batch)
    trainer.model.eval()
    with torch.no_grad():
        learned = float((trainer.model(batch["image_s"], batch["stacked"])[0] - target).abs().mean())
    print(f"L1 on the pair: analytic warp {analytic:.4f}, mesh GCN after 200 steps {learned:.4f}")
    assert learned < analytic
