"""``reenact animate`` on good and bad inputs: one-line errors, non-zero exits, nothing lost."""

import contextlib

import numpy as np
import pytest

from reenact.cli import EXIT_INPUT, EXIT_INTERRUPTED, main
from reenact.io import VideoWriter, iter_video_frames, probe_video, read_image, write_image
from tests.conftest import data_path


@pytest.fixture(scope="module")
def files(tmp_path_factory, samples):
    d = tmp_path_factory.mktemp("cli")
    write_image(d / "astronaut.png", samples["astronaut"])
    write_image(d / "hopper.jpg", samples["grace_hopper"])
    write_image(d / "blank.png", np.full((200, 200, 3), 128, np.uint8))
    return d


def _run(capsys, *args):
    code = main(["animate", *map(str, args)])
    err = capsys.readouterr().err
    return code, err


def test_image_to_image_writes_the_full_frame_and_refuses_to_overwrite(files, tmp_path, capsys):
    out = tmp_path / "new" / "folder" / "out.png"  # missing folders are created
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg", "-o", out)
    assert code == 0, err
    assert read_image(out).shape == read_image(files / "astronaut.png").shape
    before = out.read_bytes()
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg", "-o", out)
    assert code == EXIT_INPUT and "already exists" in err and "--overwrite" in err
    assert out.read_bytes() == before
    code, _ = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg", "-o", out,
                   "--overwrite", "--crop-only", "--size", "512")
    assert code == 0 and read_image(out).shape == (512, 512, 3)


@pytest.mark.parametrize("make,match", [
    (lambda d: d / "blank.png", "no face found in the source"),
    (lambda d: d / "missing.png", "no such file"),
])
def test_bad_sources(files, tmp_path, capsys, make, match):
    code, err = _run(capsys, "-s", make(files), "-d", files / "hopper.jpg", "-o", tmp_path / "o.png")
    assert code == EXIT_INPUT and match in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("content,name", [(b"", "empty.jpg"), (b"GIF89a\x00\x01garbage", "bad.gif"),
                                          (b"plain text", "notes.txt")])
def test_corrupt_empty_and_unsupported_driving_images(files, tmp_path, capsys, content, name):
    bad = tmp_path / name
    bad.write_bytes(content)
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", bad, "-o", tmp_path / "o.png")
    assert code == EXIT_INPUT and name in err and "Traceback" not in err


def test_output_equal_to_an_input_is_refused(files, capsys):
    before = (files / "astronaut.png").read_bytes()
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                     "-o", files / "astronaut.png", "--overwrite")
    assert code == EXIT_INPUT and "one of the inputs" in err
    assert (files / "astronaut.png").read_bytes() == before


def test_wrong_output_kind(files, tmp_path, capsys):
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                     "-o", tmp_path / "o.mp4")
    assert code == EXIT_INPUT and ".png" in err


def test_bad_option_values_name_the_value(files, tmp_path, capsys):
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                     "-o", tmp_path / "o.png", "--alpha", "1.7")
    assert code == EXIT_INPUT and "1.7" in err


@pytest.fixture(scope="module")
def video_with_gap(tmp_path_factory):
    """20 frames of d0.mp4 with frames 5-9 replaced by grey (no face)."""
    src = data_path("driving", "d0.mp4")
    p = tmp_path_factory.mktemp("vid") / "gap.mp4"
    with VideoWriter(p, 25) as w:
        for i, f in enumerate(iter_video_frames(src)):
            if i >= 20:
                break
            w.write(np.full_like(f, 128) if 5 <= i < 10 else f)
    return p


def test_driving_frames_without_a_face_hold_or_error(files, video_with_gap, tmp_path, capsys):
    out = tmp_path / "o.mp4"
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", video_with_gap, "-o", out)
    assert code == 0, err
    assert "5 of 20 driving frames had no face" in err
    info = probe_video(out)
    assert info.num_frames == 20 and info.fps == 25
    out2 = tmp_path / "o2.mp4"
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", video_with_gap, "-o", out2,
                     "--on-missing-face", "error")
    assert code == EXIT_INPUT and "frame 5" in err and "gap.mp4" in err
    assert not out2.exists()


