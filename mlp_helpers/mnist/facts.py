"""The facts every copy of MNIST is checked against, in one place.

The four arrays' shapes, the label counts and first labels of each split, the sha256 of
each uint8 array (C order), and the name and md5 of each original IDX file as distributed.
:func:`verify_mnist` checks a set of arrays against them; :mod:`mlp_helpers.data` (the
loader) and :mod:`mlp_helpers.mnist.sources` (where the bytes come from) both import this
module, and it imports neither.
"""
import hashlib

import numpy as np

from .._checks import describe

__all__ = ["IDX_FILES", "MNIST_SHA256", "MNIST_SHAPES", "TRAIN_COUNTS", "TEST_COUNTS",
           "FIRST_TRAIN_LABELS", "FIRST_TEST_LABELS", "NUM_VAL", "NotMNIST", "array_sha256", "verify_mnist"]


IDX_FILES = {   # array name -> (standard file name, md5 of the original .gz file as distributed)
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
# sha256 of each uint8 array's bytes (C order), computed once from the real data
MNIST_SHA256 = {
    "train_images": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "train_labels": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "test_images": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "test_labels": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
MNIST_SHAPES = {"train_images": (60_000, 28, 28), "train_labels": (60_000,),
                "test_images": (10_000, 28, 28), "test_labels": (10_000,)}
TRAIN_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
FIRST_TRAIN_LABELS = (5, 0, 4, 1, 9, 2, 1, 3, 1, 4)
FIRST_TEST_LABELS = (7, 2, 1, 0, 4, 1, 4, 9, 5, 9)
NUM_VAL = 5_000          # final=False: the last 5,000 training images are validation


class NotMNIST(ValueError):
    """Arrays that are not the real MNIST; str() is the one-line reason."""


def array_sha256(array):
    """The sha256 digest (hex) of an array's bytes in C order, as in ``MNIST_SHA256``."""
    return hashlib.sha256(memoryview(np.ascontiguousarray(array))).hexdigest()


def verify_mnist(arrays):
    """Raise NotMNIST with a one-line reason unless ``arrays`` are the four real MNIST arrays
    (uint8; their shapes, label counts, first labels and sha256 digests above)."""
    for name, shape in MNIST_SHAPES.items():
        a = arrays.get(name)
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.shape != shape:
            raise NotMNIST(f"{name} should be uint8 of shape {shape}, got {describe(a)}")
    for split, counts, first in (("train", TRAIN_COUNTS, FIRST_TRAIN_LABELS),
                                 ("test", TEST_COUNTS, FIRST_TEST_LABELS)):
        labels = arrays[f"{split}_labels"]
        got = tuple(int(n) for n in np.bincount(labels, minlength=10))
        if got != counts:
            raise NotMNIST(f"{split} label counts {got} differ from MNIST's {counts}")
        if tuple(int(v) for v in labels[:10]) != first:
            raise NotMNIST(f"first {split} labels {labels[:10].tolist()} differ from MNIST's {list(first)}")
    for name, digest in MNIST_SHA256.items():
        if array_sha256(arrays[name]) != digest:
            raise NotMNIST(f"sha256 of {name} differs from the known digest (altered data)")
