"""Learned refiners that take the front end's warp and return a better crop: the inference side of
``reenact animate --model dcggan --checkpoint PATH``. Same pipeline as the default; only the crop
image changes, and paste-back places it in the photo. ``build_refiner`` makes one from its kind
and checkpoint; anything with the ``Refiner`` call plugs in."""

import os
from typing import Protocol

import torch
import torch.nn.functional as F

from reenact.config import from_dict
from reenact.io.checkpoint import load_checkpoint
from reenact.models.dcggan.model import DCGGAN, DCGGANConfig
from reenact.motion.analytic import WarpResult
from reenact.motion.guidance import dcggan_inputs, prior_inputs, shrink
from reenact.motion.scene import SourceScene


class Refiner(Protocol):
    """(source scene, warp) -> the refined crop (B, 3, S, S) in [0, 1], on the CPU."""

    def __call__(self, scene: SourceScene, warp: WarpResult) -> torch.Tensor: ...


def build_refiner(kind: str, checkpoint: str | os.PathLike | None, device: str = "cpu",
                  transfer=None) -> Refiner | None:
    """The refiner of ``--model kind``: None for "analytic" (the warp as it is), else the
    DCG-GAN or mesh GCN loaded from ``checkpoint`` onto ``device``. ``transfer``: the FLAME /
    BFM coefficient transfer the front end runs with (a mesh GCN must match it)."""
    if kind == "analytic":
        return None
    if checkpoint is None:
        raise ValueError(f"--model {kind} needs --checkpoint PATH")
    if kind == "dcggan":
        return DCGGANRefiner(checkpoint, device)
    if kind == "meshgcn":
        return MeshGCNRefiner(checkpoint, device, transfer=transfer)
    raise ValueError(f"unknown model {kind!r}: analytic, dcggan or meshgcn")


def _model_config(config: dict) -> dict:
    """The model section of a run config (``reenact train``), a trainer config or a model config."""
    config = config.get("trainer", config)
    return config.get("model", config)


class DCGGANRefiner:
    """DCG-GAN's generator side loaded from a checkpoint written by ``save_checkpoint`` with
    ``model=`` the DCGGAN (and optionally ``train_size=`` the crop size it was trained at)."""

    def __init__(self, checkpoint: str | os.PathLike, device: str | torch.device = "cpu"):
        state = load_checkpoint(checkpoint)
        if "model" not in state or "config" not in state:
            raise ValueError(f"{checkpoint}: not a DCG-GAN checkpoint (no model or config)")
        cfg = from_dict(DCGGANConfig, _model_config(state["config"]))
        self.model = DCGGAN(cfg).to(device).eval()
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise ValueError(f"{checkpoint}: weights do not fit its config ({first})") from None
        self.size = int(state.get("train_size", 0)) or None
        self.device = device

    @torch.no_grad()
    def __call__(self, scene: SourceScene, warp: WarpResult) -> torch.Tensor:
        """(B, 3, S, S) refined crop in [0, 1]."""
        S = scene.size
        size = self.size or S
        batch = shrink(dcggan_inputs(scene, warp), size)
        if self.model.cfg.use_prior:
            prior = prior_inputs(warp, size)
            batch["prior"] = prior["prior"]
            if self.model.cfg.prior_keep_outline:
                batch["prior_outline"] = prior["prior_outline"]
        out = self.model(**{k: v.to(self.device) for k, v in batch.items()}).image.cpu()
        if size != S:
            out = F.interpolate(out, size=(S, S), mode="bilinear", align_corners=False)
        return out


def gcn_mesh(face_model: str = "landmark", path: str | None = None):
    """The mesh the GCN is built on, (V, 3) template and (F, 3) triangles: the landmark mesh, or
    with ``face_model`` flame / bfm that model's own (loaded from ``path``)."""
    if face_model == "landmark":
        from reenact.face.mean_shape import mean_shape
        from reenact.face.topology import landmark_topology

        return mean_shape(), landmark_topology().triangles
    from reenact.face.backends import cached_transfer

    return cached_transfer(face_model, path).model.mesh()


class MeshGCNRefiner:
    """The mesh-guided GCN loaded from a checkpoint (``model=`` the MeshGCN, trained on the
    landmark mesh's topology, or on FLAME's / BFM's when its run set ``data.face_model``; then
    the front end must run with that face model: ``transfer``); runs at the flow size it was
    built for, resized to the crop."""

    def __init__(self, checkpoint: str | os.PathLike, device: str | torch.device = "cpu",
                 transfer=None):
        from reenact.models.meshgcn.model import MeshGCN, MeshGCNConfig

        state = load_checkpoint(checkpoint)
        if "model" not in state or "config" not in state:
            raise ValueError(f"{checkpoint}: not a mesh GCN checkpoint (no model or config)")
        cfg = from_dict(MeshGCNConfig, _model_config(state["config"]))
        face_model = (state["config"].get("data") or {}).get("face_model", "landmark")
        mine = "landmark" if transfer is None else transfer.name
        if face_model != mine:
            raise ValueError(f"{checkpoint}: trained on the {face_model} mesh; run with "
                             f"--face-model {face_model} (and --face-model-path), not {mine}")
        template, triangles = (gcn_mesh() if transfer is None else transfer.model.mesh())
        self.model = MeshGCN(template, triangles, cfg).to(device).eval()
        try:
            self.model.load_state_dict(state["model"])
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise ValueError(f"{checkpoint}: weights do not fit its config ({first})") from None
        self.size = cfg.motion.size
        self.device = device

    @torch.no_grad()
    def __call__(self, scene: SourceScene, warp: WarpResult) -> torch.Tensor:
        from reenact.motion.guidance import meshgcn_inputs

        x = shrink(meshgcn_inputs(scene, warp), self.size)
        S = scene.size
        image = x["image_s"]
        extra = {}
        if self.model.cfg.use_prior:
            extra = {k: v.to(self.device) for k, v in prior_inputs(warp, self.size).items()}
        out = self.model(image.to(self.device), x["stacked"].to(self.device), **extra)[0].cpu()
        if self.size != S:
            out = F.interpolate(out, size=(S, S), mode="bilinear", align_corners=False)
        return out
