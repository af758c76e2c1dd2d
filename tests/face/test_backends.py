"""FLAME and BFM as motion backends (``--face-model``): loading from a folder, coefficient-space
transfer onto the landmark mesh, and the pipeline, CLI, preprocessing and training with them; on
small synthetic model files in the official layouts."""

import json

import numpy as np
import pytest
import scipy.io
import torch

from reenact.face.backends import CoefficientTransfer, attach, load_face_model
from reenact.face.base import pose_vertices
from reenact.face.bfm import BfmFaceModel, BfmModel, load_bfm, load_correspondence
from reenact.face.mixing import MixOptions, mix_coefficients
from reenact.geometry import so3_exp
from tests.face.test_bfm import KE, K, N, bfm2009  # noqa: F401 - the fixture

D = torch.float64


def _bfm_transfer(bfm2009, tmp_path):  # noqa: F811 - the fixture's value
    """The synthetic BFM, every vertex one of the first N mediapipe points."""
    path = tmp_path / "corr.npz"
    np.savez(path, mediapipe_indices=np.arange(N), vertex_indices=np.arange(N))
    model = BfmModel(load_bfm(*bfm2009))
    return model, CoefficientTransfer(BfmFaceModel(model, load_correspondence(path, N), 1e-9))


def _points(model, identity, expression, rotvec, scale, shift, detail):
    """478 tracked points: the posed model's N vertices, then the rest near them (a face's
    detail that the model does not span)."""
    c = _coeffs(identity, expression, rotvec, scale, shift)
    verts = pose_vertices(model.head_vertices(c.identity, c.expression), c)[0]
    rest = verts[torch.arange(478 - N) % N] + detail
    return torch.cat([verts, rest])[None], c


def _coeffs(identity, expression, rotvec, scale, shift):
    from reenact.face.base import FaceCoefficients

    return FaceCoefficients(identity[None], expression[None],
                            so3_exp(torch.tensor([rotvec], dtype=D)),
                            torch.tensor([scale], dtype=D), torch.tensor([shift], dtype=D))


def test_the_same_driver_as_the_source_reproduces_its_tracked_points(
        bfm2009, tmp_path):  # noqa: F811 - the fixture's value
    model, transfer = _bfm_transfer(bfm2009, tmp_path)
    g = torch.Generator().manual_seed(0)
    detail = torch.randn(478 - N, 3, generator=g, dtype=D) * 5.0
    pts, _ = _points(model, torch.randn(K, generator=g, dtype=D),
                     torch.randn(KE, generator=g, dtype=D), [0.1, -0.2, 0.05], 2.0,
                     [120.0, 110.0, 0.0], detail)
    src = transfer.prepare(pts)
    fit = transfer.fit(pts)
    for relative in (True, False):
        out = transfer.reenact(src, fit, fit, relative, MixOptions(follow_translation=relative))
        torch.testing.assert_close(out, pts, atol=1e-6, rtol=0)  # every point, detail included


@pytest.mark.parametrize("relative", [False, True])
def test_motion_is_transferred_in_coefficients(bfm2009, tmp_path, relative):  # noqa: F811
    """The source keeps its shape; the expression is the driver's (absolute) or the source's
    plus the driver's change from its reference (relative); the pose follows the mixing rules."""
    model, transfer = _bfm_transfer(bfm2009, tmp_path)
    g = torch.Generator().manual_seed(1)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=D)

    id_s, id_d = r(K), r(K)
    e_s, e_ref, e_d = r(KE), r(KE), r(KE)
    src_pts, c_s = _points(model, id_s, e_s, [0.1, 0.2, 0.0], 2.0, [128.0, 120.0, 0.0],
                           r(478 - N, 3))
    ref_pts, c_ref = _points(model, id_d, e_ref, [0.0, -0.1, 0.05], 2.5, [100.0, 90.0, 5.0],
                             r(478 - N, 3))
    drv_pts, c_d = _points(model, id_d, e_d, [-0.2, 0.3, 0.1], 2.7, [110.0, 95.0, 0.0],
                           r(478 - N, 3))
    options = MixOptions(follow_translation=relative)
    out = transfer.reenact(transfer.prepare(src_pts), transfer.fit(drv_pts),
                           transfer.fit(ref_pts), relative, options)
    delta = (e_d - e_ref) if relative else (e_d - e_s)
    want_c = mix_coefficients(c_s, c_d, c_ref, delta[None], options)
    want = pose_vertices(model.head_vertices(want_c.identity, want_c.expression), want_c)
    torch.testing.assert_close(out[:, :N], want, atol=1e-4, rtol=0)  # of ~100 px
    # the landmark mesh's own offsets would carry the driver's shape instead: not the same
    other = pose_vertices(model.head_vertices(id_d[None], e_d[None]), want_c)
    assert float((out[:, :N] - other).abs().max()) > 1.0


