"""FLAME (Li et al. 2017; the 2020 and 2023 releases), read from the user's own files.

FLAME's licence forbids redistribution: users download ``generic_model.pkl`` (FLAME 2020) or
``flame2023.pkl`` and ``landmark_embedding.npy`` from https://flame.is.tue.mpg.de after
registering. Both are pickles; they are read by ``reenact.face.safe_pickle``, which runs no code
from them.

The model: shape and expression blendshapes (one ``shapedirs`` array, shape components first),
pose-corrective blendshapes driven by the non-root joints' rotations, and linear blend skinning
over five joints (global, neck, jaw, left eye, right eye) regressed from the shaped mesh.
Units are the file's (metres); poses are axis-angle, (B, 5, 3), in that joint order.
"""

import os
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from reenact.face.safe_pickle import load_pickle
from reenact.geometry import so3_exp

WHERE = ("FLAME is not redistributable: register at https://flame.is.tue.mpg.de and download "
         "FLAME 2020 (generic_model.pkl) or FLAME 2023 (flame2023.pkl) and landmark_embedding.npy")
JOINTS = ("global", "neck", "jaw", "left_eye", "right_eye")
KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "kintree_table", "weights", "f")


@dataclass(frozen=True)
class FlameData:
    v_template: np.ndarray  # (V, 3)
    shapedirs: np.ndarray  # (V, 3, S) shape components
    exprdirs: np.ndarray  # (V, 3, E) expression components
    posedirs: np.ndarray  # (V, 3, 9 (J - 1)) pose correctives
    j_regressor: np.ndarray  # (J, V) dense
    parents: np.ndarray  # (J,) parent joint, -1 for the root
    weights: np.ndarray  # (V, J) skinning weights
    faces: np.ndarray  # (F, 3) int64


def load_flame(path: str | os.PathLike, shape_components: int = 300) -> FlameData:
    """The official FLAME pickle -> arrays. ``shapedirs`` holds ``shape_components`` shape
    columns (300 in both releases) followed by the expression columns (100)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such FLAME model file. {WHERE}")
    data = load_pickle(path, "FLAME model file")
    if not isinstance(data, dict):  # a bad file is a ValueError, as everywhere in reenact
        raise ValueError(  # noqa: TRY004
            f"{path}: not a FLAME model file (a {type(data).__name__}, not a dict)")
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise ValueError(f"{path}: not a FLAME model file (no {', '.join(missing)})")
    v = np.asarray(data["v_template"], np.float64)
    V = v.shape[0]
    dirs = np.asarray(data["shapedirs"], np.float64)
    posedirs = np.asarray(data["posedirs"], np.float64)
    jreg = data["J_regressor"]
    jreg = np.asarray(jreg.toarray() if sp.issparse(jreg) else jreg, np.float64)
    kintree = np.asarray(data["kintree_table"]).astype(np.int64)
    weights = np.asarray(data["weights"], np.float64)
    J = jreg.shape[0]
    parents = kintree[0].copy()
    parents[0] = -1  # the file stores the root's parent as 2**32 - 1
    checks = [(v.ndim == 2 and v.shape[1] == 3, f"v_template {v.shape}"),
              (dirs.shape[:2] == (V, 3) and dirs.shape[2] > shape_components,
               f"shapedirs {dirs.shape} (needs more than {shape_components} columns)"),
              (posedirs.shape == (V, 3, 9 * (J - 1)), f"posedirs {posedirs.shape}"),
              (jreg.shape == (J, V), f"J_regressor {jreg.shape}"),
              (weights.shape == (V, J), f"weights {weights.shape}"),
              (kintree.shape == (2, J), f"kintree_table {kintree.shape}"),
              (all(0 <= p < j for j, p in enumerate(parents[1:], 1)), "kintree_table parents")]
    bad = [what for ok, what in checks if not ok]
    if bad:
        raise ValueError(f"{path}: FLAME arrays do not fit together: {'; '.join(bad)} "
                         f"(for {V} vertices, {J} joints)")
    return FlameData(v, dirs[..., :shape_components], dirs[..., shape_components:], posedirs,
                     jreg, parents, weights, np.asarray(data["f"]).astype(np.int64))


@dataclass(frozen=True)
class LandmarkEmbedding:
    """Landmarks on the mesh: per landmark a triangle and barycentric coordinates."""

    faces: np.ndarray  # (L,) triangle indices
    bary: np.ndarray  # (L, 3)


def load_landmark_embedding(path: str | os.PathLike, which: str = "static") -> LandmarkEmbedding:
    """FLAME's ``landmark_embedding.npy``: ``which`` = "static" (the 51 inner-face landmarks) or
    "full" (68, the contour included)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such FLAME landmark embedding. {WHERE}")
    data = load_pickle(path, "FLAME landmark embedding")
    keys = (f"{which}_lmk_faces_idx", f"{which}_lmk_bary_coords")
    if not isinstance(data, dict) or any(k not in data for k in keys):
        raise ValueError(f"{path}: not a FLAME landmark embedding (no {' / '.join(keys)})")
    faces = np.asarray(data[keys[0]]).astype(np.int64).reshape(-1)
    bary = np.asarray(data[keys[1]], np.float64).reshape(-1, 3)
    if len(faces) != len(bary):
        raise ValueError(f"{path}: {len(faces)} landmark triangles but {len(bary)} barycentrics")
    return LandmarkEmbedding(faces, bary)