def test_video_keeps_fps_and_audio_and_ctrl_c_leaves_nothing(files, tmp_path, capsys, monkeypatch):
    driver = data_path("driving", "d3.mp4")
    short = tmp_path / "short.mp4"
    with VideoWriter(short, 30, audio_from=driver) as w:
        for i, f in enumerate(iter_video_frames(driver)):
            if i >= 12:
                break
            w.write(f)
    out = tmp_path / "o.mp4"
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", short, "-o", out)
    assert code == 0, err
    info = probe_video(out)
    assert info.fps == 30 and info.num_frames == 12 and info.has_audio

    calls = {"n": 0}
    original = VideoWriter.write

    def interrupt(self, frame, time=None, owned=False):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        original(self, frame, time, owned)

    monkeypatch.setattr(VideoWriter, "write", interrupt)
    target = tmp_path / "interrupted.mp4"
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", short, "-o", target)
    assert code == EXIT_INTERRUPTED and "interrupted" in err
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".interrupted")]


def test_truncated_driving_video(files, tmp_path, capsys):
    good = data_path("driving", "d0.mp4")
    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(good.read_bytes()[:2000])
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", trunc, "-o", tmp_path / "o.mp4")
    assert code == EXIT_INPUT and "trunc.mp4" in err and "Traceback" not in err


def test_dcggan_model_through_the_same_pipeline(files, tmp_path, capsys):
    """A (tiny, briefly trained) DCG-GAN checkpoint drives `reenact animate --model dcggan`; a
    missing or foreign checkpoint is a one-line error."""
    import torch

    from reenact.io.checkpoint import save_checkpoint
    from reenact.models.dcggan import CorrespondenceConfig
    from reenact.models.dcggan.generator import GeneratorConfig
    from reenact.models.dcggan.model import DCGGAN, DCGGANConfig

    cfg = DCGGANConfig(correspondence=CorrespondenceConfig(width=8, feature_dim=16, res_blocks=1),
                       generator=GeneratorConfig(width=16, coarse_blocks=1))
    torch.manual_seed(0)
    ckpt = tmp_path / "dcggan.pt"
    save_checkpoint(ckpt, cfg, model=DCGGAN(cfg), train_size=64)
    out = tmp_path / "o.png"
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg", "-o", out,
                     "--model", "dcggan", "--checkpoint", ckpt, "--crop-only")
    assert code == 0, err
    assert read_image(out).shape == (256, 256, 3)
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                     "-o", tmp_path / "o2.png", "--model", "dcggan")
    assert code == EXIT_INPUT and "--checkpoint" in err
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                     "-o", tmp_path / "o3.png", "--model", "dcggan", "--checkpoint", junk)
    assert code == EXIT_INPUT and "junk.pt" in err and err.count("\n") == 1


def test_meshgcn_model_through_the_same_pipeline(files, tmp_path, capsys):
    """`reenact animate --model meshgcn` runs a (tiny, untrained) mesh GCN checkpoint, with the
    same --alpha and --pose-only flags as the default."""
    import torch

    from reenact.face import landmark_topology
    from reenact.face.mean_shape import mean_shape
    from reenact.io.checkpoint import save_checkpoint
    from reenact.models.meshgcn.model import MeshGCN, MeshGCNConfig
    from reenact.models.meshgcn.motion_net import MotionNetConfig
    from reenact.models.meshgcn.reenacting import ReenactingConfig

    cfg = MeshGCNConfig(motion=MotionNetConfig(channels=(8, 8, 16, 16), factors=(4, 2, 2),
                                               latent=32, size=64, decoder_width=32,
                                               decoder_res_blocks=1),
                        reenacting=ReenactingConfig(width=8, res_blocks=1, hourglass_width=8))
    torch.manual_seed(0)
    ckpt = tmp_path / "meshgcn.pt"
    save_checkpoint(ckpt, cfg, model=MeshGCN(mean_shape(), landmark_topology().triangles, cfg))
    for extra in ([], ["--alpha", "0.5"], ["--pose-only"]):
        out = tmp_path / f"o{len(extra)}.png"
        code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg", "-o",
                         out, "--model", "meshgcn", "--checkpoint", ckpt, "--crop-only", *extra)
        assert code == 0, err
        assert read_image(out).shape == (256, 256, 3)