def test_relative_motion_takes_part_of_the_references_own_expression(bfm2009, tmp_path):  # noqa: F811
    """``--reference-expression R`` in the model's coefficients: driven by its reference frame
    itself, the source's expression moves R of the way to the reference's (absolute motion and
    R = 0 keep the old rules)."""
    model, transfer = _bfm_transfer(bfm2009, tmp_path)
    g = torch.Generator().manual_seed(2)
    e_s, e_ref = torch.randn(KE, generator=g, dtype=D), torch.randn(KE, generator=g, dtype=D)
    ident = torch.randn(K, generator=g, dtype=D)
    src_pts, _ = _points(model, ident, e_s, [0.1, 0.0, 0.0], 2.0, [128.0, 120.0, 0.0],
                         torch.zeros(478 - N, 3, dtype=D))
    ref_pts, _ = _points(model, ident * 0.5, e_ref, [0.0, 0.1, 0.0], 2.2, [120.0, 110.0, 0.0],
                         torch.zeros(478 - N, 3, dtype=D))
    source, ref = transfer.prepare(src_pts), transfer.fit(ref_pts)
    for r in (0.0, 0.5, 1.0):
        mixed = transfer.mix(source, ref, ref, True, MixOptions(), reference_expression=r)
        want = source.coeffs.expression + r * (ref.expression - source.coeffs.expression)
        torch.testing.assert_close(mixed.expression, want)
    absolute = transfer.mix(source, ref, ref, False, MixOptions(), reference_expression=0.5)
    torch.testing.assert_close(absolute.expression, ref.expression)


def test_flame_transfer_keeps_the_source_shape_and_takes_the_jaw(tmp_path):
    from reenact.face.flame import MediapipeEmbedding
    from reenact.face.flame_face_model import FlameFaceModel
    from reenact.face.flame_fit import FlameFit, image_vertices
    from tests.face.test_flame import E, S, V
    from tests.face.test_flame_fit import TIGHT, _setup

    model, emb = _setup(tmp_path)
    face = FlameFaceModel(model, MediapipeEmbedding(emb, np.arange(V)), TIGHT)
    transfer = CoefficientTransfer(face)
    g = torch.Generator().manual_seed(3)

    def fit(shape, expr, jaw, rotvec):
        return FlameFit(shape[None], expr[None], jaw[None],
                        so3_exp(torch.tensor([rotvec], dtype=D)), torch.tensor([2000.0], dtype=D),
                        torch.tensor([[256.0, 240.0, 0.0]], dtype=D), torch.zeros(1))

    def r(*shape, s=1.0):
        return torch.randn(*shape, generator=g, dtype=D) * s

    src = fit(r(S), r(E), r(3, s=0.1), [0.1, 0.2, 0.0])
    drv = fit(r(S), r(E), r(3, s=0.1), [-0.2, 0.1, 0.1])

    def points(f):
        return torch.cat([image_vertices(model, f), torch.zeros(1, 478 - V, 3, dtype=D)], 1)

    out = transfer.reenact(transfer.prepare(points(src)), transfer.fit(points(drv)),
                           transfer.fit(points(drv)), False, MixOptions(follow_translation=False))
    want = fit(src.shape[0], drv.expression[0], drv.jaw[0], [0.0, 0.0, 0.0])
    want = FlameFit(want.shape, want.expression, want.jaw, drv.rotation, src.scale,
                    src.translation, want.error)
    target = image_vertices(model, want)
    size = float(target.std())
    assert float((out[:, :V] - target).norm(dim=-1).max()) < 1e-3 * size


