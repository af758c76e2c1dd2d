"""How much of its correction a model trained with ``use_prior`` adds to the analytic warp (ours).

A model refines the warp with a residual (``blocks.PriorFusion``). Trained on a few hundred frames,
it learns corrections that fit those frames in full but overshoot on frames it has not seen: the
full residual raises face PSNR there and worsens the landmark error. Calibration scores the
model on the validation split (``data.val_fraction``; never the test frames) with its residual
scaled by each gain in ``GAINS``. It keeps the smallest gain whose score is within one standard
error of the best one (the one-standard-error rule, on paired per-pair differences), so it
prefers staying near the warp unless the validation frames show that more correction helps.

    reenact calibrate runs/NAME/checkpoints/last.pt [--metric akd]

writes ``calibrated.pt`` beside the checkpoint; ``reenact train`` does the same at the end of a
run with ``run.calibrate`` set.
"""

import numpy as np
import torch

GAINS = (0.0, 0.25, 0.5, 0.75, 1.0)


def choose_gain(per_gain: dict[float, np.ndarray], higher: bool) -> float:
    """The smallest gain whose per-pair scores (NaN: not measured) are, on average, within one
    standard error of the best gain's: ``per_gain`` maps gain -> (N,) scores of the same pairs.

    Example:
        >>> rows = {0.0: np.array([3.0, 3.0, 3.0]), 0.5: np.array([2.0, 2.1, 1.9]),
        ...         1.0: np.array([1.9, 2.2, 1.8])}
        >>> choose_gain(rows, higher=False)  # 1.0 is best on average, 0.5 within noise of it
        0.5
    """
    sign = 1.0 if higher else -1.0
    means = {g: float(np.nanmean(v)) for g, v in per_gain.items()}
    best = max(means, key=lambda g: sign * means[g])
    for g in sorted(per_gain):
        d = sign * (per_gain[best] - per_gain[g])  # >= 0 on average: how much worse g is
        d = d[np.isfinite(d)]
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
        if len(d) and d.mean() <= se:
            return g
    return best


def gain_scores(trainer, module, validator, metric: str) -> dict[float, np.ndarray]:
    """Per-pair ``metric`` of ``module`` (a generator with a PriorFusion) on the validator's
    pairs, for each gain in ``GAINS``; the module's gain is restored afterwards."""
    from reenact.train.validate import generated_image

    fusion = getattr(module, "fusion", None)
    if fusion is None:
        raise ValueError("calibration scales the correction of the analytic warp: the model "
                         "needs trainer.model.use_prior")
    kept = fusion.gain.clone()
    rows = {}
    try:
        with torch.no_grad():
            for g in GAINS:
                fusion.gain.fill_(g)
                rows[g] = validator.per_pair(generated_image(trainer, validator.batch,
                                                             module))[metric]
    finally:
        fusion.gain.copy_(kept)
    return rows


def calibrated_state(module, gain: float) -> dict[str, torch.Tensor]:
    """``module``'s state dict with the PriorFusion gain set (the module is left unchanged)."""
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    state["fusion.gain"] = torch.tensor(float(gain))
    return state


def calibrate_checkpoint(checkpoint: str, metric: str = "akd", out: str | None = None) -> dict:
    """Calibrate a ``reenact train`` checkpoint on its run's validation split and write the
    result (default: ``calibrated.pt`` beside it). Returns the mean score per gain and the
    chosen gain."""
    from pathlib import Path

    from reenact.io.checkpoint import save_checkpoint
    from reenact.train.setup import SELECTABLE
    from reenact.train.validate import load_run

    if metric not in SELECTABLE:
        raise ValueError(f"the calibration metric must be one of {', '.join(SELECTABLE)}, got "
                         f"{metric!r}")
    setup, trainer, validator = load_run(checkpoint, "val")
    try:
        rows = gain_scores(trainer, trainer.model, validator, metric)
    finally:
        validator.close()
    result = summary(rows, metric)
    target = Path(out) if out else Path(checkpoint).with_name("calibrated.pt")
    save_checkpoint(target, setup, model=calibrated_state(trainer.model, result["gain"]),
                    calibration=result, train_size=setup.data.size)
    return result


def summary(rows: dict[float, np.ndarray], metric: str) -> dict:
    """{"metric", "scores": {gain: mean}, "gain": chosen} (plain values, for metrics.jsonl)."""
    from reenact.train.setup import SELECTABLE

    return {"metric": metric, "scores": {str(g): float(np.nanmean(v)) for g, v in rows.items()},
            "gain": choose_gain(rows, SELECTABLE[metric])}
