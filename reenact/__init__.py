"""reenact: one-shot face reenactment.

Animate one photo of a face with the head pose and facial expression of another person's image or
video, keeping the photo's identity. The default method is training-free: a landmark-mesh face model
fitted to both faces, mixed (source shape, driving pose and expression), rendered, and used as an exact
dense correspondence to warp the source. See ``reenact.pipeline.Reenactor``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
