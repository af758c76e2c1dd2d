"""Run systems over evaluation cases and score every output frame; resumable.

Per (case, system) the scores of each output frame go to ``rows.jsonl`` as one line each, written
when that case and system finish; a rerun with the same settings skips what is there. The first
outputs of each (case, system) are kept as a small strip for the grids.
"""

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from reenact.eval.csim import cosine_similarity, same_identity
from reenact.eval.expression_error import dlib_landmark_error, expression_mse
from reenact.eval.jitter import landmark_jitter
from reenact.eval.observe import Observation, Observer
from reenact.eval.pose_error import pose_mse, pose_rmse
from reenact.eval.protocols import SELF_PROTOCOLS, Case, Collection
from reenact.eval.systems import Drive
from reenact.io import InputError, write_image
from reenact.io.atomic import atomic_path
from reenact.metrics.face_mask import face_mask
from reenact.metrics.landmark_error import landmark_error
from reenact.metrics.psnr import psnr
from reenact.metrics.ssim import ssim_region
from reenact.tracking.crop import crop_image, face_crop_box

PSNR_CAP = 100.0  # dB, for identical images (the driver reference in self-reenactment)
THUMB = 128  # side of the kept output thumbnails
GRID_ROWS = 4  # output frames kept per (case, system) for the grids


@dataclass(frozen=True)
class EvalSettings:
    """What a results folder was made with; a rerun must match to resume."""

    frames: int = 8
    clip: int = 16
    size: int = 256
    identity: str = "dlib"
    pose: str = "landmarks"  # or "hopenet"
    lpips: bool = False
    fid: bool = False


@dataclass
class Extras:
    """Metrics that need the user's weights: ``lpips(a, b) -> float`` on face crops (self-
    reenactment), ``fid(images) -> (N, D)`` features of face crops (saved per case and system;
    the report computes the distance per system)."""

    lpips: object = None
    fid: object = None


def face_crop(image: np.ndarray, points: np.ndarray, size: int = 256) -> np.ndarray:
    """The square crop around a face's landmarks (1.5 x their box) that LPIPS and FID read."""
    box = face_crop_box(points, 1.5)
    return crop_image(image, box, size)


def frame_scores(out: Observation, drv: Observation, src: Observation, output: np.ndarray,
                 target: np.ndarray | None, calibrated: bool,
                 mask: np.ndarray | None = None) -> dict[str, float]:
    """The metrics of one output frame. ``drv``: the driving frame (the ground truth when
    ``target`` is given: self-reenactment); ``src``: the source; ``mask``: the ground truth's
    face region if already computed. Metrics that cannot be measured (no face found, no
    embedder) are left out."""
    row: dict[str, float] = {"face_found": float(out.points is not None)}
    if out.embedding is not None and src.embedding is not None:
        row["csim"] = cosine_similarity(out.embedding, src.embedding)
        if calibrated:
            row["same_identity"] = float(same_identity(out.embedding, src.embedding))
    if out.points is not None and drv.points is not None:
        row["pose_mse"] = pose_mse(out.pose, drv.pose)
        row["prmse"] = pose_rmse(out.pose, drv.pose)
        row["exp_mse"] = expression_mse(out.expression, drv.expression)
    if out.dlib_points is not None and drv.dlib_points is not None:
        row["exp_mse_dlib"] = expression_mse(out.dlib_expression, drv.dlib_expression)
        if target is not None:
            row["akd_dlib"] = dlib_landmark_error(out.dlib_points, drv.dlib_points)
    if target is not None and drv.points is not None:
        if output.shape != target.shape:
            output = cv2.resize(output, target.shape[1::-1], interpolation=cv2.INTER_AREA)
        if mask is None:
            mask = face_mask(drv.points.astype(np.float64), target.shape[:2])
        if mask.any():
            row["psnr"] = min(psnr(output, target, mask), PSNR_CAP)
            row["ssim"] = ssim_region(output, target, mask)
        if out.points is not None:
            row["akd"] = landmark_error(out.points[:468], drv.points[:468])
    return row


