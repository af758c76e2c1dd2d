"""Training E_3D on face crops labelled by the front end (tracked, fitted, cropped as the pipeline
does), from a folder of videos or from the training frames of a ``reenact preprocess`` cache:

    python -m reenact.train.e3d --videos ../shared/data/driving -o e3d.pt
    python -m reenact.train.e3d --cache cache/shared --split-like configs/dcggan/tiny.yaml -o e3d.pt

With ``--split-like``, only the frames that run config trains on are used, so E_3D never sees the
run's held-out frames."""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from reenact.face import LandmarkFaceModel
from reenact.geometry import matrix_to_euler
from reenact.io import image_to_tensor, iter_video_frames
from reenact.io.checkpoint import save_checkpoint
from reenact.models.e3d import CoefficientRegressor, E3DConfig
from reenact.tracking.crop import crop_image, face_crop_box
from reenact.tracking.mediapipe_tracker import FaceTracker


@dataclass
class Samples:
    images: torch.Tensor  # (N, 3, S, S) in [0, 1]
    pose: torch.Tensor  # (N, 3) radians
    heads: torch.Tensor  # (N, V, 3) head-frame shapes
    video: torch.Tensor  # (N,) video index
    frame: torch.Tensor  # (N,) frame index within its video


def collect(videos: list[Path], size: int, every: int = 1, max_frames: int | None = None
            ) -> Samples:
    """Track every ``every``-th frame of each video; crop at ``size`` and fit the landmark mesh."""
    model = LandmarkFaceModel()
    images, poses, heads, vids, frames = [], [], [], [], []
    for v, path in enumerate(videos):
        with FaceTracker(static=False) as tracker:
            for i, frame in enumerate(iter_video_frames(path)):
                if max_frames is not None and i >= max_frames:
                    break
                faces = tracker.detect(frame)  # every frame, so tracking mode stays on the face
                if i % every or not faces:
                    continue
                box = face_crop_box(faces[0].points)
                crop = crop_image(frame, box, size)
                c = model.fit(torch.from_numpy(box.to_crop(faces[0].points, size))[None])
                images.append(image_to_tensor(crop)[0])
                poses.append(matrix_to_euler(c.rotation)[0])
                heads.append(model.head_vertices(c.identity, c.expression)[0])
                vids.append(v)
                frames.append(i)
    return Samples(torch.stack(images), torch.stack(poses).float(), torch.stack(heads).float(),
                   torch.tensor(vids), torch.tensor(frames))


def collect_from_cache(cache: str, size: int, frames: dict[str, list[int]] | None = None
                       ) -> Samples:
    """Samples from a preprocessed cache: its crops resized to ``size``, poses and head shapes from
    its stored coefficients; ``frames`` (video id -> positions in its record) limits them, e.g.
    to a run's training split (default: every frame of every video)."""
    import cv2

    from reenact.data.shards import load_video, read_index

    entries = {e["id"]: e for e in read_index(cache)}
    frames = frames or {v: list(range(e["frames"])) for v, e in entries.items()}
    model = LandmarkFaceModel()
    images, poses, heads, vids, index = [], [], [], [], []
    for v, video in enumerate(sorted(frames)):
        rec = load_video(cache, entries[video])
        keep = np.asarray(frames[video], dtype=np.int64)
        for i in keep:
            crop = cv2.resize(rec["frames"][i], (size, size), interpolation=cv2.INTER_AREA)
            images.append(image_to_tensor(crop)[0])
        rotation = torch.from_numpy(rec["rotation"][keep].astype(np.float64))
        identity = torch.from_numpy(rec["identity"][keep].astype(np.float64))
        expression = torch.from_numpy(rec["expression"][keep].astype(np.float64))
        poses.append(matrix_to_euler(rotation).float())
        heads.append(model.head_vertices(identity, expression).float())
        vids.append(torch.full((len(keep),), v))
        index.append(torch.from_numpy(rec["frame_index"][keep]))
    if not images:
        raise ValueError(f"{cache}: no frames to train E_3D on")
    return Samples(torch.stack(images), torch.cat(poses), torch.cat(heads), torch.cat(vids),
                   torch.cat(index))


