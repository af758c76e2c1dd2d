"""Every output says it is synthetic: the metadata written into images and videos, read back by
``reenact verify``."""

import datetime

import numpy as np
import pytest

from reenact.cli import main
from reenact.io import VideoWriter, read_image, write_image
from reenact.io.marking import IPTC, SOURCE_TYPES, marking, read_marking
from reenact.io.watermark import embed

WHEN = datetime.datetime(2026, 12, 4, 12, 30, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_images_carry_the_marking_and_unmarked_ones_do_not(tmp_path, suffix):
    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), np.uint8)
    mark = marking("analytic", WHEN)
    write_image(tmp_path / f"m{suffix}", image, mark)
    write_image(tmp_path / f"u{suffix}", image)
    assert read_marking(tmp_path / f"m{suffix}") == mark
    assert mark.source_type == IPTC + "compositeSynthetic" and mark.made == "2026-12-04T12:30:00Z"
    assert read_marking(tmp_path / f"u{suffix}") is None
    if suffix == ".png":  # the metadata leaves the pixels alone; the watermark is in them
        write_image(tmp_path / "bare.png", image, marking("analytic", WHEN, watermark=False))
        assert read_marking(tmp_path / "bare.png") == mark
        assert np.array_equal(read_image(tmp_path / "bare.png"), image)
        assert np.array_equal(read_image(tmp_path / f"m{suffix}"), embed(image, mark.day))


def test_xmp_carries_the_iptc_digital_source_type(tmp_path):
    from PIL import Image

    write_image(tmp_path / "m.jpg", np.zeros((16, 16, 3), np.uint8), marking("dcggan", WHEN))
    with Image.open(tmp_path / "m.jpg") as im:
        xmp = im.info["xmp"].decode()
    assert f"<Iptc4xmpExt:DigitalSourceType>{SOURCE_TYPES['learned']}<" in xmp
    assert "compositeWithTrainedAlgorithmicMedia" in xmp and "<xmp:CreatorTool>reenact " in xmp


def test_videos_carry_the_marking(tmp_path):
    mark = marking("analytic", WHEN)
    for name, m in (("m.mp4", mark), ("u.mp4", None)):
        with VideoWriter(tmp_path / name, 10, marking=m) as w:
            for i in range(3):
                w.write(np.full((32, 32, 3), 40 * i, np.uint8))
    assert read_marking(tmp_path / "m.mp4") == mark
    assert read_marking(tmp_path / "u.mp4") is None


def test_verify_says_which_files_are_marked_and_exits_accordingly(tmp_path, samples, capfd):
    src, out = tmp_path / "astronaut.png", tmp_path / "out.jpg"
    write_image(src, samples["astronaut"])
    write_image(tmp_path / "hopper.png", samples["grace_hopper"])
    assert main(["animate", "-s", str(src), "-d", str(tmp_path / "hopper.png"), "-o",
                 str(out), "--crop-only"]) == 0
    capfd.readouterr()
    assert main(["verify", str(out)]) == 0
    line = capfd.readouterr().out
    assert line.startswith(f"{out}: synthetic (watermark: reenact, made ")
    assert "; metadata: reenact " in line and "compositeSynthetic" in line
    assert main(["verify", str(out), str(src)]) == 1  # the photo itself is not marked
    lines = capfd.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"{src}: not marked")
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    assert main(["verify", str(out), str(tmp_path / "broken.png"), str(src)]) == 3
    captured = capfd.readouterr()
    assert "broken.png: cannot read" in captured.err and "Traceback" not in captured.err
    assert main(["verify", str(tmp_path / "missing.mp4")]) == 3
    assert "missing.mp4: no such file" in capfd.readouterr().err
