"""Validation on held-out self-reenactment pairs: the learned model (its EMA) against the analytic
warp it refines, on face-region PSNR, SSIM, landmark error (AKD), pose error and identity distance.

Outputs are small (the training size), so the re-tracking metrics upsample them to 256 px first.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from reenact.data.dataset import VideoStore, collate, render_sample
from reenact.data.sampling import Pair
from reenact.eval.landmark_error import landmark_error
from reenact.eval.psnr import psnr
from reenact.eval.self_reenactment import face_mask
from reenact.face.landmark_model import LandmarkFaceModel
from reenact.geometry import matrix_to_euler
from reenact.losses.meshgcn import ssim

TRACK_SIZE = 256


@dataclass
class Validator:
    """Renders the held-out pairs once; ``__call__(generate)`` scores a model's outputs."""

    store: VideoStore
    pairs: list[Pair]
    size: int
    family: str

    def __post_init__(self) -> None:
        samples = [render_sample(self.store.record(p.source[0]), p.source[1],
                                 self.store.record(p.driving[0]), p.driving[1], True, self.size,
                                 self.family, plate=True) for p in self.pairs]
        self.batch = collate(samples) if samples else {}
        self._tracked: dict[int, dict] = {}
        self._model = LandmarkFaceModel()
        self._tracker = None
        self._identity = None
        self.baseline = self.score(self.batch["prior"]) if samples else {}

    def _track(self, image: torch.Tensor) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(landmarks in training pixels or None, dlib embedding or None) of one (3, s, s)."""
        from reenact.tracking.mediapipe_tracker import FaceTracker

        if self._tracker is None:
            self._tracker = FaceTracker(static=True)
        up = cv2.resize((image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8),
                        (TRACK_SIZE, TRACK_SIZE), interpolation=cv2.INTER_CUBIC)
        faces = self._tracker.detect(up)
        points = faces[0].points * (self.size / TRACK_SIZE) if faces else None
        embedding = None
        if self._identity is not False:
            try:
                if self._identity is None:
                    from reenact.eval.identity import DlibIdentity

                    self._identity = DlibIdentity()
                embedding = self._identity.embed(up)
            except (ImportError, FileNotFoundError, RuntimeError):
                self._identity = False  # dlib not installed: identity distance not reported
        return points, embedding

    def _euler_deg(self, points: np.ndarray) -> np.ndarray:
        c = self._model.fit(torch.from_numpy(points.astype(np.float64))[None])
        return np.degrees(matrix_to_euler(c.rotation)[0].numpy())

    def score(self, images: torch.Tensor) -> dict[str, float]:
        """Mean metrics of (N, 3, s, s) outputs against the pairs' driving frames."""
        target = self.batch["target"]
        psnrs, akd, pose, ident = [], [], [], []
        for i in range(images.shape[0]):
            gt_pts = self.batch["target_landmarks"][i].numpy()
            mask = face_mask(gt_pts.astype(np.float64), (self.size, self.size))
            out_u8 = (images[i].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
            gt_u8 = (target[i].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
            psnrs.append(psnr(out_u8, gt_u8, mask))
            if i not in self._tracked:
                self._tracked[i] = dict(zip(("points", "embedding"), self._track(target[i]),
                                            strict=True))
            gt = self._tracked[i]
            points, embedding = self._track(images[i])
            if points is not None and gt["points"] is not None:
                akd.append(landmark_error(points[:468], gt["points"][:468]))
                pose.append(np.abs(self._euler_deg(points) - self._euler_deg(gt["points"])).mean())
            if embedding is not None and gt["embedding"] is not None:
                ident.append(float(np.linalg.norm(embedding - gt["embedding"])))
        scores = {"psnr_face": float(np.mean(psnrs)),
                  "ssim": float(ssim(images.clamp(0, 1).float(), target.float())),
                  "faces_found": len(akd) / max(len(psnrs), 1)}
        if akd:
            scores.update(akd=float(np.mean(akd)), pose_error_deg=float(np.mean(pose)))
        if ident:
            scores["identity_distance"] = float(np.mean(ident))
        return scores

    @torch.no_grad()
    def __call__(self, generate) -> dict[str, float]:
        """``generate(batch) -> (N, 3, s, s)`` images; returns the model's scores (the images
        stay in ``last_images``)."""
        self.last_images = generate(self.batch).float().cpu().clamp(0, 1)
        return self.score(self.last_images)

    def close(self) -> None:
        if self._tracker is not None:
            self._tracker.close()


def evaluate_checkpoint(checkpoint: str, pairs: int = 10_000, progress: bool = True
                        ) -> tuple[dict[str, float], dict[str, float], int]:
    """(model scores, analytic-warp scores, number of pairs) of a ``reenact train`` checkpoint on
    its run's held-out pairs (all of them, up to ``pairs``): its EMA generator against the warp
    it refines, at the training size."""
    from reenact.config import from_dict
    from reenact.data.dataset import make_split, validation_pairs
    from reenact.train.checkpoint import load_checkpoint
    from reenact.train.loop import TrainSetup, build_trainer

    state = load_checkpoint(checkpoint)
    setup = from_dict(TrainSetup, state["config"])
    trainer = build_trainer(setup, "cpu")
    trainer.model.load_state_dict(state["model"])
    trainer.model.eval()
    store = VideoStore(setup.data.cache, setup.data.videos)
    chosen = validation_pairs(store, make_split(store, setup.data), pairs)
    validator = Validator(store, chosen, setup.data.size, setup.family)
    try:
        scores = validator(lambda b: _generate(trainer, b))
    finally:
        validator.close()
    return scores, validator.baseline, len(chosen)


def _generate(trainer, batch: dict) -> torch.Tensor:
    out = trainer.generate(batch, trainer.model)
    return out.image if hasattr(out, "image") else out[0]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m reenact.train.validate",
        description="Score a reenact train checkpoint against the analytic warp on its run's "
                    "held-out self-reenactment pairs.")
    parser.add_argument("checkpoint")
    parser.add_argument("--pairs", type=int, default=10_000, help="at most this many pairs")
    args = parser.parse_args(argv)
    model, warp, n = evaluate_checkpoint(args.checkpoint, args.pairs)
    print(f"{n} held-out pairs | model (EMA) | analytic warp")
    for k in model:
        print(f"{k} | {model[k]:.4f} | {warp.get(k, float('nan')):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
