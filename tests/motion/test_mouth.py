"""The driver's own mouth interior (issue 21): laid out between its inner lips, matched to the
photo's light, drawn only inside the re-enacted mouth."""

import numpy as np
import torch

from reenact.config import AnimateConfig
from reenact.face.topology import LOWER_LIP_INNER, REGION, UPPER_LIP_INNER
from reenact.io import read_image
from reenact.motion.mouth import DriverMouth, MouthLook, match_colour
from reenact.motion.scene import _mouth_uv
from reenact.pipeline import Reenactor
from reenact.render import rasterize
from tests.conftest import data_path


def test_mouth_gap_is_laid_out_between_the_inner_lips(samples):
    """A frame whose colour encodes position: the texture's middle is sampled halfway between
    the upper and the lower inner lip, its left and right ends at the mouth's corners."""
    r = Reenactor()
    src = r.prepare_source(samples["astronaut"])
    points = src.landmarks.copy()
    topo = r.model.topology
    lower = [v for v in topo.regions["inner_lip"] if points[v, 1] > points[UPPER_LIP_INNER, 1]]
    points[lower, 1] += 12  # open the mouth by 12 pixels
    S = src.crop.shape[0]
    ys, xs = np.mgrid[0:S, 0:S]
    frame = np.stack([xs, ys, np.zeros_like(xs)], -1).astype(np.uint8)  # R = x, G = y
    layout = DriverMouth(torch.from_numpy(_mouth_uv(r.model)))
    grey = MouthLook(np.full(3, 0.5), 0.0)
    tex = layout(frame, points, grey, grey) * 255  # same light: no colour change
    h, w = tex.shape[:2]
    middle = (points[UPPER_LIP_INNER, :2] + points[LOWER_LIP_INNER, :2]) / 2
    assert np.abs(tex[h // 2, w // 2, :2] - middle).max() < 2.5
    loop = topo.regions["inner_lip"]
    left, right = points[loop, 0].min(), points[loop, 0].max()
    assert abs(tex[h // 2, 1, 0] - left) < 4 and abs(tex[h // 2, w - 2, 0] - right) < 4


def test_mouth_takes_the_photos_light_and_a_grey_photo_gives_a_grey_mouth():
    rng = np.random.default_rng(0)
    tex = rng.uniform(0.1, 0.9, (8, 8, 3)).astype(np.float32)
    tex[..., 0] = np.clip(tex[..., 0] + 0.1, 0, 1)  # a warm mouth
    skin = np.array([0.8, 0.6, 0.5])
    same = match_colour(tex, skin, skin)
    assert np.abs(same - tex).max() < 0.01
    grey = match_colour(tex, np.array([0.6, 0.6, 0.6]), skin)
    def colourfulness(x):
        return np.abs(x - x.mean(-1, keepdims=True)).mean()

    assert colourfulness(grey) < 0.15 * colourfulness(tex)  # nearly grey: no blue teeth
    darker = match_colour(tex, skin * 0.5, skin)
    assert darker.mean() < same.mean() - 0.05


def test_driver_mouth_is_drawn_inside_the_mouth_only():
    """s42 driven by d9 (mouth wide open): the driver's mouth and the synthetic one differ inside
    the re-enacted mouth and nowhere else; the driver's is not the synthetic flat dark hole."""
    source = read_image(data_path("faces", "s42.jpg"))
    driver = read_image(data_path("faces", "d9.jpg"))
    out = {}
    for mouth in ("driver", "synthetic"):
        r = Reenactor(AnimateConfig(crop_only=True, mouth=mouth))
        src = r.prepare_source(source)
        warp = next(iter(r.drive(src, [driver], is_video=False)))
        out[mouth] = r.compose(src, warp).astype(float)
    region = torch.from_numpy(r.model.topology.triangle_region)
    faces = src.scene.faces[region == REGION["mouth"]]
    inside = rasterize(warp.verts.float(), faces, warp.face_mask.shape[-2:]).mask[0].numpy()
    assert inside.sum() > 200  # the mouth is open
    diff = np.abs(out["driver"] - out["synthetic"]).max(-1)
    assert diff[inside].mean() > 10
    ring = np.zeros_like(inside)  # one pixel of slack for the bilinear edge
    ring[1:-1, 1:-1] = inside[:-2, 1:-1] | inside[2:, 1:-1] | inside[1:-1, :-2] | inside[1:-1, 2:]
    assert diff[~(inside | ring)].max() < 1e-6
    # the synthetic hole is mostly near-black; the driver's shows teeth, tongue and shade
    spread = {m: out[m][inside].mean(-1).std() for m in out}
    assert spread["driver"] > 0.5 * spread["synthetic"]
    assert out["driver"][inside].mean() > out["synthetic"][inside].mean()
