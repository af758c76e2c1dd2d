"""``reenact preprocess`` on the real driving videos of ../shared/data plus broken ones: records, the
index, shards, resume, settings, the command line."""

import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from reenact.cli import main
from reenact.data.preprocess import PreprocessConfig, preprocess, sample_indices, video_box
from reenact.data.shards import INDEX, RECORD_KEYS, iter_shard, load_video, read_index
from reenact.face.base import FaceCoefficients
from reenact.face.landmark_model import LandmarkFaceModel
from reenact.face.topology import REGION
from reenact.io import InputError
from tests.conftest import data_path

S = 64  # crop size for the tests
REAL = ("d0", "d3", "d6", "d10")
BAD = ("truncated", "empty", "noface", "cut")


def write_video(path: Path, frames: list[np.ndarray]) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height = frames[0].shape[1], frames[0].shape[0]
        stream.pix_fmt = "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def smooth_noise(n: int, size: int = 128) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (size, size),
                       interpolation=cv2.INTER_CUBIC) for _ in range(n)]


def faststart_half(src: Path, dst: Path) -> None:
    """The first half of ``src`` remuxed with its index first: it opens, then ends early."""
    full = dst.with_suffix(".full.mp4")
    with av.open(str(src)) as inp, av.open(str(full), "w", format="mp4",
                                           options={"movflags": "faststart"}) as out:
        s_out = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = s_out
                out.mux(packet)
    data = full.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    full.unlink()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """The four real videos (symlinks) and four bad ones."""
    real = {name: data_path("driving", f"{name}.mp4") for name in REAL}
    src = tmp_path_factory.mktemp("src")
    for name, path in real.items():
        (src / f"{name}.mp4").symlink_to(path)
    d0 = real["d0"].read_bytes()
    (src / "truncated.mp4").write_bytes(d0[: int(len(d0) * 0.3)])  # its index (moov) is lost
    (src / "empty.mp4").touch()
    write_video(src / "noface.mp4", smooth_noise(10))
    faststart_half(real["d0"], src / "cut.mp4")
    return src