def test_side_by_side_panels_stay_in_step_with_the_driver(files, tmp_path, capsys):
    """Panels are source | driving | result; the driving panel of output frame i shows driving
    frame i (odd frames are darkened so a frame that is off by one shows up)."""
    src_video = data_path("driving", "d0.mp4")
    video = tmp_path / "alternating.mp4"
    with VideoWriter(video, 25) as w:
        for i, f in enumerate(iter_video_frames(src_video)):
            if i >= 12:
                break
            w.write((f * (0.55 if i % 2 else 1.0)).astype(np.uint8))
    out = tmp_path / "sbs.mp4"
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", video, "-o", out,
                     "--side-by-side")
    assert code == 0, err
    frames = list(iter_video_frames(out))
    assert len(frames) == 12 and frames[0].shape == (256, 768, 3)
    middle = np.array([f[:, 256:512].mean() for f in frames])
    dark = middle[1::2].mean(), middle[0::2].mean()
    assert all(middle[i] < 0.8 * middle[i - 1] for i in range(1, 12, 2)), middle.round(1)
    assert dark[0] < dark[1]


def test_the_console_shows_no_native_mediapipe_lines(files, tmp_path, capfd):
    """mediapipe's absl lines ("W0000 ... .cc:114] ...") would run through the progress bar."""
    code = main(["animate", "-s", str(files / "astronaut.png"), "-d", str(files / "hopper.jpg"),
                 "-o", str(tmp_path / "out.png")])
    err = capfd.readouterr().err
    assert code == 0 and "wrote" in err
    assert ".cc:" not in err and "TensorFlow Lite" not in err


def test_detail_with_an_image_driver_says_it_changes_nothing(files, tmp_path, capsys):
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg", "-o",
                     tmp_path / "o.png", "--detail", "--crop-only")
    assert code == 0 and "--detail" in err and "image driver" in err
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg", "-o",
                     tmp_path / "p.png", "--crop-only")
    assert code == 0 and "--detail" not in err


def test_a_photo_in_profile_is_held_and_animate_says_so(tmp_path, capfd):
    import re

    photo = data_path("corpus", "portraits", "DECA", "image00181.jpg")  # a man in profile
    driver = data_path("faces", "s42.jpg")
    code = main(["animate", "-s", str(photo), "-d", str(driver), "-o", str(tmp_path / "o.png"),
                 "--crop-only"])
    err = capfd.readouterr().err
    assert code == 0, err
    assert re.search(r"turned \d+ degrees from the camera", err) and "are held" in err


def test_a_driver_without_any_face_is_an_error(files, tmp_path, capsys):
    """A landscape still or a video of a wall: no motion to give, so no output and exit 3 (it
    used to write the photo unchanged with exit 0)."""
    wall = tmp_path / "wall.mp4"
    with VideoWriter(wall, 25) as w:
        for _ in range(8):
            w.write(np.full((240, 320, 3), 128, np.uint8))
    out = tmp_path / "o.mp4"
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", wall, "-o", out)
    assert code == EXIT_INPUT and "wall.mp4" in err and "no face found in any of its 8 frames" in err
    assert err.count("\n") == 1 and not out.exists() and list(tmp_path.iterdir()) == [wall]
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "blank.png",
                     "-o", tmp_path / "o.png")
    assert code == EXIT_INPUT and "blank.png: no face found in the image" in err
    assert not (tmp_path / "o.png").exists()


