"""``reenact animate``: check the paths, run the pipeline, write the image or video atomically."""

import contextlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from reenact.config import AnimateConfig
from reenact.io import InputError, VideoWriter, variable_rate, write_image
from reenact.io.image import IMAGE_SUFFIXES
from reenact.io.marking import marking
from reenact.io.native_log import native_stderr_to
from reenact.io.video import VIDEO_SUFFIXES, is_video_file
from reenact.pipeline import Driving, Reenactor, Source


def check_paths(source: Path, driving: Path, out: Path, overwrite: bool) -> bool:
    """Validate the paths; returns whether the driving input is a video."""
    for p in (source, driving):
        if p.is_dir():
            raise InputError(f"{p}: is a folder; give an image or video file")
        if not p.is_file():
            raise InputError(f"{p}: no such file")
    if out.resolve() in (source.resolve(), driving.resolve()):
        raise InputError(f"{out}: the output path is one of the inputs; choose another")
    is_video = is_video_file(driving)
    if is_video and out.suffix.lower() != ".mp4":
        raise InputError(f"{out}: a driving video gives a video; name the output .mp4")
    if not is_video and out.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"{out}: a driving image gives an image; name the output .png or .jpg")
    if source.suffix.lower() in VIDEO_SUFFIXES:
        raise InputError(f"{source}: the source must be a still image, not a video")
    if out.exists() and not overwrite:
        raise InputError(f"{out}: already exists (pass --overwrite to replace it)")
    if out.is_dir():
        raise InputError(f"{out}: is a folder")
    check_writable(out)
    return is_video


def _missing_folders(out: Path) -> list[Path]:
    """The output's folders that do not exist yet, deepest first."""
    missing, folder = [], out.parent
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


PROBE_BYTES = 1 << 20  # written and removed before the work: a folder that cannot take this fails


def check_writable(out: Path) -> None:
    """Fail before the work, not after it, where the output's folder cannot take a file (read
    only, full, not a folder): one line naming the user's path and the reason. Probes the
    nearest folder that exists (the missing ones are created only when the output is written)."""
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(f"{out}: cannot write there ({folder} is not a folder)")
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".reenact-probe-") as f:
            f.write(bytes(PROBE_BYTES))
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise InputError(f"{out}: cannot write there ({exc.strerror or exc})") from None


NO_WATERMARK_WARNING = (
    "reenact: warning: --no-watermark: the output's pixels carry no watermark; only its metadata "
    "says it is synthetic, and re-encoding strips that. Use it for research evaluation only.")


def watermark_wanted(args) -> bool:
    """False for ``--no-watermark``, which says so on stderr."""
    if getattr(args, "no_watermark", False):
        print(NO_WATERMARK_WARNING, file=sys.stderr)
        return False
    return True


def signing_key(args):
    """``--sign-key`` and ``--sign-cert`` read and checked before the work, or None."""
    key, cert = getattr(args, "sign_key", None), getattr(args, "sign_cert", None)
    if key is None and cert is None:
        return None
    if key is None or cert is None:
        raise InputError("--sign-key and --sign-cert go together (a key and its certificate)")
    from reenact.io.credentials import load_signing_key

    return load_signing_key(key, cert)


def run_animate(args, config: AnimateConfig) -> None:
    source, driving, out = Path(args.source), Path(args.driving), Path(args.out)
    is_video = check_paths(source, driving, out, args.overwrite)
    args.signing = signing_key(args)
    args.watermark = watermark_wanted(args)
    if config.detail and not is_video:
        print("reenact: --detail carries a driving video's folds against its reference frame; "
              "an image driver has none, so it changes nothing here", file=sys.stderr)
    if config.reference_frame != "auto" and not is_video:
        print(f"reenact: --reference-frame {config.reference_frame} chooses a frame of a driving "
              f"video; an image driver has one, so it changes nothing here", file=sys.stderr)
    created = _missing_folders(out)  # made for the output; a failed run takes them away again
    try:
        # mediapipe's native console lines would run through the progress bar (--debug keeps
        # them)
        if getattr(args, "debug", False):
            notes = _animate(args, config, is_video, sys.stderr)
        else:
            with native_stderr_to(os.devnull) as console:
                notes = _animate(args, config, is_video, console)
    except BaseException:
        for folder in created:  # deepest first, and only while empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    for note in notes:
        print(f"reenact: {note}", file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)


