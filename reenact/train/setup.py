"""A training run's settings and what they build: the run config, the typed setup read from YAML
with ``key=value`` overrides, the validation scores a run may select by (and their directions), and
the trainer of each model family. ``loop``, ``validate``, ``calibrate`` and ``e3d`` import this;
it imports none of them."""

import dataclasses
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from reenact.config import from_dict
from reenact.data.dataset import DataConfig

FAMILIES = ("dcggan", "meshgcn")


@dataclass(frozen=True)
class RunConfig:
    steps: int = 10_000
    out: str = "runs/run"  # checkpoints/, tb/ (TensorBoard), images/, metrics.jsonl, curves.png
    seed: int = 0
    ema_decay: float = 0.999
    log_every: int = 10
    image_every: int = 250
    checkpoint_every: int = 250
    val_every: int = 500
    device: str = "auto"  # auto: CUDA when present (cuda:LOCAL_RANK under torchrun), else CPU
    amp: bool = True  # bfloat16 autocast, CUDA only
    threads: int | None = None  # CPU threads per process (None: leave torch's default)
    select: str | None = None  # keep checkpoints/best.pt by this validation score (e.g. akd,
    #   psnr_face); with data.val_fraction it is chosen on the validation split, not the test one
    calibrate: str | None = None  # ours: at the end, choose on the validation split (needs
    #   data.val_fraction) by this score how much of its correction the model adds to the warp
    #   (reenact.train.calibrate) -> checkpoints/calibrated.pt
    max_minutes: float | None = None  # stop after this much training time in one invocation,
    #   with a checkpoint (a lease or a cluster's time limit); the same command resumes it

    def __post_init__(self) -> None:
        for key in ("select", "calibrate"):
            value = getattr(self, key)
            if value is not None and value not in SELECTABLE:
                raise ValueError(f"run.{key} must be one of {', '.join(SELECTABLE)}, got "
                                 f"{value!r}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ValueError(f"run.max_minutes must be a positive number of minutes, got "
                             f"{self.max_minutes!r}")


# validation scores a run can select its best checkpoint by, and whether higher is better
SELECTABLE = {"psnr_face": True, "ssim": True, "akd": False, "pose_error_deg": False,
              "identity_distance": False}


@dataclass(frozen=True)
class TrainSetup:
    family: str = "dcggan"
    trainer: dict = field(default_factory=dict)  # DCGGANTrainConfig / MeshGCNTrainConfig fields
    data: DataConfig = field(default_factory=DataConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {self.family!r}")
        if self.run.calibrate and self.data.val_fraction <= 0:
            raise ValueError("run.calibrate needs a validation split (data.val_fraction > 0): "
                             "calibrating on the test frames would tune on what is measured")

    def trainer_config(self):
        cls = _trainer_config_class(self.family)
        _check_keys(cls, self.trainer, "trainer")
        return from_dict(cls, self.trainer)


def _trainer_config_class(family: str):
    if family == "dcggan":
        from reenact.train.dcggan import DCGGANTrainConfig

        return DCGGANTrainConfig
    from reenact.train.meshgcn import MeshGCNTrainConfig

    return MeshGCNTrainConfig


def _check_keys(cls, data: dict, where: str) -> None:
    """Unknown keys are errors (a typo must not silently train the default)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {data!r}")  # noqa: TRY004 (a config
        #   error, which the command line reports in one line as it does every ValueError)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        if key not in fields:
            raise ValueError(f"{where}.{key}: unknown setting (known: {', '.join(fields)})")
        if dataclasses.is_dataclass(hints[key]) and isinstance(value, dict):
            _check_keys(hints[key], value, f"{where}.{key}")


def load_setup(path: str | os.PathLike, overrides: list[str] = ()) -> TrainSetup:
    """A run config from YAML plus ``key.sub=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file")
    data = yaml.safe_load(path.read_text()) or {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r}: expected KEY=VALUE, e.g. run.steps=100")
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {p} is not a section")  # noqa: TRY004
        node[leaf] = yaml.safe_load(value)
    _check_keys(TrainSetup, data, path.name)
    setup = from_dict(TrainSetup, data)
    setup.trainer_config()  # validate the trainer section now, not after data loading
    return setup


def build_trainer(setup: TrainSetup, device, ddp: bool = False):
    cfg = setup.trainer_config()
    if setup.family == "dcggan":
        from reenact.train.dcggan import DCGGANTrainer

        return DCGGANTrainer(cfg, device, ddp=ddp, amp=setup.run.amp)
    from reenact.refine import gcn_mesh
    from reenact.train.meshgcn import MeshGCNTrainer

    template, triangles = gcn_mesh(setup.data.face_model, setup.data.face_model_path)
    return MeshGCNTrainer(template, triangles, cfg, device, ddp=ddp, amp=setup.run.amp)
