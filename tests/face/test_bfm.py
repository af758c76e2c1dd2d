"""The Basel Face Model from small synthetic files in the official layouts: BFM 2009's .mat
(MATLAB column vectors, 1-based triangles) with an expression basis file, and BFM 2017's HDF5
groups."""

import numpy as np
import pytest
import scipy.io
import torch

from reenact.face.bfm import BfmModel, load_bfm
from reenact.geometry import so3_exp

N, K, KE, F = 30, 5, 3, 40


def _basis(rng, k):
    q, _ = np.linalg.qr(rng.normal(size=(3 * N, k)))
    return q


@pytest.fixture
def bfm2009(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "01_MorphableModel.mat"
    scipy.io.savemat(path, {
        "shapeMU": rng.normal(0, 50, (3 * N, 1)), "shapePC": _basis(rng, K),
        "shapeEV": np.linspace(20, 5, K)[:, None],
        "texMU": rng.uniform(0, 255, (3 * N, 1)), "texPC": _basis(rng, K),
        "texEV": np.ones((K, 1)), "tl": rng.integers(1, N + 1, (F, 3)).astype(np.float64)})
    expr = tmp_path / "exp_basis.npz"
    np.savez(expr, w_exp=_basis(rng, KE), sigma_exp=np.array([3.0, 2.0, 1.0]))
    return path, expr


def test_bfm2009_with_an_expression_basis(bfm2009):
    path, expr = bfm2009
    m = scipy.io.loadmat(path)
    data = load_bfm(path, expr)
    np.testing.assert_array_equal(data.mean, m["shapeMU"].reshape(-1, 3))
    np.testing.assert_allclose(data.shape_basis, m["shapePC"] * m["shapeEV"].reshape(-1))
    assert data.faces.min() >= 0 and (data.faces == m["tl"] - 1).all()
    z = np.load(expr)
    np.testing.assert_allclose(data.expression_basis, z["w_exp"] * z["sigma_exp"])
    assert load_bfm(path).expression_basis.shape == (3 * N, 0)


def test_bfm2017_groups(tmp_path):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(1)
    path = tmp_path / "model2017-1_bfm_nomouth.h5"
    with h5py.File(path, "w") as f:
        for name, k in (("shape", K), ("expression", KE), ("color", K)):
            f[f"{name}/model/mean"] = rng.normal(0, 10, 3 * N).astype(np.float32)
            f[f"{name}/model/pcaBasis"] = _basis(rng, k).astype(np.float32)
            f[f"{name}/model/pcaVariance"] = np.linspace(9, 1, k).astype(np.float32)
        f["shape/representer/points"] = rng.normal(size=(3, N)).astype(np.float32)
        f["shape/representer/cells"] = rng.integers(0, N, (3, F)).astype(np.uint32)
    data = load_bfm(path)
    with h5py.File(path, "r") as f:
        mean = np.asarray(f["shape/model/mean"], np.float64) + f["expression/model/mean"][()]
        np.testing.assert_allclose(data.mean, mean.reshape(-1, 3))
        np.testing.assert_allclose(data.expression_basis, f["expression/model/pcaBasis"][()]
                                   * np.sqrt(f["expression/model/pcaVariance"][()]), rtol=1e-6)
        assert (data.faces == f["shape/representer/cells"][()].T).all()
    with pytest.raises(ValueError, match="brings its own expression model"):
        load_bfm(path, tmp_path / "exp.npz")


def test_errors_name_the_file_and_what_is_wrong(bfm2009, tmp_path):
    path, _ = bfm2009
    with pytest.raises(FileNotFoundError, match="faces.dmi.unibas.ch/bfm/"):
        load_bfm(tmp_path / "01_MorphableModel.mat.missing")
    bad = tmp_path / "bad_exp.npz"
    np.savez(bad, w_exp=np.zeros((3 * N + 3, 2)))
    with pytest.raises(ValueError, match=r"bad_exp.npz: expression basis \(93, 2\).*30 vertices"):
        load_bfm(path, bad)
    broken = tmp_path / "broken.mat"
    scipy.io.savemat(broken, {"shapeMU": np.zeros((9, 1))})
    with pytest.raises(ValueError, match="broken.mat: not a BFM 2009 model .no shapePC"):
        load_bfm(broken)


def test_fitting_recovers_known_coefficients(bfm2009):
    model = BfmModel(load_bfm(*bfm2009))
    g = torch.Generator().manual_seed(3)
    identity = torch.randn(2, K, generator=g, dtype=torch.float64)
    expression = torch.randn(2, KE, generator=g, dtype=torch.float64)
    R = so3_exp(torch.tensor([[0.1, 0.4, -0.2], [0.0, -0.3, 0.1]], dtype=torch.float64))
    head = model.head_vertices(identity, expression)
    image = 3.0 * head @ R.transpose(1, 2) + torch.tensor([200.0, 180.0, 0.0], dtype=torch.float64)
    landmarks = np.arange(0, N, 2)  # 15 of the 30 vertices
    fit = model.fit(image[:, landmarks], landmarks, ridge=1e-9, rounds=20)
    torch.testing.assert_close(fit["identity"], identity, atol=1e-4, rtol=0)
    torch.testing.assert_close(fit["expression"], expression, atol=1e-4, rtol=0)
    torch.testing.assert_close(fit["scale"], torch.full((2,), 3.0, dtype=torch.float64))
    assert float(fit["error"].max()) < 1e-4


def test_bfm_behind_the_face_model_interface(bfm2009, tmp_path):
    from reenact.face.bfm import BfmFaceModel, load_correspondence

    model = BfmModel(load_bfm(*bfm2009))
    path = tmp_path / "mediapipe_to_bfm.npz"
    vertex_ids = np.arange(0, N, 2)
    mp_ids = np.arange(len(vertex_ids)) * 31
    np.savez(path, mediapipe_indices=mp_ids, vertex_indices=vertex_ids)
    face = BfmFaceModel(model, load_correspondence(path, N), ridge=1e-9)
    g = torch.Generator().manual_seed(4)
    identity = torch.randn(1, K, generator=g, dtype=torch.float64)
    expression = torch.randn(1, KE, generator=g, dtype=torch.float64)
    R = so3_exp(torch.tensor([[0.2, -0.3, 0.1]], dtype=torch.float64))
    image = 2.0 * model.head_vertices(identity, expression) @ R.transpose(1, 2) + 100.0
    points = torch.zeros(1, 478, 3, dtype=torch.float64)
    points[:, mp_ids] = image[:, vertex_ids]
    coeffs = face.fit(points)
    torch.testing.assert_close(face.vertices(coeffs), image, atol=1e-3, rtol=0)  # of ~100 px
    np.savez(tmp_path / "bad.npz", mediapipe_indices=mp_ids, vertex_indices=vertex_ids + N)
    with pytest.raises(ValueError, match=r"bad.npz: .* do not fit together"):
        load_correspondence(tmp_path / "bad.npz", N)
