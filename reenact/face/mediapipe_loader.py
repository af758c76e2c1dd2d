"""mediapipe, imported quietly and without what reenact never uses of it (below the tracker,
which meshes with it, and the landmark topology, which reads its mesh's edges)."""

import importlib
import os
import sys
import types


def _quiet_mediapipe() -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # absl is a mediapipe dependency; stay quiet only if present
        pass


class _Deferred(types.ModuleType):
    """A stand-in for a module in ``sys.modules`` that imports the real one on the first use of
    any of its attributes. (``importlib.util.LazyLoader`` does not do here: the import statement
    reads a module's ``__spec__``, which loads a lazy module at once.)"""

    def __getattr__(self, name: str):
        real = self.__dict__.get("_real")
        if real is None:
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
            real = self._real = importlib.import_module(self.__name__)
        return getattr(real, name)


# What mediapipe's package imports and reenact never calls: the drawing helpers (which import
# matplotlib), the 3-D object detector (which imports attrs), the Tasks API's vision, text and
# genai tasks, and the audio tasks' recorder (sounddevice). Together 0.3 s of the 0.46 s
# mediapipe's import takes here. (The audio tasks themselves stay: the Tasks API's package needs
# what they import.)
UNUSED = (
    "matplotlib.pyplot",
    "mediapipe.python.solutions.drawing_utils",
    "mediapipe.python.solutions.drawing_styles",
    "mediapipe.python.solutions.objectron",
    "mediapipe.tasks.python.genai",
    "mediapipe.tasks.python.text",
    "mediapipe.tasks.python.vision",
    "sounddevice",
)


def import_mediapipe():
    """mediapipe, quiet, without loading what reenact never uses of it (``UNUSED``): each stays a
    ``_Deferred`` stand-in until someone uses it."""
    _quiet_mediapipe()
    if "mediapipe" in sys.modules:
        return sys.modules["mediapipe"]
    standing = {name: _Deferred(name) for name in UNUSED if name not in sys.modules}
    sys.modules.update(standing)
    import mediapipe

    for name, stand_in in standing.items():  # mp.solutions.drawing_utils works as before
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and not hasattr(sys.modules[parent], child):
            setattr(sys.modules[parent], child, stand_in)
    return mediapipe
