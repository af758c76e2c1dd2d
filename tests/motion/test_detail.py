"""The driver's expression folds carried onto the photo as a ratio image (issue 21, item 4;
``--detail``): a fold that appears in the driving frame darkens the same point of the photo's
skin, and nothing else changes."""

import cv2
import numpy as np
import torch

from reenact.config import AnimateConfig
from reenact.motion.completion import texel_layout
from reenact.motion.detail import TEXELS, ExpressionDetail, _layout
from reenact.motion.paste import paste_back
from reenact.pipeline import Reenactor
from reenact.tracking.mediapipe_tracker import FaceTracker

FOREHEAD = 151  # a mediapipe vertex in the middle of the forehead, clear of brows and hairline


def _with_fold(image: np.ndarray, at: np.ndarray, colour: int) -> np.ndarray:
    """The image with a short horizontal line (a fold) of ``colour`` through ``at``."""
    out = image.copy()
    x, y = (int(v) for v in at[:2])
    cv2.line(out, (x - 14, y), (x + 14, y), (colour,) * 3, 2)
    return out


def test_a_fold_in_the_driver_darkens_the_same_skin_texels(samples):
    photo = samples["astronaut"]
    with FaceTracker(static=True) as t:
        points = t.detect(photo)[0].points
    detail = ExpressionDetail(photo, points)
    assert np.abs(detail(photo, points)).max() == 0  # nothing changed, nothing drawn
    detail = ExpressionDetail(photo, points)
    ratio = detail(_with_fold(photo, points[FOREHEAD], 20), points)
    uv = texel_layout(Reenactor().model, TEXELS)[FOREHEAD, :2].numpy()
    i, j = int(uv[1]), int(uv[0])
    assert ratio[i - 2:i + 3, j - 2:j + 3].min() < -0.15  # darker at the fold
    rows, cols = np.nonzero(ratio)  # and nowhere else: a band round the line
    assert np.abs(rows - i).max() < 15 and np.abs(cols - j).max() < 60
    assert (ratio <= 0).all()  # folds only darken
    detail = ExpressionDetail(photo, points)  # a bright ridge is not drawn (its halo may be)
    ridge = detail(_with_fold(photo, points[FOREHEAD], 255), points)
    assert ridge[i - 1:i + 2, j - 2:j + 3].min() > -0.03 and ridge.min() > ratio.min() / 2
    assert _layout()[2][i, j] > 0.9  # the forehead takes folds; the eyes do not
    eye = texel_layout(Reenactor().model, TEXELS)[159, :2].numpy()
    assert _layout()[2][int(eye[1]), int(eye[0])] == 0


def test_detail_darkens_the_reenacted_forehead_only_when_asked(samples):
    """Driven by the photo itself with a fold drawn on the second frame: --detail darkens the
    output's forehead there, in the crop and pasted into the photo; without it, and off the face,
    the output is the same."""
    photo = samples["astronaut"]
    with FaceTracker(static=True) as t:
        points = t.detect(photo)[0].points
    frames = [photo, _with_fold(photo, points[FOREHEAD], 20)]
    out = {}
    for on in (False, True):
        r = Reenactor(AnimateConfig(crop_only=True, detail=on, smooth=False))
        src = r.prepare_source(photo)
        warps = list(r.drive(src, frames, 25.0, True, photo, "folds"))
        out[on] = (src, warps[-1])
    src, plain = out[False]
    _, folded = out[True]
    assert plain.shading is None and folded.shading is not None
    x, y = (int(v) for v in src.landmarks[FOREHEAD, :2])
    diff = (folded.image - plain.image)[0].mean(0)  # (S, S)
    assert diff[y - 3:y + 4, x - 8:x + 9].min() < -0.05
    assert diff[~folded.face_mask[0]].abs().max() == 0
    pasted = [paste_back(src.frame, src.box, w) for w in (plain, folded)]
    assert (pasted[1].astype(int) - pasted[0].astype(int)).min() < -10
    # a refiner's crop replaces the warp's image: no second shading when pasted
    from reenact.pipeline import refined

    again = refined(folded, folded.image)
    assert again.shading is None
    assert torch.equal(again.image, folded.image.clamp(0, 1).to(again.image.dtype))
