"""pyproject.toml and environment.yml must pin the same packages at the same versions."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)\s*$")


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements, where):
    pins = {}
    for req in requirements:
        if req.startswith("convolution-knobs["):  # an extra that includes another extra
            continue
        match = PIN.match(req)
        assert match, f"{where}: {req!r} is not pinned as NAME==VERSION"
        name = _canonical(match.group(1))
        assert name not in pins, f"{where}: {name} is listed twice"
        pins[name] = match.group(2)
    return pins


def pyproject_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return _pins(reqs, "pyproject.toml")


def environment():
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_pip_section(env):
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one pip: section"
    return sections[0]


def test_pins_agree():
    pip_reqs = [r for r in conda_pip_section(environment()) if not r.startswith("-e")]
    assert _pins(pip_reqs, "environment.yml") == pyproject_pins()


def test_environment_installs_the_project_and_its_toolchain():
    env = environment()
    pip_section = conda_pip_section(env)
    assert "-e ." in pip_section, "environment.yml must install the project itself (-e .)"
    conda_deps = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in conda_deps
    assert any(re.fullmatch(r"nodejs\s*>=\s*(\d+)", d) and int(d.split(">=")[1]) >= 18
               for d in conda_deps), "Jupyter Book 2 needs nodejs>=18"
    assert "pip" in conda_deps


def test_pyproject_python_matches_environment():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11"
