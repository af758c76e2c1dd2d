"""Validation on held-out self-reenactment pairs: the learned model (its EMA) against the analytic
warp it refines, on face-region PSNR, SSIM, landmark error (AKD), pose error and identity distance,
and the face's sharpness relative to the driving frame's.

Outputs are small (the training size), so the re-tracking metrics upsample them to 256 px first.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from reenact.data.dataset import VideoStore, collate, render_sample
from reenact.data.sampling import Pair
from reenact.eval.sharpness import sharpness
from reenact.io import tensor_to_image
from reenact.metrics.face_mask import face_mask
from reenact.metrics.landmark_error import landmark_error, landmark_groups
from reenact.metrics.psnr import psnr
from reenact.metrics.ssim import ssim

TRACK_SIZE = 256


@dataclass
class Validator:
    """Renders the held-out pairs once; ``__call__(generate)`` scores a model's outputs."""

    store: VideoStore
    pairs: list[Pair]
    size: int
    family: str
    transfer: object = None  # a FLAME / BFM CoefficientTransfer (data.face_model)
    render_size: int | None = None  # render the pairs at this size and shrink them (None: at
    #   the cache's crop size, as `reenact animate` renders its crop and shrinks it for a
    #   refiner; so validation scores what a user gets, whatever data.render_size trains on)

    def __post_init__(self) -> None:
        if self.render_size is None:
            self.render_size = self.store.crop_size
        if self.render_size and self.render_size < self.size:
            raise ValueError(f"the render size must be 0 or at least the training size "
                             f"({self.size}), got {self.render_size}")
        self.store.check_render_size(self.render_size)
        samples = [render_sample(self.store.record(p.source[0]), p.source[1],
                                 self.store.record(p.driving[0]), p.driving[1], True, self.size,
                                 self.family, plate="shiftmap", transfer=self.transfer,
                                 render_size=self.render_size)
                   for p in self.pairs]
        self.batch = collate(samples) if samples else {}
        self._tracked: dict[int, dict] = {}
        self._observer = None  # tracker and identity embedding, made on first use
        self.baseline = self.score(self.batch["prior"]) if samples else {}

    def track(self, image: torch.Tensor):
        """(landmarks in training pixels, dlib embedding, (pitch, yaw, roll) degrees), each None
        when not measured, of one (3, s, s), upsampled to 256 px for the trackers."""
        if self._observer is None:
            from reenact.eval.observe import Observer, default_embedder

            self._observer = Observer(default_embedder("dlib"), dlib=None)  # cheap: no dlib points
        up = cv2.resize(tensor_to_image(image),
                        (TRACK_SIZE, TRACK_SIZE), interpolation=cv2.INTER_CUBIC)
        seen = self._observer(up)
        points = None if seen.points is None else seen.points * (self.size / TRACK_SIZE)
        return points, seen.embedding, seen.pose

    def per_pair(self, images: torch.Tensor) -> dict[str, np.ndarray]:
        """Each metric per pair of (N, 3, s, s) outputs against the pairs' driving frames: (N,)
        arrays, NaN where a face was not found (re-tracking metrics) or dlib is missing."""
        target = self.batch["target"]
        n = images.shape[0]
        groups = landmark_groups()  # AKD by region too: where the error sits
        names = ["psnr_face", "ssim", "sharpness", "akd", *(f"akd_{g}" for g in groups),
                 "pose_error_deg", "identity_distance"]
        rows = {k: np.full(n, np.nan) for k in names}
        rows["ssim"][:] = [float(ssim(images[i:i + 1].clamp(0, 1).float(),
                                      target[i:i + 1].float())) for i in range(n)]
        for i in range(n):
            gt_pts = self.batch["target_landmarks"][i].numpy()
            mask = face_mask(gt_pts.astype(np.float64), (self.size, self.size))
            out, gt_image = tensor_to_image(images[i]), tensor_to_image(target[i])
            rows["psnr_face"][i] = psnr(out, gt_image, mask)
            gt_sharpness = sharpness(gt_image, mask)
            if gt_sharpness > 0:  # 1: as sharp as the driving frame
                rows["sharpness"][i] = sharpness(out, mask) / gt_sharpness
            if i not in self._tracked:  # the driving frames are tracked once per run
                points, embedding, euler = self.track(target[i])
                self._tracked[i] = {"points": points, "embedding": embedding, "euler": euler}
            gt = self._tracked[i]
            points, embedding, euler = self.track(images[i])
            if points is not None and gt["points"] is not None:
                rows["akd"][i] = landmark_error(points[:468], gt["points"][:468])
                for g, subset in groups.items():
                    rows[f"akd_{g}"][i] = landmark_error(points, gt["points"], subset)
                rows["pose_error_deg"][i] = np.abs(euler - gt["euler"]).mean()
            if embedding is not None and gt["embedding"] is not None:
                rows["identity_distance"][i] = float(np.linalg.norm(embedding - gt["embedding"]))
        rows["face_found"] = np.isfinite(rows["akd"]).astype(np.float64)
        return rows

    def score(self, images: torch.Tensor) -> dict[str, float]:
        """Mean metrics of (N, 3, s, s) outputs (over the pairs where each could be measured)."""
        return mean_scores(self.per_pair(images))

    @torch.no_grad()
    def __call__(self, generate) -> dict[str, float]:
        """``generate(batch) -> (N, 3, s, s)`` images; returns the model's mean scores (the
        images stay in ``last_images``)."""
        self.last_images = generate(self.batch).float().cpu().clamp(0, 1)
        return self.score(self.last_images)

    def close(self) -> None:
        if self._observer is not None:
            self._observer.close()


