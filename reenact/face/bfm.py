"""The Basel Face Model (2009 and 2017), read from the user's own files.

Its licence forbids redistribution: users download the 2009 model (``01_MorphableModel.mat``)
from https://faces.dmi.unibas.ch/bfm/ and the 2017 one (``model2017-1_bfm_nomouth.h5`` or
``model2017-1_face12_nomouth.h5``) from https://faces.dmi.unibas.ch/bfm/bfm2017.html. BFM 2009
has no expression basis: users add one defined on the same vertices (e.g. the FaceWarehouse-based
basis of 3DDFA or Deep3DFaceRecon), as a .mat or .npz holding a (3N, K) matrix.

Shape and expression are linear: vertices = mean + basis @ (coefficients * sigma), coefficients
in standard deviations. Units are the file's. Fitting to 3D landmarks alternates a similarity
(Umeyama) with the closed-form ridge solution for the coefficients.
"""

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import torch

from reenact.geometry import umeyama

WHERE = {"2009": "download the 2009 Basel Face Model (01_MorphableModel.mat) from "
                 "https://faces.dmi.unibas.ch/bfm/ after accepting its licence",
         "2017": "download BFM 2017 (model2017-1_bfm_nomouth.h5) from "
                 "https://faces.dmi.unibas.ch/bfm/bfm2017.html after accepting its licence"}
EXPRESSION_KEYS = (("exPC", "exEV"), ("w_exp", "sigma_exp"), ("expression_basis", "sigma"))


@dataclass(frozen=True)
class BfmData:
    mean: np.ndarray  # (N, 3)
    shape_basis: np.ndarray  # (3N, K) per standard deviation (basis * sigma)
    expression_basis: np.ndarray  # (3N, Ke) per standard deviation; (3N, 0) without one
    faces: np.ndarray  # (F, 3) int64, 0-based


def load_bfm(path: str | os.PathLike, expression: str | os.PathLike | None = None) -> BfmData:
    """BFM 2009 (.mat, with ``expression`` a basis file) or BFM 2017 (.h5, its own expression
    model). Errors name the file and what is missing."""
    path = Path(path)
    release = "2017" if path.suffix.lower() in (".h5", ".hdf5") else "2009"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such Basel Face Model file; {WHERE[release]}")
    if release == "2017":
        if expression is not None:
            raise ValueError(f"{expression}: BFM 2017 brings its own expression model")
        return _load_2017(path)
    data = _load_2009(path)
    if expression is None:
        return data
    basis = _load_expression(Path(expression), data.mean.size)
    return BfmData(data.mean, data.shape_basis, basis, data.faces)


def _mat(path: Path, what: str) -> dict:
    try:
        return scipy.io.loadmat(str(path))
    except (ValueError, OSError, NotImplementedError) as exc:
        raise ValueError(f"{path}: not a {what} ({exc})") from None


def _load_2009(path: Path) -> BfmData:
    m = _mat(path, "BFM 2009 .mat file")
    missing = [k for k in ("shapeMU", "shapePC", "shapeEV", "tl") if k not in m]
    if missing:
        raise ValueError(f"{path}: not a BFM 2009 model (no {', '.join(missing)})")
    mu = np.asarray(m["shapeMU"], np.float64).reshape(-1)
    pc = np.asarray(m["shapePC"], np.float64)
    ev = np.asarray(m["shapeEV"], np.float64).reshape(-1)
    if mu.size % 3 or pc.shape != (mu.size, ev.size):
        raise ValueError(f"{path}: shapeMU {m['shapeMU'].shape}, shapePC {pc.shape} and shapeEV "
                         f"{m['shapeEV'].shape} do not fit together")
    faces = np.asarray(m["tl"]).astype(np.int64) - 1  # MATLAB's 1-based triangles
    return BfmData(mu.reshape(-1, 3), pc * ev, np.zeros((mu.size, 0)), faces)


