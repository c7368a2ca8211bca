"""Generate the student notebooks in ``exercises/`` from the worked notebooks in ``solutions/``.

    python -m conv_lib.tools.exercises            # (re)write exercises/*.ipynb
    python -m conv_lib.tools.exercises --check    # exit 1 if exercises/ is out of date

``solutions/exNN-NAME.ipynb`` is the source of truth. For every solution notebook the generator
writes ``exercises/exNN-NAME.ipynb`` where

* each region between a line ``### BEGIN SOLUTION`` and a line ``### END SOLUTION`` (in any code
  cell) is replaced by ``raise NotImplementedError(...)`` at the indentation of the BEGIN line;
* the variant ``### BEGIN SOLUTION value`` keeps the assignments but blanks their values: every
  statement ``NAME = EXPR`` becomes ``NAME = ...`` (``a, b = 1, 2`` becomes two lines);
* markdown cells whose ``metadata.conv_knobs.role`` is ``"explanation"`` are removed;
* outputs and execution counts are cleared; cell ids and all metadata are kept.

The JSON is written by ``nbformat.writes`` (sorted keys, one-space indent) plus a final newline, so
running the generator twice produces identical bytes. Malformed markers raise ``MarkerError``
naming the notebook, the cell id and the line.
"""
import argparse
import ast
import copy
import re
import sys
import textwrap
from pathlib import Path

import nbformat

from conv_lib.tools import notebook_meta as meta

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS_DIR = ROOT / "solutions"
EXERCISES_DIR = ROOT / "exercises"

BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)###[ \t]*BEGIN SOLUTION(?:[ \t]+(?P<variant>\S+))?[ \t]*$")
END_RE = re.compile(r"^[ \t]*###[ \t]*END SOLUTION[ \t]*$")
ANY_MARKER_RE = re.compile(r"###[ \t]*(BEGIN|END) SOLUTION")
NOTEBOOK_GLOB = "ex*.ipynb"


class MarkerError(ValueError):
    """A ``### BEGIN SOLUTION`` / ``### END SOLUTION`` region is malformed."""


def _where(notebook, cell_id, lineno=None):
    text = f"{notebook}, cell {cell_id!r}"
    return text if lineno is None else f"{text}, line {lineno}"


def placeholder_line(indent, exercise):
    """The line that replaces a solution region: ``raise NotImplementedError(...)``."""
    label = f"exercise {exercise}" if exercise else "this exercise"
    return f'{indent}raise NotImplementedError("{label}: replace this line with your solution")'


def _blank_values(region_lines, indent, where):
    """``NAME = EXPR`` statements -> ``NAME = ...`` lines (the ``value`` variant)."""
    code = textwrap.dedent("\n".join(region_lines))
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise MarkerError(f"{where}: the 'value' solution region is not valid Python on its own "
                          f"({exc.msg}, region line {exc.lineno})") from None
    out = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            names = []
            for target in stmt.targets:
                elts = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
                for elt in elts:
                    if not isinstance(elt, ast.Name):
                        raise MarkerError(
                            f"{where}: the 'value' solution region may only assign plain names, "
                            f"got {ast.unparse(elt)!r}")
                    names.append(elt.id)
            out.extend(f"{indent}{name} = ..." for name in dict.fromkeys(names))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            out.append(f"{indent}{stmt.target.id}: {ast.unparse(stmt.annotation)} = ...")
        else:
            raise MarkerError(f"{where}: the 'value' solution region may only contain "
                              f"'NAME = EXPR' statements, got {ast.unparse(stmt)!r}")
    if not out:
        raise MarkerError(f"{where}: the 'value' solution region assigns nothing")
    return out


def strip_solution(source, exercise=None, *, notebook="<notebook>", cell_id="<cell>"):
    """Return ``(new_source, n_regions)`` with every solution region of ``source`` replaced.

    ``exercise`` is the exercise id quoted in the ``NotImplementedError`` message. Raises
    ``MarkerError`` for nested, unterminated or unopened regions and for unknown variants.
    """
    lines = source.split("\n")
    out = []
    region = None  # (indent, variant, start line number, collected lines)
    n_regions = 0
    for lineno, line in enumerate(lines, start=1):
        begin, end = BEGIN_RE.match(line), END_RE.match(line)
        if begin:
            if region is not None:
                raise MarkerError(f"{_where(notebook, cell_id, lineno)}: '### BEGIN SOLUTION' inside "
                                  f"the region opened on line {region[2]} (missing '### END SOLUTION')")
            variant = begin.group("variant")
            if variant not in (None, "value"):
                raise MarkerError(f"{_where(notebook, cell_id, lineno)}: unknown solution variant "
                                  f"{variant!r} (use '### BEGIN SOLUTION' or '### BEGIN SOLUTION value')")
            region = (begin.group("indent"), variant, lineno, [])
        elif end:
            if region is None:
                raise MarkerError(f"{_where(notebook, cell_id, lineno)}: '### END SOLUTION' without a "
                                  f"preceding '### BEGIN SOLUTION'")
            indent, variant, start, body = region
            if variant == "value":
                out.extend(_blank_values(body, indent, _where(notebook, cell_id, start)))
            else:
                out.append(placeholder_line(indent, exercise))
            n_regions += 1
            region = None
        elif ANY_MARKER_RE.search(line):
            raise MarkerError(f"{_where(notebook, cell_id, lineno)}: malformed marker line {line.strip()!r} "
                              f"(a marker must be alone on its line: '### BEGIN SOLUTION', "
                              f"'### BEGIN SOLUTION value' or '### END SOLUTION')")
        elif region is not None:
            region[3].append(line)
        else:
            out.append(line)
    if region is not None:
        raise MarkerError(f"{_where(notebook, cell_id, region[2])}: '### BEGIN SOLUTION' without a "
                          f"matching '### END SOLUTION'")
    return "\n".join(out), n_regions


