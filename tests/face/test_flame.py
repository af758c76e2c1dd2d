"""FLAME from small synthetic files in the official layout: a protocol-2 pickle of a dict with
chumpy arrays (written with a stand-in chumpy module, so chumpy itself is never needed), a scipy
sparse joint regressor and numpy arrays; the landmark embedding as a pickled-dict .npy."""

import pickle
import sys
import types

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from reenact.face.flame import FlameModel, load_flame, load_landmark_embedding
from reenact.geometry import so3_exp

V, S, E, J = 24, 4, 3, 5


class _Ch:
    """Pickles like chumpy.ch.Ch: class chumpy.ch.Ch, state dict with the value in 'x'."""

    def __init__(self, x):
        self.x = x

    def __getstate__(self):
        return {"x": self.x, "_dirty_vars": set(), "_itr": None, "_depends_on_deps": {},
                "_make_dense": False, "_make_sparse": False}


def chumpy_pickle(obj) -> bytes:
    ch = types.ModuleType("chumpy.ch")
    _Ch.__module__, _Ch.__qualname__ = "chumpy.ch", "Ch"
    ch.Ch = _Ch
    sys.modules["chumpy"], sys.modules["chumpy.ch"] = types.ModuleType("chumpy"), ch
    try:
        return pickle.dumps(obj, protocol=2)
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]


def flame_dict(seed=0, posedirs=True):
    rng = np.random.default_rng(seed)
    v = rng.normal(0, 0.05, (V, 3))
    weights = np.zeros((V, J))
    region = np.arange(V) % J  # each vertex skinned to one joint
    weights[np.arange(V), region] = 1.0
    jreg = np.zeros((J, V))
    for j in range(J):
        jreg[j, region == j] = 1.0 / np.sum(region == j)
    return {"v_template": _Ch(v), "shapedirs": _Ch(rng.normal(0, 0.01, (V, 3, S + E))),
            "posedirs": rng.normal(0, 0.01, (V, 3, 9 * (J - 1))) * posedirs,
            "J_regressor": sp.csc_matrix(jreg),
            "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.uint32),
            "weights": weights, "f": rng.integers(0, V, (10, 3)).astype(np.uint32),
            "bs_style": "lbs", "bs_type": "lrotmin"}


@pytest.fixture
def flame_file(tmp_path):
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(chumpy_pickle(flame_dict()))
    return path


def test_loads_the_official_layout_without_chumpy(flame_file):
    assert "chumpy" not in sys.modules
    data = load_flame(flame_file, shape_components=S)
    ref = flame_dict()
    np.testing.assert_array_equal(data.v_template, ref["v_template"].x)
    np.testing.assert_array_equal(data.shapedirs, ref["shapedirs"].x[..., :S])
    np.testing.assert_array_equal(data.exprdirs, ref["shapedirs"].x[..., S:])
    np.testing.assert_array_equal(data.j_regressor, ref["J_regressor"].toarray())
    assert data.parents.tolist() == [-1, 0, 1, 1, 1] and data.faces.dtype == np.int64


def test_a_pickle_with_a_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps({"v_template": Payload()}, protocol=2))
    with pytest.raises(ValueError, match=r"generic_model.pkl: not a FLAME model file .*"
                                         r"refusing to load (posix|os)\.system"):
        load_flame(path)
    assert not marker.exists()
    evil = tmp_path / "landmark_embedding.npy"
    np.save(evil, np.array({"static_lmk_faces_idx": Payload()}, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="refusing to load"):
        load_landmark_embedding(evil)
    assert not marker.exists()


def test_missing_and_mismatched_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="flame.is.tue.mpg.de"):
        load_flame(tmp_path / "nope.pkl")
    bad = flame_dict()
    bad["weights"] = bad["weights"][:, :3]
    path = tmp_path / "bad.pkl"
    path.write_bytes(chumpy_pickle(bad))
    with pytest.raises(ValueError, match=r"bad.pkl: FLAME arrays do not fit together: weights"):
        load_flame(path, shape_components=S)


def _model(tmp_path, posedirs=False):
    path = tmp_path / "m.pkl"
    path.write_bytes(chumpy_pickle(flame_dict(posedirs=posedirs)))
    return FlameModel(load_flame(path, shape_components=S))


def test_rest_pose_is_the_shaped_template(tmp_path):
    m = _model(tmp_path, posedirs=True)
    shape, expr = torch.randn(2, S, dtype=torch.float64), torch.randn(2, E, dtype=torch.float64)
    rest = m.vertices(shape, expr, torch.zeros(2, J, 3, dtype=torch.float64))
    torch.testing.assert_close(rest, m.shaped(shape, expr))
    d = m.data
    expected = d.v_template + d.shapedirs @ shape[0].numpy() + d.exprdirs @ expr[0].numpy()
    np.testing.assert_allclose(rest[0].numpy(), expected, atol=1e-12)


