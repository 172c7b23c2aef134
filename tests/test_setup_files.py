"""The two set-up files must agree: pip users and conda/Binder users get the same kit."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$")


def _split(spec):
    name, rest = _NAME.match(spec).groups()
    return name.lower().replace("_", "-"), rest.replace(" ", "")


def requirements():
    """{package: version spec} from requirements.txt, leaving out `-e .` and comments."""
    out = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, spec = _split(line)
            out[name] = spec
    return out


def environment():
    """{package: version spec} from environment.yml's conda list, and its pip entries."""
    conda, pip, in_pip = {}, [], False
    text = (ROOT / "environment.yml").read_text()
    for raw in text.split("dependencies:", 1)[1].splitlines():
        line = raw.split("#", 1)[0].rstrip()
        item = line.strip()
        if not item.startswith("- "):
            in_pip = in_pip and raw.startswith("      ")
            continue
        value = item[2:].strip()
        if value == "pip:":
            in_pip = True
        elif in_pip and raw.startswith("      "):
            pip.append(value)
        else:
            in_pip = False
            name, spec = _split(value)
            conda[name] = spec
    return conda, pip


def test_requirements_and_environment_list_the_same_packages():
    conda, _ = environment()
    conda_pkgs = {k: v for k, v in conda.items() if k not in {"python", "pip"}}
    assert conda_pkgs == requirements()


def test_environment_installs_the_kit_itself_and_pins_python():
    conda, pip = environment()
    assert "-e ." in pip, "environment.yml must install mlp_helpers through its pip section"
    assert conda["python"] == ">=3.11"
    assert "-e ." in (ROOT / "requirements.txt").read_text().splitlines()


def test_environment_uses_conda_forge_only():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"channels:\s*\n\s*- conda-forge\s*\n(?!\s*- \w)", text)


def test_requirements_allow_numpy_2():
    spec = requirements()["numpy"]
    assert "<2" not in spec and "<3" in spec


def _quickstart_commands():
    """The commands in the README's Quickstart code blocks, in order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_readme_quickstart_is_four_commands_and_ci_runs_them():
    # exactly four: set up and open the solutions; the exercise version; test; the fast tier
    setup, exercises, test, fast = _quickstart_commands()
    assert setup == "pip install -r requirements.txt && jupyter lab notebooks/"
    assert exercises == "mlp-course release --lab"   # tests/test_release.py runs it
    assert test == "pytest"
    assert fast == 'pytest -m "not slow"'
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    # CI runs the set-up half (quietly; starting JupyterLab is not a test) and the test command
    assert "python -m pip install -q -r requirements.txt" in ci and "pytest" in ci