class Runner:
    """Scores ``systems`` on ``cases`` into ``out_dir`` (rows.jsonl, thumbnails)."""

    def __init__(self, out_dir: str | Path, settings: EvalSettings, embedder=None, pose=None,
                 extras: Extras | None = None):
        self.out = Path(out_dir)
        self.settings = settings
        self.embedder = embedder
        self.pose = pose
        self.extras = extras or Extras()
        self.out.mkdir(parents=True, exist_ok=True)
        self._check_settings()
        self.rows_path = self.out / "rows.jsonl"
        self.done = {(r["case"], r["system"]) for r in read_rows(self.rows_path)}
        _drop_unfinished(self.rows_path)

    def _check_settings(self) -> None:
        path = self.out / "settings.json"
        mine = asdict(self.settings)
        if path.exists():
            theirs = json.loads(path.read_text())
            for k, v in mine.items():
                if theirs.get(k) != v:
                    raise InputError(f"{self.out}: made with {k}={theirs.get(k)!r}, not {v!r}; "
                                     "give the same settings to resume, or another --out")
        else:
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(mine, indent=2) + "\n")

    def pending(self, cases: list[Case], systems: list) -> list[tuple[Case, object]]:
        return [(c, s) for c in cases for s in systems if (c.key, s.name) not in self.done]

    def run(self, cases: list[Case], systems: list, sources: Collection, drivers: Collection,
            progress=None) -> list[str]:
        """Scores what is not done yet; returns one line per skipped (case, system) with why."""
        todo = self.pending(cases, systems)
        skipped: list[str] = []
        observer = Observer(self.embedder, self.pose)
        calibrated = bool(getattr(self.embedder, "calibrated", False))
        try:
            by_case: dict[str, list] = {}
            for case, system in todo:
                by_case.setdefault(case.key, []).append(system)
            for case in [c for c in cases if c.key in by_case]:
                try:
                    media = _CaseMedia(case, sources, drivers, observer)
                    self._inputs(case, media)
                except InputError as exc:
                    media, why = None, str(exc)
                for system in by_case[case.key]:
                    base = {"case": case.key, "system": system.name, "protocol": case.protocol,
                            "pair": case.pair}
                    try:
                        if media is None:
                            raise InputError(why)
                        rows = self._score(case, system, media, calibrated)
                    except InputError as exc:
                        skipped.append(f"{case.key} / {system.name}: {exc}")
                        rows = [{**base, "skipped": str(exc)}]
                    append_rows(self.rows_path, rows + [{**base, "done": True}])
                    self.done.add((case.key, system.name))
                    if progress is not None:
                        progress.update(1)
        finally:
            observer.close()
        return skipped

    def _score(self, case: Case, system, media: "_CaseMedia", calibrated: bool) -> list[dict]:
        self_case = case.protocol in SELF_PROTOCOLS
        # "self": relative from the source frame itself; "self-outside": the system's own choice
        own_frame = media.source if case.protocol == "self" else None
        drive = Drive(media.driving, is_video=False,
                      motion="relative" if self_case else "absolute", reference=own_frame)
        outputs = system(media.source_key, media.source, drive)
        base = {"case": case.key, "system": system.name, "protocol": case.protocol,
                "pair": case.pair}
        rows, crops = [], []
        for i, (output, frame_index) in enumerate(zip(outputs, case.driving, strict=True)):
            target = media.driving[i] if self_case else None
            seen, drv = media.observer(output), media.driving_obs[i]
            scores = frame_scores(seen, drv, media.source_obs, output, target, calibrated,
                                  media.face_mask(i) if self_case else None)
            if self.extras.lpips is not None and target is not None and drv.points is not None:
                fitted = cv2.resize(output, target.shape[1::-1], interpolation=cv2.INTER_AREA)
                scores["lpips"] = self.extras.lpips(face_crop(fitted, drv.points),
                                                    face_crop(target, drv.points))
            if seen.points is not None:
                crops.append(face_crop(output, seen.points))
            rows.append({**base, "frame": frame_index, **scores})
        self._thumbnails(case, system.name, outputs)
        if self.extras.fid is not None:
            self._features(case, system.name, crops)
        if media.clip:
            clip = Drive(media.clip, is_video=True, motion="relative", reference=own_frame)
            points = [media.observer.landmarks(o)
                      for o in system(media.source_key, media.source, clip)]
            rows.append({**base, "frame": "clip", "jitter": landmark_jitter(points)})
        return rows

    def _thumbnails(self, case: Case, name: str, images: list[np.ndarray]) -> None:
        strip = np.concatenate([thumbnail(im) for im in images[:GRID_ROWS]], axis=0)
        path = strip_path(self.out, case.key, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_image(path, strip)

    def _inputs(self, case: Case, media: "_CaseMedia") -> None:
        """The case's source and driving strips, next to the systems' outputs (and the driving
        frames' FID features: the real set)."""
        n = min(GRID_ROWS, len(media.driving))
        self._thumbnails(case, "_source", [media.source] * n)
        self._thumbnails(case, "_driving", media.driving)
        if self.extras.fid is not None:
            self._features(case, "_real", [face_crop(f, o.points) for f, o in
                                           zip(media.driving, media.driving_obs, strict=True)
                                           if o.points is not None])

    def _features(self, case: Case, name: str, crops: list[np.ndarray]) -> None:
        feats = self.extras.fid(crops) if crops else np.zeros((0, 0))
        path = features_path(self.out, case.key, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            np.save(tmp, feats)


class _CaseMedia:
    """A case's frames and their observations, loaded once for all systems."""

    def __init__(self, case: Case, sources: Collection, drivers: Collection, observer: Observer):
        self.observer = observer
        self.source_key = f"{case.source.name}:0"
        self.source = sources.frames(case.source, [0])[0]
        self.source_obs = observer(self.source)
        if self.source_obs.points is None:
            raise InputError(f"{case.source.path}: no face found in the source frame")
        self.driving = drivers.frames(case.driver, list(case.driving))
        self.driving_obs = [observer(f) for f in self.driving]
        self.clip = drivers.frames(case.driver, list(case.clip)) if case.clip else []
        self._masks: dict[int, np.ndarray] = {}

    def face_mask(self, i: int) -> np.ndarray | None:
        """Driving frame i's face region (computed once for all systems), None without a face."""
        points = self.driving_obs[i].points
        if points is None:
            return None
        if i not in self._masks:
            self._masks[i] = face_mask(points.astype(np.float64), self.driving[i].shape[:2])
        return self._masks[i]


def thumbnail(image: np.ndarray, side: int = THUMB) -> np.ndarray:
    """(H, W, 3) -> (side, side, 3): resized to fit, centred on black."""
    h, w = image.shape[:2]
    s = side / max(h, w)
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))),
                       interpolation=cv2.INTER_AREA)
    out = np.zeros((side, side, 3), np.uint8)
    y, x = (side - small.shape[0]) // 2, (side - small.shape[1]) // 2
    out[y:y + small.shape[0], x:x + small.shape[1]] = small
    return out


