"""The papers' coefficient mixing: C_r = {pose and expression of the driver; shape, texture and
lighting of the source}, with the mesh paper's applications (pose only, expression only, and an
interpolation weight alpha from the source's pose and expression to the driver's)."""

from dataclasses import dataclass

import torch

from reenact.face.base import FaceCoefficients
from reenact.geometry import rotation_interpolate


@dataclass(frozen=True)
class MixOptions:
    alpha: float = 1.0  # 0: the source as it is, 1: the driver's pose and expression
    pose_only: bool = False  # keep the source's expression
    expression_only: bool = False  # keep the source's pose
    follow_translation: bool = True  # move and scale the head as the driver moves relative to ref
    # turn the head from the source's pose as the driver turns after ref (R_drv R_ref^T R_src)
    # instead of to the driver's own pose, which can lie 20 degrees from the source's all clip
    # long and is then drawn as raised brows and a frown (docs/expressions.md)
    follow_rotation: bool = False

    def __post_init__(self) -> None:
        if self.pose_only and self.expression_only:
            raise ValueError("pose_only and expression_only exclude each other")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")


def mix_coefficients(src: FaceCoefficients, drv: FaceCoefficients, drv_ref: FaceCoefficients,
                     expression: torch.Tensor, options: MixOptions = MixOptions()
                     ) -> FaceCoefficients:
    """Re-enacted coefficients for B driving faces.

    Args:
        src: the source face (batch 1 or B).
        drv: the driving faces (batch B).
        drv_ref: the driver's reference face (batch 1 or B): its position and size map onto the
            source's, so the head moves by the driver's motion relative to it.
        expression: (B, Ce) expression coefficients transferred from the driver (see
            ``reenact.face.expression``), to be added to the source's.
        options: alpha, pose_only, expression_only.
    """
    B = drv.rotation.shape[0]
    a = float(options.alpha)
    a_pose = 0.0 if options.expression_only else a
    a_expr = 0.0 if options.pose_only else a
    turned = drv.rotation
    if options.follow_rotation:
        turned = drv.rotation @ drv_ref.rotation.transpose(-1, -2) @ src.rotation
    rotation = rotation_interpolate(src.rotation.expand(B, 3, 3), turned, a_pose)
    scale, translation = src.scale.expand(B), src.translation.expand(B, 3)
    if options.follow_translation:
        ratio = drv.scale / drv_ref.scale  # (B,)
        scale = scale * ratio ** a_pose
        shift = (drv.translation - drv_ref.translation) * (src.scale / drv_ref.scale)[:, None]
        translation = translation + a_pose * shift
    return FaceCoefficients(identity=src.identity.expand(B, -1),
                            expression=src.expression.expand(B, -1) + a_expr * expression,
                            rotation=rotation, scale=scale, translation=translation)