def test_attachment_places_points_on_the_moving_surface():
    verts = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], dtype=D)
    points = torch.tensor([[0.0, 0, 0], [0.5, 0.5, 0.2]], dtype=D)
    a = attach(points, verts)
    torch.testing.assert_close(a.place(verts[None])[0], points)
    moved = verts + torch.tensor([0.0, 0.0, 1.0], dtype=D)  # the surface lifts by 1
    torch.testing.assert_close(a.place(moved[None])[0], points + torch.tensor([0, 0, 1.0],
                                                                              dtype=D))


# -- files, the pipeline and the commands --------------------------------------------------------

def write_bfm_from_the_landmark_mesh(folder, seed=0):
    """A BFM 2009-format model whose mean is the landmark mesh's mean face, each triangle split in
    four (so mediapipe fits it on real photos, and it has its own vertex count), a small random
    shape and expression basis, and mediapipe's points on its first 478 vertices."""
    from reenact.face.mean_shape import mean_shape
    from reenact.face.topology import landmark_topology

    rng = np.random.default_rng(seed)
    tri = landmark_topology().triangles
    edges = np.unique(np.sort(np.r_[tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [2, 0]]], 1), axis=0)
    mid = {tuple(e): 478 + i for i, e in enumerate(edges.tolist())}
    base = mean_shape() * 100.0
    mean = np.r_[base, base[edges].mean(1)]

    def m(a, b):
        return mid[(min(a, b), max(a, b))]

    faces = np.array([f for a, b, c in tri.tolist() for f in
                      ((a, m(a, b), m(c, a)), (m(a, b), b, m(b, c)), (m(c, a), m(b, c), c),
                       (m(a, b), m(b, c), m(c, a)))])
    n = mean.size

    def basis(k):
        q, _ = np.linalg.qr(rng.normal(size=(n, k)))
        return q

    folder.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(folder / "01_MorphableModel.mat", {
        "shapeMU": mean.reshape(-1, 1), "shapePC": basis(10),
        "shapeEV": np.linspace(3, 1, 10)[:, None],
        "tl": (faces + 1).astype(np.float64)})
    np.savez(folder / "expression.npz", w_exp=basis(6), sigma_exp=np.linspace(2, 1, 6))
    np.savez(folder / "mediapipe_bfm_correspondence.npz", mediapipe_indices=np.arange(478),
             vertex_indices=np.arange(478))
    return folder


def test_loading_from_a_folder_and_what_is_missing(tmp_path):
    assert load_face_model("landmark", None) is None
    folder = write_bfm_from_the_landmark_mesh(tmp_path / "bfm")
    face = load_face_model("bfm", folder)
    assert face.num_vertices > 1000 and face.model.expression_basis.shape[1] == 6
    assert load_face_model("bfm", folder / "01_MorphableModel.mat").num_vertices > 1000
    with pytest.raises(ValueError, match="needs --face-model-path"):
        load_face_model("flame", None)
    with pytest.raises(FileNotFoundError, match=r"empty: no FLAME model file in this folder "
                                                r".*flame\.is\.tue\.mpg\.de"):
        (tmp_path / "empty").mkdir()
        load_face_model("flame", tmp_path / "empty")
    (folder / "expression.npz").unlink()
    with pytest.raises(FileNotFoundError, match="BFM 2009 needs an expression basis"):
        load_face_model("bfm", folder)
    write_bfm_from_the_landmark_mesh(folder)
    (folder / "mediapipe_bfm_correspondence.npz").unlink()
    with pytest.raises(FileNotFoundError, match="mediapipe_bfm_correspondence.npz: no such file"):
        load_face_model("bfm", folder)


def test_flame_from_a_folder_needs_its_mediapipe_embedding(tmp_path):
    from tests.face.test_flame import chumpy_pickle, flame_dict

    folder = tmp_path / "flame"
    folder.mkdir()
    (folder / "generic_model.pkl").write_bytes(chumpy_pickle(flame_dict()))
    with pytest.raises(FileNotFoundError, match="mediapipe_landmark_embedding.npz: no such file"):
        load_face_model("flame", folder)
    np.savez(folder / "mediapipe_landmark_embedding.npz", lmk_face_idx=np.arange(3),
             lmk_b_coords=np.full((3, 3), 1 / 3), landmark_indices=np.array([1, 33, 263]))
    assert load_face_model("flame", folder, flame_shape_components=4).num_vertices == 24