def test_global_and_jaw_rotations_skin_as_a_kinematic_chain(tmp_path):
    m = _model(tmp_path)
    z = torch.zeros(1, S, dtype=torch.float64), torch.zeros(1, E, dtype=torch.float64)
    rest = m.shaped(*z)[0]
    joints = m.j_regressor @ rest
    pose = torch.zeros(1, J, 3, dtype=torch.float64)
    pose[0, 0] = torch.tensor([0.0, 0.4, 0.0])  # head turn
    pose[0, 2] = torch.tensor([0.3, 0.0, 0.0])  # jaw opens
    out = m.vertices(*z, pose)[0]
    Rg, Rj = so3_exp(pose[0, 0][None])[0], so3_exp(pose[0, 2][None])[0]
    region = torch.arange(V) % J
    jaw = region == 2
    expected_jaw = ((rest[jaw] - joints[2]) @ Rj.T + joints[2] - joints[0]) @ Rg.T + joints[0]
    torch.testing.assert_close(out[jaw], expected_jaw)
    other = region == 1  # the neck: only the global rotation
    torch.testing.assert_close(out[other], (rest[other] - joints[0]) @ Rg.T + joints[0])


def test_pose_correctives_follow_the_non_root_rotations(tmp_path):
    m = _model(tmp_path, posedirs=True)
    z = torch.zeros(1, S, dtype=torch.float64), torch.zeros(1, E, dtype=torch.float64)
    rest = m.shaped(*z)[0]
    joints = m.j_regressor @ rest
    pose = torch.zeros(1, J, 3, dtype=torch.float64)
    pose[0, 0] = torch.tensor([0.0, 0.0, 0.5])  # the root: no corrective
    Rg = so3_exp(pose[0, 0][None])[0]
    torch.testing.assert_close(m.vertices(*z, pose)[0], (rest - joints[0]) @ Rg.T + joints[0])
    pose[0, 2, 0] = 0.2  # the jaw: every vertex gets posedirs @ (R_joints - I), then is skinned
    R = so3_exp(pose[0].reshape(-1, 3))
    feature = (R[1:] - torch.eye(3, dtype=torch.float64)).reshape(-1)
    corrected = rest + m.posedirs @ feature
    neck = torch.arange(V) % J == 1  # skinned by the global rotation alone
    torch.testing.assert_close(m.vertices(*z, pose)[0][neck],
                               (corrected[neck] - joints[0]) @ Rg.T + joints[0])


def test_landmarks_from_the_embedding(tmp_path):
    m = _model(tmp_path)
    path = tmp_path / "landmark_embedding.npy"
    faces, bary = np.array([0, 3, 7]), np.array([[1, 0, 0], [0.2, 0.3, 0.5], [0, 0, 1.0]])
    np.save(path, np.array({"static_lmk_faces_idx": faces, "static_lmk_bary_coords": bary,
                            "full_lmk_faces_idx": faces[None], "full_lmk_bary_coords": bary[None]},
                           dtype=object), allow_pickle=True)
    emb = load_landmark_embedding(path)
    verts = m.shaped(torch.zeros(1, S, dtype=torch.float64), torch.zeros(1, E, dtype=torch.float64))
    lm = m.landmarks(verts, emb)[0].numpy()
    v, f = verts[0].numpy(), m.data.faces
    np.testing.assert_allclose(lm[0], v[f[0, 0]])
    np.testing.assert_allclose(lm[1], bary[1] @ v[f[3]])
    np.testing.assert_allclose(lm[2], v[f[7, 2]])
    assert len(load_landmark_embedding(path, "full").faces) == 3
    with pytest.raises(ValueError, match="no dynamic_lmk_faces_idx"):
        load_landmark_embedding(path, "dynamic")


def test_a_subset_poses_its_vertices_as_the_full_model(tmp_path):
    m = _model(tmp_path, posedirs=True)
    g = torch.Generator().manual_seed(5)
    shape, expr = (torch.randn(2, n, generator=g, dtype=torch.float64) for n in (S, E))
    pose = torch.randn(2, J, 3, generator=g, dtype=torch.float64) * 0.2
    ids = np.array([3, 7, 8, 20])
    sub = m.subset(ids, np.array([[0, 1, 2]]))
    full = m.vertices(shape, expr, pose)
    torch.testing.assert_close(sub.vertices(shape, expr, pose), full[:, ids])