def _load_expression(path: Path, rows: int) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such expression basis file (a .mat or .npz with a "
                                "(3N, K) basis and its K standard deviations)")
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as z:
            m = dict(z)
    else:
        m = _mat(path, "expression basis .mat file")
    for basis_key, sigma_key in EXPRESSION_KEYS:
        if basis_key in m:
            basis = np.asarray(m[basis_key], np.float64)
            sigma = np.asarray(m.get(sigma_key, np.ones(basis.shape[1])), np.float64).reshape(-1)
            if basis.shape[0] != rows or sigma.size != basis.shape[1]:
                raise ValueError(f"{path}: expression basis {basis.shape} (sigma {sigma.size}) "
                                 f"does not fit the model's {rows // 3} vertices")
            return basis * sigma
    names = ", ".join(k for k, _ in EXPRESSION_KEYS)
    raise ValueError(f"{path}: no expression basis in it (looked for {names})")


def _load_2017(path: Path) -> BfmData:
    try:
        import h5py
    except ImportError:
        raise ImportError("reading BFM 2017 (.h5) needs h5py: pip install h5py") from None
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(f"{path}: not an HDF5 file ({exc})") from None
    with f:
        def part(name):
            keys = [f"{name}/model/mean", f"{name}/model/pcaBasis", f"{name}/model/pcaVariance"]
            missing = [k for k in keys if k not in f]
            if missing:
                raise ValueError(f"{path}: not a BFM 2017 model (no {', '.join(missing)})")
            mean, basis, var = (np.asarray(f[k], np.float64) for k in keys)
            return mean.reshape(-1), basis * np.sqrt(var.reshape(-1))

        mean, shape_basis = part("shape")
        expr_mean, expr_basis = part("expression")
        if "shape/representer/cells" not in f:
            raise ValueError(f"{path}: not a BFM 2017 model (no shape/representer/cells)")
        faces = np.asarray(f["shape/representer/cells"]).astype(np.int64).T
    if shape_basis.shape[0] != mean.size or expr_basis.shape[0] != mean.size:
        raise ValueError(f"{path}: shape {shape_basis.shape} and expression "
                         f"{expr_basis.shape} bases do not fit the mean's "
                         f"{mean.size // 3} vertices")
    return BfmData((mean + expr_mean).reshape(-1, 3), shape_basis, expr_basis, faces)


