"""Networks only (``nn.Module``s, one per file): ``dcggan/`` (DCG-GAN), ``meshgcn/`` (mesh-guided GCN),
and blocks they share. No I/O, no training loops: those live in ``reenact.train``."""
