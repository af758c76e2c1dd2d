"""Evaluation: the papers' protocols, the systems compared, the metrics that need a model (identity,
expression, pose, FID, LPIPS) and the report. The plain image and landmark metrics are in
``reenact.metrics``."""
