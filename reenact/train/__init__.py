"""Training: one readable step and loop per model family, checkpoints as plain state dicts."""