def test_a_truncated_driving_video_is_reported(files, tmp_path, capfd):
    """A video whose header promises more frames than its data holds (cut off by bytes, the
    index at the front): the frames there are written, with a warning naming both counts."""
    import itertools

    import av
    import cv2

    full = tmp_path / "full.mp4"
    with av.open(str(full), "w", options={"movflags": "+faststart"}) as c:
        stream = c.add_stream("libx264", rate=25)
        stream.pix_fmt, stream.width, stream.height = "yuv420p", 320, 240
        for f in itertools.islice(iter_video_frames(data_path("driving", "d0.mp4")), 30):
            image = av.VideoFrame.from_ndarray(cv2.resize(f, (320, 240)), format="rgb24")
            for packet in stream.encode(image):
                c.mux(packet)
        for packet in stream.encode():
            c.mux(packet)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[:len(full.read_bytes()) * 6 // 10])
    assert probe_video(cut).num_frames == 30
    decoded = sum(1 for _ in iter_video_frames(cut))
    assert 0 < decoded < 30
    out = tmp_path / "o.mp4"
    assert main(["animate", "-s", str(files / "astronaut.png"), "-d", str(cut), "-o", str(out)]) == 0
    err = capfd.readouterr().err
    assert f"cut.mp4: its header promises 30 frames but only {decoded} could be decoded" in err
    assert probe_video(out).num_frames == decoded
    # a whole file says nothing of the kind
    assert main(["animate", "-s", str(files / "astronaut.png"), "-d", str(full),
                 "-o", str(tmp_path / "o2.mp4")]) == 0
    assert "header promises" not in capfd.readouterr().err


@pytest.mark.parametrize("delay", [0.3, 0.8, 1.5])
def test_ctrl_c_during_start_up_is_one_line_and_130(files, tmp_path, delay):
    """Ctrl-C in the first seconds, while torch and mediapipe import: it printed a 20-line
    traceback, or native code aborted on it; now the same line as later, exit 130."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "o.png"
    p = subprocess.Popen([sys.executable, "-m", "reenact.cli", "animate", "-s",
                          str(files / "astronaut.png"), "-d", str(files / "hopper.jpg"), "-o",
                          str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=120)
    if p.returncode == 0:
        pytest.skip(f"the run finished within {delay} s, before the interrupt")
    assert p.returncode == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and "terminate called" not in err, err
    assert "reenact: interrupted; no partial output was left at the target path" in \
        err.splitlines(), err
    assert not out.exists()


@pytest.mark.parametrize("text,expected", [
    ("alpha: high\n", "alpha: expected a number, got 'high'"),
    ("alpha: 0.5\nsize: [256\n", "not valid YAML at line 3, column 1 (in what line 2 begins)"),
    ("- alpha\n- 0.5\n", "expected 'key: value' lines"),
    ("alfa: 0.5\n", "alfa: not an option"),
    ("alpha: 1.5\n", "alpha must lie in [0, 1], got 1.5"),
    ("crop_only: maybe\n", "crop_only: expected true or false, got 'maybe'"),
    ("reference_frame: 2.5\n", "reference_frame: expected a whole number or a string, got 2.5"),
])
def test_config_file_errors_name_the_file_key_and_value(files, tmp_path, capsys, text, expected):
    """A bad --config file: exit 2 and one line naming the file and what is wrong (it gave a
    multi-line or keyless message, or an 'unexpected error' with exit 1)."""
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(text)
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                     "-o", tmp_path / "o.png", "--config", cfg)
    assert code == 2, err
    assert err.count("\n") == 1 and "settings.yaml" in err and expected in err, err
    assert not (tmp_path / "o.png").exists()


def test_config_file_values_and_flags(files, tmp_path, capsys):
    """A good file is used; a bad flag next to it is still the flag's error (exit 3), and a flag
    that completes the file (a checkpoint for its model) is not the file's fault."""
    from reenact.config import AnimateConfig, load_config

    cfg = tmp_path / "settings.yaml"
    cfg.write_text("alpha: 0.5\nmodel: dcggan\n")
    config = load_config(AnimateConfig, cfg, checkpoint="w.pt")
    assert config.alpha == 0.5 and config.model == "dcggan"
    cfg.write_text("margin: 2.5\n")
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                     "-o", tmp_path / "o.png", "--config", cfg, "--alpha", "1.7")
    assert code == EXIT_INPUT and "alpha must lie in" in err and "settings.yaml" not in err


def _started(files, driver, out):
    """A real ``reenact animate`` subprocess, once its part file beside ``out`` exists."""
    import subprocess
    import sys
    import time

    p = subprocess.Popen([sys.executable, "-m", "reenact.cli", "animate", "-s",
                          str(files / "astronaut.png"), "-d", str(driver), "-o", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(out.parent.glob(f".{out.stem}.reenact-{p.pid}-*.part.mp4")):
        assert p.poll() is None, p.communicate()[1]
        assert time.monotonic() < deadline, "no part file appeared"
        time.sleep(0.05)
    return p


@pytest.mark.slow  # 10 s: two real runs of several seconds
def test_sigterm_cleans_up_like_ctrl_c_and_sigkills_leftovers_go_next_time(files, long_driver,
                                                                          tmp_path):
    """SIGTERM (a closed terminal, a container stopping) left the hidden part file next to the
    output forever; SIGKILL cannot be caught, so the next run to the same output removes it."""
    import signal

    out = tmp_path / "o.mp4"
    p = _started(files, long_driver, out)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143 and "Traceback" not in err, err
    # mediapipe's native threads may still log a line after it
    assert "reenact: terminated (SIGTERM); no partial output was left at the target path" in \
        err.splitlines(), err
    assert list(tmp_path.iterdir()) == []
    p = _started(files, long_driver, out)
    p.kill()
    p.communicate(timeout=60)
    stale = list(tmp_path.iterdir())
    assert len(stale) == 1 and stale[0].name.startswith(".o.reenact-")
    from reenact.io.atomic import atomic_path

    with atomic_path(out) as tmp:  # the next write to the same output
        tmp.write_bytes(b"x")
    assert list(tmp_path.iterdir()) == [out]


@contextlib.contextmanager
def _tmpfs(path, options):
    """A small or read-only file system at ``path``, or skip with the reason."""
    import subprocess

    path.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                           capture_output=True, text=True, check=False)
    except FileNotFoundError:
        pytest.skip("no mount command here to make a small or read-only file system")
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}): the test needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


