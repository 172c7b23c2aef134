"""Tests of the layout of mlp_helpers.plotting: small modules, no import circle, the same public names."""
import ast
import os
import subprocess
import sys
import types
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from mlp_helpers import plotting  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mlp_helpers" / "plotting"
MODULES = sorted(PACKAGE.glob("*.py"))
MAX_LINES = 600

# The public names of mlp_helpers/plotting.py before it became a package (issue 29)
PUBLIC_NAMES = {
    "CLASS_COLORS", "DPI_SAVE", "FIGSIZE", "LOSS_LABEL", "SAFE_COLORS", "SAFE_MARKERS", "TRAIN_COLOR",
    "VAL_COLOR", "accuracy_vs_lr", "activation_histograms", "confusion_matrix", "decision_boundary",
    "digit_grid", "early_stopping", "epoch_losses", "gradient_noise", "histograms", "log_axis", "loss_curves",
    "loss_readings", "lr_colors", "lr_comparison", "lr_panels", "lr_schedules", "mean_std_bands", "plane_grid",
    "plot_confusion_matrix", "running_loss", "save_figure", "seed_spread", "weight_images",
}


def sibling_imports(path):
    """The plotting modules that ``path`` imports (``from .x import ...``, ``from . import x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module} if node.module else {a.name for a in node.names}
    return found


def test_every_module_is_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in MODULES}
    assert {"__init__.py", "style.py"} <= set(sizes)
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_the_package_hands_on_the_same_public_names():
    handed_on = {name for name, value in vars(plotting).items()
                 if not name.startswith("_") and not isinstance(value, types.ModuleType)}
    assert handed_on == PUBLIC_NAMES
    assert set(plotting.__all__) == PUBLIC_NAMES
    assert callable(plotting.plane_grid) and plotting.loss_curves.__module__ == "mlp_helpers.plotting.curves"


def test_no_import_circle():
    graph = {p.stem: sibling_imports(p) for p in MODULES if p.stem != "__init__"}
    assert graph["style"] == set(), "style imports none of the other plotting modules"
    assert all(imported <= set(graph) for imported in graph.values()), graph
    done, path = set(), []

    def visit(name):                            # depth first; a name already on the path is a circle
        assert name not in path, f"import circle: {' -> '.join(path + [name])}"
        if name in done:
            return
        path.append(name)
        for other in sorted(graph[name]):
            visit(other)
        path.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)


def test_import_mlp_helpers_leaves_out_matplotlib():
    code = ("import sys, mlp_helpers; assert 'matplotlib' not in sys.modules, 'matplotlib imported'; "
            "from mlp_helpers import plotting; assert plotting.plane_grid and 'matplotlib' in sys.modules")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)
