"""The evaluation's cases, runner, resume and report, on inputs every machine has (scikit-image's
astronaut, matplotlib's Grace Hopper as a short video). The reference systems are fast; a counting
system shows what a rerun redoes."""

import json

import cv2
import numpy as np
import pytest

from reenact.cli import main
from reenact.eval.protocols import make_cases, open_collection, spread
from reenact.eval.report import write_report
from reenact.eval.runner import EvalSettings, Runner, read_rows
from reenact.eval.systems import DriverSystem, SourceSystem, build_system
from reenact.io import InputError, write_image
from tests.data.test_preprocess import write_video


@pytest.fixture(scope="module")
def folder(tmp_path_factory, samples):
    d = tmp_path_factory.mktemp("evalset")
    write_image(d / "astronaut.png", samples["astronaut"])
    hopper = cv2.resize(samples["grace_hopper"][:480, 40:472], (256, 256))
    frames = [np.roll(hopper, 2 * t, axis=1) for t in range(8)]  # a slow pan
    write_video(d / "hopper.mp4", frames)
    return d


class Counting:
    """Output = the source, counting its calls (clip calls included)."""

    name = "counting"

    def __init__(self):
        self.calls = 0

    def __call__(self, key, source, drive):
        self.calls += 1
        return [source] * len(drive.frames)


def test_cases_follow_the_protocols(folder):
    coll = open_collection(folder)
    assert {(i.name, i.kind, i.frames) for i in coll.items} == {("astronaut", "image", 1),
                                                               ("hopper", "video", 8)}
    cases = make_cases(coll, coll, frames=3, clip=4)
    assert [c.key for c in cases] == ["self/hopper", "cross/astronaut/hopper"]
    self_case, cross = cases
    assert self_case.driving == (1, 4, 7) and self_case.clip == (1, 2, 3, 4)  # frame 0 = source
    assert cross.driving == (0, 4, 7) and cross.clip == (0, 1, 2, 3)
    assert make_cases(coll, coll, ("cross",), frames=3, clip=0)[0].clip == ()
    with pytest.raises(ValueError, match="unknown protocol 'selfie'"):
        make_cases(coll, coll, ("selfie",))
    assert spread(1, 3, 8) == (1, 2, 3)


def test_self_outside_cases_start_two_seconds_after_the_source():
    """The user's case: the photo (frame 0) is not a frame of the clip, which starts OUTSIDE
    frames later; videos too short for that have no such case."""
    from reenact.eval.protocols import OUTSIDE, Collection, Item

    items = [Item("long", "a", "video", "long.mp4", OUTSIDE + 40),
             Item("short", "b", "video", "short.mp4", OUTSIDE)]
    coll = Collection("c", items, lambda item, indices: [])
    cases = make_cases(coll, coll, ("self-outside",), frames=3, clip=4)
    assert [c.key for c in cases] == ["self-outside/long"]
    assert cases[0].driving == (OUTSIDE, OUTSIDE + 20, OUTSIDE + 39)
    assert cases[0].clip == tuple(range(OUTSIDE, OUTSIDE + 4))