@pytest.fixture(scope="module")
def bfm_folder(tmp_path_factory):
    return write_bfm_from_the_landmark_mesh(tmp_path_factory.mktemp("bfm"))


def test_the_pipeline_with_bfm_motion(samples, bfm_folder):
    """Driven by its own photo, the source comes out as the default front end gives it (the
    motion is the identity either way); driven by another face, the BFM motion moves it."""
    from reenact.config import AnimateConfig
    from reenact.pipeline import Reenactor

    src = samples["astronaut"]
    default = Reenactor(AnimateConfig()).animate(src, src)[0]
    cfg = AnimateConfig(face_model="bfm", face_model_path=str(bfm_folder))
    reenactor = Reenactor(cfg)
    same = reenactor.animate(src, src)[0]
    assert np.abs(same.astype(int) - default.astype(int)).max() <= 2
    moved = reenactor.animate(src, samples["grace_hopper"])[0]
    assert np.abs(moved.astype(int) - src.astype(int)).mean() > 1.0


def test_the_pipeline_with_bfm_takes_the_reference_expression(samples, bfm_folder):
    """Relative motion driven by its own reference frame: with ``reference_expression`` 0 the
    photo is unmoved in expression, with 1 it takes the reference's (the landmark path's rule,
    which the BFM path ignored)."""
    from reenact.config import AnimateConfig
    from reenact.pipeline import Reenactor

    src, other = samples["astronaut"], samples["grace_hopper"]
    outs = []
    for r in (0.0, 1.0):
        reenactor = Reenactor(AnimateConfig(face_model="bfm", face_model_path=str(bfm_folder),
                                            motion="relative", reference_expression=r))
        source = reenactor.prepare_source(src)
        warp = next(iter(reenactor.drive(source, [other], 25.0, False, reference=other)))
        outs.append(warp.verts)
    assert float((outs[1] - outs[0]).norm(dim=-1).max()) > 0.1  # pixels (a small synthetic BFM)


def test_animate_flags(samples, bfm_folder, tmp_path, capsys):
    from reenact.cli import EXIT_INPUT, main
    from reenact.io import read_image, write_image

    write_image(tmp_path / "s.png", samples["astronaut"])
    write_image(tmp_path / "d.png", samples["grace_hopper"])
    base = ["animate", "-s", str(tmp_path / "s.png"), "-d", str(tmp_path / "d.png")]
    assert main([*base, "-o", str(tmp_path / "o.png"), "--face-model", "bfm",
                 "--face-model-path", str(bfm_folder)]) == 0
    assert read_image(tmp_path / "o.png").shape == samples["astronaut"].shape
    capsys.readouterr()
    code = main([*base, "-o", str(tmp_path / "o2.png"), "--face-model", "flame"])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT and "needs --face-model-path" in err and len(err.splitlines()) == 1
    (tmp_path / "none").mkdir()
    code = main([*base, "-o", str(tmp_path / "o2.png"), "--face-model", "flame",
                 "--face-model-path", str(tmp_path / "none")])
    err = capsys.readouterr().err
    assert code == EXIT_INPUT and "flame.is.tue.mpg.de" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o2.png").exists()


