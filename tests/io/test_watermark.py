"""The pixel watermark: put in by the writers, found by ``reenact verify`` after the attacks an
output meets (H.264 at CRF 28, halving, JPEG 75, a 10 % crop off each side), not found where it is
not."""

import datetime
import io
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

import reenact.io.marking as marking_module
from reenact.cli import main
from reenact.io import iter_video_frames, read_image, write_image
from reenact.io.marking import read_marking
from reenact.io.watermark import DAYS, EPOCH, _day, detect, detect_frames, embed

DAY = datetime.date(2026, 12, 4)
WHEN = datetime.datetime(2026, 12, 4, 12, 30, tzinfo=datetime.timezone.utc)
SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


# -- attacks, made here with Pillow and PyAV --------------------------------------------------
def jpeg75(image):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=75)
    return np.asarray(Image.open(buf).convert("RGB"))


def half(image):
    h, w = image.shape[:2]
    return np.asarray(Image.fromarray(image).resize((w // 2, h // 2), Image.BILINEAR))


def crop10(image):
    h, w = image.shape[:2]
    return np.ascontiguousarray(image[h // 10:h - h // 10, w // 10:w - w // 10])


def reencode(src: Path, dst: Path, change=lambda f: f, crf: int = 28) -> None:
    """What a video site does: decode, (resize or crop), encode with libx264 at ``crf``; the
    metadata does not come along."""
    with av.open(str(src)) as i, av.open(str(dst), "w", format="mp4") as o:
        stream = None
        for frame in i.decode(video=0):
            a = change(frame.to_ndarray(format="rgb24"))
            a = np.ascontiguousarray(a[:a.shape[0] // 2 * 2, :a.shape[1] // 2 * 2])
            if stream is None:
                stream = o.add_stream("libx264", rate=25)
                stream.width, stream.height, stream.pix_fmt = a.shape[1], a.shape[0], "yuv420p"
                stream.options = {"crf": str(crf)}
            for p in stream.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                o.mux(p)
        for p in stream.encode():
            o.mux(p)


@pytest.fixture(scope="module")
def face(samples):
    """A 256 px face picture (the astronaut's), like animate's crop."""
    return cv2.resize(samples["astronaut"], (256, 256), interpolation=cv2.INTER_AREA)


@pytest.mark.parametrize("attack", [None, jpeg75, half, crop10])
def test_a_marked_picture_is_found_with_its_day_after_each_attack(face, attack):
    marked = embed(face, DAY)
    seen = marked if attack is None else attack(marked)
    d = detect(seen)
    assert d.found and d.day == DAY, d
    unmarked = face if attack is None else attack(face)
    assert not detect(unmarked).found


@pytest.mark.parametrize("size", [240, 144, 300])
def test_a_picture_resized_to_any_size_is_found(face, size):
    """A site's 240p or 144p of a 256 px output, or one enlarged: scales off the common list."""
    seen = cv2.resize(embed(face, DAY), (size, size), interpolation=cv2.INTER_AREA)
    d = detect(seen)
    assert d.found and d.day == DAY, d


def test_the_mark_is_faint_and_keeps_the_colours(face):
    marked = embed(face, DAY).astype(float)
    diff = marked - face
    assert 10 * np.log10(255 ** 2 / np.mean(diff ** 2)) > 33  # PSNR against the unmarked
    assert abs(diff.mean()) < 0.2  # no brightness shift
    # the same change on R, G and B (brightness only) where no channel clips
    inside = ((face > 20) & (face < 235)).all(axis=2)
    assert inside.mean() > 0.5
    assert np.abs(diff[..., 0] - diff[..., 2])[inside].max() == 0


def test_a_large_picture_gets_a_coarser_mark_found_after_shrinking(samples):
    big = cv2.resize(samples["grace_hopper"], (1200, 1400), interpolation=cv2.INTER_CUBIC)
    marked = embed(big, DAY)
    for scale in (1.0, 0.5, 0.25, 0.6):
        seen = cv2.resize(marked, (round(1200 * scale), round(1400 * scale)),
                          interpolation=cv2.INTER_AREA)
        d = detect(seen)
        assert d.found and d.day == DAY, (scale, d)


def test_the_day_reads_back_within_its_window():
    today = datetime.date(2027, 3, 1)

    def payload(day):
        return (day - EPOCH).days % DAYS

    oldest = today - datetime.timedelta(days=DAYS - 1)
    assert _day(payload(today), today) == today and _day(payload(oldest), today) == oldest
    # a day further back than the window reads as the latest day with the same payload
    old = today - datetime.timedelta(days=DAYS + 5)
    assert _day(payload(old), today) == old + datetime.timedelta(days=DAYS)


def made(path: Path) -> datetime.date:
    """The day an output was made, as its metadata says (the watermark carries it too)."""
    return read_marking(path).day


@pytest.fixture(scope="module")
def clips(tmp_path_factory, samples, turning_head):
    """``reenact animate`` outputs (256 px crops, 80 frames): the astronaut driven by Grace Hopper
    turning her head, marked as always, and with --no-watermark."""
    d = tmp_path_factory.mktemp("wm")
    write_image(d / "astronaut.png", samples["astronaut"])
    # made on DAY, not the day the tests run: whether a halved clip's payload reads back
    # depends on the day it carries (docs/marking.md), and a test should not
    with pytest.MonkeyPatch.context() as m:
        m.setattr(marking_module, "_now", lambda: datetime.datetime.combine(
            DAY, datetime.time(12), datetime.timezone.utc))
        for name, extra in (("marked.mp4", []), ("unmarked.mp4", ["--no-watermark"])):
            assert main(["animate", "-s", str(d / "astronaut.png"), "-d", str(turning_head),
                         "-o", str(d / name), "--crop-only", *extra]) == 0
    assert made(d / "marked.mp4") == DAY
    return d


# the share of frames found on their own (all of them here for each; halving a 256 px video before a
# CRF 28 encode leaves the least, 98 % of the frames of the weakest real clip: docs/marking.md)
@pytest.mark.parametrize("change,share", [(None, 0.95), (half, 0.85), (crop10, 0.9)],
                         ids=["crf28", "halved", "cropped"])
def test_a_marked_video_is_found_after_a_site_re_encodes_it(clips, tmp_path, change, share):
    out = tmp_path / "site.mp4"
    reencode(clips / "marked.mp4", out, change or (lambda f: f))
    assert read_marking(out) is None  # the site dropped the metadata
    d = detect_frames(iter_video_frames(out))
    assert d.clip.found and d.clip.day == made(clips / "marked.mp4"), d
    assert d.frames_found >= share * d.frames, d
    unmarked = tmp_path / "site_unmarked.mp4"
    reencode(clips / "unmarked.mp4", unmarked, change or (lambda f: f))
    u = detect_frames(iter_video_frames(unmarked))
    assert not u.clip.found and u.frames_found == 0


def test_verify_reads_the_watermark_where_the_metadata_is_gone(clips, tmp_path, face, capfd):
    site = tmp_path / "site.mp4"
    reencode(clips / "marked.mp4", site, half)
    still = tmp_path / "shared.jpg"
    Image.fromarray(crop10(embed(face, DAY))).save(still, quality=75)  # no metadata
    plain = tmp_path / "plain.mp4"
    reencode(clips / "unmarked.mp4", plain)
    assert main(["verify", str(site), str(still)]) == 0
    lines = capfd.readouterr().out.splitlines()
    day = made(clips / "marked.mp4").isoformat()
    assert lines[0].startswith(f"{site}: synthetic (watermark: reenact, made {day}, in ")
    assert "/80 frames)" in lines[0] and "metadata" not in lines[0]
    assert lines[1] == f"{still}: synthetic (watermark: reenact, made 2026-12-04)"
    assert main(["verify", str(plain)]) == 1
    assert capfd.readouterr().out.startswith(f"{plain}: not marked (no watermark")


@pytest.mark.slow  # 12 s: a whole real video read for a mark
def test_an_unmarked_real_video_is_not_called_marked(capfd):
    clip = SHARED / "driving" / "d0.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} is absent (the shared data is not here)")
    d = detect_frames(iter_video_frames(clip))
    assert not d.clip.found and d.frames_found == 0
    assert main(["verify", str(clip)]) == 1
    assert "not marked" in capfd.readouterr().out


def test_no_watermark_warns_and_keeps_the_metadata(tmp_path, samples, capfd):
    src, drv = tmp_path / "astronaut.png", tmp_path / "hopper.png"
    write_image(src, samples["astronaut"])
    write_image(drv, samples["grace_hopper"])
    marked, bare = tmp_path / "marked.png", tmp_path / "bare.png"
    for out, extra in ((marked, []), (bare, ["--no-watermark"])):
        assert main(["animate", "-s", str(src), "-d", str(drv), "-o", str(out),
                     "--crop-only", *extra]) == 0
    err = capfd.readouterr().err
    assert err.count("warning: --no-watermark") == 1 and "research evaluation" in err
    assert read_marking(bare) is not None and read_marking(marked) is not None
    assert not detect(read_image(bare)).found
    d = detect(read_image(marked))
    assert d.found and d.day == datetime.datetime.now(datetime.timezone.utc).date()
    # the same picture but for the mark
    diff = read_image(marked).astype(float) - read_image(bare)
    assert 0 < np.abs(diff).mean() < 4
