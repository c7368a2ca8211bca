"""exercises/ is generated from solutions/ (python -m conv_lib.tools.exercises) and stays in sync.

- the committed exercises/ is exactly what the generator writes (``--check``);
- every released notebook keeps every setup and check cell of its solution, byte for byte, and
  leaks no solution code;
- unit tests of the marker transformation on small synthetic notebooks.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from conv_lib.tools import exercises as gen

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("ex*.ipynb"))
SOLUTION_IDS = [p.stem for p in SOLUTIONS]


# ------------------------------------------------------------------------------------------------
# The committed notebooks
# ------------------------------------------------------------------------------------------------

def test_exercises_are_up_to_date():
    assert SOLUTIONS, "solutions/ has no exNN-*.ipynb notebooks"
    proc = subprocess.run([sys.executable, "-m", "conv_lib.tools.exercises", "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{proc.stderr}\nrun `make exercises` and commit exercises/"


def _knobs(cell):
    return cell.metadata.get("conv_knobs", {})


@pytest.mark.parametrize("name", SOLUTION_IDS)
def test_release_keeps_checks_and_hides_solutions(name):
    solution = nbformat.read(ROOT / "solutions" / f"{name}.ipynb", as_version=4)
    released = nbformat.read(ROOT / "exercises" / f"{name}.ipynb", as_version=4)
    assert released.metadata["conv_knobs"]["assignment"] == name
    by_id = {c.id: c for c in released.cells}
    checks = [c for c in solution.cells if _knobs(c).get("role") == "check"]
    assert checks, f"{name} has no check cell"
    for cell in solution.cells:
        role = _knobs(cell).get("role")
        if role in ("check", "setup"):
            assert cell.id in by_id, f"{name}: {role} cell {cell.id!r} missing from the release"
            twin = by_id[cell.id]
            assert (twin.cell_type, twin.source, twin.metadata) == (cell.cell_type, cell.source, cell.metadata)
        elif role == "explanation":
            assert cell.id not in by_id, f"{name}: explanation {cell.id!r} was released"
        else:
            assert cell.id in by_id, f"{name}: cell {cell.id!r} missing from the release"
    # released cells keep the solution's order
    order = [c.id for c in solution.cells if c.id in by_id]
    assert [c.id for c in released.cells] == order
    for cell in checks:
        points = _knobs(cell).get("points")
        assert isinstance(points, (int, float)) and points > 0, f"{name}: {cell.id} has no points"
        assert _knobs(cell).get("exercise", "").startswith(name[:4]), f"{name}: {cell.id} exercise id"
    exercise_ids = [_knobs(c)["exercise"] for c in checks]
    assert len(set(exercise_ids)) == len(exercise_ids), f"{name}: two check cells for one exercise"
    for cell in released.cells:
        assert "BEGIN SOLUTION" not in cell.source and "END SOLUTION" not in cell.source
        if _knobs(cell).get("role") == "answer":
            assert "NotImplementedError" in cell.source or "= ..." in cell.source, cell.id
            hidden = _solution_only_lines(by_solution_id(solution, cell.id).source)
            leaked = sorted(hidden & {line.strip() for line in cell.source.split("\n")})
            assert not leaked, f"{name}: {cell.id} still contains solution lines {leaked}"


def by_solution_id(nb, cell_id):
    return next(c for c in nb.cells if c.id == cell_id)


def _solution_only_lines(source):
    """Stripped lines (8+ characters) that occur only inside the solution regions of a cell."""
    inside_lines, outside_lines, inside = set(), set(), False
    for line in source.split("\n"):
        if gen.BEGIN_RE.match(line):
            inside = True
        elif gen.END_RE.match(line):
            inside = False
        else:
            (inside_lines if inside else outside_lines).add(line.strip())
    return {line for line in inside_lines - outside_lines if len(line) >= 8}


# ------------------------------------------------------------------------------------------------
# The transformation
# ------------------------------------------------------------------------------------------------

def test_region_becomes_raise_at_its_indentation():
    source = ("def f(x, k):\n"
              "    \"\"\"doc\"\"\"\n"
              "    ### BEGIN SOLUTION\n"
              "    y = x * k\n"
              "    return y\n"
              "    ### END SOLUTION\n"
              "\n"
              "print('after')")
    out, n = gen.strip_solution(source, "ex04-demo")
    assert n == 1
    assert out == ("def f(x, k):\n"
                   "    \"\"\"doc\"\"\"\n"
                   "    raise NotImplementedError(\"exercise ex04-demo: replace this line with your solution\")\n"
                   "\n"
                   "print('after')")
    compile(out, "<answer>", "exec")


def test_nested_indentation_and_several_regions():
    source = ("class Layer:\n"
              "    def forward(self, x):\n"
              "        ### BEGIN SOLUTION\n"
              "        return x\n"
              "        ### END SOLUTION\n"
              "\n"
              "    def backward(self, g):\n"
              "        ### BEGIN SOLUTION\n"
              "        return g\n"
              "        ### END SOLUTION\n")
    out, n = gen.strip_solution(source, "ex06-layer")
    assert n == 2
    lines = out.split("\n")
    assert lines[2] == lines[5] == '        raise NotImplementedError("exercise ex06-layer: replace this line with your solution")'
    assert out.endswith("\n")
    compile(out, "<answer>", "exec")


def test_value_variant_blanks_every_assignment():
    source = ("# predict before you compute\n"
              "### BEGIN SOLUTION value\n"
              "out_len = (32 + 2 * 1 - 3) // 2 + 1   # 16\n"
              "pads: tuple = (1,\n"
              "               2)\n"
              "rf_a, rf_b = 5, 9\n"
              "### END SOLUTION\n"
              "print(out_len)")
    out, n = gen.strip_solution(source, "ex02-x")
    assert n == 1
    assert out == ("# predict before you compute\n"
                   "out_len = ...\n"
                   "pads: tuple = ...\n"
                   "rf_a = ...\n"
                   "rf_b = ...\n"
                   "print(out_len)")


def test_value_variant_keeps_indentation():
    out, _ = gen.strip_solution("if True:\n    ### BEGIN SOLUTION value\n    a = 1\n    ### END SOLUTION")
    assert out == "if True:\n    a = ..."


@pytest.mark.parametrize("source, message", [
    ("### BEGIN SOLUTION\nx = 1", "line 1: '### BEGIN SOLUTION' without a matching '### END SOLUTION'"),
    ("x = 1\n### END SOLUTION", "line 2: '### END SOLUTION' without a preceding '### BEGIN SOLUTION'"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
     "line 2: '### BEGIN SOLUTION' inside the region opened on line 1"),
    ("### BEGIN SOLUTION values\nx = 1\n### END SOLUTION", "unknown solution variant 'values'"),
    ("x = 1  ### BEGIN SOLUTION\n### END SOLUTION", "line 1: malformed marker line"),
    ("### BEGIN SOLUTION value\nprint(1)\n### END SOLUTION", "may only contain 'NAME = EXPR'"),
    ("### BEGIN SOLUTION value\na.b = 1\n### END SOLUTION", "may only assign plain names"),
])
def test_malformed_markers_name_notebook_cell_and_line(source, message):
    with pytest.raises(gen.MarkerError) as info:
        gen.strip_solution(source, "ex09-x", notebook="solutions/ex09-x.ipynb", cell_id="ex09-x-answer")
    assert str(info.value).startswith("solutions/ex09-x.ipynb, cell 'ex09-x-answer'")
    assert message in str(info.value)


def _tiny_solution():
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["conv_knobs"] = {"assignment": "ex09-tiny", "chapter": 9}

    def cell(kind, source, cell_id, **knobs):
        c = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
        c.id = cell_id
        if knobs:
            c.metadata["conv_knobs"] = knobs
        return c

    answer = cell("code", "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION",
                  "ex09-f-answer", exercise="ex09-f", role="answer")
    answer.outputs = [new_output("stream", name="stdout", text="leftover\n")]
    answer.execution_count = 4
    answer.metadata["tags"] = ["keep-me"]
    nb.cells = [
        cell("code", "import numpy as np", "ex09-setup", role="setup"),
        cell("markdown", "Write f.", "ex09-f-prompt", exercise="ex09-f", role="prompt"),
        answer,
        cell("code", "assert f(1) == 2", "ex09-f-check", exercise="ex09-f", role="check", points=2),
        cell("markdown", "It adds one.", "ex09-f-explanation", exercise="ex09-f", role="explanation"),
        cell("markdown", "Plain text", "ex09-end"),
    ]
    return nb


def test_make_exercise_removes_explanations_and_outputs_keeps_ids_and_metadata():
    out = gen.make_exercise(_tiny_solution(), "solutions/ex09-tiny.ipynb")
    assert [c.id for c in out.cells] == ["ex09-setup", "ex09-f-prompt", "ex09-f-answer", "ex09-f-check", "ex09-end"]
    answer = out.cells[2]
    assert answer.outputs == [] and answer.execution_count is None
    assert answer.metadata == {"conv_knobs": {"exercise": "ex09-f", "role": "answer"}, "tags": ["keep-me"]}
    assert "return x + 1" not in answer.source and "NotImplementedError" in answer.source
    assert out.cells[3].source == "assert f(1) == 2"
    assert out.metadata["conv_knobs"] == {"assignment": "ex09-tiny", "chapter": 9}


@pytest.mark.parametrize("mutate, message", [
    (lambda nb: setattr(nb.cells[2], "source", "def f(x):\n    return x + 1"),
     "answer cell has no '### BEGIN SOLUTION' region"),
    (lambda nb: setattr(nb.cells[1], "source", "### BEGIN SOLUTION\nsecret\n### END SOLUTION"),
     "solution markers in a markdown cell"),
    (lambda nb: setattr(nb.cells[3], "source", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
     "a check cell must not contain solution markers"),
    (lambda nb: setattr(nb.cells[4], "id", "ex09-f-answer"), "duplicate cell id 'ex09-f-answer'"),
])
def test_make_exercise_rejects_unsafe_notebooks(mutate, message):
    nb = _tiny_solution()
    mutate(nb)
    with pytest.raises(gen.MarkerError, match=message):
        gen.make_exercise(nb, "solutions/ex09-tiny.ipynb")


def test_cli_writes_deterministically_and_check_detects_drift(tmp_path, capsys):
    solutions, exercises = tmp_path / "solutions", tmp_path / "exercises"
    solutions.mkdir()
    nbformat.write(_tiny_solution(), solutions / "ex09-tiny.ipynb")

    def run(*args):
        code = gen.main(["--solutions", str(solutions), "--exercises", str(exercises), *args])
        return code, capsys.readouterr().err

    assert run("--check")[0] == 1                                # missing
    assert run()[0] == 0
    first = (exercises / "ex09-tiny.ipynb").read_bytes()
    assert first.endswith(b"}\n")
    assert run()[0] == 0 and (exercises / "ex09-tiny.ipynb").read_bytes() == first
    assert run("--check") == (0, "")
    nbformat.validate(nbformat.reads(first.decode(), as_version=4))
    (exercises / "ex09-tiny.ipynb").write_bytes(first.replace(b"Write f.", b"Write g."))
    code, err = run("--check")
    assert code == 1 and "ex09-tiny.ipynb: differs" in err
    (exercises / "ex09-stale.ipynb").write_text("{}")
    assert "ex09-stale.ipynb: has no solutions/ex09-stale.ipynb" in run("--check")[1]
    assert run()[0] == 0
    assert sorted(p.name for p in exercises.iterdir()) == ["ex09-tiny.ipynb"]
    assert (exercises / "ex09-tiny.ipynb").read_bytes() == first


def test_cli_reports_malformed_markers(tmp_path):
    solutions = tmp_path / "solutions"
    solutions.mkdir()
    nb = _tiny_solution()
    nb.cells[2].source = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n"
    nbformat.write(nb, solutions / "ex09-tiny.ipynb")
    proc = subprocess.run([sys.executable, "-m", "conv_lib.tools.exercises", "--solutions", str(solutions),
                           "--exercises", str(tmp_path / "exercises")], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 2
    assert "ex09-tiny.ipynb, cell 'ex09-f-answer', line 2: '### BEGIN SOLUTION' without a matching" in proc.stderr
    assert not (tmp_path / "exercises" / "ex09-tiny.ipynb").exists()