def test_run_resume_and_report(folder, tmp_path):
    coll = open_collection(folder)
    cases = make_cases(coll, coll, frames=3, clip=4)
    out = tmp_path / "results"
    counting = Counting()
    systems = [SourceSystem(), DriverSystem(), counting]
    runner = Runner(out, EvalSettings(frames=3, clip=4))
    assert runner.run(cases, systems, coll, coll) == []
    assert counting.calls == 4  # 2 cases x (sampled frames + clip)
    rows = read_rows(out / "rows.jsonl")
    frame_rows = [r for r in rows if r["frame"] != "clip"]
    assert len(frame_rows) == 2 * 3 * 3 and sum(r["frame"] == "clip" for r in rows) == 2 * 3
    by = {(r["case"], r["system"], r["frame"]): r for r in rows}
    # self-reenactment: the driver copy is the ground truth
    exact = by[("self/hopper", "copy-driver", 4)]
    assert exact["psnr"] == 100.0 and exact["ssim"] == pytest.approx(1.0)
    assert exact["akd"] == 0.0 and exact["prmse"] == 0.0
    assert by[("self/hopper", "copy-source", 4)]["psnr"] < 40  # the pan moved it
    assert "psnr" not in by[("cross/astronaut/hopper", "copy-driver", 4)]  # no ground truth
    assert by[("self/hopper", "copy-source", "clip")]["jitter"] == 0.0  # a still image

    # a rerun does nothing; an interrupted (case, system) is redone, the rest kept
    lines = (out / "rows.jsonl").read_text().splitlines(keepends=True)
    (out / "rows.jsonl").write_text("".join(lines[:-3]) + '{"case": "cro')
    again = Counting()
    runner = Runner(out, EvalSettings(frames=3, clip=4))
    assert len(runner.pending(cases, [SourceSystem(), DriverSystem(), again])) == 1
    runner.run(cases, [SourceSystem(), DriverSystem(), again], coll, coll)
    assert again.calls == 2  # the last case's counting system: frames + clip
    assert len(read_rows(out / "rows.jsonl")) == len(rows)

    summary = write_report(out)
    means = {(r["protocol"], r["system"], r["metric"]): r["mean"] for r in summary}
    assert means[("self", "copy-driver", "prmse")] == 0.0
    assert means[("cross", "copy-source", "prmse")] > 0.5  # the astronaut does not pan
    table = (out / "table.md").read_text()
    assert "### Self-reenactment: " in table and "| copy-driver |" in table
    assert json.loads((out / "results.json").read_text())["summary"] == summary
    assert (out / "results.csv").read_text().startswith("protocol,pair,system,metric,mean,std,n")
    grid = cv2.imread(str(out / "grid.png"))
    assert grid.shape[1] == 5 * 128  # source | driving | three systems

    with pytest.raises(InputError, match="made with frames=3, not 4"):
        Runner(out, EvalSettings(frames=4, clip=4))


def test_a_source_without_a_face_is_skipped_with_the_reason(folder, tmp_path):
    d = tmp_path / "set"
    d.mkdir()
    write_image(d / "wall.png", np.full((128, 128, 3), 90, np.uint8))
    (d / "hopper.mp4").symlink_to(folder / "hopper.mp4")
    coll = open_collection(d)
    cases = make_cases(coll, coll, ("cross",), frames=2, clip=0)
    skipped = Runner(tmp_path / "out", EvalSettings(frames=2, clip=0)).run(
        cases, [SourceSystem()], coll, coll)
    assert skipped == [(f"cross/wall/hopper / copy-source: {d / 'wall.png'}: no face found in "
                        "the source frame")]
    write_report(tmp_path / "out")
    assert "Skipped:" in (tmp_path / "out" / "table.md").read_text()


def test_systems_by_name():
    assert build_system("copy-source").name == "copy-source"
    assert build_system("mine=copy-driver").name == "mine"
    with pytest.raises(ValueError, match="give the checkpoint as dcggan:PATH"):
        build_system("dcggan")
    with pytest.raises(ValueError, match="unknown system 'warp'"):
        build_system("warp")


def test_command_line_errors_are_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing"), "-o", str(tmp_path / "o")]) == 3
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "nothing: not a folder of images and videos" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["evaluate", str(empty), "-o", str(tmp_path / "o")]) == 3
    assert "no images or videos in this folder" in capsys.readouterr().err


