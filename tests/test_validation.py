"""The shared checks of mlp_helpers._checks: the one weights-dict check, and the
direction of the imports between the training loop and its fast path."""
import ast
from pathlib import Path

import numpy as np
import pytest

from mlp_helpers import MLP, train
from mlp_helpers._checks import check_labels, check_params, check_params_of

PACKAGE = Path(__file__).resolve().parents[1] / "mlp_helpers"


def _weights(D=4, H=5, K=3, dtype=np.float32):
    return {k: v.astype(dtype) for k, v in MLP(D, H, K, seed=0, dtype=np.float64).params.items()}


@pytest.mark.parametrize("key, bad, match", [
    ("W", np.zeros((4, 6), np.float32), r"params\['W'\] must be \(D, H\) = \(4, 5\) \(n_in, n_hidden\), got shape \(4, 6\)"),
    ("b", np.zeros(4, np.float32), r"params\['b'\] must have shape \(H,\) = \(5,\) to match W \(4, 5\), got \(4,\)"),
    ("V", np.zeros((5, 2), np.float32), r"params\['V'\] must be \(H, K\) = \(5, 3\) \(n_hidden, n_out\), got shape \(5, 2\)"),
    ("c", np.zeros(2, np.float32), r"params\['c'\] must have shape \(K,\) = \(3,\) to match V \(5, 3\), got \(2,\)"),
])
def test_check_params_names_the_key_the_shape_found_and_expected(key, bad, match):
    p = _weights()
    assert check_params(p, 4, 5, 3, np.float32) is p
    with pytest.raises(ValueError, match=match):
        check_params({**p, key: bad}, 4, 5, 3, np.float32)


def test_check_params_keys_dtype_and_finite():
    p = _weights()
    with pytest.raises(ValueError, match=r"params must have the keys 'W', 'b', 'V', 'c'; missing c"):
        check_params({k: v for k, v in p.items() if k != "c"})
    with pytest.raises(ValueError, match=r"params must have only the keys 'W', 'b', 'V', 'c'; it also has 'x'"):
        check_params({**p, "x": p["c"]})
    with pytest.raises(ValueError, match=r"params\['V'\] must have dtype float32 \(the network's\), got float64"):
        check_params({**p, "V": p["V"].astype(np.float64)}, dtype=np.float32)
    bad = p["b"].copy()
    bad[[1, 3]] = [np.nan, np.inf]
    with pytest.raises(ValueError, match=r"params\['b'\] must hold finite numbers, got NaN or inf \(2 of its 5 entries\)"):
        check_params({**p, "b": bad})
    assert check_params({**p, "b": bad}, finite=False)["b"] is bad


def test_one_weights_check_for_from_params_train_and_the_fast_path():
    net = MLP(4, 5, 3, seed=0)
    assert check_params_of(net) is net.params
    net.params["c"] = np.zeros(2, np.float32)
    x, t = np.ones((6, 4), np.float32), np.zeros(6, np.int64)
    for batch_size in (1, 2):
        with pytest.raises(ValueError, match=r"net.params\['c'\] must have shape \(K,\) = \(3,\)"):
            train(net, (x, t), batch_size=batch_size, progress=False)
    with pytest.raises(ValueError, match=r"params\['c'\] must have shape \(K,\) = \(3,\) to match V \(5, 3\), got \(2,\)"):
        MLP.from_params({**_weights(), "c": [0.0, 0.0]})


def test_labels_are_named_t():
    with pytest.raises(ValueError, match=r"^t must be class labels in \[0, 3\), got values from 0 to 3$"):
        check_labels(np.array([0, 3]), 3)
    net = MLP(4, 5, 3)
    with pytest.raises(ValueError, match=r"^t must have one label per row of x \(2\), got 1$"):
        net.loss(np.ones((2, 4)), np.array([0]))


def _imports(module):
    """The mlp_helpers modules a module imports (relative imports, at any depth of its code)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlp_helpers"):
            found.add(node.module.split(".", 1)[1] if "." in node.module else node.module)
    return found


def test_training_and_fast_do_not_import_each_other():
    assert "_fast" in _imports("training")          # train runs the fast steppers ...
    assert "training" not in _imports("_fast")      # ... which need nothing from training