def test_preprocess_and_train_with_bfm(samples, bfm_folder, tmp_path, tiny_cache):
    """The cache stores the BFM fit; a run with data.face_model bfm trains on it and validates;
    a cache without it is refused for such a run."""
    import cv2

    from reenact.data.dataset import TrainBatches, VideoStore
    from reenact.data.preprocess import preprocess
    from reenact.io import write_image
    from reenact.train.loop import train
    from tests.train.conftest import tiny_setup

    src = tmp_path / "src" / "astronaut"
    src.mkdir(parents=True)
    image = samples["astronaut"]
    h, w = image.shape[:2]
    for i, angle in enumerate((0, 4, -5, 2)):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        write_image(src / f"{i:04d}.png", cv2.warpAffine(image, m, (w, h),
                                                         borderMode=cv2.BORDER_REFLECT_101))
    cache = tmp_path / "cache"
    summary = preprocess(tmp_path / "src", cache, frames=0, size=64, workers=1, progress=False,
                         face_model="bfm", face_model_path=bfm_folder)
    assert summary.processed == 1
    assert json.loads((cache / "meta.json").read_text())["face_model"] == "bfm"
    store = VideoStore(str(cache))
    rec = store.record(next(iter(store.entries)))
    assert rec["backend_identity"].shape == (4, 10) and rec["backend_expression"].shape == (4, 6)
    over = {"data.face_model": "bfm", "data.face_model_path": str(bfm_folder),
            "data.split": "frames", "data.val_pairs": 1, "run.steps": 1, "run.val_every": 1,
            "data.flip": 0}  # the tiny config mirrors samples, which BFM fits cannot
    with pytest.raises(ValueError, match="set data.flip=0"):
        tiny_setup("meshgcn", str(cache), tmp_path / "run", **{**over, "data.flip": 0.5})
    setup = tiny_setup("meshgcn", str(cache), tmp_path / "run", **over)
    scores = train(setup, progress=False)
    assert np.isfinite(scores["psnr_face"])
    # the GCN was built on BFM's own mesh, and runs in the front end only with BFM
    from reenact.config import AnimateConfig
    from reenact.face.backends import cached_transfer
    from reenact.pipeline import Reenactor
    from reenact.refine import MeshGCNRefiner

    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    transfer = cached_transfer("bfm", str(bfm_folder))
    refiner = MeshGCNRefiner(ckpt, transfer=transfer)
    assert refiner.model.motion._downs[0].shape[1] == transfer.model.num_vertices > 1000
    with pytest.raises(ValueError, match="trained on the bfm mesh; run with --face-model bfm"):
        MeshGCNRefiner(ckpt)
    cfg = AnimateConfig(face_model="bfm", face_model_path=str(bfm_folder), model="meshgcn",
                        checkpoint=str(ckpt))
    out = Reenactor(cfg, refiner, transfer).animate(samples["astronaut"], samples["grace_hopper"])
    assert out[0].shape == samples["astronaut"].shape
    with pytest.raises(ValueError, match="preprocessed with face model landmark, not bfm"):
        TrainBatches(tiny_setup("meshgcn", tiny_cache, tmp_path / "x", **over).data, "meshgcn", 0)


def test_evaluate_systems_with_a_face_model(samples, bfm_folder):
    """`reenact evaluate --face-model bfm`: the front-end systems say so in their names and run
    with the BFM motion (a video clip drives relative motion from its first frame)."""
    from reenact.eval.systems import Drive, build_system

    system = build_system("analytic", 256, "bfm", str(bfm_folder))
    assert system.name == "analytic+bfm" and build_system("copy-source").name == "copy-source"
    frames = [samples["grace_hopper"]] * 2
    out = system("astronaut", samples["astronaut"], Drive(frames, True, "relative"))
    assert len(out) == 2 and out[0].shape == samples["astronaut"].shape
    # a still clip: no expression change; the head takes the driver's rotation, which BFM and
    # the landmark mesh estimate a little differently (measured: 0.63 levels apart on average)
    default = build_system("analytic")("astronaut", samples["astronaut"],
                                       Drive(frames, True, "relative"))
    assert np.abs(out[1].astype(int) - default[1].astype(int)).mean() < 1.5


def write_flame_from_the_landmark_mesh(folder, seed=0):
    """A FLAME-format pickle (chumpy arrays, sparse joint regressor, 300 + 100 blendshapes, five
    joints with the lower face on the jaw) whose template is the landmark mesh's mean face, and
    its mediapipe embedding: every mediapipe point on its own vertex."""
    import scipy.sparse as sp

    from reenact.face.mean_shape import mean_shape
    from reenact.face.topology import NOSE_TIP, landmark_topology
    from tests.face.test_flame import _Ch, chumpy_pickle

    rng = np.random.default_rng(seed)
    v = mean_shape() * 0.06  # head units -> about metres
    tri = landmark_topology().triangles
    V = len(v)
    jaw = (v[:, 1] > v[NOSE_TIP, 1] + 0.01).astype(np.float64)  # below the nose (y down)
    weights = np.zeros((V, 5))
    weights[:, 2], weights[:, 0] = jaw, 1 - jaw
    jreg = np.zeros((5, V))
    jreg[0] = 1.0 / V
    jreg[1] = jaw / jaw.sum()
    jreg[2, np.flatnonzero(jaw)] = 1.0 / jaw.sum()
    jreg[3, 468], jreg[4, 473] = 1.0, 1.0
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "generic_model.pkl").write_bytes(chumpy_pickle({
        "v_template": _Ch(v), "shapedirs": _Ch(rng.normal(0, 2e-4, (V, 3, 400))),
        "posedirs": np.zeros((V, 3, 36)), "J_regressor": sp.csc_matrix(jreg),
        "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], np.uint32),
        "weights": weights, "f": tri.astype(np.uint32), "bs_style": "lbs",
        "bs_type": "lrotmin"}))
    on = np.array([i for i in range(V) if (tri == i).any()])
    face_of = np.array([np.flatnonzero((tri == i).any(1))[0] for i in on])
    bary = (tri[face_of] == on[:, None]).astype(np.float64)
    np.savez(folder / "mediapipe_landmark_embedding.npz", lmk_face_idx=face_of,
             lmk_b_coords=bary, landmark_indices=on)
    return folder