def _video_means(s: Samples) -> torch.Tensor:
    """(N, V, 3): each sample's video-mean head shape (its subject's identity shape)."""
    means = {int(v): s.heads[s.video == v].mean(0) for v in s.video.unique()}
    return torch.stack([means[int(v)] for v in s.video])


def fit_basis(net: CoefficientRegressor, s: Samples) -> None:
    """Expression basis: principal components of head shapes centred per video (so a video's
    identity cancels). Identity basis: principal components of the per-video mean shapes (as many
    as there are subjects minus one; the rest stay zero). Scales: the components' deviations."""
    flat = s.heads.reshape(len(s.heads), -1).double()
    centred = torch.cat([flat[s.video == v] - flat[s.video == v].mean(0)
                         for v in s.video.unique()])
    _, sv, vh = torch.linalg.svd(centred, full_matrices=False)
    K, J = net.cfg.expression_dim, net.cfg.identity_dim
    net.mean_shape.copy_(flat.mean(0).float())
    net.basis.copy_(vh[:K].float())
    net.code_scale.copy_((sv[:K] / np.sqrt(len(centred))).float().clamp(min=1e-4))
    subjects = torch.stack([flat[s.video == v].mean(0) for v in s.video.unique()])
    subjects = subjects - subjects.mean(0)
    _, sv_id, vh_id = torch.linalg.svd(subjects, full_matrices=False)
    j = min(J, max(len(subjects) - 1, 0))
    net.id_basis.zero_()
    net.id_basis[:j].copy_(vh_id[:j].float())
    net.id_scale.fill_(1.0)
    net.id_scale[:j].copy_((sv_id[:j] / np.sqrt(len(subjects))).float().clamp(min=1e-4))


def targets(net: CoefficientRegressor, s: Samples) -> torch.Tensor:
    """(N, 3 + K + J): pose, the frame's expression code, its subject's identity code."""
    return torch.cat([s.pose, net.expression_code(s.heads), net.identity_code(_video_means(s))], 1)


def train(net: CoefficientRegressor, s: Samples, epochs: int, lr: float = 2e-3,
          batch: int = 32, seed: int = 0) -> list[float]:
    """Adam on the normalised squared error; returns the loss per epoch."""
    g = torch.Generator().manual_seed(seed)
    y = targets(net, s)
    scale = net.scales
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history = []
    net.train()
    for _ in tqdm(range(epochs), desc="E_3D", disable=None, file=sys.stderr):
        order = torch.randperm(len(y), generator=g)
        total = 0.0
        for k in range(0, len(y), batch):
            idx = order[k:k + batch]
            loss = (((net(s.images[idx]) - y[idx]) / scale) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        history.append(total / len(y))
    net.eval()
    return history


def _training_frames(cache: str, config: Path) -> dict[str, list[int]]:
    """The frames a ``reenact train`` config trains on (its data section's videos and split)."""
    from dataclasses import replace

    from reenact.data.dataset import VideoStore, make_split
    from reenact.train.setup import load_setup

    data = replace(load_setup(config).data, cache=cache)
    return make_split(VideoStore(cache, data.videos), data).train


def main() -> None:
    p = argparse.ArgumentParser(description="Train E_3D on tracked video frames.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--videos", type=Path, help="a folder of mp4s (tracked here)")
    source.add_argument("--cache", help="a folder written by `reenact preprocess`")
    p.add_argument("--split-like", type=Path, metavar="CONFIG",
                   help="with --cache: only the frames this train config trains on")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--every", type=int, default=2, help="with --videos: every n-th frame")
    args = p.parse_args()
    cfg = E3DConfig()
    if args.cache:
        frames = _training_frames(args.cache, args.split_like) if args.split_like else None
        s = collect_from_cache(args.cache, cfg.size, frames)
    else:
        videos = sorted(args.videos.glob("*.mp4"))
        if not videos:
            sys.exit(f"reenact: error: {args.videos}: no .mp4 files")
        s = collect(videos, cfg.size, args.every)
    net = CoefficientRegressor(cfg)
    fit_basis(net, s)
    history = train(net, s, args.epochs)
    save_checkpoint(args.out, cfg, model=net, loss=history[-1])
    print(f"wrote {args.out}: {len(s.images)} crops, final loss {history[-1]:.4f}")


if __name__ == "__main__":
    main()
