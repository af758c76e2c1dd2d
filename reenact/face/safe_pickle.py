"""Reading the face models' official pickle files without running code from them.

FLAME's ``generic_model.pkl`` (and the SMPL family's files) are Python 2 pickles of a dict holding
numpy arrays, a scipy sparse matrix and chumpy ``Ch`` arrays. ``pickle.load`` would import and
call whatever the file names, so a tampered file could run anything. This unpickler resolves only a
fixed list of names, each to something that builds data and nothing else:

- numpy's array and scalar reconstruction (``_reconstruct``, ``ndarray``, ``dtype``, ``scalar``);
- chumpy's ``Ch`` to a stand-in that keeps its value ``x`` as a numpy array (chumpy itself is not
  needed, nor imported);
- scipy's CSC / CSR / COO matrices to a stand-in rebuilt from their arrays;
- ``set``, ``frozenset``, ``object`` and ``_codecs.encode`` (how protocol-2 pickles spell bytes);
- ``copyreg._reconstructor``, only for the stand-ins above.

Anything else is refused with the name it asked for. ``load_pickle`` also reads ``.npy`` files
that hold a pickled object (FLAME's ``landmark_embedding.npy``) through the same unpickler.

Example:
    >>> import io, pickle
    >>> safe_loads(pickle.dumps({"a": np.arange(3)}, protocol=2))["a"]
    array([0, 1, 2])
"""

import _compat_pickle
import codecs
import io
import os
import pickle
from pathlib import Path

import numpy as np
import scipy.sparse as sp


class ChumpyArray:
    """What a chumpy ``Ch`` becomes: its state is read for ``x`` and nothing is called."""

    def __init__(self, *args) -> None:
        self.x = None

    def __setstate__(self, state) -> None:
        if not isinstance(state, dict) or "x" not in state:
            raise pickle.UnpicklingError("a chumpy array without its value 'x'")
        self.x = np.asarray(state["x"])


class SparseMatrix:
    """What a scipy sparse matrix becomes: rebuilt from its arrays by scipy's constructors."""

    kind = "csc"

    def __init__(self, *args) -> None:
        self.matrix = None

    def __setstate__(self, state) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError("a sparse matrix without its arrays")
        shape = tuple(int(n) for n in state.get("_shape", state.get("shape", ())))
        if self.kind == "coo":
            self.matrix = sp.coo_matrix((state["data"], (state["row"], state["col"])), shape)
        else:
            build = sp.csr_matrix if self.kind == "csr" else sp.csc_matrix
            self.matrix = build((state["data"], state["indices"], state["indptr"]), shape)


class _Csr(SparseMatrix):
    kind = "csr"


class _Coo(SparseMatrix):
    kind = "coo"


_STANDINS = {("chumpy.ch", "Ch"): ChumpyArray}
for _kind, _cls in (("csc", SparseMatrix), ("csr", _Csr), ("coo", _Coo)):
    for _module in (f"scipy.sparse.{_kind}", f"scipy.sparse._{_kind}"):  # old and new paths
        _STANDINS[(_module, f"{_kind}_matrix")] = _cls


def _reconstructor(cls, base, state):
    """copyreg._reconstructor (protocols 0 and 1), for the stand-ins only."""
    if cls not in _STANDINS.values() or base is not object:
        raise pickle.UnpicklingError(f"refusing to reconstruct {cls!r}")
    return cls()


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): np.core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np.core.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): np.core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np.core.multiarray.scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "object"): object,
    ("_codecs", "encode"): codecs.encode,
    ("copyreg", "_reconstructor"): _reconstructor,
}


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        # Python 2 names (__builtin__, copy_reg) as pickle's own find_class maps them.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if (module, name) in _STANDINS:
            return _STANDINS[(module, name)]
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} (not face-model data)")


def _plain(value):
    """Stand-ins -> numpy arrays / scipy matrices, through dicts, lists and tuples."""
    if isinstance(value, ChumpyArray):
        return value.x
    if isinstance(value, SparseMatrix):
        return value.matrix
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, np.ndarray) and value.dtype == object:
        out = np.empty(value.shape, dtype=object)
        for i, v in np.ndenumerate(value):
            out[i] = _plain(v)
        return out
    return value


def safe_loads(data: bytes):
    """Unpickle ``data`` with ``SafeUnpickler`` (latin-1 for Python 2 strings)."""
    return _plain(SafeUnpickler(io.BytesIO(data), encoding="latin1").load())


def load_pickle(path: str | os.PathLike, what: str = "face model file"):
    """The data in a pickle or a pickled-object ``.npy`` file, with no code from it run.

    Raises:
        FileNotFoundError: no such file (the message says what was expected).
        ValueError: the file names something that is not data, or is not a pickle at all.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what}")
    raw = path.read_bytes()
    try:
        if raw[:6] == b"\x93NUMPY":
            return _npy_object(raw)
        return safe_loads(raw)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError,
            AttributeError, IndexError) as exc:
        raise ValueError(f"{path}: not a {what} ({exc})") from None


def _npy_object(raw: bytes):
    """A .npy file: plain arrays read by numpy (no pickle), object arrays by SafeUnpickler."""
    f = io.BytesIO(raw)
    version = np.lib.format.read_magic(f)
    _, _, dtype = np.lib.format._read_array_header(f, version)
    if dtype.hasobject:
        value = safe_loads(f.read())
        return value.item() if isinstance(value, np.ndarray) and value.shape == () else value
    f.seek(0)
    return np.load(f, allow_pickle=False)