@pytest.mark.parametrize("options,reason", [("ro,size=4m", "Read-only file system"),
                                            ("size=256k", "No space left on device")])
def test_an_output_folder_that_cannot_take_the_file_fails_before_the_work(
        files, tmp_path, capsys, options, reason):
    """A read-only or full folder gave 'unexpected error (OSError) ... .x.part.png' after all
    the compute; now one line naming the user's path and the reason, before it, exit 3."""
    import time

    with _tmpfs(tmp_path / "fs", options) as fs:
        out = fs / "sub" / "o.png"
        t = time.perf_counter()
        code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                         "-o", out)
        assert code == EXIT_INPUT and err == f"reenact: error: {out}: cannot write there " \
            f"({reason})\n"
        assert time.perf_counter() - t < 5  # before the photo's preparation
        assert list(fs.iterdir()) == []


@pytest.mark.slow  # 7 s: a run of several seconds on a small tmpfs
def test_a_disk_that_fills_during_the_run_names_the_output(files, long_driver, tmp_path, capsys,
                                                           monkeypatch):
    """Room for the probe but not for the video (a 4 KB probe here, a 64 KB disk, a 120 KB
    video): the error names the user's path, exit 3, and the part file goes (it was
    "unexpected error (OSError) ... '.o.79xe1ww_.part.mp4'", exit 1)."""
    from reenact.app import animate

    monkeypatch.setattr(animate, "PROBE_BYTES", 4096)
    with _tmpfs(tmp_path / "fs", "size=64k") as fs:
        out = fs / "o.mp4"
        code, err = _run(capsys, "-s", files / "astronaut.png", "-d", long_driver, "-o", out,
                         "--size", "512")
        assert code == EXIT_INPUT, err
        assert err.splitlines()[-1].startswith(f"reenact: error: {out}: cannot write the video")
        assert list(fs.iterdir()) == []


def test_a_folder_input_and_a_checkpoint_without_a_model(files, tmp_path, capsys):
    """A folder given as the photo was 'no such file'; --checkpoint without --model was silently
    ignored (the analytic default takes no weights)."""
    (tmp_path / "photos").mkdir()
    code, err = _run(capsys, "-s", tmp_path / "photos", "-d", files / "hopper.jpg",
                     "-o", tmp_path / "o.png")
    assert code == EXIT_INPUT and "photos: is a folder" in err
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", files / "hopper.jpg",
                     "-o", tmp_path / "o.png", "--checkpoint", tmp_path / "w.pt")
    assert code == EXIT_INPUT and "takes no weights" in err and "--model" in err
    assert not (tmp_path / "o.png").exists()


def test_a_failed_run_takes_away_the_folders_it_made(files, tmp_path, capsys):
    """Missing output folders are made for the output; a run that fails leaves none behind
    (it left them empty), and a folder that was there stays."""
    wall = tmp_path.parent / f"{tmp_path.name}_wall.mp4"  # a driver the run fails on, late:
    with VideoWriter(wall, 25) as w:  # after the video writer has made the folders
        for _ in range(4):
            w.write(np.full((240, 320, 3), 128, np.uint8))
    out = tmp_path / "new" / "deeper" / "o.mp4"
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", wall, "-o", out)
    assert code == EXIT_INPUT and "no face found" in err
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "kept").mkdir()
    code, err = _run(capsys, "-s", files / "astronaut.png", "-d", wall, "-o",
                     tmp_path / "kept" / "o.mp4")
    assert code == EXIT_INPUT and (tmp_path / "kept").is_dir()


