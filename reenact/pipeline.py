"""Source + driving -> re-enacted frames. Owns tracking, cropping, fitting, smoothing, mixing, the
warp, the refiner and paste-back; ``reenact animate``, ``evaluate`` and the Python API all run
``Reenactor.run``, which yields finished output frames (``Frame``) one by one.

    >>> from reenact.pipeline import Reenactor
    >>> r = Reenactor()
    >>> source = r.prepare_source("photo.jpg")  # doctest: +SKIP
    >>> for frame in r.run(source, r.open_driving(source, "driver.mp4")):  # doctest: +SKIP
    ...     frame.image  # (H, W, 3) uint8 RGB; frame.time, frame.face_found, frame.warp
"""

import dataclasses
import itertools
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Full, Queue

import cv2
import numpy as np
import torch

from reenact.config import AnimateConfig
from reenact.face import FaceCoefficients, LandmarkFaceModel, MixOptions, mix_coefficients
from reenact.face.backends import BackendSource
from reenact.face.reenactment import Reenacted, hold_turned, reenact_face, reference_level
from reenact.face.reference import placement_cost, placement_weight, reference_cost
from reenact.io import InputError, TimedFrames, image_to_tensor, iter_video_frames, read_image
from reenact.io.video import is_video_file
from reenact.io.workers import lower_priority
from reenact.motion.analytic import WarpResult, analytic_warp, warp_frames
from reenact.motion.detail import ExpressionDetail, shading
from reenact.motion.mouth import MouthFromDriver
from reenact.motion.paste import PasteGeometry, paste_back, paste_geometry, side_by_side, warp_crop
from reenact.motion.scene import SourceScene, build_scene
from reenact.render.compiled import load_in_background, usable_kernels, without_waiting
from reenact.tracking import known
from reenact.tracking.brows import BrowRegistration
from reenact.tracking.crop import CropBox, StableCropper, crop_image, face_crop_box, photo_crop
from reenact.tracking.mediapipe_tracker import MIN_FACE_PIXELS, FaceTracker, TrackedFace, pick_face
from reenact.tracking.references import examined, examined_frames
from reenact.tracking.segmentation import PersonSegmenter
from reenact.tracking.smoothing import CoefficientSmoother

_DONE = object()  # end of the tracked-frame stream
# a file's frames are warped this many at a time (a camera's one by one): each operation's fixed
# cost is shared (s42 by d3.mp4, 96 frames, the warp alone: 22.5 -> 14.2 ms a frame at 256 px,
# 57 -> 34 at 512; two at a time 16.5 and 39). Eight at a time at 256 px and below: the frames'
# thread 20.7 / 21.3 -> 18.6 / 18.9 ms of CPU a frame pasted into the photo, 24.0 / 22.6 -> 20.9
# / 18.4 for the crop (200 frames, two runs each); at 512 eight were slower end to end (16.2 /
# 15.8 against 16.9 / 17.2 fps: larger steps between the warp's thread and paste-back's) and held
# 0.3 GB more.
WARP_BATCH = 4
WARP_BATCH_SMALL, SMALL_CROP = 8, 256  # crops up to SMALL_CROP px


def warp_batch(size: int) -> int:
    """How many of a file's frames are warped at a time at crop ``size``."""
    return WARP_BATCH_SMALL if size <= SMALL_CROP else WARP_BATCH


@dataclass
class Source:
    """A prepared source: its full frame, crop box, and the analytic warp's precomputed scene."""

    name: str
    frame: np.ndarray  # (H, W, 3) uint8, the full source image
    box: CropBox
    crop: np.ndarray  # (S, S, 3) uint8
    landmarks: np.ndarray  # (478, 3) crop pixels
    coeffs: FaceCoefficients
    scene: SourceScene
    paste: PasteGeometry | None = None  # filled on first paste-back
    backend: "BackendSource | None" = None  # its FLAME / BFM fit, with --face-model flame|bfm


