"""What the metrics read from one image: its tracked landmarks, head pose, expression descriptor
and identity embedding, measured once per image."""

import logging
from dataclasses import dataclass

import numpy as np

from reenact.eval.expression_error import dlib_expression_descriptor, expression_descriptor
from reenact.eval.pose_error import head_pose_deg

log = logging.getLogger("reenact")


@dataclass(frozen=True)
class Observation:
    points: np.ndarray | None  # (478, 3) landmarks in pixels; None: no face found
    pose: np.ndarray | None  # (pitch, yaw, roll) degrees
    expression: np.ndarray | None  # expression_descriptor
    embedding: np.ndarray | None  # identity embedding; None: no face, or no embedder
    dlib_points: np.ndarray | None = None  # (68, 2) dlib's points; None: no face or no dlib

    @property
    def dlib_expression(self) -> np.ndarray | None:
        return None if self.dlib_points is None else dlib_expression_descriptor(self.dlib_points)


class Observer:
    """Observes images with one static mediapipe tracker, one identity embedder (``None``:
    identity metrics are not computed) and one pose estimator, ``pose(image, points) -> (pitch,
    yaw, roll)`` degrees (``None``: the landmark fit's pose; e.g. ``HopenetPose``), and dlib's
    68-point predictor for the landmark and expression measures of an estimator the pipeline does
    not use (``dlib``: ``image -> (68, 2) or None``; default ``FaceLayoutCheck().landmarks``, or
    none without dlib)."""

    def __init__(self, embedder=None, pose=None, dlib="default"):
        from reenact.tracking.mediapipe_tracker import FaceTracker, pick_face

        self._tracker = FaceTracker(static=True)
        self._pick = pick_face
        self.embedder = embedder
        self.pose = pose
        self.dlib = _default_dlib() if dlib == "default" else dlib

    def __call__(self, image: np.ndarray) -> Observation:
        face = self._pick(self._tracker.detect(image), 0)
        points = None if face is None else face.points
        embedding = self.embedder(image, points) if self.embedder is not None else None
        dlib_points = self.dlib(np.ascontiguousarray(image)) if self.dlib is not None else None
        if points is None:
            return Observation(None, None, None, embedding, dlib_points)
        pose = head_pose_deg(points) if self.pose is None else self.pose(image, points)
        return Observation(points, pose, expression_descriptor(points), embedding, dlib_points)

    def landmarks(self, image: np.ndarray) -> np.ndarray | None:
        """(478, 3) landmarks of the largest face, or None (no embedding: cheaper)."""
        face = self._pick(self._tracker.detect(image), 0)
        return None if face is None else face.points

    def close(self) -> None:
        self._tracker.close()


def _default_dlib():
    """dlib's 68-point landmarks, or None with a warning when dlib or its model is missing."""
    try:
        from reenact.eval.face_layout import FaceLayoutCheck

        return FaceLayoutCheck().landmarks
    except (ImportError, FileNotFoundError, RuntimeError) as exc:
        log.warning("dlib's 68-point predictor is unavailable (%s): the dlib landmark and "
                    "expression measures are left out", exc)
        return None


def default_embedder(kind: str = "dlib", arcface: str | None = None, arch: str = "r50"):
    """The CSIM embedder: dlib's (default; None with a warning when dlib is missing) or ArcFace
    from the user's weights."""
    from reenact.eval.csim import ArcFaceEmbedder, DlibEmbedder

    if kind == "arcface":
        if not arcface:
            raise ValueError("identity arcface needs the weights (--arcface PATH)")
        return ArcFaceEmbedder(arcface, arch)
    if kind != "dlib":
        raise ValueError(f"identity must be dlib or arcface, got {kind!r}")
    try:
        return DlibEmbedder()
    except (ImportError, FileNotFoundError, RuntimeError) as exc:
        log.warning("identity metrics off: dlib's face embedding is unavailable (%s)", exc)
        return None