def make_exercise(nb, notebook="<notebook>"):
    """Return the student version of the solution notebook ``nb`` (a new NotebookNode)."""
    nb = copy.deepcopy(nb)
    cells = []
    seen = set()
    for index, cell in enumerate(nb.cells):
        cell_id = cell.get("id")
        if not cell_id:
            raise MarkerError(f"{notebook}: cell #{index} has no id (nbformat >= 4.5 ids are required)")
        if cell_id in seen:
            raise MarkerError(f"{notebook}: duplicate cell id {cell_id!r}")
        seen.add(cell_id)
        role = meta.role(cell)
        if role == "explanation":
            continue
        if cell.cell_type == "code":
            new_source, n = strip_solution(cell.source, meta.exercise(cell),
                                           notebook=notebook, cell_id=cell_id)
            if role == "answer" and n == 0:
                raise MarkerError(f"{_where(notebook, cell_id)}: answer cell has no "
                                  f"'### BEGIN SOLUTION' region, so its solution would be released")
            if role in meta.PROTECTED_ROLES and n:
                raise MarkerError(f"{_where(notebook, cell_id)}: a {role} cell must not contain "
                                  f"solution markers")
            cell.source = new_source
            cell.outputs = []
            cell.execution_count = None
        elif ANY_MARKER_RE.search(cell.source):
            raise MarkerError(f"{_where(notebook, cell_id)}: solution markers in a {cell.cell_type} "
                              f"cell (only code cells are stripped; use role 'explanation' to drop a "
                              f"markdown cell)")
        cells.append(cell)
    nb.cells = cells
    return nb


def render(nb):
    """Deterministic notebook JSON (sorted keys, indent 1, trailing newline)."""
    nbformat.validate(nb)
    text = nbformat.writes(nb, version=4)
    return text if text.endswith("\n") else text + "\n"


def build(solutions_dir=SOLUTIONS_DIR):
    """``{file name: exercise JSON text}`` for every solution notebook."""
    solutions_dir = Path(solutions_dir)
    result = {}
    for path in sorted(solutions_dir.glob(NOTEBOOK_GLOB)):
        nb = nbformat.read(path, as_version=4)
        label = path.relative_to(solutions_dir.parent) if solutions_dir.parent in path.parents else path
        result[path.name] = render(make_exercise(nb, notebook=str(label)))
    return result


def _first_difference(current, wanted):
    """A short parenthesis saying where a stale exercise notebook differs from the wanted one."""
    try:
        have, want = nbformat.reads(current, as_version=4), nbformat.reads(wanted, as_version=4)
    except Exception:
        return " (not a readable notebook)"
    for a, b in zip(have.cells, want.cells):
        if a != b:
            return f" (first at cell {b.get('id')!r})"
    if len(have.cells) != len(want.cells):
        return f" ({len(have.cells)} cells instead of {len(want.cells)})"
    return " (notebook metadata or formatting)"


def out_of_date(solutions_dir=SOLUTIONS_DIR, exercises_dir=EXERCISES_DIR):
    """Names of exercise notebooks that are missing, stale or would be removed."""
    exercises_dir = Path(exercises_dir)
    wanted = build(solutions_dir)
    problems = []
    for name, text in wanted.items():
        target = exercises_dir / name
        if not target.exists():
            problems.append(f"{name}: missing")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs from the notebook generated from solutions/{name}"
                            f"{_first_difference(target.read_text(encoding='utf-8'), text)}")
    for target in sorted(exercises_dir.glob(NOTEBOOK_GLOB)):
        if target.name not in wanted:
            problems.append(f"{target.name}: has no solutions/{target.name}")
    return problems


def write(solutions_dir=SOLUTIONS_DIR, exercises_dir=EXERCISES_DIR):
    """Write exercises/ from solutions/; returns the list of (action, name)."""
    exercises_dir = Path(exercises_dir)
    wanted = build(solutions_dir)
    exercises_dir.mkdir(parents=True, exist_ok=True)
    actions = []
    for name, text in wanted.items():
        target = exercises_dir / name
        if target.exists() and target.read_text(encoding="utf-8") == text:
            actions.append(("unchanged", name))
            continue
        target.write_text(text, encoding="utf-8", newline="\n")
        actions.append(("wrote", name))
    for target in sorted(exercises_dir.glob(NOTEBOOK_GLOB)):
        if target.name not in wanted:
            target.unlink()
            actions.append(("removed", target.name))
    return actions


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m conv_lib.tools.exercises", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 if exercises/ differs from what would be generated")
    parser.add_argument("--solutions", default=str(SOLUTIONS_DIR), help="source folder (default: %(default)s)")
    parser.add_argument("--exercises", default=str(EXERCISES_DIR), help="output folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = out_of_date(args.solutions, args.exercises)
            if problems:
                print("exercises/ is out of date (run `make exercises`):", file=sys.stderr)
                for problem in problems:
                    print(f"  {problem}", file=sys.stderr)
                return 1
            print(f"exercises/ is up to date ({len(list(Path(args.solutions).glob(NOTEBOOK_GLOB)))} notebooks)")
            return 0
        for action, name in write(args.solutions, args.exercises):
            print(f"{action:9s} {Path(args.exercises) / name}")
        return 0
    except MarkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