def test_a_small_face_far_from_the_centre_is_animated(files, samples, tmp_path, capsys):
    """A portrait shrunk into the corner of a 2000-pixel canvas (the face 92 pixels wide): found
    and animated (it used to be "no face found"); the output is the canvas with the face moved."""
    import cv2

    small = cv2.resize(samples["grace_hopper"], (256, 300), interpolation=cv2.INTER_AREA)
    canvas = np.full((1600, 2000, 3), 200, np.uint8)
    canvas[1250:1550, 1700:1956] = small
    write_image(tmp_path / "far.png", canvas)
    out = tmp_path / "o.png"
    code, err = _run(capsys, "-s", tmp_path / "far.png", "-d", files / "hopper.jpg", "-o", out)
    assert code == 0, err
    result = read_image(out)
    assert result.shape == canvas.shape
    changed = np.abs(result.astype(int) - canvas).max(-1) > 12
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 200 and ys.min() >= 1250 - 40 and xs.min() >= 1700 - 40


def test_a_variable_frame_rate_driver_keeps_its_frame_times_and_sound(files, samples, tmp_path,
                                                                      capfd):
    """A driver whose frames come in bursts at 30 and 10 frames a second, with a sound track:
    the output's frames keep the driver's times (they used to be spread at the average rate, so
    motion drifted from the sound) and the sound lasts as long; the console says so."""
    from fractions import Fraction

    import av
    import cv2

    base = cv2.resize(samples["grace_hopper"], (256, 300), interpolation=cv2.INTER_AREA)
    times = np.r_[0, np.cumsum(np.where(np.arange(15) % 6 < 3, 1 / 30, 1 / 10))]
    driver = tmp_path / "vfr.mp4"
    tb = Fraction(1, 90000)
    with av.open(str(driver), "w") as c:
        video = c.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 256, 300, "yuv420p"
        video.codec_context.time_base = video.time_base = tb
        audio = c.add_stream("aac", rate=16000)
        for i, t in enumerate(times):
            frame = av.VideoFrame.from_ndarray(np.roll(base, 2 * i, axis=1), format="rgb24")
            frame.pts, frame.time_base = round(t / tb), tb
            for p in video.encode(frame):
                c.mux(p)
        for p in video.encode():
            c.mux(p)
        n = int(16000 * (times[-1] + 0.1))
        tone = (8000 * np.sin(np.arange(n) * 2 * np.pi * 440 / 16000)).astype(np.int16)
        for k in range(0, n, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, k:k + 1024], format="s16",
                                               layout="mono")
            chunk.sample_rate, chunk.pts = 16000, k
            for p in audio.encode(chunk):
                c.mux(p)
        for p in audio.encode():
            c.mux(p)
    out = tmp_path / "o.mp4"
    assert main(["animate", "-s", str(files / "astronaut.png"), "-d", str(driver),
                 "-o", str(out)]) == 0
    err = capfd.readouterr().err
    assert "vfr.mp4: variable frame rate (10 to 30 frames a second); each output frame kept " \
        "its driving frame's time" in err
    with av.open(str(out)) as c:
        got = [float(f.pts * f.time_base) for f in c.decode(video=0)]
        sound = c.streams.audio[0]
        sound_seconds = float(sound.duration * sound.time_base)
    np.testing.assert_allclose(got, times, atol=2e-3)
    assert abs(sound_seconds - (times[-1] + 1 / 16)) < 0.1  # cut at the last frame's end


def test_ctrl_c_wrapped_by_library_code_is_still_ctrl_c(monkeypatch, capsys):
    """Ctrl-C while a class is created (matplotlib's import in the first seconds) reaches us as
    "RuntimeError: Error calling __set_name__ ..." with the KeyboardInterrupt as its cause: it is
    still an interrupt (exit 130, the one line), not an unexpected error."""
    from reenact import cli

    def wrapped():
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise RuntimeError("Error calling __set_name__ on '_axis_method_wrapper'") from exc

    monkeypatch.setattr(cli, "_command", lambda args: wrapped)
    assert main(["animate", "-s", "a.png", "-d", "b.png", "-o", "c.png"]) == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted" in err and "unexpected error" not in err