@dataclass(frozen=True)
class Driving:
    """An opened driving input (``Reenactor.open_driving``), read once by ``run`` or ``drive``."""

    frames: Iterable[np.ndarray]  # (H, W, 3) uint8 RGB, one pass; a video file's: TimedFrames
    is_video: bool  # consecutive frames: tracked, smoothed, relative motion by default
    fps: float
    reference: np.ndarray | None  # relative motion's reference frame; None: the first frame
    name: str  # for messages: the file, or "driving frames"
    count: int = 0  # the frames a video file's header lists (0: not known)
    has_audio: bool = False  # a video file with sound (the output takes it from ``name``)
    live: bool = False  # a camera (reenact.app.live): track the newest frame, hold none back

    @property
    def times(self) -> list[float] | None:
        """Each frame's time in seconds, filled as the frames are read (video files only)."""
        return getattr(self.frames, "times", None)


@dataclass(frozen=True)
class Frame:
    """One finished output frame of ``Reenactor.run``, and what reports and panels need."""

    index: int  # the driving frame it re-enacts
    image: np.ndarray  # (H, W, 3) uint8 RGB: the photo, the crop (crop_only) or the panels
    warp: WarpResult  # the crop-resolution result (refined, when a refiner runs)
    driving: np.ndarray  # the driving frame
    driving_box: CropBox | None  # its steady face crop; None until a face has been seen
    face_found: bool  # False: no face in this driving frame, the last motion held
    time: float | None  # seconds from the first driving frame (video files), else None

    def driving_crop(self, size: int) -> np.ndarray:
        """The driving frame's face crop (size, size, 3) uint8 (see ``driving_crop``)."""
        return driving_crop(self.driving, self.driving_box, size)


def driving_crop(frame: np.ndarray, box: CropBox | None, size: int) -> np.ndarray:
    """A driving frame's steady face crop (size, size, 3) uint8; the whole frame, resized, before
    a face has been seen (``box`` None)."""
    if box is None:
        return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)
    return crop_image(frame, box, size, border="smooth")


@dataclass
class AnimationReport:
    frames: int = 0
    missing_face_frames: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage, summed over frames

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - since
        return now


