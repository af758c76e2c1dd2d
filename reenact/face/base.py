"""The face-model interface: coefficients <-> posed vertices, and fitting to tracked landmarks."""

from dataclasses import dataclass, replace
from typing import Protocol

import torch

from reenact.face.topology import Topology


@dataclass(frozen=True)
class FaceCoefficients:
    """One face per batch row. Pose maps the head frame to image space (see reenact.geometry):
    ``verts_img = scale * rotation @ X_head + translation``.

    identity: (B, Ci) shape coefficients (the landmark model: head-frame vertices, flattened).
    expression: (B, Ce) expression coefficients (the landmark model: head-frame offsets, flattened).
    rotation: (B, 3, 3) R_img_from_head. scale: (B,) pixels per head unit. translation: (B, 3) pixels.
    """

    identity: torch.Tensor
    expression: torch.Tensor
    rotation: torch.Tensor
    scale: torch.Tensor
    translation: torch.Tensor

    def replace(self, **changes) -> "FaceCoefficients":
        return replace(self, **changes)

    def index(self, i: int | slice) -> "FaceCoefficients":
        sl = slice(i, i + 1) if isinstance(i, int) else i
        return FaceCoefficients(self.identity[sl], self.expression[sl], self.rotation[sl],
                                self.scale[sl], self.translation[sl])

    @staticmethod
    def cat(items: list["FaceCoefficients"]) -> "FaceCoefficients":
        return FaceCoefficients(*(torch.cat([getattr(c, f) for c in items]) for f in
                                  ("identity", "expression", "rotation", "scale", "translation")))


class FaceModel(Protocol):
    """What every face model provides (landmark mesh, FLAME, BFM)."""

    topology: Topology

    def head_vertices(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """(B, Ci), (B, Ce) -> (B, V, 3) vertices in the head frame."""
        ...

    def vertices(self, coeffs: FaceCoefficients) -> torch.Tensor:
        """Posed vertices (B, V, 3) in image space."""
        ...

    def fit(self, landmarks: torch.Tensor) -> FaceCoefficients:
        """Fit to tracked landmarks (B, 478, 3) in image space."""
        ...


def pose_vertices(verts_head: torch.Tensor, coeffs: FaceCoefficients) -> torch.Tensor:
    """Head-frame vertices (B, V, 3) -> image space with the pose in ``coeffs``."""
    return (coeffs.scale[:, None, None] * verts_head @ coeffs.rotation.transpose(1, 2)
            + coeffs.translation[:, None, :])


@dataclass(frozen=True)
class ModelMeshes:
    """A FLAME / BFM face model's own meshes, posed in crop pixels (``--face-model``)."""

    source: torch.Tensor  # (1, V', 3) the source's fit
    reenacted: torch.Tensor  # (B, V', 3) the re-enacted face
    faces: torch.Tensor  # (F', 3) int64 triangles
