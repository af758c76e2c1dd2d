import numpy as np
import pytest
import torch

from reenact.face.mean_shape import mean_shape
from reenact.face.topology import landmark_topology
from reenact.losses.parts import PARTS, part_mask, parts_loss


def _landmarks(size=64, shift=(0.0, 0.0)):
    """The template's 478 points (x, y, z) scaled into a size-px image, as the tracker gives
    them, moved by ``shift`` (x, y) pixels; which way up does not matter to the masks."""
    pts = mean_shape().astype(np.float64)
    pts = (pts - pts.mean(0)) / np.ptp(pts[:, :2], axis=0).max() * size * 0.8  # about +-0.4 s
    pts[:, :2] += size / 2 + np.asarray(shift)
    return torch.from_numpy(pts).float()[None]


def test_mask_covers_the_eyes_and_lips_and_follows_the_face():
    lm = _landmarks()
    mask = part_mask(lm, 64)
    assert mask.shape == (1, 1, 64, 64) and set(mask.unique().tolist()) == {0.0, 1.0}
    regions = landmark_topology().regions
    for name in PARTS:  # every point of each part lies inside the mask
        xy = lm[0, regions[name]].round().long().clamp(0, 63)
        assert mask[0, 0, xy[:, 1], xy[:, 0]].min() == 1, name
    tip = lm[0, regions["nose"]].mean(0).round().long()
    assert mask[0, 0, tip[1], tip[0]] == 0  # the nose is left out
    assert 0.005 < float(mask.mean()) < 0.2  # a few percent of the image, not the face
    moved = part_mask(_landmarks(shift=(5.0, 0.0)), 64)
    assert torch.equal(moved[..., 5:], mask[..., :-5])


def test_loss_counts_only_the_masked_pixels():
    target = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(2, 1, 16, 16)
    mask[..., 4:8, 4:8] = 1
    out = target.clone()
    out[..., 12:, 12:] += 0.5  # a change outside the mask costs nothing
    assert float(parts_loss(out, target, mask)) == 0
    out = target + 0.1  # a colour shift: colour term only, the gradients match
    assert float(parts_loss(out, target, mask)) == pytest.approx(0.1, abs=1e-6)
    paired = torch.tensor([True, False])
    assert float(parts_loss(out, target, mask, paired)) == pytest.approx(0.05, abs=1e-6)
    empty = mask.clone()
    empty[1] = 0  # no parts in sample 1 (no face): it counts zero, not NaN
    assert float(parts_loss(out, target, empty)) == pytest.approx(0.05, abs=1e-6)


def test_loss_asks_for_detail_a_blur_leaves_out():
    target = torch.zeros(1, 1, 8, 8)
    target[..., ::2, :] = 1.0  # stripes: sharp detail inside the mask
    mask = torch.ones(1, 1, 8, 8)
    blurred = torch.full_like(target, 0.5)  # the stripes' mean: the colour error alone is 0.5
    assert float(parts_loss(blurred, target, mask)) > 0.5 + 0.4
    assert float(parts_loss(target, target, mask)) == 0
    out = blurred.clone().requires_grad_(True)
    parts_loss(out, target, mask).backward()
    assert out.grad.abs().sum() > 0


def test_both_trainers_add_the_term_only_when_weighted():
    from reenact.losses.dcggan import DCGGANLossWeights
    from reenact.losses.meshgcn import MeshGCNLossWeights
    from reenact.train.dcggan import DCGGANTrainConfig, DCGGANTrainer
    from reenact.train.meshgcn import MeshGCNTrainConfig, MeshGCNTrainer
    from tests.models import test_dcggan as dcg
    from tests.models import test_meshgcn as mesh

    lm = _landmarks(dcg.H).repeat(2, 1, 1)
    batch = {**dcg._batch(), "target_landmarks": lm}
    runs = []
    for weights in (DCGGANLossWeights(), DCGGANLossWeights(parts=10.0)):
        torch.manual_seed(0)
        cfg = DCGGANTrainConfig(model=dcg.TINY, disc_width=8, weights=weights)
        runs.append(DCGGANTrainer(cfg).step(batch))
    _check(*runs)
    batch = {**mesh._batch(), "target_landmarks": _landmarks(32).repeat(2, 1, 1)}
    runs = []
    for weights in (MeshGCNLossWeights(), MeshGCNLossWeights(parts=10.0)):
        torch.manual_seed(0)
        cfg = MeshGCNTrainConfig(model=mesh.TINY, critic_width=8, use_coefficient_loss=False,
                                 weights=weights)
        runs.append(MeshGCNTrainer(*mesh._template(), cfg).step(batch))
    _check(*runs)


def _check(off: dict, on: dict) -> None:
    """Off by default; on, it is reported and weighted into the generator's loss (same seed, so
    the rest of the step is the same)."""
    assert "parts" not in off and on["parts"] > 0
    assert on["loss_g"] - off["loss_g"] == pytest.approx(10.0 * on["parts"], rel=1e-4)
