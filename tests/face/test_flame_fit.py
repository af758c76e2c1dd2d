"""Fitting FLAME: landmarks made from known coefficients are fitted back, per image and over a
video; on the synthetic FLAME of test_flame (every vertex a landmark)."""

import numpy as np
import pytest
import torch

from reenact.face.flame import FlameModel, LandmarkEmbedding, load_flame
from reenact.face.flame_fit import FlameFit, FlameFitConfig, fit_flame, image_vertices
from reenact.geometry import so3_exp
from tests.face.test_flame import E, S, V, chumpy_pickle, flame_dict

TIGHT = FlameFitConfig(shape_weight=1e-9, expression_weight=1e-9, jaw_weight=1e-9,
                       smooth_weight=0.0, iterations=200)


def _setup(tmp_path):
    path = tmp_path / "generic_model.pkl"
    data = flame_dict(posedirs=True)
    data["shapedirs"].x *= 2  # blendshapes of a fifth of the face's size per coefficient
    data["f"] = np.stack([np.arange(V), (np.arange(V) + 1) % V, (np.arange(V) + 2) % V], 1)
    path.write_bytes(chumpy_pickle(data))
    model = FlameModel(load_flame(path, shape_components=S))
    f = model.data.faces
    # every vertex as a landmark: a triangle that holds it, barycentric one-hot
    tri = np.arange(V)  # triangle v starts at vertex v
    bary = (f[tri] == np.arange(V)[:, None]).astype(np.float64)
    return model, LandmarkEmbedding(tri, bary)


def _truth(B, seed=0):
    g = torch.Generator().manual_seed(seed)
    d = torch.float64
    return FlameFit(shape=torch.randn(1, S, generator=g, dtype=d).expand(B, -1),
                    expression=torch.randn(B, E, generator=g, dtype=d),
                    jaw=torch.randn(B, 3, generator=g, dtype=d) * 0.1,
                    rotation=so3_exp(torch.randn(B, 3, generator=g, dtype=d) * 0.3),
                    scale=torch.full((B,), 2000.0, dtype=d),
                    translation=torch.tensor([256.0, 240.0, 10.0], dtype=d).expand(B, -1),
                    error=torch.zeros(B))


def test_a_posed_mesh_is_recovered_by_fitting(tmp_path):
    model, emb = _setup(tmp_path)
    truth = _truth(3)
    target_mesh = image_vertices(model, truth)
    targets = model.landmarks(target_mesh, emb)
    fit = fit_flame(model, emb, targets, TIGHT)
    mesh = image_vertices(model, fit)
    size = float((target_mesh - target_mesh.mean(1, keepdim=True)).norm(dim=-1).mean())
    assert float((mesh - target_mesh).norm(dim=-1).max()) < 1e-4 * size
    assert float(fit.error.max()) < 1e-4 * size
    torch.testing.assert_close(fit.scale, truth.scale, rtol=1e-4, atol=0)


def test_a_video_shares_one_shape_and_stays_smooth(tmp_path):
    model, emb = _setup(tmp_path)
    truth = _truth(4, seed=1)
    targets = model.landmarks(image_vertices(model, truth), emb)
    fit = fit_flame(model, emb, targets, TIGHT, video=True)
    assert torch.equal(fit.shape[0], fit.shape[3])  # one identity
    size = float(targets.std())
    assert float(fit.error.max()) < 1e-4 * size
    # a still face seen with landmark noise: the temporal term keeps its expression steadier
    still = FlameFit(truth.shape, truth.expression[:1].expand(4, -1), truth.jaw[:1].expand(4, -1),
                     truth.rotation[:1].expand(4, -1, -1), truth.scale, truth.translation,
                     truth.error)
    clean = model.landmarks(image_vertices(model, still), emb)
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(2), dtype=clean.dtype)
    noisy = clean + noise * 0.01 * size
    loose = fit_flame(model, emb, noisy, TIGHT, video=True)
    smooth = fit_flame(model, emb, noisy, FlameFitConfig(
        shape_weight=1e-9, expression_weight=1e-9, jaw_weight=1e-9, smooth_weight=10.0,
        iterations=200), video=True)

    def wobble(f):
        return float((f.expression[1:] - f.expression[:-1]).norm(dim=1).mean())

    assert wobble(smooth) < 0.5 * wobble(loose)


def test_fitting_through_the_mediapipe_embedding(tmp_path):
    from reenact.face.flame import load_mediapipe_embedding
    from reenact.face.flame_fit import fit_flame_to_mediapipe

    model, emb = _setup(tmp_path)
    indices = np.random.default_rng(0).choice(478, V, replace=False)  # where each lands in 478
    path = tmp_path / "mediapipe_landmark_embedding.npz"
    np.savez(path, lmk_face_idx=emb.faces.astype(np.int32), lmk_b_coords=emb.bary,
             landmark_indices=indices)
    mp = load_mediapipe_embedding(path)
    truth = _truth(2, seed=4)
    points = torch.randn(2, 478, 3, dtype=torch.float64) * 100  # the other points: noise
    points[:, indices] = model.landmarks(image_vertices(model, truth), emb)
    fit = fit_flame_to_mediapipe(model, mp, points, TIGHT)
    target_mesh = image_vertices(model, truth)
    size = float(target_mesh.std())
    assert float((image_vertices(model, fit) - target_mesh).norm(dim=-1).max()) < 1e-4 * size
    np.savez(tmp_path / "bad.npz", lmk_face_idx=emb.faces)
    with pytest.raises(ValueError, match="bad.npz: not a FLAME mediapipe landmark embedding "
                                         r"\(no lmk_b_coords, landmark_indices\)"):
        load_mediapipe_embedding(tmp_path / "bad.npz")


def test_flame_behind_the_face_model_interface(tmp_path):
    from reenact.face.flame import MediapipeEmbedding
    from reenact.face.flame_face_model import FlameFaceModel

    model, emb = _setup(tmp_path)
    indices = np.arange(V) * 7  # where each vertex lands among the 478 points
    face = FlameFaceModel(model, MediapipeEmbedding(emb, indices), TIGHT)
    truth = _truth(2, seed=6)
    target = image_vertices(model, truth)
    points = torch.zeros(2, 478, 3, dtype=torch.float64)
    points[:, indices] = model.landmarks(target, emb)
    coeffs = face.fit(points)
    assert coeffs.identity.shape == (2, S) and coeffs.expression.shape == (2, E + 3)
    size = float(target.std())
    assert float((face.vertices(coeffs) - target).norm(dim=-1).max()) < 1e-4 * size
    # the source's identity with the driver's expression and pose: what mixing does
    mixed = coeffs.index(1).replace(identity=coeffs.identity[:1])
    assert face.vertices(mixed).shape == (1, V, 3)
