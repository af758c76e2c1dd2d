"""mediapipe without what reenact never uses of it: a fresh process, since the one running the
tests may have loaded all of mediapipe already."""

import subprocess
import sys

SCRIPT = """
import sys
import numpy as np
from reenact.face.mediapipe_loader import UNUSED, _Deferred, import_mediapipe

mp = import_mediapipe()
left = [n for n in UNUSED if not isinstance(sys.modules.get(n), _Deferred)]
loaded = [n for n in ("matplotlib", "attr", "mediapipe.tasks.python.vision.face_landmarker")
          if n in sys.modules]
with mp.solutions.face_mesh.FaceMesh(static_image_mode=True) as mesh:
    mesh.process(np.zeros((64, 64, 3), np.uint8))
with mp.solutions.face_detection.FaceDetection() as det:
    det.process(np.zeros((64, 64, 3), np.uint8))
with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
    seg.process(np.zeros((64, 64, 3), np.uint8))
from mediapipe.tasks.python import vision  # a stand-in loads the real module when used
print(left, loaded, vision.FaceLandmarker.__name__, mp.solutions.drawing_utils.DrawingSpec.__name__)
"""


def test_unused_parts_of_mediapipe_wait_until_used():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=False,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[]", "[]", "FaceLandmarker", "DrawingSpec"], out.stdout
