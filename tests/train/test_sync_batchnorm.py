"""GlobalBatchNorm2d: in a one-process group it is nn.BatchNorm2d (outputs, gradients, running
statistics); across processes the DDP test checks it against one process on the global batch."""

import torch
import torch.distributed as dist
from torch import nn

from reenact.train.sync_batchnorm import GlobalBatchNorm2d, convert_batchnorm


def test_one_process_equals_batchnorm(tmp_path):
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rdv'}", rank=0,
                            world_size=1)
    try:
        torch.manual_seed(0)
        ref = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).double()
        ref[1].weight.data.uniform_(0.5, 1.5)
        ref[1].bias.data.uniform_(-1, 1)
        ours = convert_batchnorm(
            nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).double(), torch.device("cpu"))
        ours.load_state_dict(ref.state_dict())
        assert type(ours[1]) is GlobalBatchNorm2d
        x = torch.randn(5, 3, 8, 8, dtype=torch.float64) * 3 + 1
        for _ in range(2):
            y_ref, y = ref(x), ours(x)
            assert (y - y_ref).abs().max() < 1e-10, (y - y_ref).abs().max()
        y_ref.square().sum().backward()
        y.square().sum().backward()
        for (name, a), b in zip(ref.named_parameters(), ours.parameters(), strict=True):
            assert torch.allclose(a.grad, b.grad, atol=1e-9), name
        for key in ("running_mean", "running_var", "num_batches_tracked"):
            assert torch.allclose(getattr(ours[1], key).double(),
                                  getattr(ref[1], key).double()), key
        ref.eval(), ours.eval()
        assert torch.allclose(ours(x), ref(x), atol=1e-10)
    finally:
        dist.destroy_process_group()
