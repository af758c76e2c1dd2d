"""Frozen configuration dataclasses, built in the entry points from YAML and flags."""

import dataclasses
import re
import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path

MODELS = ("analytic", "dcggan", "meshgcn")
MOTIONS = ("relative", "absolute")
MISSING_FACE = ("hold", "error")
SIZES = (256, 512)
FACE_MODELS = ("landmark", "flame", "bfm")  # reenact.face.backends
DEVICE = re.compile(r"cpu|mps|cuda(:\d+)?")  # torch device names a refiner can run on
MOUTHS = ("driver", "synthetic")  # reenact.motion.mouth | analytic._mouth_interior


@dataclass(frozen=True)
class AnimateConfig:
    """Options of ``reenact animate`` and ``Reenactor``."""

    size: int = 256  # crop resolution, 256 or 512
    margin: float = 2.0  # crop side / face landmark box side
    face_index: int = 0  # which face of the photo when it has several: 0 = the largest
    motion: str | None = None  # relative | absolute; None: relative for videos, absolute for images
    # driving frame relative motion starts from: "auto" (the one nearest the photo in pose and
    # expression, reenact.face.reference) or its index
    reference_frame: int | str = "auto"
    # relative motion: how much of the reference frame's own expression (against the photo's) the
    # photo also takes: 0, only the driver's changes since the reference; 1, as far as absolute
    # motion (an angry clip that is angry from its first frame makes the photo angry too). Mouth
    # and eyes only (the brows' height is a trait of the face). 0.5 was chosen on half of the
    # corpus: the expression error down a sixth for 0.0006 of identity (docs/expressions.md)
    reference_expression: float = 0.5
    # relative motion: the head takes the driver's own pose ("absolute", the papers' protocol) or
    # turns from the photo's pose as the driver turns after the reference frame ("relative": keeps
    # a turned photo turned and a face's own tilt; 1.2 dB less with the photo outside the clip,
    # docs/expressions.md)
    head_turn: str = "absolute"
    alpha: float = 1.0  # 0 = the source's pose and expression, 1 = the driver's
    pose_only: bool = False
    expression_only: bool = False
    crop_only: bool = False  # write the face crop instead of pasting it back into the frame
    side_by_side: bool = False  # output source | driving | result panels, not the result alone
    on_missing_face: str = "hold"  # a driving frame without a face: hold the last motion, or error
    smooth: bool = True  # One-Euro smoothing of the driver's pose and expression (videos)
    detail: bool = False  # the driver's expression folds as a ratio image (reenact.motion.detail)
    mouth_fill: bool = True  # fill the inside of a mouth the source does not show
    mouth: str = "driver"  # that fill: the driver's own open mouth, colour-matched (the
    #   synthetic one where the driver's is closed), or always the synthetic teeth and shadow
    model: str = "analytic"  # analytic (training-free) | dcggan | meshgcn (need a checkpoint)
    checkpoint: str | None = None  # weights of the learned model
    face_model: str = "landmark"  # landmark (built in) | flame | bfm: whose coefficients carry
    #   the motion (reenact.face.backends)
    face_model_path: str | None = None  # the FLAME or BFM files (a folder, or the model file)
    device: str = "cpu"  # where a learned refiner runs: cpu, cuda, cuda:1, mps (the warp: CPU)

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ValueError(f"size must be one of {SIZES}, got {self.size}")
        if self.motion is not None and self.motion not in MOTIONS:
            raise ValueError(f"motion must be one of {MOTIONS}, got {self.motion!r}")
        if self.head_turn not in MOTIONS:
            raise ValueError(f"head_turn must be one of {MOTIONS}, got {self.head_turn!r}")
        if self.on_missing_face not in MISSING_FACE:
            raise ValueError(f"on_missing_face must be one of {MISSING_FACE}, "
                             f"got {self.on_missing_face!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")
        if not 0.0 <= self.reference_expression <= 1.0:
            raise ValueError(f"reference_expression must lie in [0, 1], got "
                             f"{self.reference_expression}")
        if self.pose_only and self.expression_only:
            raise ValueError("pose_only and expression_only exclude each other")
        if self.face_index < 0:
            raise ValueError(f"face_index must be >= 0, got {self.face_index}")
        if self.reference_frame != "auto" and (isinstance(self.reference_frame, bool) or
                                               not isinstance(self.reference_frame, int) or
                                               self.reference_frame < 0):
            raise ValueError(f"reference_frame must be 'auto' or a frame index >= 0, got "
                             f"{self.reference_frame!r}")
        if self.mouth not in MOUTHS:
            raise ValueError(f"mouth must be one of {MOUTHS}, got {self.mouth!r}")
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {self.model!r}")
        if self.model != "analytic" and not self.checkpoint:
            raise ValueError(f"--model {self.model} needs --checkpoint PATH")
        if self.model == "analytic" and self.checkpoint:
            raise ValueError(f"--checkpoint {self.checkpoint}: the default model (analytic) takes "
                             f"no weights; add --model dcggan or --model meshgcn")
        if self.face_model not in FACE_MODELS:
            raise ValueError(f"face_model must be one of {FACE_MODELS}, got {self.face_model!r}")
        if self.face_model != "landmark" and not self.face_model_path:
            raise ValueError(f"--face-model {self.face_model} needs --face-model-path (a folder "
                             f"with the model's files)")
        if not 1.2 <= self.margin <= 4.0:
            raise ValueError(f"margin must lie in [1.2, 4], got {self.margin}")
        if not DEVICE.fullmatch(self.device):
            raise ValueError(f"device must be cpu, cuda, cuda:N or mps, got {self.device!r}")


