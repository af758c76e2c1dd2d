"""The systems an evaluation compares: the default analytic warp, learned refiners from their
checkpoints, and two reference systems that bracket any real one (output = the source: identity
kept, motion ignored; output = the driver: motion exact, identity lost).

A system maps (source image, driving frames) to one output image per driving frame. Self-
reenactment drives relative to the source frame (as the mesh paper's Table 1); cross-identity
drives absolute motion from each frame (its Table 2, and DCG-GAN's one-image driving).
"""

from dataclasses import dataclass

import numpy as np

from reenact.config import AnimateConfig

REFERENCE_SYSTEMS = ("copy-source", "copy-driver")


@dataclass(frozen=True)
class Drive:
    """How a case drives: the frames, whether they are a contiguous video clip, the motion mode
    and, for relative motion, the reference frame (None: the first driving frame)."""

    frames: list[np.ndarray]
    is_video: bool
    motion: str  # "relative" or "absolute"
    reference: np.ndarray | None = None


class SourceSystem:
    """Reference: every output is the source image."""

    name = "copy-source"

    def __call__(self, source_key: str, source: np.ndarray, drive: Drive) -> list[np.ndarray]:
        return [source] * len(drive.frames)


class DriverSystem:
    """Reference: every output is the driving frame."""

    name = "copy-driver"

    def __call__(self, source_key: str, source: np.ndarray, drive: Drive) -> list[np.ndarray]:
        return list(drive.frames)


class ReenactorSystem:
    """The front end (``Reenactor``), with a learned refiner or without (the analytic warp).
    The prepared source is kept while consecutive cases share it."""

    def __init__(self, name: str, refiner=None, size: int = 256, face_model: str = "landmark",
                 face_model_path: str | None = None):
        self.name = name
        self.refiner = refiner
        self.size = size
        self.face_model, self.face_model_path = face_model, face_model_path
        from reenact.face.backends import cached_transfer

        self.transfer = cached_transfer(face_model, face_model_path)  # shared by every case
        if face_model != "landmark":
            self.name = f"{name}+{face_model}"
        self._prepared: tuple[str, object] | None = None

    def __call__(self, source_key: str, source: np.ndarray, drive: Drive) -> list[np.ndarray]:
        from reenact.pipeline import Driving, Reenactor

        config = AnimateConfig(size=self.size, motion=drive.motion, smooth=drive.is_video,
                               face_model=self.face_model, face_model_path=self.face_model_path)
        reenactor = Reenactor(config, refiner=self.refiner, transfer=self.transfer)
        if self._prepared is None or self._prepared[0] != source_key:
            self._prepared = (source_key, reenactor.prepare_source(source, source_key))
        prepared = self._prepared[1]
        reference = drive.reference
        if reference is None:  # relative motion from the reference `animate` would choose
            reference = reenactor.open_driving(prepared, list(drive.frames)).reference
        driving = Driving(drive.frames, drive.is_video, 25.0, reference, source_key)
        return [f.image for f in reenactor.run(prepared, driving)]


def build_system(spec: str, size: int = 256, face_model: str = "landmark",
                 face_model_path: str | None = None):
    """A system from its command-line name: "analytic", "copy-source", "copy-driver",
    "dcggan:CKPT" or "meshgcn:CKPT" (also "NAME=dcggan:CKPT" to name it). ``face_model``: the
    front end's motion backend for the front-end systems (their names get "+flame" / "+bfm")."""
    backend = {"face_model": face_model, "face_model_path": face_model_path}
    label, _, spec = spec.rpartition("=") if "=" in spec else ("", "", spec)
    kind, _, checkpoint = spec.partition(":")
    if kind == "copy-source":
        system = SourceSystem()
    elif kind == "copy-driver":
        system = DriverSystem()
    elif kind == "analytic":
        system = ReenactorSystem("analytic", size=size, **backend)
    elif kind in ("dcggan", "meshgcn"):
        if not checkpoint:
            raise ValueError(f"system {spec!r}: give the checkpoint as {kind}:PATH")
        from reenact.face.backends import cached_transfer
        from reenact.refine import build_refiner

        refiner = build_refiner(kind, checkpoint,
                                transfer=cached_transfer(face_model, face_model_path))
        system = ReenactorSystem(kind, refiner, size, **backend)
    else:
        raise ValueError(f"unknown system {spec!r}: analytic, copy-source, copy-driver, "
                         "dcggan:CKPT or meshgcn:CKPT")
    if label:
        system.name = label
    return system
