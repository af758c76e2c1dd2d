"""Training batches from a preprocessed cache.

Batch k of a run is a pure function of (seed, k, sample position): every sample draws from its own
seeded generator. So a resumed run sees exactly the batches it would have seen, DataLoader workers
need no coordination, and under DDP rank r takes its slice of the same global batch a single process
would have used (the basis of the single-vs-DDP gradient test).

A sample renders the learned models' inputs on the fly from the stored coefficients, with the same
front-end functions ``reenact animate`` uses at inference (``build_scene``, ``analytic_warp``,
``dcggan_inputs`` / ``meshgcn_inputs``), so training and inference see the same guidance.
"""

import dataclasses
import random
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from reenact.config import FACE_MODELS, AnimateConfig
from reenact.data.sampling import Pair, PairSchedule, same_video_pair, sample_pair
from reenact.data.shards import load_video, read_index
from reenact.data.splits import split_identities
from reenact.face.base import FaceCoefficients
from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.mean_shape import mirror_index
from reenact.face.mixing import MixOptions
from reenact.face.reenactment import Reenacted, reenact_face
from reenact.geometry import matrix_to_euler
from reenact.io import image_to_tensor
from reenact.motion.analytic import analytic_warp
from reenact.motion.guidance import dcggan_inputs, meshgcn_inputs, prior_inputs, shrink
from reenact.motion.scene import PLATES, build_scene


@dataclass(frozen=True)
class DataConfig:
    cache: str = "cache"  # a folder written by `reenact preprocess`
    size: int = 64  # training resolution (crops are resized from the cache's)
    batch_size: int = 8  # the global batch; DDP ranks split it
    split: str = "identity"  # identity: the papers' identity-disjoint split; frames: hold out the
    #                          last test_fraction of every video's frames (few-identity sets)
    test_fraction: float = 0.2
    val_fraction: float = 0.0  # a validation split carved from the training part (frames: the
    #   frames just before the test tail; identity: some training identities); validation during
    #   training and checkpoint selection (run.select) read it, never the test split. 0: validate
    #   on the test split, as before
    split_seed: int = 0
    face_model: str = "landmark"  # flame | bfm: the motion in that model's coefficients, read
    #   from a cache made with `reenact preprocess --face-model` (reenact.face.backends)
    face_model_path: str | None = None  # its files (a folder, or the model file)
    videos: tuple[str, ...] | None = None  # only these video ids (None: every video)
    driving_cache: str | None = None  # unpaired drivers from another cache (e.g. VoxCeleb1)
    pairing: str = "hybrid"  # hybrid: DCG-GAN's scheme; same_video: the mesh paper's
    schedule: PairSchedule = field(default_factory=PairSchedule)
    workers: int = 1  # DataLoader processes rendering samples
    val_pairs: int = 16  # held-out self-reenactment pairs scored at each validation
    plate: str = "telea"  # the prior's background plate (build_scene): "telea" is close to what
    #   `reenact animate` shows (shift-map) and, unlike shift-map, a pure function of the frame,
    #   which exact resume and DDP need; "none" is faster but leaves the old head in the plate
    flip: float = 0.0  # the chance a training sample is mirrored left-right (source and driver
    #   together; mirror_record): twice the poses and expressions from the same frames
    render_size: int = 0  # render the warp and the model's inputs at this size, then shrink
    #   them to data.size by area averaging, as `reenact animate` does with its 256 px crop
    #   (refine.py); 0: render at data.size. A warp rendered small is softer than a shrunk one

    def __post_init__(self) -> None:
        if self.split not in ("identity", "frames"):
            raise ValueError(f"data.split must be identity or frames, got {self.split!r}")
        if self.face_model not in FACE_MODELS:
            raise ValueError(f"data.face_model must be landmark, flame or bfm, got "
                             f"{self.face_model!r}")
        if self.face_model != "landmark" and not self.face_model_path:
            raise ValueError(f"data.face_model {self.face_model} needs data.face_model_path")
        if self.pairing not in ("hybrid", "same_video"):
            raise ValueError(f"data.pairing must be hybrid or same_video, got {self.pairing!r}")
        if self.plate not in PLATES:
            raise ValueError(f"data.plate must be one of {', '.join(PLATES)}, got {self.plate!r}")
        if not 0 <= self.flip <= 1:
            raise ValueError(f"data.flip is a probability in [0, 1], got {self.flip}")
        if self.render_size and self.render_size < self.size:
            raise ValueError(f"data.render_size must be 0 or at least data.size "
                             f"({self.size}), got {self.render_size}")
        if self.flip > 0 and self.face_model != "landmark":
            raise ValueError(f"data.flip needs data.face_model landmark, not {self.face_model} "
                             f"(its fits have no mirror here): set data.flip=0")
        if not (0 <= self.val_fraction and 0 < self.test_fraction
                and self.val_fraction + self.test_fraction < 1):
            raise ValueError(f"data.test_fraction ({self.test_fraction}) and data.val_fraction "
                             f"({self.val_fraction}) must leave frames to train on")


