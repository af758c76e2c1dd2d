"""``reenact animate`` on good and bad inputs: one-line errors, non-zero exits, nothing lost."""

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

    def interrupt(self, frame):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        original(self, frame)

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

    from reenact.models.dcggan import CorrespondenceConfig
    from reenact.models.dcggan.generator import GeneratorConfig
    from reenact.models.dcggan.model import DCGGAN, DCGGANConfig
    from reenact.train.checkpoint import save_checkpoint

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
    from reenact.models.meshgcn.model import MeshGCN, MeshGCNConfig
    from reenact.models.meshgcn.motion_net import MotionNetConfig
    from reenact.models.meshgcn.reenacting import ReenactingConfig
    from reenact.train.checkpoint import save_checkpoint

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