class ConfigError(ValueError):
    """A config file that cannot be used: one line naming the file, the key and the value."""


_KINDS = {bool: "true or false", int: "a whole number", float: "a number", str: "a string",
          type(None): "null"}


def _fits(value, kind) -> bool:
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _file_values(cls, path: str | Path) -> dict:
    """The YAML file's values, each checked against the field's type."""
    import yaml  # here: a command without --config has no use for it (20 ms of its start)

    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark, start = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if mark and start and start.line != mark.line:  # e.g. an unclosed bracket
            where += f" (in what line {start.line + 1} begins)"
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"{path}: not valid YAML{where} ({problem})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected 'key: value' lines, got a YAML "
                          f"{type(data).__name__}")
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        if key not in hints:
            known = ", ".join(f.name for f in fields(cls))
            raise ConfigError(f"{path}: {key}: not an option (the options: {known})")
        kinds = typing.get_args(hints[key]) or (hints[key],)
        if not any(_fits(value, k) for k in kinds):
            expected = " or ".join(_KINDS.get(k, k.__name__) for k in kinds)
            raise ConfigError(f"{path}: {key}: expected {expected}, got {value!r}")
    return data


def load_config(cls, path: str | Path | None = None, **overrides):
    """Build a frozen config: the class defaults, then a YAML file, then explicit overrides.
    A file that cannot be used raises ``ConfigError`` naming the file, the key and the value."""
    values = {} if path is None else dict(_file_values(cls, path))
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    try:
        return cls(**values)
    except ValueError as exc:
        if path is None:
            raise
        try:  # without the file's values, do the flags alone pass? then the file is at fault
            cls(**{k: v for k, v in overrides.items() if v is not None and k in known})
        except ValueError:
            raise exc from None
        raise ConfigError(f"{path}: {exc}") from None


def save_config(config, path: str | Path) -> None:
    import yaml

    with open(path, "w") as f:
        yaml.safe_dump(asdict(config), f, sort_keys=False)


def from_dict(cls, data: dict):
    """Rebuild a (nested) frozen config dataclass from ``dataclasses.asdict`` output."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        v, hint = data[f.name], hints[f.name]
        if dataclasses.is_dataclass(hint):
            v = from_dict(hint, v)
        elif typing.get_origin(hint) is tuple:
            v = tuple(v)
        values[f.name] = v
    return cls(**values)