class VideoStore:
    """The cache's videos: index entries, lazily loaded records (an LRU of whole videos)."""

    def __init__(self, cache: str, videos: tuple[str, ...] | None = None, keep: int = 64):
        self.cache = cache
        entries = read_index(cache)
        if videos is not None:
            missing = sorted(set(videos) - {e["id"] for e in entries})
            if missing:
                raise ValueError(f"{cache}: no video(s) {', '.join(missing)} in the index")
            entries = [e for e in entries if e["id"] in set(videos)]
        if not entries:
            raise ValueError(f"{cache}: the index lists no usable videos")
        self.entries = {e["id"]: e for e in entries}
        self.keep = keep
        self._loaded: OrderedDict[str, dict] = OrderedDict()

    @property
    def crop_size(self) -> int:
        """The side of the cache's crops (the smallest, should they differ)."""
        return min(int(e["crop_size"]) for e in self.entries.values())

    def check_render_size(self, render_size: int) -> None:
        """Refuse a render size above the cache's crops: rendering larger would only upsample."""
        crops = self.crop_size
        if render_size > crops:
            raise ValueError(f"{self.cache}: data.render_size {render_size} is above its crops "
                             f"({crops} px); rendering larger would only upsample them")

    def identity(self, video: str) -> str:
        return self.entries[video]["identity"]

    def frame_count(self, video: str) -> int:
        return int(self.entries[video]["frames"])

    def record(self, video: str, mirrored: bool = False) -> dict[str, np.ndarray]:
        """A video's record; ``mirrored``: its left-right mirror image (``mirror_record``)."""
        key = (video, mirrored)
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return self._loaded[key]
        rec = load_video(self.cache, self.entries[video])
        if mirrored:
            rec = mirror_record(rec)
        self._loaded[key] = rec
        if len(self._loaded) > self.keep:
            self._loaded.popitem(last=False)
        return rec


def mirror_landmarks(points: np.ndarray, width: int) -> np.ndarray:
    """(..., 478, 3) landmark-mesh points, image pixels, reflected across an image ``width`` wide
    (x -> width - x: pixel centres sit at i + 0.5) and renumbered side for side."""
    out = points[..., mirror_index(), :].copy()
    out[..., 0] = width - out[..., 0]
    return out


