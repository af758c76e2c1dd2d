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


def import_mediapipe():
    """mediapipe, quiet, without loading matplotlib's pyplot: mediapipe's package imports it for
    drawing helpers we never call (a quarter of a second at start-up here). pyplot stays a
    ``_Deferred`` stand-in until someone uses it."""
    _quiet_mediapipe()
    if "mediapipe" not in sys.modules and "matplotlib.pyplot" not in sys.modules:
        sys.modules["matplotlib.pyplot"] = _Deferred("matplotlib.pyplot")
    import mediapipe

    return mediapipe
