"""FLAME and BFM as motion backends: `--face-model flame|bfm` with `--face-model-path`.

With a 3DMM backend, motion is transferred in the model's coefficient space, as both papers do:
the re-enacted face has the source's shape coefficients and the driver's expression (FLAME: and
jaw) coefficients, absolute or relative to the driver's reference frame, with the driver's pose.

What the warp renders stays the landmark mesh (478 vertices; its regions, mouth, eyes and mirror
map drive the warp and the parsing maps; the proxies and the mesh GCN read the model's own mesh,
see ``meshes``). Each of its source vertices is attached to
the source's fitted 3DMM surface in the model's head frame: the inverse-distance mean of its
nearest model vertices plus a fixed offset. The re-enacted landmark mesh is the attachment applied
to the re-enacted 3DMM mesh, posed. With the driver equal to the source it is the source's tracked
mesh exactly (the offsets hold what the 3DMM did not fit), and otherwise every landmark moves as
the 3DMM surface under it moves. (The official mediapipe embeddings cover 105 of the 478 points,
so they fit the model but cannot place the others; the attachment places all of them.)
"""

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from reenact.config import FACE_MODELS
from reenact.face.base import FaceCoefficients, pose_vertices
from reenact.face.mixing import MixOptions, mix_coefficients

# The files each backend reads from --face-model-path (a folder, or the model file itself with
# its companions beside it); the first name found is used.
FLAME_FILES = ("flame2023.pkl", "generic_model.pkl", "FLAME2020/generic_model.pkl")
FLAME_EMBEDDING = "mediapipe_landmark_embedding.npz"
BFM_FILES = ("model2017-1_bfm_nomouth.h5", "model2017-1_face12_nomouth.h5",
             "01_MorphableModel.mat")
BFM_EXPRESSION = ("expression.npz", "expression.mat")  # BFM 2009 only, on its vertices
BFM_CORRESPONDENCE = "mediapipe_bfm_correspondence.npz"
ATTACH_NEIGHBOURS = 4


def _find(root: Path, names: tuple[str, ...]) -> Path | None:
    return next((root / n for n in names if (root / n).is_file()), None)


def _model_file(path: Path, names: tuple[str, ...], kind: str, where: str) -> Path:
    if path.is_file():
        return path
    if path.is_dir():
        found = _find(path, names)
        if found is not None:
            return found
        raise FileNotFoundError(f"{path}: no {kind} model file in this folder (looked for "
                                f"{', '.join(names)}); {where}")
    raise FileNotFoundError(f"{path}: no such file or folder; {where}")


def load_face_model(kind: str, path: str | os.PathLike | None, flame_shape_components: int = 300):
    """The face model behind ``--face-model kind`` (None for the default landmark mesh).

    ``path``: a folder holding the model's files, or the model file with its companions beside
    it (FLAME: the model pickle and ``mediapipe_landmark_embedding.npz``; BFM: the .mat or .h5,
    for 2009 an expression basis ``expression.npz``/``.mat``, and a mediapipe-to-BFM
    correspondence ``mediapipe_bfm_correspondence.npz``). Errors name the missing file and where
    users obtain it. ``flame_shape_components``: the official files put 300 shape components
    before the expression ones."""
    if kind not in FACE_MODELS:
        raise ValueError(f"face model must be one of {', '.join(FACE_MODELS)}, got {kind!r}")
    if kind == "landmark":
        return None
    if path is None:
        raise ValueError(f"--face-model {kind} needs --face-model-path (a folder with the "
                         f"model's files)")
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if kind == "flame":
        from reenact.face.flame import WHERE, FlameModel, load_flame, load_mediapipe_embedding
        from reenact.face.flame_face_model import FlameFaceModel

        model_file = _model_file(path, FLAME_FILES, "FLAME", WHERE)
        embedding = folder / FLAME_EMBEDDING
        if not embedding.is_file():
            raise FileNotFoundError(f"{embedding}: no such file; the FLAME mediapipe embedding "
                                    f"comes with FLAME 2023 at https://flame.is.tue.mpg.de")
        return FlameFaceModel(FlameModel(load_flame(model_file, flame_shape_components)),
                              load_mediapipe_embedding(embedding))
    from reenact.face.bfm import WHERE, BfmFaceModel, BfmModel, load_bfm, load_correspondence

    model_file = _model_file(path, BFM_FILES, "Basel Face Model", f"{WHERE['2009']}, or "
                             f"{WHERE['2017']}")
    expression = None
    if model_file.suffix.lower() == ".mat":
        expression = _find(folder, BFM_EXPRESSION)
        if expression is None:
            raise FileNotFoundError(f"{folder}: BFM 2009 needs an expression basis on its "
                                    f"vertices as {' or '.join(BFM_EXPRESSION)} (e.g. the "
                                    f"FaceWarehouse-based basis of 3DDFA or Deep3DFaceRecon)")
    data = load_bfm(model_file, expression)
    correspondence = folder / BFM_CORRESPONDENCE
    if not correspondence.is_file():
        raise FileNotFoundError(f"{correspondence}: no such file; BFM publishes no mediapipe "
                                f"correspondence: give one as an .npz with mediapipe_indices "
                                f"and vertex_indices")
    return BfmFaceModel(BfmModel(data), load_correspondence(correspondence, len(data.mean)))


