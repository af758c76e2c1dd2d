import io

import numpy as np
import pytest
from PIL import Image

from reenact.io import InputError, read_image, write_image


def _save(tmp_path, name, img: Image.Image, **kw):
    p = tmp_path / name
    img.save(p, **kw)
    return p


def test_grayscale_alpha_palette_and_cmyk_become_rgb(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (32, 40, 3), dtype=np.uint8)
    base = Image.fromarray(rgb)
    for name, img in [("g.png", base.convert("L")), ("a.png", base.convert("RGBA")),
                      ("p.png", base.convert("P")), ("c.jpg", base.convert("CMYK"))]:
        out = read_image(_save(tmp_path, name, img))
        assert out.shape == (32, 40, 3) and out.dtype == np.uint8, name


def test_alpha_is_composited_over_white(tmp_path):
    rgba = np.zeros((16, 16, 4), dtype=np.uint8)  # fully transparent black
    out = read_image(_save(tmp_path, "t.png", Image.fromarray(rgba, "RGBA")))
    assert (out == 255).all()


def test_16bit_gray_and_colour(tmp_path):
    import cv2

    gray16 = (np.arange(32 * 32, dtype=np.uint16).reshape(32, 32) * 60)
    p = tmp_path / "g16.png"
    cv2.imwrite(str(p), gray16)
    out = read_image(p)
    assert out.shape == (32, 32, 3) and out.max() > 200
    col16 = np.zeros((16, 16, 3), dtype=np.uint16)
    col16[..., 2] = 65535  # BGR: red channel full
    p2 = tmp_path / "c16.png"
    cv2.imwrite(str(p2), col16)
    out2 = read_image(p2)
    assert out2[0, 0].tolist() == [255, 0, 0]


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    p = tmp_path / "r.jpg"
    img.save(p, exif=exif.tobytes())
    assert read_image(p).shape == (40, 20, 3)


@pytest.mark.parametrize("content,match", [
    (b"", "empty"),
    (b"this is not an image at all", "not a readable image"),
])
def test_bad_files_name_the_file(tmp_path, content, match):
    p = tmp_path / "bad.jpg"
    p.write_bytes(content)
    with pytest.raises(InputError, match=match) as err:
        read_image(p)
    assert "bad.jpg" in str(err.value)


def test_truncated_jpeg_and_missing_file(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        buf, format="JPEG")
    p = tmp_path / "trunc.jpg"
    p.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    with pytest.raises(InputError, match="trunc.jpg"):
        read_image(p)
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_write_is_atomic_and_round_trips(tmp_path):
    img = np.random.default_rng(2).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    p = tmp_path / "sub" / "x.png"
    write_image(p, img)
    assert np.array_equal(read_image(p), img)
    assert [f.name for f in p.parent.iterdir()] == ["x.png"]
    with pytest.raises(InputError, match="suffix"):
        write_image(tmp_path / "x.xyz", img)


def test_each_output_suffix_is_written_in_the_format_pillow_gives_it(tmp_path):
    """write_image's own suffix -> format table (it spares loading every Pillow plugin) agrees
    with Pillow's registry, and each suffix writes a file Pillow reads back as that format."""
    from reenact.io.image import FORMATS

    registry = Image.registered_extensions()
    assert {s: registry[s] for s in FORMATS} == FORMATS
    rgb = np.random.default_rng(0).integers(0, 255, (16, 16, 3), dtype=np.uint8)
    for suffix, name in FORMATS.items():
        write_image(tmp_path / f"o{suffix}", rgb)
        with Image.open(tmp_path / f"o{suffix}") as img:
            assert img.format == name