class BfmModel:
    """Coefficients (standard deviations) -> vertices, and fitting to 3D landmarks."""

    def __init__(self, data: BfmData, dtype: torch.dtype = torch.float64):
        self.data = data
        self.mean = torch.as_tensor(data.mean, dtype=dtype)
        self.shape_basis = torch.as_tensor(data.shape_basis, dtype=dtype)
        self.expression_basis = torch.as_tensor(data.expression_basis, dtype=dtype)
        self.faces = torch.as_tensor(data.faces)

    def head_vertices(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        """(B, K), (B, Ke) -> (B, N, 3) in the model frame."""
        offset = identity @ self.shape_basis.T + expression @ self.expression_basis.T
        return self.mean + offset.reshape(identity.shape[0], -1, 3)

    def fit(self, targets: torch.Tensor, landmark_vertices: np.ndarray,
            ridge: float = 1e-3, rounds: int = 50) -> dict[str, torch.Tensor]:
        """Fit (B, L, 3) image-space landmarks; ``landmark_vertices`` (L,) the model vertex of
        each. Returns identity, expression, rotation, scale, translation and the RMS error."""
        idx = torch.as_tensor(landmark_vertices)
        rows = (3 * idx[:, None] + torch.arange(3)).reshape(-1)
        basis = torch.cat([self.shape_basis[rows], self.expression_basis[rows]], 1)  # (3L, K+Ke)
        mean = self.mean[idx]
        B, K = targets.shape[0], self.shape_basis.shape[1]
        targets = targets.to(mean.dtype)
        coeffs = torch.zeros(B, basis.shape[1], dtype=mean.dtype)
        gram = basis.T @ basis + ridge * torch.eye(basis.shape[1], dtype=mean.dtype)
        for _ in range(rounds):
            model = mean + (coeffs @ basis.T).reshape(B, -1, 3)
            scale, R, t = umeyama(model, targets)
            # targets in the model frame: R^T (x - t) / s; then coefficients in closed form
            local = (targets - t[:, None]) @ R / scale[:, None, None]
            rhs = (local - mean).reshape(B, -1) @ basis
            coeffs = torch.linalg.solve(gram, rhs.T).T
        model = mean + (coeffs @ basis.T).reshape(B, -1, 3)
        scale, R, t = umeyama(model, targets)
        posed = scale[:, None, None] * model @ R.transpose(1, 2) + t[:, None]
        error = (posed - targets).pow(2).sum(-1).mean(1).sqrt()
        return {"identity": coeffs[:, :K], "expression": coeffs[:, K:], "rotation": R,
                "scale": scale, "translation": t, "error": error}


@dataclass(frozen=True)
class MediapipeCorrespondence:
    """Which of mediapipe's 478 points sits on which BFM vertex. Not published with BFM: users give
    it as an .npz with ``mediapipe_indices`` (L,) and ``vertex_indices`` (L,)."""

    mediapipe: np.ndarray
    vertices: np.ndarray


def load_correspondence(path: str | os.PathLike, num_vertices: int) -> MediapipeCorrespondence:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such mediapipe-to-BFM correspondence (an .npz with "
                                "mediapipe_indices and vertex_indices)")
    try:
        with np.load(path, allow_pickle=False) as z:
            mp, vi = z["mediapipe_indices"], z["vertex_indices"]
    except (KeyError, ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a mediapipe-to-BFM correspondence ({exc})") from None
    mp, vi = mp.astype(np.int64).reshape(-1), vi.astype(np.int64).reshape(-1)
    if len(mp) != len(vi) or mp.max(initial=0) >= 478 or vi.max(initial=0) >= num_vertices:
        raise ValueError(f"{path}: {len(mp)} mediapipe indices (< 478) and {len(vi)} vertex "
                         f"indices (< {num_vertices}) do not fit together")
    return MediapipeCorrespondence(mp, vi)


class BfmFaceModel:
    """BFM behind the front end's face-model interface (``reenact.face.base.FaceModel``):
    identity and expression are its coefficients, the similarity its pose."""

    name = "bfm"

    def __init__(self, model: BfmModel, correspondence: MediapipeCorrespondence,
                 ridge: float = 1e-3):
        self.model = model
        self.correspondence = correspondence
        self.ridge = ridge

    @property
    def num_vertices(self) -> int:
        return self.model.mean.shape[0]

    def mesh(self):
        """BFM's own mesh: (N, 3) mean vertices and (F, 3) triangles (numpy)."""
        return self.model.data.mean, self.model.data.faces

    def head_vertices(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        return self.model.head_vertices(identity, expression)

    def vertices(self, coeffs) -> torch.Tensor:
        from reenact.face.base import pose_vertices

        return pose_vertices(self.head_vertices(coeffs.identity, coeffs.expression), coeffs)

    def fit(self, landmarks: torch.Tensor, video: bool = False):
        """Mediapipe landmarks (B, 478, 3), image space -> ``FaceCoefficients``; each frame on
        its own (``video`` is accepted for the interface; the linear fit needs no smoothing)."""
        from reenact.face.base import FaceCoefficients

        if landmarks.ndim != 3 or landmarks.shape[1:] != (478, 3):
            raise ValueError(f"expected mediapipe landmarks (B, 478, 3), got "
                             f"{tuple(landmarks.shape)}")
        targets = torch.as_tensor(landmarks)[:, torch.as_tensor(self.correspondence.mediapipe)]
        fit = self.model.fit(targets, self.correspondence.vertices, self.ridge)
        return FaceCoefficients(identity=fit["identity"], expression=fit["expression"],
                                rotation=fit["rotation"], scale=fit["scale"],
                                translation=fit["translation"])