def features_path(out: Path, case: str, system: str) -> Path:
    return out / "features" / safe_name(case) / f"{safe_name(system)}.npy"


def strip_path(out: Path, case: str, system: str) -> Path:
    return out / "outputs" / safe_name(case) / f"{safe_name(system)}.png"


def safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def read_rows(path: Path) -> list[dict]:
    """The rows of every finished (case, system), without their end markers; the lines of one an
    interruption cut short are dropped (and it is redone)."""
    if not path.exists():
        return []
    rows, batch = [], []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            batch = []
            continue
        if row.get("done"):
            rows += [r for r in batch if (r["case"], r["system"]) == (row["case"], row["system"])]
            batch = []
        else:
            batch.append(row)
    return rows


def _drop_unfinished(path: Path) -> None:
    """Cuts the file after its last end marker (what an interruption left after it is redone)."""
    if not path.exists():
        return
    text = path.read_text()
    keep = text.rfind('"done": true}')
    keep = 0 if keep < 0 else text.index("\n", keep) + 1
    if keep != len(text):
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text[:keep])


def append_rows(path: Path, rows: list[dict]) -> None:
    """Appends one (case, system)'s rows as whole lines and syncs them to disk."""
    text = "".join(json.dumps(r, default=float) + "\n" for r in rows)
    with open(path, "a") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