class Reenactor:
    """The default, training-free reenactor (landmark mesh + analytic warp).

    Args:
        config: see ``AnimateConfig``.
    """

    def __init__(self, config: AnimateConfig | None = None, refiner=None, transfer=None):
        """``refiner``: a ``reenact.refine.Refiner`` that replaces the warp's crop (default: the
        one ``config.model`` and ``config.checkpoint`` name, on ``config.device``; none for the
        analytic warp). ``transfer``: a loaded ``CoefficientTransfer`` for
        ``config.face_model`` (default: load its files). Pass either to share one between
        reenactors."""
        self.config = config or AnimateConfig()
        self.model = LandmarkFaceModel()
        self.transfer = transfer  # FLAME / BFM coefficient transfer (reenact.face.backends)
        if self.transfer is None and self.config.face_model != "landmark":
            from reenact.face.backends import cached_transfer

            self.transfer = cached_transfer(self.config.face_model, self.config.face_model_path)
        if refiner is None and self.config.model != "analytic":
            from reenact.refine import build_refiner

            refiner = build_refiner(self.config.model, self.config.checkpoint,
                                    self.config.device, self.transfer)
        self.refiner = refiner
        self._level = None  # (key, source, reference, offsets) of _reference_level
        # the last two fits (this frame's driver, the reference), by the coefficients' identity
        self._backend_fits: OrderedDict[int, tuple[FaceCoefficients, FaceCoefficients]] = \
            OrderedDict()
        self.report = AnimationReport()
        self.reference_index: int | str | None = None  # the reference open_driving found
        # (source, weight, scale, translation): the photo's place in the chosen reference's picture
        self._placement: tuple | None = None

    # -- source -------------------------------------------------------------------------------
    def prepare_source(self, image: np.ndarray | str | Path, name: str | None = None) -> Source:
        """Track, crop, fit and precompute the warp scene of the source photo."""
        if isinstance(image, (str, Path)):
            name = name or str(image)
            image = read_image(image)
        name = name or "source image"
        with FaceTracker(static=True) as tracker:
            faces = tracker.detect(image)
        face = pick_face(faces, self.config.face_index)
        if face is None:
            if faces:
                raise InputError(f"{name}: --face-index {self.config.face_index} asked for, but "
                                 f"only {len(faces)} face(s) found")
            raise InputError(f"{name}: no face found in the source image (the smallest "
                             f"found are {MIN_FACE_PIXELS} pixels wide)")
        S = self.config.size
        box, crop = photo_crop(image, face.points, self.config.margin, S)
        lm = box.to_crop(face.points, S)
        coeffs = self.model.fit(torch.from_numpy(lm)[None])
        with PersonSegmenter() as seg:
            person = seg.mask(crop)
        with without_waiting():  # a photo and one image driver: done before numba loads
            scene = build_scene(image_to_tensor(crop).double(), coeffs, self.model, person)
        backend = None if self.transfer is None else self.transfer.prepare(
            torch.from_numpy(lm)[None])
        return Source(name=name, frame=image, box=box, crop=crop, landmarks=lm, coeffs=coeffs,
                      scene=scene, backend=backend)

    # -- driving ------------------------------------------------------------------------------
    def _fit(self, face: TrackedFace) -> FaceCoefficients:
        """A driving face's fit (a video's every frame, its reference, the frames examined for
        one): one loop, compiled once numba has loaded (``LandmarkFaceModel.fit_points``)."""
        return self.model.fit_points(face.points, _ready_kernels())

    def _head(self, c: FaceCoefficients) -> torch.Tensor:
        return self.model.head_vertices(c.identity, c.expression)

    def _tracked(self, frames: Iterable[np.ndarray], is_video: bool, live: bool = False,
                 refine: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
                 ) -> Iterator[tuple[np.ndarray, TrackedFace | None, np.ndarray | None]]:
        """Decode and track one frame ahead, in a background thread: PyAV and mediapipe release
        the GIL, so this overlaps with the warp of the previous frame. ``refine(frame, points)``
        (the brows' registration) runs there too, on each face's points, and its points come
        third (None without a face or ``refine``). Errors re-raise here.
        ``live``: the next frame is taken from the camera only when the last tracked one has
        been taken for the warp, so no frame waits behind another (each adds a frame's latency)."""
        ahead = 1 if live else warp_batch(self.config.size)  # a batch's frames ahead
        queue: Queue = Queue(maxsize=ahead + 1)
        stop, taken = threading.Event(), threading.Event()

        def produce() -> None:
            own_threads()
            if not live:  # a camera's frame path waits for each frame: nothing to yield to
                lower_priority()
            try:
                with FaceTracker(static=not is_video) as tracker:
                    previous, t = None, time.perf_counter()
                    for frame in frames:
                        t = self.report.add("decode", t)
                        # the driver's largest face, then the one nearest it (--face-index
                        # picks the photo's face, not the driver's)
                        face = pick_face(tracker.detect(frame), 0, previous)
                        previous = face or previous
                        refined = None
                        if face is not None and refine is not None:
                            with torch.inference_mode(self.transfer is None):  # as in _steps
                                refined = refine(frame, face.points)
                        t = self.report.add("track", t)
                        taken.clear()
                        while not stop.is_set():
                            try:
                                queue.put((frame, face, refined), timeout=0.1)
                                break
                            except Full:
                                continue
                        while live and not stop.is_set() and not taken.wait(0.1):
                            pass
                        if stop.is_set():
                            return
                        t = time.perf_counter()
                queue.put(_DONE)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
                queue.put(exc)

        worker = threading.Thread(target=produce, name="reenact-track", daemon=True)
        worker.start()
        try:
            while (item := queue.get()) is not _DONE:
                taken.set()
                if isinstance(item, BaseException):
                    raise item
                yield item  # (frame, TrackedFace or None for a frame without a face, refined)
        finally:
            stop.set()
            worker.join()

    def run(self, source: Source, driving: Driving) -> Iterator[Frame]:
        """The finished output frames, one per driving frame, as they are made: the one frame
        path of ``reenact animate``, ``evaluate`` and the Python API."""
        S, times = self.config.size, driving.times

        def finish(i: int, frame: np.ndarray, box: CropBox | None, found: bool, warp: WarpResult
                   ) -> Frame:
            if self.config.side_by_side:  # the panels show crops: no paste-back
                image = side_by_side(source.crop, driving_crop(frame, box, S), warp_crop(warp))
            else:
                image = self.compose(source, warp)
            return Frame(index=i, image=image, warp=warp, driving=frame, driving_box=box,
                         face_found=found, time=None if times is None else times[i])

        made = self._steps(source, driving.frames, driving.fps, driving.is_video,
                           driving.reference, driving.name, driving.live)
        try:
            if driving.live:  # a camera: each frame out as soon as it is made, no later
                for i, step in enumerate(made):
                    yield finish(i, *step)
                return
            # a file: each frame's paste-back runs in a thread of its own while the next frames
            # are warped (torch releases the GIL)
            with ThreadPoolExecutor(1, thread_name_prefix="reenact-compose",
                                    initializer=lower_priority) as pool:
                pending: deque[Future] = deque()
                for i, step in enumerate(made):
                    pending.append(pool.submit(finish, i, *step))
                    if len(pending) > warp_batch(S):  # a batch pasted while the next is warped
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
        finally:  # stopped early (an error, SIGTERM, a consumer gone): the tracking thread
            # stops now, not whenever the frames are collected; one left inside mediapipe
            # aborted the interpreter's exit ("FATAL: exception not rethrown")
            made.close()

    def drive(self, source: Source, frames: Iterable[np.ndarray], fps: float = 25.0,
              is_video: bool = True, reference: np.ndarray | None = None,
              name: str = "driving") -> Iterator[WarpResult]:
        """Re-enact the source with each driving frame; yields the crop-resolution warp results
        (``run`` without paste-back: for research code that works on crops).

        Args:
            frames: driving frames, (H, W, 3) uint8 RGB.
            is_video: track across frames (and default to relative motion) rather than detect each.
            reference: the driving reference frame for relative motion (default: the first frame).
        """
        for *_, warp in self._steps(source, frames, fps, is_video, reference, name):
            yield warp

    def _steps(self, source: Source, frames: Iterable[np.ndarray], fps: float, is_video: bool,
               reference: np.ndarray | None, name: str, live: bool = False
               ) -> Iterator[tuple[np.ndarray, CropBox | None, bool, WarpResult]]:
        """(driving frame, its steady crop box, whether it shows a face, the warp) per frame."""
        cfg = self.config
        motion = cfg.motion or ("relative" if is_video else "absolute")
        options = MixOptions(alpha=cfg.alpha, pose_only=cfg.pose_only,
                             expression_only=cfg.expression_only,
                             follow_translation=motion == "relative",
                             follow_rotation=motion == "relative" and cfg.head_turn == "relative")
        smoother = CoefficientSmoother(fps, compiled=_ready_kernels) if (cfg.smooth and is_video) \
            else None
        if is_video or (isinstance(frames, (list, tuple)) and len(frames) > 1):
            load_in_background()  # enough frames to repay the compiled loops; the torch path
            # (the same bits) draws the frames before they are ready
        ref, detail, brows = None, None, None
        if reference is not None:
            ref_face = self._track_reference(reference, name)
            ref = self._fit(ref_face)
            if is_video:
                brows = BrowRegistration(reference, ref_face.points, _ready_kernels)
            if cfg.detail:
                detail = ExpressionDetail(reference, ref_face.points)
        self.report = AnimationReport()
        cropper = StableCropper(fps, cfg.margin) if is_video else None
        last = None
        mouth = None
        if cfg.mouth_fill and cfg.mouth == "driver":
            with without_waiting():
                mouth = MouthFromDriver(source, self.model)

        def registered(frame: np.ndarray, points: np.ndarray) -> np.ndarray:
            """The brows' rise mediapipe misses, from the pixels: in the tracking thread, beside
            the warp of the frames before (1.2 ms of CPU a frame at 512 px off the frames'
            thread). The fit and the driver's mouth moved there too made 512 px no faster and
            256 px 3-4 % slower (docs/speed.md, stop 54): they stay here."""
            nonlocal brows
            if brows is None:  # no reference given: the first frame with a face
                brows = BrowRegistration(frame, points, _ready_kernels)
            return brows(frame, points)

        driver_mouth, folds, box = None, None, None
        # a live camera's loop drops frames: its filters take the real gap between the frames it
        # shows (capture times), not 1 / fps, or they would lag by as many frames as it drops
        captured = getattr(frames, "times", None) if live else None
        batch: list[_Fitted] = []  # frames fitted, waiting to be warped together
        for i, (frame, face, brow_points) in enumerate(
                self._tracked(frames, is_video, live, registered if is_video else None)):
            t = time.perf_counter()
            if i == 0:  # the stills tracked ahead (reenact.tracking.ahead) are all asked for
                known.finish()
            dt = None
            if captured is not None and i > 0:
                dt = float(np.clip(captured[i] - captured[i - 1], 1e-3, 0.5))
            # no autograd bookkeeping (about 8 % a frame); a FLAME / BFM fit optimises
            with torch.inference_mode(self.transfer is None):
                if cropper is not None:
                    box = cropper(None if face is None else face.points, dt)
                elif face is not None:
                    box = face_crop_box(face.points, cfg.margin)
                if face is None:
                    if cfg.on_missing_face == "error":
                        raise InputError(f"{name}: frame {i}: no face found")
                    self.report.missing_face_frames.append(i)
                else:
                    if brow_points is not None:  # the crop box above keeps the tracked points
                        face = dataclasses.replace(face, points=brow_points)
                    fitted = self._fit(face)
                    last = fitted if smoother is None else smoother(fitted, dt)
                    if mouth is not None:  # this frame's own mouth, with its own (unsmoothed) fit
                        driver_mouth = mouth(frame, face.points, fitted)
                    if cfg.detail:
                        if detail is None:  # no reference given: the first frame with a face
                            detail = ExpressionDetail(frame, face.points)
                        folds = detail(frame, face.points)
                ref = ref if ref is not None else last
                self.report.add("fit+mix", t)
                self.report.frames += 1
            # last: held when no face; mixed with the batch (_warped)
            batch.append(_Fitted(frame, box, face is not None, last, ref, driver_mouth, folds))
            if len(batch) == (1 if live else warp_batch(cfg.size)):
                yield from self._warped(source, batch, motion, options)
                batch = []
        yield from self._warped(source, batch, motion, options)
        if self.report.frames and len(self.report.missing_face_frames) == self.report.frames:
            # nothing moved the photo: an error, not the photo unchanged (a landscape, a wall)
            raise InputError(f"{name}: no face found in " + (
                f"any of its {self.report.frames} frames" if is_video else "the image"))

    def _warped(self, source: Source, batch: list["_Fitted"], motion: str, options: MixOptions
                ) -> Iterator[tuple[np.ndarray, CropBox | None, bool, WarpResult]]:
        """The fitted frames mixed and warped in one call each, then each one's own steps (its
        model's meshes, shading, the refiner): a batch's frames share each operation's fixed
        cost, which at 256 px is half a frame's warp (bitwise the frames one at a time)."""
        if not batch:
            return
        cfg, t, done = self.config, time.perf_counter(), []
        with torch.inference_mode(self.transfer is None):
            coeffs, meshes = self._mixed(source, batch, motion, options)
            t = self.report.add("fit+mix", t)
            with without_waiting():
                # the crop is drawn where it is read: never for a frame pasted into the photo,
                # by the paste-back's thread for a crop
                warps = warp_frames(analytic_warp(
                    source.scene, self.model, coeffs, mouth_fill=cfg.mouth_fill,
                    driver_mouth=_batched([f.mouth for f in batch]), draw_later=True))
            for f, warp, m in zip(batch, warps, meshes, strict=True):
                if m is not None:
                    warp = dataclasses.replace(warp, model_meshes=m)
                if f.folds is not None:
                    shade = shading(f.folds, warp.fragments, source.scene.faces)
                    warp = dataclasses.replace(warp, image=(warp.image * shade).clamp(0, 1),
                                               shading=shade)
                done.append(warp)
            t = self.report.add("warp", t)
            if self.refiner is not None:
                done = [refined(w, self.refiner(source.scene, w)) for w in done]
                self.report.add("refine", t)
        for f, warp in zip(batch, done, strict=True):
            yield f.frame, f.box, f.found, warp

    def _track_reference(self, reference: np.ndarray, name: str) -> TrackedFace:
        with FaceTracker(static=True) as t:
            face = pick_face(t.detect(reference))  # the driver's largest face
        if face is None:
            raise InputError(f"{name}: frame {self.config.reference_frame} (the reference "
                             f"frame) has no face")
        return face

    def choose_reference(self, source: Source, frames: Iterable[np.ndarray], fps: float,
                         count: int | None = None) -> tuple[int, np.ndarray] | None:
        """``--reference-frame auto``: the driving frame (index, image) whose face is nearest the
        photo's in head pose and expression (``reenact.face.reference``), among the frames
        ``reenact.tracking.references.examined`` gives (``count``: how many frames ``frames``
        has, if known). None when none of them shows a face. When the chosen
        frame is framed like the photo (``placement_weight``), relative motion takes the photo's
        place in it."""
        picks = examined(fps, count)
        photo = self._head(source.coeffs)
        box, S = source.box, self.config.size
        photo_points = box.to_image(source.landmarks, S)
        best = None  # (cost, index, frame, placement cost)
        with FaceTracker(static=True) as t:
            for i, frame in enumerate(itertools.islice(frames, picks.stop)):
                if i not in picks:
                    continue
                face = pick_face(t.detect(frame))  # the driver's largest face
                if face is None:
                    continue
                c = self._fit(face)
                place = placement_cost(photo_points, source.frame.shape[1], face.points,
                                       frame.shape[1])
                cost = float(reference_cost(photo, source.coeffs.rotation, self._head(c),
                                            c.rotation)[0]) + place
                if best is None or cost < best[0]:
                    best = (cost, i, frame, place)
        self._placement = None
        if best is not None and (w := placement_weight(best[3])) > 0:
            # the photo's crop-frame scale and translation in the chosen frame's pixels
            k = best[2].shape[1] / source.frame.shape[1]
            c = source.coeffs
            t = torch.from_numpy(box.to_image(c.translation.numpy(), S) * k).to(c.translation)
            self._placement = (source, w, c.scale * (box.side / S) * k, t)
        return None if best is None else best[1:3]

    def open_driving(self, source: Source, driving: np.ndarray | str | Path | list[np.ndarray]
                     ) -> Driving:
        """The driving input (an image, a video file or a list of frames) opened for
        ``source``: with ``reference_frame="auto"`` (the default) a video in relative motion
        gets the reference ``choose_reference`` finds (None, as for the first frame, when that
        is the first frame). Sets ``self.reference_index``."""
        opened = open_driving(driving, self.config)
        motion = self.config.motion or ("relative" if opened.is_video else "absolute")
        self.reference_index = self.config.reference_frame if opened.is_video else None
        self._placement = None
        if self.config.reference_frame == "auto" and opened.is_video and motion == "relative":
            again = driving if isinstance(driving, list) else examined_frames(
                driving, opened.fps, opened.count)
            chosen = self.choose_reference(source, again, opened.fps,
                                           len(driving) if isinstance(driving, list)
                                           else opened.count)
            self.reference_index = 0 if chosen is None else chosen[0]
            if chosen is not None and chosen[0] > 0:
                opened = dataclasses.replace(opened, reference=chosen[1])
        return opened

    def _mixed(self, source: Source, batch: list["_Fitted"], motion: str, options: MixOptions
               ) -> tuple[FaceCoefficients, list]:
        """The batch's re-enacted coefficients (B) and each frame's model meshes (or None). Frames
        moving relative to one reference are mixed in one call: the mix is a hundred small
        tensor operations, so a batch takes little more than one frame (bitwise each alone);
        absolute motion, a FLAME / BFM fit, or a frame before the first driving face, one frame
        at a time."""
        ref = batch[0].ref
        if self.transfer is None and motion == "relative" and all(
                f.drv is not None and f.ref is ref for f in batch):
            drv = batch[0].drv if len(batch) == 1 else FaceCoefficients.cat([f.drv for f in batch])
            return self._mix(source, drv, ref, motion, options).coeffs, [None] * len(batch)
        mixed = [self._mix(source, f.drv, f.ref, motion, options) for f in batch]
        return FaceCoefficients.cat([m.coeffs for m in mixed]), [m.meshes for m in mixed]

    def _mix(self, source: Source, drv: FaceCoefficients | None, ref: FaceCoefficients | None,
             motion: str, options: MixOptions) -> Reenacted:
        """The re-enacted face (``reenact.face.reenactment``, which the training data calls too):
        landmark-mesh coefficients and, with a FLAME / BFM backend, that model's posed meshes;
        the source as it is while no driving face has been seen."""
        if self.transfer is not None and source.backend is None:
            raise ValueError(f"{source.name}: prepared without --face-model "
                             f"{self.config.face_model}; prepare it with this Reenactor")
        if drv is None or ref is None:
            if self.transfer is not None:
                b = source.backend
                return Reenacted(hold_turned(source.coeffs, self.model.fit(
                    self.transfer.landmarks(b, b.coeffs))), self.transfer.meshes(b, b.coeffs))
            zero = torch.zeros_like(source.coeffs.expression)
            return Reenacted(mix_coefficients(source.coeffs, source.coeffs, source.coeffs, zero,
                                              MixOptions(alpha=0.0)))
        placed = ref
        if (placement := self._placed(source, ref, motion)) is not None:
            placed = ref.replace(scale=placement[0], translation=placement[1])
        relative, backend = motion == "relative", {}
        if self.transfer is not None:
            b_ref = self._backend_fit(ref)  # the reference's fit first: it stays cached
            backend = {"transfer": self.transfer, "backend": source.backend,
                       "backend_driver": self._backend_fit(drv), "backend_reference": b_ref}
        level = None
        if relative and self.transfer is None and self.config.reference_expression > 0:
            level = self._reference_level(source, ref)
        return reenact_face(self.model, source.coeffs, drv, ref, relative, options,
                            self.config.reference_expression, placed, level, **backend)

    def _placed(self, source: Source, ref: FaceCoefficients, motion: str
                ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The reference's scale and translation moved towards the photo's place in its picture
        (``choose_reference``), or None when relative motion keeps the reference where it is."""
        if motion != "relative" or self._placement is None or self._placement[0] is not source:
            return None
        _, w, scale, translation = self._placement  # framed like the photo: its place
        return (ref.scale * (scale / ref.scale) ** w,
                ref.translation + w * (translation - ref.translation))

    def _reference_level(self, source: Source, ref: FaceCoefficients) -> torch.Tensor:
        """Offsets (1, V, 3) that give the photo the reference frame's expression (absolute
        transfer), once per photo and reference: relative motion from a reference that is
        already angry or smiling adds ``reference_expression`` of them. Mouth and eyes only: the
        brows' absolute transfer carries the driver's brow height, a trait of the face (s42
        driven by d3 took on d3's forehead with it)."""
        key = (id(source), id(ref))
        if self._level is None or self._level[0] != key:
            level = reference_level(self.model, source.coeffs, ref)
            self._level = (key, source, ref, level)  # holds both, so their ids stay unique
        return self._level[3]

    def _backend_fit(self, c: FaceCoefficients) -> FaceCoefficients:
        """The FLAME / BFM fit of a (tracked, smoothed) landmark-mesh face; the reference frame's
        is kept, so it is fitted once."""
        fits, key = self._backend_fits, id(c)  # c is held in the entry, so its id stays unique
        if key in fits:
            fits.move_to_end(key)
        else:
            if len(fits) >= 2:
                fits.popitem(last=False)
            fits[key] = (c, self.transfer.fit(self.model.vertices(c)))
        return fits[key][1]

    # -- output -------------------------------------------------------------------------------
    @torch.inference_mode()
    def compose(self, source: Source, warp: WarpResult) -> np.ndarray:
        """The output frame: the crop (``crop_only``) or the full source frame with the crop pasted
        back at the source's own resolution. (H, W, 3) uint8."""
        t = time.perf_counter()
        if self.config.crop_only:
            out = warp_crop(warp)
        else:
            if source.paste is None:
                source.paste = paste_geometry(source.frame, source.box, self.config.size)
            with without_waiting():  # one frame pasted sooner than numba loads
                out = paste_back(source.frame, source.box, warp, source.paste)
        self.report.add("compose", t)
        return out

    def animate(self, source: np.ndarray | str | Path,
                driving: np.ndarray | str | Path | list[np.ndarray]) -> list[np.ndarray]:
        """Re-enact ``source`` with a driving image, video file or list of frames; returns the
        output frames ((H, W, 3) uint8 RGB), one per driving frame."""
        src = source if isinstance(source, Source) else self.prepare_source(source)
        return [f.image for f in self.run(src, self.open_driving(src, driving))]


@dataclass(frozen=True)
class _Fitted:
    """A driving frame fitted, waiting for its batch's mix and warp."""

    frame: np.ndarray
    box: CropBox | None
    found: bool
    drv: FaceCoefficients | None  # the driving face (smoothed; held while none is found)
    ref: FaceCoefficients | None  # the reference it moves from (None: no face seen yet)
    mouth: tuple[torch.Tensor, torch.Tensor] | None  # the driver's mouth interior, its weight
    folds: object  # the driver's expression folds (--detail) or None


def own_threads() -> None:
    """This thread's torch operations on the process's thread count (``torch.set_num_threads``,
    as ``reenact.app.runtime`` set it), not OpenMP's default of every core: a thread Python
    starts gets OpenMP's own, and its parallel operations woke a team whose idle worker spun.
    With the fit and the mouth there (tried, docs/speed.md) the tracking thread took 11 ms of
    CPU a frame at 512 px, and 16 ms more in that worker; 6.8 ms and none with this. (Not the
    compose thread: its few large operations gain from the second core, 256 crop 48.4 -> 51.2
    fps without it there.)"""
    torch.set_num_threads(torch.get_num_threads())


def _ready_kernels():
    """The compiled loops if numba has loaded them, else None (never waits: the brows'
    registration, the smoothing and the fit run them as Python until then, with the same
    bits)."""
    with without_waiting():
        return usable_kernels()


def _batched(mouths: list[tuple[torch.Tensor, torch.Tensor] | None]
             ) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Each frame's driver mouth (interior (1, 3, h, w), weight (1,)) or None -> the batch's;
    a frame without one takes an empty interior at weight 0, which the warp leaves unused."""
    given = [m for m in mouths if m is not None]
    if not given:
        return None
    empty = (torch.zeros_like(given[0][0]), torch.zeros_like(given[0][1]))
    return tuple(torch.cat([(m or empty)[k] for m in mouths]) for k in range(2))


def refined(warp: WarpResult, image: torch.Tensor) -> WarpResult:
    """The warp with its crop replaced by a refiner's output (B, 3, S, S): the image becomes the
    overlay with full weight, so paste-back places the refined crop instead of the warped photo."""
    image = image.to(warp.image.dtype).clamp(0, 1)
    return dataclasses.replace(warp, image=image, overlay=image,
                               overlay_weight=torch.ones_like(image[:, :1]), shading=None)


def open_driving(driving, config: AnimateConfig) -> Driving:
    """A driving input (an image array, a list of frames, an image or video file) opened; with
    ``reference_frame="auto"`` the reference is None here (``Reenactor.open_driving`` chooses).
    Whether it is a video is decided here, once."""
    if isinstance(driving, np.ndarray):
        return Driving([driving], False, 25.0, None, "driving image")
    index = config.reference_frame if isinstance(config.reference_frame, int) else 0
    if isinstance(driving, list):
        return Driving(driving, True, 25.0, _reference(driving, index, "driving"),
                       "driving frames", len(driving))
    path = Path(driving)
    if is_video_file(path):
        from reenact.io import probe_video

        info = probe_video(path)
        ref = None
        if index > 0:
            ref = _reference(iter_video_frames(path), index, str(path))
        # each frame's time is kept (TimedFrames.times): a variable rate's output keeps it
        return Driving(TimedFrames(path), True, float(info.fps), ref, str(path),
                       info.num_frames, info.has_audio)
    return Driving([read_image(path)], False, 25.0, None, str(path))


def _reference(frames: Iterable[np.ndarray], index: int, name: str) -> np.ndarray | None:
    if index == 0:
        return None
    for i, f in enumerate(frames):
        if i == index:
            return f
    raise InputError(f"{name}: --reference-frame {index} is past the last frame")