@dataclass(frozen=True)
class Attachment:
    """Each landmark-mesh vertex as a point carried by a 3DMM surface, in its head frame."""

    neighbours: torch.Tensor  # (P, k) model vertex indices
    weights: torch.Tensor  # (P, k) inverse-distance weights, rows sum to 1
    offset: torch.Tensor  # (P, 3) head-frame offset from the weighted mean

    def place(self, head: torch.Tensor) -> torch.Tensor:
        """Model head-frame vertices (B, V, 3) -> the attached points (B, P, 3), head frame."""
        return (head[:, self.neighbours] * self.weights[..., None]).sum(2) + self.offset


def attach(points_head: torch.Tensor, model_head: torch.Tensor, k: int = ATTACH_NEIGHBOURS
           ) -> Attachment:
    """Attach points (P, 3) to a model mesh (V, 3), both in the model's head frame."""
    from scipy.spatial import cKDTree

    k = min(k, model_head.shape[0])
    # a k-d tree, not a dense distance matrix: at BFM's 53,215 vertices that matrix is 200 MB
    # and 8x slower, per training sample
    dist, nn = cKDTree(model_head.detach().cpu().numpy()).query(
        points_head.detach().cpu().numpy(), k=k)
    dist = torch.as_tensor(dist, dtype=points_head.dtype).reshape(len(points_head), k)
    nn = torch.as_tensor(nn, dtype=torch.long).reshape(len(points_head), k)
    w = 1.0 / dist.clamp(min=1e-9)  # a point on a vertex takes that vertex alone, in effect
    w = w / w.sum(1, keepdim=True)
    offset = points_head - (model_head[nn] * w[..., None]).sum(1)
    return Attachment(nn, w, offset)


@dataclass(frozen=True)
class BackendSource:
    coeffs: FaceCoefficients  # the source's 3DMM coefficients (batch 1)
    attachment: Attachment


_LOADED: dict = {}


def cached_transfer(kind: str, path: str | None) -> "CoefficientTransfer | None":
    """One loaded transfer per (kind, path) in this process (data workers load their own)."""
    if kind == "landmark":
        return None
    key = (kind, str(path))
    if key not in _LOADED:
        _LOADED[key] = CoefficientTransfer(load_face_model(kind, path))
    return _LOADED[key]


class CoefficientTransfer:
    """Pose and expression transfer in a 3DMM's coefficients (see the module docstring)."""

    def __init__(self, model):
        self.model = model
        self._faces: torch.Tensor | None = None

    def fit(self, landmarks: torch.Tensor, video: bool = False) -> FaceCoefficients:
        """Tracked mediapipe points (B, 478, 3), image space -> the model's coefficients
        (``video``: B frames of one face; FLAME then fits one shape, smoothed over time)."""
        return self.model.fit(landmarks.double(), video=video)

    def prepare(self, landmarks: torch.Tensor, coeffs: FaceCoefficients | None = None
                ) -> BackendSource:
        """The source's fit (``coeffs`` when already fitted, e.g. stored by ``reenact
        preprocess``) and the attachment of its landmarks (1, 478, 3) to it."""
        c = coeffs if coeffs is not None else self.fit(landmarks)
        head = self.model.head_vertices(c.identity, c.expression)[0]
        points = ((landmarks[0].to(head.dtype) - c.translation[0]) @ c.rotation[0]
                  / c.scale[0])  # image -> model head frame: R^T (x - t) / s
        return BackendSource(c, attach(points, head))

    @property
    def name(self) -> str:
        return self.model.name

    def mix(self, source: BackendSource, drv: FaceCoefficients, ref: FaceCoefficients,
            relative: bool, options: MixOptions, reference_expression: float = 0.0
            ) -> FaceCoefficients:
        """The re-enacted coefficients: the source's shape with the driver's expression
        (relative to ``ref``, or absolute) and pose. Relative motion also takes
        ``reference_expression`` of the reference's own expression against the source's (as
        ``--reference-expression`` does on the landmark mesh; here in the model's expression
        coefficients, which have no regions, so the brows come with it)."""
        src = source.coeffs
        delta = drv.expression - (ref.expression if relative else src.expression)
        if relative and reference_expression:
            delta = delta + reference_expression * (ref.expression - src.expression)
        return mix_coefficients(src, drv, ref, delta, options)

    def landmarks(self, source: BackendSource, mixed: FaceCoefficients) -> torch.Tensor:
        """The landmark mesh (B, 478, 3), image space, carried by the model posed at ``mixed``."""
        head = self.model.head_vertices(mixed.identity, mixed.expression)
        return pose_vertices(source.attachment.place(head), mixed)

    def reenact(self, source: BackendSource, drv: FaceCoefficients, ref: FaceCoefficients,
                relative: bool, options: MixOptions) -> torch.Tensor:
        """Re-enacted landmark-mesh points (B, 478, 3), image space (``mix``, ``landmarks``)."""
        return self.landmarks(source, self.mix(source, drv, ref, relative, options))

    def meshes(self, source: BackendSource, mixed: FaceCoefficients):
        """The model's own meshes, posed in image space (``ModelMeshes``: the source's, the
        re-enacted and the triangles), for the mesh GCN and the textured proxies."""
        from reenact.face.base import ModelMeshes

        if self._faces is None:
            self._faces = torch.as_tensor(self.model.mesh()[1], dtype=torch.long)
        return ModelMeshes(self.model.vertices(source.coeffs), self.model.vertices(mixed),
                           self._faces)
