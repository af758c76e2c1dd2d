"""Training: ``setup`` (the run config and the trainers it builds), one readable step per model
family (``dcggan``, ``meshgcn``), ``loop`` over them, ``validate`` and ``calibrate`` beneath it,
``plots``; checkpoints are plain state dicts (``reenact.io.checkpoint``)."""