def mean_scores(rows: dict[str, np.ndarray]) -> dict[str, float]:
    """Per-pair metrics -> means (``faces_found``: the share of outputs with a face)."""
    out = {k: float(np.nanmean(v)) for k, v in rows.items()
           if k != "face_found" and np.isfinite(v).any()}
    out["faces_found"] = float(rows["face_found"].mean())
    return out


def load_run(checkpoint: str, split: str, pairs: int | None = None,
             render_size: int | None = None):
    """A ``reenact train`` checkpoint ready to score: (setup, trainer with its EMA generator
    loaded, in eval mode, on the CPU, a Validator of up to ``pairs`` (default: the run's
    ``data.val_pairs``) pairs of the run's ``split``, "test" or "val"; the pairs rendered at
    ``render_size``, default the cache's crop size: see ``Validator``). Close the validator when
    done."""
    from reenact.config import from_dict
    from reenact.data.dataset import make_split, validation_pairs
    from reenact.face.backends import cached_transfer
    from reenact.io.checkpoint import load_checkpoint
    from reenact.train.setup import TrainSetup, build_trainer

    state = load_checkpoint(checkpoint)
    setup = from_dict(TrainSetup, state["config"])
    if split == "val" and setup.data.val_fraction <= 0:
        raise ValueError(f"{checkpoint}: its run has no validation split (data.val_fraction); "
                         f"using the test frames instead would tune on what is measured")
    trainer = build_trainer(setup, "cpu")
    trainer.model.load_state_dict(state["model"])
    trainer.model.eval()
    store = VideoStore(setup.data.cache, setup.data.videos)
    chosen = validation_pairs(store, getattr(make_split(store, setup.data), split),
                              setup.data.val_pairs if pairs is None else pairs)
    validator = Validator(store, chosen, setup.data.size, setup.family,
                          cached_transfer(setup.data.face_model, setup.data.face_model_path),
                          render_size)
    return setup, trainer, validator


def evaluate_checkpoint(checkpoint: str, pairs: int = 10_000, gain: float | None = None,
                        render_size: int | None = None
                        ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-pair metrics (model, analytic warp) of a ``reenact train`` checkpoint on its run's
    held-out pairs (all of them, up to ``pairs``): its EMA generator against the warp it
    refines, at the training size. ``gain``: score with this share of the model's correction
    of the warp instead of the checkpoint's (``reenact.train.calibrate``). ``render_size``:
    render the pairs at this size and shrink them (default: the cache's crop size, as
    ``reenact animate`` hands its crop to a refiner; 0: at the training size)."""
    _, trainer, validator = load_run(checkpoint, "test", pairs, render_size)
    try:
        if gain is not None:
            if getattr(trainer.model, "fusion", None) is None:
                raise ValueError(f"{checkpoint}: --gain needs a model trained with "
                                 f"trainer.model.use_prior")
            trainer.model.fusion.gain.fill_(gain)
        with torch.no_grad():
            images = generated_image(trainer, validator.batch, trainer.model)
        return validator.per_pair(images), validator.per_pair(validator.batch["prior"])
    finally:
        validator.close()


def generated_image(trainer, batch: dict, module) -> torch.Tensor:
    """(B, 3, H, W) in [0, 1], on the CPU: ``module`` (a trainer's raw or EMA generator) on a
    batch, whichever family (DCG-GAN returns an output record, the mesh GCN a tuple)."""
    out = trainer.generate({k: v.to(trainer.device) for k, v in batch.items()}, module)
    return (out.image if hasattr(out, "image") else out[0]).float().clamp(0, 1).cpu()


def report(model: dict[str, np.ndarray], warp: dict[str, np.ndarray]) -> str:
    """A markdown table: per metric the model's and the warp's means, their paired difference
    with its standard error, and the share of pairs where the model is better (for sharpness:
    closer to the driving frame's, 1)."""
    higher_is_better = {"psnr_face", "ssim", "face_found"}
    n = len(model["psnr_face"])
    lines = [f"{n} held-out pairs", "",
             "| metric | model (EMA) | analytic warp | model - warp (+- s.e.) | model better |",
             "|---|---|---|---|---|"]
    for k, ours in model.items():
        both = np.isfinite(ours) & np.isfinite(warp[k])
        if not both.any():
            continue
        d = ours[both] - warp[k][both]
        se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        if k == "sharpness":
            better = np.abs(ours[both] - 1) < np.abs(warp[k][both] - 1)
        else:
            better = (d > 0) if k in higher_is_better else (d < 0)
        lines.append(f"| {k} | {ours[both].mean():.4f} | {warp[k][both].mean():.4f} | "
                     f"{d.mean():+.4f} +- {se:.4f} | {better.mean():.0%} |")
    return "\n".join(lines)
