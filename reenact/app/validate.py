"""``reenact validate CHECKPOINT``: score a training checkpoint against the analytic warp on its
run's held-out pairs. ``reenact calibrate CHECKPOINT``: choose, on its run's validation split, how
much of its correction the model adds to the warp, and write ``calibrated.pt``."""

from pathlib import Path

from reenact.io import InputError
from reenact.io.native_log import native_stderr_to


def _checkpoint(path: str) -> Path:
    checkpoint = Path(path)
    if not checkpoint.is_file():
        raise InputError(f"{checkpoint}: no such checkpoint")
    return checkpoint


def run_validate(args) -> int:
    from reenact.train.validate import evaluate_checkpoint, report

    checkpoint = _checkpoint(args.checkpoint)
    with native_stderr_to(checkpoint.parent / "native.log"):  # mediapipe's lines
        model, warp = evaluate_checkpoint(checkpoint, args.pairs, args.gain, args.render_size)
    print(report(model, warp))
    return 0


def run_calibrate(args) -> int:
    from reenact.train.calibrate import calibrate_checkpoint

    checkpoint = _checkpoint(args.checkpoint)
    with native_stderr_to(checkpoint.parent / "native.log"):
        result = calibrate_checkpoint(checkpoint, args.metric, args.out)
    scores = ", ".join(f"{g}: {s:.4f}" for g, s in result["scores"].items())
    print(f"{result['metric']} on the validation pairs by gain: {scores}; chosen gain "
          f"{result['gain']}")
    return 0
