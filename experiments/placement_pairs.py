"""How often a stranger's clip is framed like the photo (docs/expressions.md): for every photo and
clip of both identity-disjoint halves of ``cross_expression.py``, whether the auto reference takes
the photo's place (``reenact.face.reference.placement_weight``), and with what weight.

    python experiments/placement_pairs.py
"""

import itertools
from pathlib import Path

from reenact.config import AnimateConfig
from reenact.io import iter_video_frames, read_image
from reenact.pipeline import Reenactor

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
PHOTOS = ("faces/s42.jpg", "corpus/portraits/hallo/7.jpg", "corpus/portraits/deepface/img11.jpg",
          "corpus/portraits/DECA/image02246.jpg", "faces/s1.jpg",
          "corpus/portraits/3DDFA_V2/JianzhuGuo.jpg", "corpus/portraits/Deep3DFaceRecon/000006.jpg",
          "corpus/portraits/DECA/2.jpg", "corpus/portraits/deepface/img61.jpg",
          "corpus/portraits/hallo/3.jpg")
CLIPS = tuple(f"dreamtalk/{p}_front_{e}_level3_001.mp4" for p, e in (
    ("W011", "happy"), ("W011", "surprised"), ("W011", "angry"), ("W011", "sad"),
    ("W009", "happy"), ("W009", "surprised"), ("W009", "angry"), ("W009", "fear"),
    ("M030", "disgusted"), ("M030", "sad"))) + tuple(f"styletalk/{c}.mp4" for c in (
        "happyenglish_clip2", "furious_talk1_clip2", "surprisegirl_clip2", "furious_talk2_clip6",
        "sadfather_clip1", "vscodehappy_clip1"))


def main() -> None:
    r = Reenactor(AnimateConfig(crop_only=True))
    sources = [r.prepare_source(read_image(DATA / p), p) for p in PHOTOS]
    taken = []
    for v in CLIPS:
        clip = list(itertools.islice(iter_video_frames(DATA / "corpus" / "videos" / v), 100))
        for s in sources:
            r.open_driving(s, clip)
            if r._placement is not None:
                taken.append((s.name, v, round(r._placement[1], 2)))
                print(*taken[-1], flush=True)
    print(f"{len(PHOTOS) * len(CLIPS)} pairs; the photo's place taken on {len(taken)}")


if __name__ == "__main__":
    main()
