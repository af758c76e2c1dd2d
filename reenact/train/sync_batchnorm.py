"""Batch norm over the global batch under DDP, on GPU and CPU.

PyTorch's ``SyncBatchNorm`` is used on CUDA; DDP refuses it on CPU ("SyncBatchNorm layers only work
with GPU modules"), so CPU runs (gloo) get ``GlobalBatchNorm2d`` below: the same statistics, summed
over processes by an all-reduce with its gradient (``torch.distributed.nn.all_reduce`` does
this too but is deprecated, and its replacement is private). Either way a DDP step
normalises with the statistics one process would compute on the whole global batch, which is what
makes DDP gradients equal single-process gradients for the mesh GCN's batch-normed decoders.
"""

import torch
from torch import nn


class _SumOverProcesses(torch.autograd.Function):
    """all_reduce(SUM) with its gradient: every process's output is the sum, so the gradient of an
    input is the sum of the gradients of all outputs."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` whose training statistics cover every process's batch (CPU DDP).

    Same parameters and buffers as the layer it replaces, so checkpoints load either way."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, C, H, W)
        if not self.training:
            return super().forward(x)
        count = torch.tensor([x.shape[0] * x.shape[2] * x.shape[3]], dtype=x.dtype,
                             device=x.device)
        sums = torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count])  # (2C + 1,)
        sums = _SumOverProcesses.apply(sums)
        C = x.shape[1]
        n = sums[-1]
        mean = sums[:C] / n
        var = sums[C:2 * C] / n - mean * mean  # biased, for normalising
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum  # None: a cumulative average, as nn.BatchNorm2d does
                m = 1.0 / float(self.num_batches_tracked) if m is None else m
                unbiased = var * n / (n - 1).clamp_min(1)
                self.running_mean.mul_(1 - m).add_(m * mean)
                self.running_var.mul_(1 - m).add_(m * unbiased)
        y = (x - mean.view(1, C, 1, 1)) * torch.rsqrt(var.view(1, C, 1, 1) + self.eps)
        if self.affine:
            y = y * self.weight.view(1, C, 1, 1) + self.bias.view(1, C, 1, 1)
        return y


def convert_batchnorm(module: nn.Module, device: torch.device) -> nn.Module:
    """Replace the BatchNorm2d layers of ``module`` by their global-batch versions: PyTorch's
    SyncBatchNorm on CUDA, ``GlobalBatchNorm2d`` elsewhere (weights and buffers kept)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            new = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                    child.track_running_stats).to(child.weight.device,
                                                                  child.weight.dtype)
            new.load_state_dict(child.state_dict())
            setattr(module, name, new)
        else:
            convert_batchnorm(child, device)
    return module