@pytest.fixture(scope="module")
def run(dataset, tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    summary = preprocess(dataset, cache, frames=4, size=S, workers=1, per_shard=3,
                         progress=False)
    return cache, summary


def test_real_videos_become_records(run):
    cache, summary = run
    assert (summary.found, summary.processed, summary.frames) == (8, 4, 16)
    assert (summary.already_done, summary.in_cache) == (0, 4)
    entries = {e["id"]: e for e in read_index(cache)}
    assert sorted(entries) == sorted(f"plain__{n}" for n in REAL)
    model = LandmarkFaceModel()
    for name in REAL:
        e = entries[f"plain__{name}"]
        assert (e["identity"], e["dataset"], e["source"]) == (f"plain/{name}", "plain",
                                                                f"{name}.mp4")
        assert e["frames"] == 4 and e["crop_size"] == S and len(e["box"]) == 3
        rec = load_video(cache, e)
        assert set(rec) == set(RECORD_KEYS)
        shapes = {k: (v.shape, v.dtype) for k, v in rec.items()}
        assert shapes["frames"] == ((4, S, S, 3), np.uint8)
        assert shapes["frame_index"] == ((4,), np.int64)
        assert shapes["landmarks"] == ((4, 478, 3), np.float32)
        assert shapes["identity"] == ((4, 478 * 3), np.float32)
        assert shapes["expression"] == ((4, 478 * 3), np.float32)
        assert shapes["rotation"] == ((4, 3, 3), np.float32)
        assert shapes["scale"] == ((4,), np.float32) and shapes["translation"][0] == (4, 3)
        assert shapes["parsing"] == ((4, S, S), np.uint8)
        assert shapes["person"] == ((4, S, S), np.uint8)
        assert rec["frame_index"].tolist() == e["frame_index"]
        assert rec["frame_index"][0] == 0 and np.all(np.diff(rec["frame_index"]) > 0)
        np.testing.assert_allclose(rec["box"], e["box"])
        # the face sits inside the crop, about 1 / margin of its side
        xy = rec["landmarks"][..., :2]
        assert xy.min() > 0 and xy.max() < S
        extent = (xy.max(1) - xy.min(1)).max(1)  # (4,) the face box side per frame
        assert np.all((extent > 0.25 * S) & (extent < 0.65 * S)), extent
        # the stored coefficients reproduce the landmarks
        coeffs = FaceCoefficients(*(torch.from_numpy(rec[k].astype(np.float64)) for k in
                                    ("identity", "expression", "rotation", "scale",
                                     "translation")))
        np.testing.assert_allclose(model.vertices(coeffs).numpy(), rec["landmarks"], atol=0.05)
        # a face in the parsing map's middle, person pixels around it, background at the corners
        labels = set(np.unique(rec["parsing"]).tolist())
        assert {REGION["skin"], 0} <= labels <= set(REGION.values())
        assert rec["person"][:, S // 2, S // 2].min() > 200
        assert rec["frames"].std() > 20  # a picture, not a blank


def test_bad_videos_are_skipped_with_reasons(run):
    cache, summary = run
    reasons = dict(summary.skipped)
    assert sorted(reasons) == sorted(f"plain__{n}" for n in BAD)
    assert "not a readable video" in reasons["plain__truncated"]
    assert "the file is empty" in reasons["plain__empty"]
    assert reasons["plain__noface"] == "no face in any of 4 sampled frames"
    assert "truncated: only" in reasons["plain__cut"]
    assert all("\n" not in r for r in reasons.values())
    skipped = {e["id"]: e for e in read_index(cache, status="skipped")}
    assert {i: e["reason"] for i, e in skipped.items()} == reasons
    assert skipped["plain__empty"]["source"] == "empty.mp4"
    saved = json.loads((cache / "summary.json").read_text())
    assert saved["processed"] == 4 and len(saved["skipped"]) == 4
    meta = json.loads((cache / "meta.json").read_text())
    assert meta == {"frames": 4, "size": S, "margin": 2.0, "face_model": "landmark"}


def test_shards_stream_the_same_videos(run):
    cache, _ = run
    entries = {e["id"]: e for e in read_index(cache)}
    shards = sorted((cache / "shards").glob("shard-*.tar"))
    assert len(shards) == 2  # per_shard 3
    streamed = {}
    for shard in shards:
        for video, rec in iter_shard(shard):
            assert video not in streamed
            streamed[video] = rec
    assert set(streamed) == set(entries)
    for video, rec in streamed.items():
        np.testing.assert_array_equal(rec["frames"], load_video(cache, entries[video])["frames"])


def test_another_setting_needs_another_cache(run, dataset):
    cache, _ = run
    before = (cache / INDEX).read_text()
    with pytest.raises(InputError, match="--size 64, not 96"):
        preprocess(dataset, cache, frames=4, size=96, workers=1, progress=False)
    with pytest.raises(InputError, match="--frames 4, not 10"):
        preprocess(dataset, cache, size=S, workers=1, progress=False)
    assert (cache / INDEX).read_text() == before


def test_resume_processes_only_new_videos(tmp_path):
    src, cache = tmp_path / "src", tmp_path / "cache"
    src.mkdir()
    (src / "d0.mp4").symlink_to(data_path("driving", "d0.mp4"))
    (src / "empty.mp4").touch()
    first = preprocess(src, cache, frames=3, size=S, workers=1, progress=False)
    assert (first.processed, len(first.skipped)) == (1, 1)
    # what an interrupted run leaves: a temporary shard, a complete but unindexed shard, a torn line
    (cache / "shards" / ".shard-00001.abc123.part.tar").write_bytes(b"half")
    (cache / "shards" / "shard-00007.tar").write_bytes(b"never indexed")
    with open(cache / INDEX, "a") as f:
        f.write('{"id": "plain__d3", "sta')
    for name in ("d3", "d10"):
        (src / f"{name}.mp4").symlink_to(data_path("driving", f"{name}.mp4"))
    second = preprocess(src, cache, frames=3, size=S, workers=2, progress=False)
    # a previous run's skip is counted as such, not as done
    assert (second.found, second.processed, second.already_done) == (4, 2, 1)
    assert second.skipped == [] and second.in_cache == 3
    assert [i for i, _ in second.skipped_before] == ["plain__empty"]
    assert "empty" in second.skipped_before[0][1]
    ids = [e["id"] for e in read_index(cache, status=None)]
    assert sorted(ids) == ["plain__d0", "plain__d10", "plain__d3", "plain__empty"]
    assert sorted(p.name for p in (cache / "shards").iterdir()) == ["shard-00000.tar",
                                                                    "shard-00001.tar"]
    for e in read_index(cache):
        assert load_video(cache, e)["frames"].shape == (3, S, S, 3)
    third = preprocess(src, cache, frames=3, size=S, workers=1, progress=False)
    assert (third.processed, third.already_done, third.in_cache) == (0, 3, 3)
    assert len(third.skipped_before) == 1


def test_command_line(tmp_path, capsys):
    src = tmp_path / "src"
    src.mkdir()
    (src / "d0.mp4").symlink_to(data_path("driving", "d0.mp4"))
    (src / "empty.mp4").touch()
    args = ["--frames", "3", "--size", str(S), "--workers", "1"]
    assert main(["preprocess", str(src), "-o", str(tmp_path / "cache"), *args]) == 0
    out = capsys.readouterr().out
    assert "videos found: 2" in out and "processed now: 1 (3 frames" in out
    assert "plain__empty: InputError" in out
    # a rerun: the stored video is in the cache, the skipped one was skipped before (it used to
    # count both as "already done" and list no skip)
    assert main(["preprocess", str(src), "-o", str(tmp_path / "cache"), *args]) == 0
    out = capsys.readouterr().out
    assert "processed now: 0" in out and "already in the cache: 1 " in out
    assert "skipped: 0\nskipped by a previous run: 1 (not retried)\n  plain__empty: " in out
    assert main(["preprocess", str(tmp_path / "missing"), "-o", str(tmp_path / "c2"), *args]) == 3
    assert "missing: no such folder" in capsys.readouterr().err
    (src / "d0.mp4").unlink()
    assert main(["preprocess", str(src), "-o", str(tmp_path / "c3"), *args]) == 3
    assert "could be preprocessed" in capsys.readouterr().err


def test_sample_indices_spread_evenly():
    assert sample_indices(78, 4).tolist() == [0, 26, 51, 77]
    assert sample_indices(3, 10).tolist() == [0, 1, 2]
    assert sample_indices(5, 0).tolist() == [0, 1, 2, 3, 4]
    assert sample_indices(0, 4).tolist() == []


def test_video_box_covers_the_faces_but_not_an_outlier():
    square = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    faces = [square, square + [2.0, 0.0], square + [4.0, 0.0]]
    box = video_box(faces, margin=2.0)
    assert box.cx == pytest.approx(7.0) and box.side == pytest.approx(24.0)  # 20 + 2 x 2 shift
    huge = video_box([square, square, square * 10], margin=2.0)
    assert huge.side == pytest.approx(30.0)  # 1.5 x the median side


def test_settings_are_checked():
    for bad, match in (({"frames": 1}, "frames"), ({"size": 8}, "size"), ({"margin": 0}, "margin")):
        with pytest.raises(ValueError, match=match):
            PreprocessConfig(**bad).check()


def test_an_interrupted_run_keeps_finished_videos(tmp_path, monkeypatch):
    from reenact.data import preprocess as module

    src, cache = tmp_path / "src", tmp_path / "cache"
    src.mkdir()
    for name in ("d0", "d10", "d3"):  # processed in id order: d0, d10, then Ctrl-C at d3
        (src / f"{name}.mp4").symlink_to(data_path("driving", f"{name}.mp4"))
    process = module.VideoProcessor.__call__

    def interrupted(self, item):
        if item.id == "plain__d3":
            raise KeyboardInterrupt
        return process(self, item)

    monkeypatch.setattr(module.VideoProcessor, "__call__", interrupted)
    with pytest.raises(KeyboardInterrupt):
        preprocess(src, cache, frames=2, size=S, workers=1, per_shard=8, progress=False)
    assert sorted(e["id"] for e in read_index(cache)) == ["plain__d0", "plain__d10"]
    assert [p.name for p in (cache / "shards").iterdir()] == ["shard-00000.tar"]
    monkeypatch.setattr(module.VideoProcessor, "__call__", process)
    again = preprocess(src, cache, frames=2, size=S, workers=1, progress=False)
    assert (again.processed, again.already_done, again.in_cache) == (1, 2, 3)


def test_a_frame_folder(tmp_path):
    clip = tmp_path / "src" / "clip"
    clip.mkdir(parents=True)
    for i in range(3):
        (clip / f"{i:03d}.jpg").symlink_to(data_path("faces", "s42.jpg"))
    summary = preprocess(tmp_path / "src", tmp_path / "cache", frames=2, size=S, workers=1,
                         progress=False)
    assert (summary.processed, summary.frames) == (1, 2)
    (entry,) = read_index(tmp_path / "cache")
    assert (entry["id"], entry["source"], entry["frame_index"]) == ("plain__clip", "clip", [0, 2])
    rec = load_video(tmp_path / "cache", entry)
    np.testing.assert_array_equal(rec["frames"][0], rec["frames"][1])  # the same image twice
    assert rec["landmarks"][..., :2].min() > 0 and rec["landmarks"][..., :2].max() < S


def test_native_messages_go_to_the_log_not_the_console(tmp_path, capfd):
    """mediapipe's absl / TensorFlow Lite lines ("W0000 ... .cc:114]") would break the progress
    bar; they land in CACHE/preprocess.log."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "d0.mp4").symlink_to(data_path("driving", "d0.mp4"))
    capfd.readouterr()
    preprocess(src, tmp_path / "cache", frames=2, size=S, workers=1, progress=False)
    err = capfd.readouterr().err
    log = (tmp_path / "cache" / "preprocess.log").read_text()
    assert ".cc:" in log  # (TensorFlow Lite's line comes once per process, maybe earlier)
    assert ".cc:" not in err and "TensorFlow Lite" not in err
