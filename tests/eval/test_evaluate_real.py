"""On the real portraits and videos: the two reference systems land where they must, and the
default analytic warp lands between them on both axes (identity and motion)."""

import numpy as np
import pytest

from reenact.eval.observe import default_embedder
from reenact.eval.protocols import make_cases, open_collection
from reenact.eval.report import aggregate
from reenact.eval.runner import EvalSettings, Runner, read_rows
from reenact.eval.systems import DriverSystem, ReenactorSystem, SourceSystem
from tests.conftest import data_path


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    faces, videos = tmp_path_factory.mktemp("faces"), tmp_path_factory.mktemp("videos")
    for name in ("s1.jpg", "s42.jpg"):
        (faces / name).symlink_to(data_path("faces", name))
    (videos / "d3.mp4").symlink_to(data_path("driving", "d3.mp4"))
    embedder = default_embedder("dlib")
    if embedder is None:
        pytest.skip("dlib's face embedding is not installed (pip install .[identity])")
    sources, drivers = open_collection(faces), open_collection(videos)
    cases = make_cases(sources, drivers, ("cross",), frames=4, clip=0)
    out = tmp_path_factory.mktemp("results")
    systems = [SourceSystem(), DriverSystem(), ReenactorSystem("analytic")]
    assert Runner(out, EvalSettings(frames=4, clip=0), embedder).run(
        cases, systems, sources, drivers) == []
    return {(r["system"], r["metric"]): r["mean"] for r in aggregate(read_rows(out / "rows.jsonl"))}


@pytest.mark.slow  # 26 s: an evaluation run on real videos
def test_reference_systems_bracket_the_analytic_warp(summary):
    csim = {s: summary[(s, "csim")] for s in ("copy-source", "copy-driver", "analytic")}
    pose = {s: summary[(s, "prmse")] for s in ("copy-source", "copy-driver", "analytic")}
    same = {s: summary[(s, "same_identity")] for s in ("copy-source", "copy-driver", "analytic")}
    # output = source: identity maximal (the same image), pose error large
    assert csim["copy-source"] == pytest.approx(1.0) and same["copy-source"] == 1.0
    assert pose["copy-source"] > 3.0
    # output = driver: pose error zero (the same image), identity low (another person)
    assert pose["copy-driver"] == 0.0 and same["copy-driver"] == 0.0
    # the warp in between on both axes
    assert csim["copy-driver"] < csim["analytic"] < csim["copy-source"]
    assert pose["copy-driver"] < pose["analytic"] < pose["copy-source"]
    assert same["analytic"] == 1.0  # and dlib still sees the source's person
    assert summary[("analytic", "exp_mse")] < summary[("copy-source", "exp_mse")]
    assert np.isclose(summary[("analytic", "face_found")], 1.0)