def _animate(args, config: AnimateConfig, is_video: bool, console) -> list[str]:
    """Load, track, warp and write; returns the notes for the user (``write_animation``)."""
    source, out = Path(args.source), Path(args.out)
    reenactor = Reenactor(config)  # builds the refiner of --model on --device
    src = reenactor.prepare_source(source)
    if (note := turned_note(src)) is not None:
        print(f"reenact: {source}: {note}", file=console)
    driving = reenactor.open_driving(src, Path(args.driving))
    if (note := reference_note(reenactor, driving)) is not None:
        print(note, file=console)
    return write_animation(reenactor, src, driving, out, console,
                           signing=getattr(args, "signing", None),
                           watermark=getattr(args, "watermark", True))


def turned_note(src: Source) -> str | None:
    """What a photo turned far from the camera holds back, or None (``animate`` and the page)."""
    from reenact.face.expression import PHOTO_TRUST, expression_trust, off_axis_degrees

    held = float(expression_trust(src.coeffs.rotation, PHOTO_TRUST)[0])
    if held >= 0.9:  # a few per cent less turn does not show
        return None
    return (f"the face is turned {float(off_axis_degrees(src.coeffs.rotation)[0]):.0f} degrees "
            f"from the camera, too far round to track its hidden side; its head turns and "
            f"expressions are {f'reduced to {held:.0%}' if held > 0.005 else 'held'} "
            f"(held entirely from {PHOTO_TRUST[1]:.0f} degrees)")


def reference_note(reenactor: Reenactor, driving: Driving) -> str | None:
    """Which driving frame ``--reference-frame auto`` chose, or None where it chose none."""
    config = reenactor.config
    if driving.is_video and config.reference_frame == "auto" and \
            (config.motion or "relative") == "relative":
        return (f"reference frame: {reenactor.reference_index} (the driving frame nearest the "
                f"photo in pose and expression; --reference-frame N sets it)")
    return None


def write_animation(reenactor: Reenactor, src: Source, driving: Driving, out: Path, console,
                    progress: Callable[[int, int], None] | None = None, signing=None,
                    watermark: bool = True) -> list[str]:
    """Run the frame path into ``out`` (an image for an image driver, else an mp4 with the
    driver's sound and frame times), marked as synthetic in its metadata and, unless
    ``watermark`` is off, in its pixels, atomically, with a progress bar on ``console`` and
    ``progress(done, total)`` per frame (total 0: not known); returns notes for the user.
    ``signing``: a ``reenact.io.credentials.SigningKey`` to embed signed C2PA credentials."""
    # closed on the way out, whatever stops it: its threads stop before the process exits
    with contextlib.closing(reenactor.run(src, driving)) as frames:
        return _write_frames(frames, driving, out, reenactor, signing, console, progress,
                             watermark)


def _write_frames(frames, driving, out, reenactor, signing, console, progress, watermark
                  ) -> list[str]:
    mark = marking(reenactor.config.model, watermark=watermark)  # every output says synthetic
    if not driving.is_video:
        image = next(frames).image
        for _ in frames:  # the end of the one-frame run: where a faceless image raises
            pass
        write_image(out, image, mark)
        _sign(out, signing, mark)
        return _missing_note(reenactor.report)
    with VideoWriter(out, driving.fps, audio_from=driving.name if driving.has_audio else None,
                     timed=True, marking=mark) as writer:
        bar = tqdm(total=driving.count or None, unit="frame", desc="animate", disable=None,
                   file=console)
        for frame in frames:
            writer.write(frame.image, frame.time, owned=True)  # a new array each frame
            bar.update(1)
            if progress is not None:
                progress(frame.index + 1, driving.count)
        bar.close()
    _sign(out, signing, mark)
    notes = []
    if (rates := variable_rate(driving.times)) is not None:
        notes.append(f"{driving.name}: variable frame rate ({rates[0]:.3g} to {rates[1]:.3g} "
                     f"frames a second); each output frame kept its driving frame's time")
    decoded = reenactor.report.frames
    if driving.count and decoded < driving.count:
        notes.append(f"{driving.name}: its header promises {driving.count} frames but only "
                     f"{decoded} could be decoded (a truncated or damaged file?); wrote {decoded}")
    return notes + _missing_note(reenactor.report)


def _sign(out: Path, signing, mark) -> None:
    if signing is not None:
        from reenact.io.credentials import sign

        sign(out, signing, mark)


def _missing_note(report) -> list[str]:
    missing = report.missing_face_frames
    if not missing:
        return []
    return [(f"{len(missing)} of {report.frames} driving frames had no face (first: frame "
             f"{missing[0]}); held the last motion there")]