def test_animate_runs_one_thread_per_torch_operation_unless_told(files, tmp_path, monkeypatch,
                                                                  capsys):
    # its frame path's own threads keep the cores busy; --threads still chooses, and the other
    # commands keep up to two
    import os

    import reenact.app.runtime

    threads = []
    monkeypatch.setattr(reenact.app.runtime, "configure_runtime", threads.append)
    missing = str(tmp_path / "missing.png")
    animate = ["animate", "-s", missing, "-d", str(files / "hopper.jpg"), "-o",
               str(tmp_path / "out.png")]
    assert main(animate) == EXIT_INPUT
    assert main(["--threads", "2", *animate]) == EXIT_INPUT
    assert main(["verify", missing]) != 0
    assert threads == [1, 2, min(2, os.cpu_count() or 1)]
    assert "missing.png" in capsys.readouterr().err


def test_the_runtime_sets_torchs_and_opencvs_threads():
    # OpenCV's pool would otherwise keep the priority of the thread that started it (the
    # frames' thread's) for the helpers' work
    import cv2
    import torch

    from reenact.app.runtime import configure_runtime

    before = torch.get_num_threads(), cv2.getNumThreads()
    try:
        configure_runtime(1)
        assert (torch.get_num_threads(), cv2.getNumThreads()) == (1, 1)
        configure_runtime(2)
        assert (torch.get_num_threads(), cv2.getNumThreads()) == (2, 2)
    finally:
        torch.set_num_threads(before[0])
        cv2.setNumThreads(before[1])


def test_a_process_s_own_command_leaves_its_imports_out_of_the_collector(files, tmp_path,
                                                                         monkeypatch, capsys):
    # the command line of the process (argv None): what the imports left is frozen, before the
    # command and again at its end, and the collector runs again; an embedding caller's argv
    # leaves its process's collector as it was
    import gc
    import sys

    from reenact import cli

    missing = str(tmp_path / "missing.png")
    animate = ["animate", "-s", missing, "-d", str(files / "hopper.jpg"), "-o",
               str(tmp_path / "out.png")]
    before = gc.get_freeze_count()
    assert main(animate) == EXIT_INPUT
    assert gc.get_freeze_count() == before and gc.isenabled()
    seen = []
    monkeypatch.setattr(cli, "_command", lambda args: lambda: seen.append(
        (gc.get_freeze_count(), gc.isenabled())))
    monkeypatch.setattr(sys, "argv", ["reenact", *animate])
    try:
        assert main() == 0
        assert seen[0][0] > before and seen[0][1]  # frozen before the command, collector on
        assert gc.get_freeze_count() > before and gc.isenabled()
    finally:
        gc.unfreeze()
    assert "missing.png" in capsys.readouterr().err


@pytest.mark.parametrize("busy", [False, True])
def test_the_program_exits_without_the_interpreters_teardown_unless_a_thread_runs(tmp_path, busy):
    # the reenact program (reenact.cli.run) ends its process without the interpreter's teardown
    # (unloading torch's modules: 0.12 s a command), keeping its status, the exit handlers and
    # the streams' last output; with another non-daemon thread still running, the normal exit
    # (whose first step, threading._shutdown, waits for it; here it also ends that thread)
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import atexit, os, sys, threading\n"
        "shutdown, done = threading._shutdown, threading.Event()\n"
        "threading._shutdown = lambda: (os.write(1, b'teardown\\n'), done.set(), shutdown())\n"
        "atexit.register(lambda: print('handler'))\n"
        f"if {busy}: threading.Thread(target=lambda: (done.wait(), print('thread'))).start()\n"
        "from reenact.cli import run\n"
        f"sys.argv = ['reenact', 'animate', '-s', {str(tmp_path / 'no.jpg')!r}, '-d',"
        f" {str(tmp_path / 'no.png')!r}, '-o', {str(tmp_path / 'out.png')!r}]\n"
        "print('unflushed', end='')\n"
        "run()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         cwd=Path(__file__).resolve().parents[2], timeout=120)
    assert out.returncode == EXIT_INPUT
    assert "no.jpg" in out.stderr.splitlines()[-1]
    assert "unflushed" in out.stdout and "handler" in out.stdout
    assert ("teardown" in out.stdout) == busy and ("thread" in out.stdout) == busy