def test_a_cache_is_a_collection(tiny_cache):
    from reenact.data.dataset import DataConfig, VideoStore, make_split

    every = open_collection(tiny_cache, "all")
    store = VideoStore(tiny_cache)
    assert sorted(i.name for i in every.items) == sorted(store.entries)
    item = every.items[0]
    assert item.kind == "cache" and item.frames == 5 and item.contiguous  # all frames kept
    frames = every.frames(item, [3, 1])
    np.testing.assert_array_equal(frames[0], store.record(item.name)["frames"][3])
    np.testing.assert_array_equal(frames[1], store.record(item.name)["frames"][1])
    test = set(make_split(store, DataConfig(cache=tiny_cache, split="identity")).test)
    if test:
        assert {i.name for i in open_collection(tiny_cache).items} == test
    else:
        with pytest.raises(InputError, match="test split is empty .*use --split all"):
            open_collection(tiny_cache)


def test_metrics_from_weights_plug_in(folder, tmp_path):
    """LPIPS, FID and a pose network as the runner and report use them (stand-ins here; the
    networks themselves are tested on weight files in test_lpips, test_fid, test_pose_net)."""
    from reenact.eval.runner import Extras

    coll = open_collection(folder)
    cases = make_cases(coll, coll, frames=3, clip=0)
    seen = []

    def lpips(a, b):
        seen.append(a.shape)
        return float(np.abs(a.astype(float) - b).mean())

    def fid(images):  # mean colour as a 3-d "feature"
        return np.stack([im.reshape(-1, 3).mean(0) for im in images])

    out = tmp_path / "out"
    runner = Runner(out, EvalSettings(frames=3, clip=0, pose="fixed", lpips=True, fid=True),
                    pose=lambda image, points: np.zeros(3), extras=Extras(lpips, fid))
    runner.run(cases, [SourceSystem(), DriverSystem()], coll, coll)
    rows = read_rows(out / "rows.jsonl")
    assert all(r["prmse"] == 0.0 for r in rows if "prmse" in r)  # the pose hook was used
    by = {(r["case"], r["system"], r["frame"]): r for r in rows}
    assert by[("self/hopper", "copy-driver", 4)]["lpips"] == 0.0
    assert by[("self/hopper", "copy-source", 4)]["lpips"] > 0.0
    assert "lpips" not in by[("cross/astronaut/hopper", "copy-source", 4)]
    assert set(seen) == {(256, 256, 3)}  # face crops
    fids = {(r["protocol"], r["system"]): r for r in write_report(out) if r["metric"] == "fid"}
    assert fids[("self", "copy-driver")]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert fids[("self", "copy-driver")]["n"] == 3
    assert fids[("cross", "copy-source")]["mean"] > 1.0  # the astronaut is not Grace Hopper
    assert "| FID ↓ |" in (out / "table.md").read_text()


def test_missing_weight_files_are_named(folder, tmp_path, capsys):
    args = ["evaluate", str(folder), "-o", str(tmp_path / "o"), "--protocols", "cross"]
    assert main([*args, "--fid", str(tmp_path / "pt_inception.pth")]) == 3
    assert "pt_inception.pth: no such" in capsys.readouterr().err
    assert main([*args, "--lpips", str(tmp_path / "vgg16.pth"), str(tmp_path / "vgg.pth")]) == 3
    assert "vgg16.pth: no such" in capsys.readouterr().err


@pytest.mark.slow  # 8 s: the whole evaluate command, twice
def test_command_line_writes_the_results_and_resumes(folder, tmp_path, capsys):
    args = ["evaluate", str(folder), "-o", str(tmp_path / "r"), "--frames", "2", "--clip", "0",
            "--systems", "copy-source,copy-driver"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "2 cases (1 self, 1 cross) x 2 systems; 4 run now, 0 resumed" in printed
    assert "### Cross-identity reenactment: " in printed
    for name in ("table.md", "results.csv", "results.json", "grid.png", "grids/self_hopper.png"):
        assert (tmp_path / "r" / name).exists(), name
    assert main(args) == 0
    assert "0 run now, 4 resumed" in capsys.readouterr().out
    assert main([*args[:-1], "copy-source,copy-source"]) == 3
    assert "two systems share a name" in capsys.readouterr().err
