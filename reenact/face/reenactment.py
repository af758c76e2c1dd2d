"""The one mixing function of the front end: the photo's face with the driver's pose and
expression, as the pipeline animates it and as the training data renders its samples.

Relative motion takes the driver's change since the reference frame (with ``reference_expression``
of the reference's own expression, and eyes that close as far as the driver's do); absolute
motion the driver's expression without the driver's face shape. Either way the opening is limited
to what the photo can show, the brows carry the forehead, a driver turned far from the camera
gives less expression, and a photo turned past ``PHOTO_TRUST`` keeps its own turn and expression
(``hold_turned``). With a FLAME / BFM ``transfer`` the expression moves in that model's
coefficients and the landmark mesh follows it.
"""

from dataclasses import dataclass

import torch

from reenact.face.base import FaceCoefficients, ModelMeshes
from reenact.face.expression import (
    PHOTO_TRUST,
    absolute_expression,
    carry_forehead,
    close_as_driver,
    expression_trust,
    head_lid_gaps,
    limit_opening,
    relative_expression,
)
from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.mixing import MixOptions, mix_coefficients
from reenact.geometry import rotation_interpolate


@dataclass(frozen=True)
class Reenacted:
    coeffs: FaceCoefficients  # the landmark mesh's coefficients of the re-enacted face (batch B)
    meshes: ModelMeshes | None = None  # with a FLAME / BFM transfer: that model's posed meshes


def reference_level(model: LandmarkFaceModel, source: FaceCoefficients,
                    reference: FaceCoefficients) -> torch.Tensor:
    """(1, V, 3) offsets that give the photo the reference's own expression (absolute transfer),
    mouth and eyes only: the brows' height is a trait of the face."""
    return absolute_expression(_head(model, source), _head(model, reference), brows=False)


def reenact_face(model: LandmarkFaceModel, source: FaceCoefficients, driver: FaceCoefficients,
                 reference: FaceCoefficients, relative: bool, options: MixOptions,
                 reference_expression: float = 0.0, placed: FaceCoefficients | None = None,
                 level: torch.Tensor | None = None, transfer=None, backend=None,
                 backend_driver: FaceCoefficients | None = None,
                 backend_reference: FaceCoefficients | None = None) -> Reenacted:
    """The re-enacted face for B driving faces.

    Args:
        source, driver, reference: landmark-mesh fits (batch 1, B, 1).
        relative: the driver's motion since ``reference``, else its absolute expression.
        options: alpha, pose only, expression only, whether the head follows the driver's moves.
        reference_expression: relative motion: how much of the reference's own expression the
            photo also takes (``AnimateConfig.reference_expression``).
        placed: the reference moved to the photo's place in its picture (default: as it is).
        level: ``reference_level(model, source, reference)`` when the caller keeps it.
        transfer, backend, backend_driver, backend_reference: a FLAME / BFM
            ``CoefficientTransfer``, the source's ``BackendSource`` and that model's fits of the
            driver and the reference.
    """
    placed = reference if placed is None else placed
    if transfer is not None:
        b_ref = backend_reference
        if placed is not reference:  # the same move of the reference as the mesh's
            b_ref = b_ref.replace(scale=b_ref.scale * placed.scale / reference.scale,
                                  translation=b_ref.translation + placed.translation
                                  - reference.translation)
        mixed = transfer.mix(backend, backend_driver, b_ref, relative, options,
                             reference_expression)
        return Reenacted(hold_turned(source, model.fit(transfer.landmarks(backend, mixed))),
                         transfer.meshes(backend, mixed))
    head_src = _head(model, source)
    if relative:
        head_drv, head_ref = _head(model, driver), _head(model, reference)
        base = torch.zeros_like(head_ref)
        if reference_expression > 0:
            base = reference_expression * (reference_level(model, source, reference)
                                           if level is None else level)
        expression = close_as_driver(
            head_src, relative_expression(head_drv, head_ref) + base, base,
            head_lid_gaps(head_drv) / head_lid_gaps(head_ref).clamp(min=1e-6))
    else:
        expression = absolute_expression(head_src, _head(model, driver))
    expression = carry_forehead(limit_opening(head_src, expression))
    expression = expression * expression_trust(driver.rotation).to(expression.dtype)[:, None, None]
    return Reenacted(hold_turned(source, mix_coefficients(
        source, driver, placed, expression.reshape(expression.shape[0], -1), options)))


def hold_turned(source: FaceCoefficients, mixed: FaceCoefficients) -> FaceCoefficients:
    """The re-enacted coefficients with the head's turn and expression held back towards the
    photo's as far as the photo is turned past PHOTO_TRUST (a profile's far half is guessed)."""
    held = expression_trust(source.rotation, PHOTO_TRUST).to(mixed.rotation.dtype)
    if float(held) >= 1:
        return mixed
    B = mixed.rotation.shape[0]
    # the landmark path moves the expression; a FLAME / BFM fit carries it in the identity
    return mixed.replace(
        rotation=rotation_interpolate(source.rotation.expand(B, 3, 3), mixed.rotation,
                                      held.expand(B)),
        identity=source.identity + held[:, None] * (mixed.identity - source.identity),
        expression=source.expression + held[:, None] * (mixed.expression - source.expression))


def _head(model: LandmarkFaceModel, c: FaceCoefficients) -> torch.Tensor:
    return model.head_vertices(c.identity, c.expression)