def mirror_record(rec: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A video record mirrored left-right, as if its video had been filmed in a mirror: images and
    masks flipped, landmarks reflected (x -> width - x, as pixel centres sit at i + 0.5) and
    renumbered side for side (the subject's right eye becomes its left), and the landmark model
    refitted to them. The parsing labels have no sides, so they flip as they are. FLAME / BFM
    fits (``backend_*``) are left out: they have no mirror here (data.flip needs the landmark
    model)."""
    width = rec["frames"].shape[2]
    out = {k: v for k, v in rec.items() if not k.startswith("backend_")}
    for key in ("frames", "person", "parsing"):
        out[key] = np.ascontiguousarray(rec[key][:, :, ::-1])
    landmarks = mirror_landmarks(rec["landmarks"], width)
    out["landmarks"] = landmarks
    coeffs = _model().fit(torch.from_numpy(landmarks.astype(np.float64)))
    for name in ("identity", "expression", "rotation", "scale", "translation"):
        out[name] = getattr(coeffs, name).numpy().astype(rec[name].dtype)
    return out


@dataclass(frozen=True)
class Split:
    train: dict[str, list[int]]  # video -> usable frame positions (into the record)
    test: dict[str, list[int]]
    val: dict[str, list[int]] = field(default_factory=dict)  # empty without data.val_fraction

    def validation(self) -> dict[str, list[int]]:
        """What validation during training reads: the validation split, else the test split."""
        return self.val or self.test


def check_face_model(cache: str, face_model: str) -> None:
    """A run with ``data.face_model`` needs a cache preprocessed with that face model."""
    import json

    meta = Path(cache) / "meta.json"
    made = json.loads(meta.read_text()).get("face_model", "landmark") if meta.is_file() else \
        "landmark"
    if face_model != "landmark" and made != face_model:
        raise ValueError(f"{cache}: preprocessed with face model {made}, not {face_model}; run "
                         f"reenact preprocess --face-model {face_model} into another cache")


def make_split(store: VideoStore, cfg: DataConfig) -> Split:
    """Identity-disjoint 80/20 (papers), or per-video held-out tail frames; with
    ``val_fraction``, a validation part taken from the training side of either."""
    videos = sorted(store.entries)
    if cfg.split == "identity":
        train_ids, _ = split_identities({store.identity(v) for v in videos}, cfg.test_fraction,
                                        cfg.split_seed)
        val_ids: set = set()
        if cfg.val_fraction > 0 and len(train_ids) > 1:
            share = cfg.val_fraction / (1 - cfg.test_fraction)
            train_ids, val_ids = split_identities(set(train_ids), share, cfg.split_seed + 1)
        train_ids, val_ids = set(train_ids), set(val_ids)
        every = {v: list(range(store.frame_count(v))) for v in videos}
        held = train_ids | val_ids
        return Split(train={v: f for v, f in every.items() if store.identity(v) in train_ids},
                     test={v: f for v, f in every.items() if store.identity(v) not in held},
                     val={v: f for v, f in every.items() if store.identity(v) in val_ids})
    train, test, val = {}, {}, {}
    for v in videos:
        n = store.frame_count(v)
        cut = max(1, min(n - 1, round(n * (1 - cfg.test_fraction))))
        start_val = max(1, min(cut, round(n * (1 - cfg.test_fraction - cfg.val_fraction))))
        train[v], test[v] = list(range(start_val)), list(range(cut, n))
        if start_val < cut:
            val[v] = list(range(start_val, cut))
    return Split(train=train, test=test, val=val)


_MODEL: LandmarkFaceModel | None = None


def _model() -> LandmarkFaceModel:
    global _MODEL
    if _MODEL is None:
        _MODEL = LandmarkFaceModel()
    return _MODEL


def _coefficients(rec: dict, i: int, k: float, prefix: str = "") -> FaceCoefficients:
    """Frame i's stored coefficients, rescaled from cache pixels by k (double precision, as the
    front end fits them); ``prefix`` "backend_" for the FLAME / BFM fit."""

    def t(name: str) -> torch.Tensor:
        return torch.from_numpy(np.asarray(rec[prefix + name][i], dtype=np.float64))[None]

    return FaceCoefficients(identity=t("identity"), expression=t("expression"),
                            rotation=t("rotation"), scale=t("scale") * k,
                            translation=t("translation") * k)


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    if image.shape[0] == size:
        return image
    interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_LINEAR
    return cv2.resize(image, (size, size), interpolation=interp)


def sample_mix(model: LandmarkFaceModel, c_src: FaceCoefficients, c_drv: FaceCoefficients,
               paired: bool, transfer=None, b_src: FaceCoefficients | None = None,
               b_drv: FaceCoefficients | None = None) -> Reenacted:
    """A sample's re-enacted face, by the pipeline's own mixing (``reenact_face``): a pair from
    one video moves relative to the source frame (the driver's own face comes back), another
    identity gives its absolute expression at the source's place, as an image driver does in
    ``reenact animate``. ``transfer``, ``b_src``, ``b_drv``: the same in FLAME / BFM."""
    options = MixOptions() if paired else MixOptions(follow_translation=False)
    backend = {}
    if transfer is not None:
        backend = {"transfer": transfer, "backend": transfer.prepare(model.vertices(c_src), b_src),
                   "backend_driver": b_drv, "backend_reference": b_src}
    return reenact_face(model, c_src, c_drv, c_src, paired, options,
                        AnimateConfig.reference_expression, **backend)


def render_sample(src_rec: dict, i: int, drv_rec: dict, j: int, paired: bool, size: int,
                  family: str, plate: str = "telea", transfer=None, render_size: int = 0
                  ) -> dict[str, torch.Tensor]:
    """One training sample (batch dimension 1): the model family's inputs for source frame i
    re-enacted with driving frame j, the driving frame as ``target``, the analytic warp's
    ``prior`` / ``prior_flow``, and ``paired``.

    ``render_size`` > ``size``: the scene and the warp are rendered at that size and the images
    shrunk to ``size`` by area averaging, exactly as the refiners shrink `reenact animate`'s crop.

    The mixing is the pipeline's (``sample_mix``). Same video (``paired``): relative motion with
    the source as reference, which gives the driver's own fitted face up to the pipeline's
    adjustments (mean 0.01 px, at most 0.6 px at 64 px on the sample cache; the crop box is
    fixed per video), so the target is ground truth. Another identity: absolute expression
    transfer onto the source's pose position, as for an image driver in ``reenact animate``.
    ``transfer`` (a ``CoefficientTransfer``): the same, in the FLAME / BFM coefficients the
    cache stores."""
    model = _model()
    out_size, size = size, max(size, render_size)
    k = size / src_rec["frames"].shape[1]
    image = _resize(src_rec["frames"][i], size)
    person = _resize(src_rec["person"][i], size).astype(np.float32) / 255.0
    c_src = _coefficients(src_rec, i, k)
    c_drv = _coefficients(drv_rec, j, size / drv_rec["frames"].shape[1])
    scene = build_scene(image_to_tensor(image).double(), c_src, model, person, plate=plate)
    b_src = b_drv = None
    if transfer is not None:
        b_src = _coefficients(src_rec, i, k, "backend_")
        b_drv = _coefficients(drv_rec, j, size / drv_rec["frames"].shape[1], "backend_")
    mixed = sample_mix(model, c_src, c_drv, paired, transfer, b_src, b_drv)
    coeffs, meshes = mixed.coeffs, mixed.meshes
    warp = analytic_warp(scene, model, coeffs)
    if transfer is not None:
        warp = dataclasses.replace(warp, model_meshes=meshes)
    if family == "dcggan":
        sample = dcggan_inputs(scene, warp)
        # what I_r is meant to show, for L_geo's target (the trainer reads it with its E_3D)
        sample["reenacted_pose"] = matrix_to_euler(coeffs.rotation).float()  # (1, 3)
        sample["reenacted_head"] = model.head_vertices(coeffs.identity,
                                                       coeffs.expression).float()  # (1, V, 3)
    else:
        sample = meshgcn_inputs(scene, warp)
    sample = shrink(sample, out_size)  # as the refiners shrink animate's crop
    sample.update(prior_inputs(warp, out_size))
    sample["target"] = image_to_tensor(_resize(drv_rec["frames"][j], out_size))
    sample["paired"] = torch.tensor([paired])
    sample["target_landmarks"] = torch.from_numpy(
        drv_rec["landmarks"][j].astype(np.float32) * (out_size / drv_rec["frames"].shape[1])
    )[None]
    return sample


def collate(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.cat([s[k] for s in samples]) for k in samples[0]}


class TrainBatches(torch.utils.data.Dataset):
    """Item k = this rank's slice of global batch k (see the module docstring)."""

    def __init__(self, cfg: DataConfig, family: str, seed: int, rank: int = 0, world: int = 1):
        if cfg.batch_size % world:
            raise ValueError(f"data.batch_size {cfg.batch_size} must divide among {world} "
                             f"processes")
        self.cfg, self.family, self.seed, self.rank, self.world = cfg, family, seed, rank, world
        self.store = VideoStore(cfg.cache, cfg.videos)
        self.split = make_split(self.store, cfg)
        if not self.split.train:
            raise ValueError(f"{cfg.cache}: no training videos after the split")
        self.drivers = VideoStore(cfg.driving_cache) if cfg.driving_cache else None
        for store in (self.store, self.drivers):
            if store is not None:
                check_face_model(store.cache, cfg.face_model)
                store.check_render_size(cfg.render_size)
        self.identity_of = {v: self.store.identity(v) for v in self.store.entries}

    @property
    def transfer(self):
        """The FLAME / BFM transfer (None for the landmark mesh), loaded once per process."""
        from reenact.face.backends import cached_transfer

        return cached_transfer(self.cfg.face_model, self.cfg.face_model_path)

    def __len__(self) -> int:
        return 2**31 - 1  # indexed by step; the loop decides how many

    def pair(self, step: int, position: int) -> tuple[Pair, VideoStore]:
        rng = random.Random(f"{self.seed}:{step}:{position}")
        videos = self.split.train
        if self.cfg.pairing == "same_video":
            return same_video_pair(videos, rng), self.store
        p = self.cfg.schedule(step)
        if self.drivers is not None:  # cross-dataset: unpaired drivers from the driving cache
            if rng.random() < p:
                return same_video_pair(videos, rng), self.store
            src = same_video_pair(videos, rng).source
            drv = rng.choice(sorted(self.drivers.entries))
            frame = rng.randrange(self.drivers.frame_count(drv))
            return Pair(src, (drv, frame), False), self.drivers
        return sample_pair(videos, self.identity_of, p, rng), self.store

    def __getitem__(self, step: int) -> dict[str, torch.Tensor]:
        per = self.cfg.batch_size // self.world
        samples = []
        for position in range(self.rank * per, (self.rank + 1) * per):
            pair, drivers = self.pair(step, position)
            (sv, si), (dv, dj) = pair.source, pair.driving
            flip = self.cfg.flip > 0 and \
                random.Random(f"{self.seed}:{step}:{position}:flip").random() < self.cfg.flip
            sample = render_sample(self.store.record(sv, flip), si, drivers.record(dv, flip), dj,
                                   pair.paired, self.cfg.size, self.family, self.cfg.plate,
                                   self.transfer, self.cfg.render_size)
            # The WGAN-GP interpolation weight, drawn per sample so DDP matches one process.
            sample["gp_eps"] = torch.tensor(
                [random.Random(f"{self.seed}:{step}:{position}:gp").random()])
            samples.append(sample)
        return collate(samples)


def validation_pairs(store: VideoStore, held_out: dict[str, list[int]], count: int
                     ) -> list[Pair]:
    """Self-reenactment pairs on held-out frames (``Split.test`` or ``Split.validation()``):
    source = a video's first frame, driving = its held-out frames (frames split), or another
    frame of a held-out identity's video (identity split); spread evenly, ``count`` in all."""
    pairs = []
    for v, frames in sorted(held_out.items()):
        first = 0
        drivers = [f for f in frames if f != first] or frames
        pairs.extend(Pair((v, first), (v, f), True) for f in drivers)
    if len(pairs) > count:
        pick = np.linspace(0, len(pairs) - 1, count).round().astype(int)
        pairs = [pairs[i] for i in pick]
    return pairs