@dataclass(frozen=True)
class MediapipeEmbedding:
    """FLAME's ``mediapipe_landmark_embedding.npz`` (from the FLAME site): which of mediapipe's 478
    points correspond to which points on the FLAME mesh."""

    landmarks: LandmarkEmbedding  # (L,) points on the mesh
    indices: np.ndarray  # (L,) indices into mediapipe's 478 points


def load_mediapipe_embedding(path: str | os.PathLike) -> MediapipeEmbedding:
    """Keys ``lmk_face_idx`` (L,), ``lmk_b_coords`` (L, 3), ``landmark_indices`` (L,); plain
    arrays, read without pickle."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such FLAME mediapipe landmark embedding. {WHERE}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = dict(z)
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a FLAME mediapipe landmark embedding ({exc})") from None
    keys = ("lmk_face_idx", "lmk_b_coords", "landmark_indices")
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{path}: not a FLAME mediapipe landmark embedding "
                         f"(no {', '.join(missing)})")
    faces = data["lmk_face_idx"].astype(np.int64).reshape(-1)
    bary = data["lmk_b_coords"].astype(np.float64).reshape(-1, 3)
    indices = data["landmark_indices"].astype(np.int64).reshape(-1)
    if not len(faces) == len(bary) == len(indices) or indices.max(initial=0) >= 478:
        raise ValueError(f"{path}: {len(faces)} triangles, {len(bary)} barycentrics and "
                         f"{len(indices)} mediapipe indices (< 478) do not fit together")
    return MediapipeEmbedding(LandmarkEmbedding(faces, bary), indices)


class FlameModel:
    """FLAME's forward model in torch (float64 by default; differentiable in the coefficients)."""

    def __init__(self, data: FlameData, dtype: torch.dtype = torch.float64):
        def t(x):
            return torch.as_tensor(x, dtype=dtype)

        self.data = data
        self.v_template, self.shapedirs, self.exprdirs = (t(data.v_template), t(data.shapedirs),
                                                          t(data.exprdirs))
        self.posedirs, self.j_regressor, self.weights = (t(data.posedirs), t(data.j_regressor),
                                                         t(data.weights))
        self.parents = data.parents.tolist()
        self.faces = torch.as_tensor(data.faces)
        # The joints are linear in the coefficients: regress the blendshapes once, so posing
        # needs no full mesh (see ``subset``).
        self.joint_template = self.j_regressor @ self.v_template
        self.joint_shapedirs = torch.einsum("jv,vcs->jcs", self.j_regressor, self.shapedirs)
        self.joint_exprdirs = torch.einsum("jv,vce->jce", self.j_regressor, self.exprdirs)

    def subset(self, vertices: np.ndarray, faces: np.ndarray) -> "FlameModel":
        """The same model posing only ``vertices`` (indices), with ``faces`` over them; joints
        and coefficients as the full model's (fitting to landmarks needs a few hundred of 5,023)."""
        sub = object.__new__(FlameModel)
        sub.__dict__.update(self.__dict__)
        ids = torch.as_tensor(vertices)
        for name in ("v_template", "shapedirs", "exprdirs", "posedirs", "weights"):
            setattr(sub, name, getattr(self, name)[ids])
        sub.faces = torch.as_tensor(faces)
        return sub

    @property
    def num_vertices(self) -> int:
        return self.v_template.shape[0]

    def shaped(self, shape: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """(B, S'), (B, E') with S' <= S, E' <= E (missing components count 0) -> (B, V, 3)."""
        s, e = shape.shape[1], expression.shape[1]
        return (self.v_template + torch.einsum("vcs,bs->bvc", self.shapedirs[..., :s], shape)
                + torch.einsum("vce,be->bvc", self.exprdirs[..., :e], expression))

    def vertices(self, shape: torch.Tensor, expression: torch.Tensor, pose: torch.Tensor
                 ) -> torch.Tensor:
        """Posed vertices (B, V, 3) in the model frame; pose (B, J, 3) axis-angle per joint."""
        verts = self.shaped(shape, expression)
        B, J = verts.shape[0], len(self.parents)
        if pose.shape[1:] != (J, 3):
            raise ValueError(f"pose must be (B, {J}, 3) axis-angle ({', '.join(JOINTS)}), "
                             f"got {tuple(pose.shape)}")
        s, e = shape.shape[1], expression.shape[1]
        joints = (self.joint_template
                  + torch.einsum("jcs,bs->bjc", self.joint_shapedirs[..., :s], shape)
                  + torch.einsum("jce,be->bjc", self.joint_exprdirs[..., :e], expression))
        R = so3_exp(pose.reshape(-1, 3)).reshape(B, J, 3, 3).to(verts)
        eye = torch.eye(3, dtype=verts.dtype)
        pose_feature = (R[:, 1:] - eye).reshape(B, -1)
        verts = verts + torch.einsum("vcp,bp->bvc", self.posedirs, pose_feature)
        # World transforms down the kinematic tree, then relative to the rest pose.
        rot, trans = [R[:, 0]], [joints[:, 0]]
        for j in range(1, J):
            p = self.parents[j]
            rot.append(rot[p] @ R[:, j])
            trans.append(trans[p] + (rot[p] @ (joints[:, j] - joints[:, p])[..., None])[..., 0])
        rot, trans = torch.stack(rot, 1), torch.stack(trans, 1)  # (B, J, 3, 3), (B, J, 3)
        trans = trans - (rot @ joints[..., None])[..., 0]  # x -> rot x + trans moves rest to posed
        A = torch.einsum("vj,bjmn->bvmn", self.weights, rot)
        b = torch.einsum("vj,bjm->bvm", self.weights, trans)
        return (A @ verts[..., None])[..., 0] + b

    def landmarks(self, vertices: torch.Tensor, embedding: LandmarkEmbedding) -> torch.Tensor:
        """(B, V, 3) -> (B, L, 3): barycentric points on the embedding's triangles."""
        tri = vertices[:, self.faces[torch.as_tensor(embedding.faces)]]  # (B, L, 3, 3)
        bary = torch.as_tensor(embedding.bary, dtype=vertices.dtype)
        return (bary[None, :, :, None] * tri).sum(2)
