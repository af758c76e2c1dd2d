"""Choosing (source, driving) pairs.

- DCG-GAN's hybrid scheme: with probability p a paired sample (source and driving from the same
  video, so the driving frame is ground truth and L_pix applies), otherwise an unpaired one (the
  driver from another identity); p is scheduled down from 0.8 over training.
- The mesh paper's self-supervision: always two frames of the same video.
"""

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class PairSchedule:
    """p(step): ``start`` at step 0, linearly to ``end`` at ``steps``, constant afterwards."""

    start: float = 0.8
    end: float = 0.2
    steps: int = 100_000

    def __call__(self, step: int) -> float:
        if step >= self.steps:
            return self.end
        return self.start + (self.end - self.start) * step / self.steps


@dataclass(frozen=True)
class Pair:
    source: tuple[str, int]  # (video id, frame index)
    driving: tuple[str, int]
    paired: bool  # same video: the driving frame is the ground truth


def sample_pair(videos: dict[str, list[int]], identity_of: dict[str, str], p_paired: float,
                rng: random.Random) -> Pair:
    """One (source, driving) pair. ``videos``: video id -> available frame indices;
    ``identity_of``: video id -> identity. Unpaired drivers come from another identity."""
    names = sorted(videos)
    video = rng.choice(names)
    source = (video, rng.choice(videos[video]))
    others = [v for v in names if identity_of[v] != identity_of[video]]
    if rng.random() < p_paired or not others:
        frames = [f for f in videos[video] if f != source[1]] or videos[video]
        return Pair(source, (video, rng.choice(frames)), True)
    other = rng.choice(others)
    return Pair(source, (other, rng.choice(videos[other])), False)


def same_video_pair(videos: dict[str, list[int]], rng: random.Random) -> Pair:
    """The mesh paper's self-supervised pair: two different frames of one video."""
    video = rng.choice(sorted(videos))
    a, b = rng.sample(videos[video], 2) if len(videos[video]) > 1 else (videos[video][0],) * 2
    return Pair((video, a), (video, b), True)