def test_the_pipeline_and_animate_with_flame(samples, tmp_path, capsys):
    """FLAME through the whole front end on real photos: an unmoved driver gives the default
    front end's output; another face moves it; `reenact animate --face-model flame` writes."""
    from reenact.cli import main
    from reenact.config import AnimateConfig
    from reenact.io import read_image, write_image
    from reenact.pipeline import Reenactor

    folder = write_flame_from_the_landmark_mesh(tmp_path / "flame")
    src = samples["astronaut"]
    reenactor = Reenactor(AnimateConfig(face_model="flame", face_model_path=str(folder)))
    assert reenactor.transfer.name == "flame"
    same = reenactor.animate(src, src)[0]
    default = Reenactor(AnimateConfig()).animate(src, src)[0]
    assert np.abs(same.astype(int) - default.astype(int)).max() <= 2
    moved = reenactor.animate(src, samples["grace_hopper"])[0]
    assert np.abs(moved.astype(int) - src.astype(int)).mean() > 1.0
    write_image(tmp_path / "s.png", src)
    write_image(tmp_path / "d.png", samples["grace_hopper"])
    code = main(["animate", "-s", str(tmp_path / "s.png"), "-d", str(tmp_path / "d.png"), "-o",
                 str(tmp_path / "o.png"), "--face-model", "flame", "--face-model-path",
                 str(folder / "generic_model.pkl")])
    assert code == 0, capsys.readouterr().err
    assert read_image(tmp_path / "o.png").shape == src.shape


def test_every_command_takes_the_face_model_flags():
    from reenact.app.train import overrides_from_args
    from reenact.cli import build_parser

    parser = build_parser()
    for command in (["animate", "-s", "a.png", "-d", "b.png", "-o", "c.png"],
                    ["preprocess", "src", "-o", "cache"], ["evaluate", "data", "-o", "out"],
                    ["train", "-c", "x.yaml", "run.steps=5"]):
        args = parser.parse_args([*command, "--face-model", "bfm", "--face-model-path", "m"])
        assert args.face_model == "bfm" and args.face_model_path == "m"
    assert overrides_from_args(args) == ["run.steps=5", "data.face_model=bfm",
                                         "data.face_model_path=m"]


def test_a_photo_in_profile_is_held_with_a_face_model_too(bfm_folder):
    """The landmark path's rule for a photo tracked past PHOTO_TRUST[1] degrees (its far half is
    guessed): with --face-model bfm as well, the warp keeps the photo's turn and expression."""
    from reenact.config import AnimateConfig
    from reenact.face.expression import PHOTO_TRUST, off_axis_degrees
    from reenact.geometry import rotation_angle_between
    from reenact.io import read_image
    from reenact.pipeline import Reenactor
    from tests.conftest import data_path

    photo = read_image(data_path("corpus", "portraits", "DECA", "image00181.jpg"))
    driver = read_image(data_path("faces", "s42.jpg"))
    r = Reenactor(AnimateConfig(face_model="bfm", face_model_path=str(bfm_folder)))
    src = r.prepare_source(photo)
    assert float(off_axis_degrees(src.coeffs.rotation)[0]) > PHOTO_TRUST[1]
    warp = next(iter(r.drive(src, [driver], 25.0, False)))
    turn = float(torch.rad2deg(rotation_angle_between(warp.coeffs.rotation, src.coeffs.rotation))[0])
    assert turn < 0.1
    assert float((r._head(warp.coeffs) - r._head(src.coeffs)).abs().max()) < 1e-9  # the shape too
