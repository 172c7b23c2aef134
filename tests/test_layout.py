"""The package's layout (issue 29): a core a student reads, its wings, one command line.

* every module is at most 600 lines;
* the import contracts of pyproject.toml hold (``lint-imports``), and they do fail on a
  forbidden import or a circle: the linter is run on a copy of the package with one bad
  import added;
* ``mlp-course --help`` lists every subcommand in a line, each has its own ``--help``,
  and a bad argument gets argparse's one-line usage error, never a traceback.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlp_helpers import cli

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "mlp_helpers"
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
MLP_COURSE = Path(sys.executable).parent / "mlp-course"
MAX_LINES = 600
WINGS = ("mnist", "plotting", "experiments", "explorer", "course")
SUBCOMMANDS = ("release", "nbgrader", "mnist", "explorer-latency", "site", "report")


def test_no_module_is_over_600_lines():
    long = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_wings_are_packages():
    assert all((PACKAGE / wing / "__init__.py").is_file() for wing in WINGS)


def _lint(root):
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(root)}, timeout=120)


def test_the_import_contracts_hold():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 3 kept, 0 broken." in done.stdout


@pytest.mark.parametrize("module, line, broken, kept", [
    # the core imports no wing (and since the wing imports the core, that is a circle too)
    ("network.py", "from .experiments import config", "cli > course > experiments | explorer", 1),
    # course may not import the explorer
    ("course/release.py", "from ..explorer import view", "course may import experiments", 2),
    # a circle (mnist.idx <-> mnist.facts; layers alone allow it, both are in one wing)
    ("mnist/idx.py", "from . import facts", "no import circle", 2),
])
def test_a_forbidden_import_breaks_a_contract(tmp_path, module, line, broken, kept):
    shutil.copytree(PACKAGE, tmp_path / "mlp_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    if module == "mnist/idx.py":          # make the circle: facts imports idx, idx imports facts
        facts = tmp_path / "mlp_helpers" / "mnist" / "facts.py"
        facts.write_text(facts.read_text() + "\nfrom . import idx  # noqa\n")
    path = tmp_path / "mlp_helpers" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{broken}" in done.stdout.split("Broken contracts")[1]
    assert f"Contracts: {kept} kept, {3 - kept} broken." in done.stdout


def test_help_lists_every_subcommand_in_a_line():
    done = subprocess.run([str(MLP_COURSE), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stderr == ""
    listed = done.stdout.split("subcommands:")[1]
    for name in SUBCOMMANDS:
        assert f"\n    {name}" in listed, name
    # `python -m mlp_helpers` is the same command
    same = subprocess.run([sys.executable, "-m", "mlp_helpers", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert same.stdout.replace("__main__.py", "mlp-course") == done.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_each_subcommand_has_its_own_help(name, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main([name, "--help"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: mlp-course {name} [-h]")


@pytest.mark.parametrize("argv, message", [
    ([], "mlp-course: error: the following arguments are required: SUBCOMMAND"),
    (["grade-everything"], "mlp-course: error: argument SUBCOMMAND: invalid choice: 'grade-everything' "
                           "(choose from 'release', 'nbgrader', 'mnist', 'explorer-latency', 'site', 'report')"),
    (["release", "a", "b"], "mlp-course: error: unrecognized arguments: b"),
    (["nbgrader"], "mlp-course nbgrader: error: the following arguments are required: COURSE"),
    (["mnist", "--cache"], "mlp-course mnist: error: argument --cache-dir: expected one argument"),
])
def test_a_bad_argument_is_one_usage_line(argv, message):
    done = subprocess.run([str(MLP_COURSE), *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0].startswith("usage: mlp-course") and lines[-1] == message
    assert "Traceback" not in done.stderr


def test_the_package_cites_only_documents_the_repository_holds():
    """Every docs/..., benchmarks/..., tests/... or *.md path a module names exists (DESIGN.md,
    the design notes the kit was built from, is not in the repository)."""
    cited = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        cited |= set(re.findall(r"\b(?:docs|benchmarks|tests|notebooks)/[\w./-]+\.(?:md|py|ipynb|txt|cfg)\b", text))
        cited |= {name for name in re.findall(r"\b[\w-]+\.md\b", text) if name != "index.md"}
    missing = sorted(c for c in cited if not (ROOT / c).exists() and not list(ROOT.glob(f"**/{c}")))
    assert missing == []
