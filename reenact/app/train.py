"""``reenact train --config CONFIG [KEY=VALUE ...]``: load the run config, train (or resume), and
report where the checkpoint, TensorBoard logs, image grids and curves are."""

import logging
from pathlib import Path


def overrides_from_args(args) -> list[str]:
    """KEY=VALUE overrides, with --face-model / --face-model-path as data.face_model[_path]."""
    overrides = list(args.overrides)
    if getattr(args, "face_model", None):
        overrides.append(f"data.face_model={args.face_model}")
    if getattr(args, "face_model_path", None):
        overrides.append(f"data.face_model_path={args.face_model_path}")
    return overrides


def run_train(args) -> int:
    from reenact.train.loop import train
    from reenact.train.setup import load_setup

    logging.basicConfig(level=logging.INFO, format="reenact: %(message)s")
    setup = load_setup(args.config, overrides_from_args(args))
    scores = train(setup)
    out = Path(setup.run.out)
    print(f"checkpoint: {out / 'checkpoints' / 'last.pt'} (reenact animate --model "
          f"{setup.family} --checkpoint ...)")
    print(f"TensorBoard: tensorboard --logdir {out / 'tb'}; grids in {out / 'images'}; "
          f"curves {out / 'curves.png'}")
    calibrated = out / "checkpoints" / "calibrated.pt"
    if setup.run.calibrate and calibrated.is_file():
        print(f"calibrated on the validation split: {calibrated}")
    if scores:
        print("held-out: " + ", ".join(f"{k} {v:.4g}" for k, v in scores.items()
                                       if not k.startswith("akd_")))  # by region: the logs
    return 0
