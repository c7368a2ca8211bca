"""Every exercise's worked solution passes its check under the practice seed and two other seeds.

The answer cells of ``solutions/`` are run in a fresh namespace (their source registered in
``linecache``, as IPython does, so the syntax-tree rule can read it); each check cell is then run
once per seed with ``CONV_KNOBS_CHECK_SEED`` set, and the reported ``CheckResult`` must say
"passed" with every part right.
"""
import json
import linecache
from pathlib import Path

import nbformat
import pytest

from conv_lib.course import checks
from conv_lib.course.checks import _harness

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "solutions").glob("ex*.ipynb"))
SEEDS = (checks.PRACTICE_SEED, 7, 31337)


def _knobs(cell):
    return cell.metadata.get("conv_knobs", {})


def run_cell(source, name, namespace):
    """exec a notebook cell with its source visible to inspect.getsource (as in a kernel)."""
    source = "\n".join(line for line in source.split("\n") if not line.lstrip().startswith(("%", "!")))
    filename = f"<notebook {name}>"
    linecache.cache[filename] = (len(source), None, [line + "\n" for line in source.split("\n")],
                                 filename)
    exec(compile(source, filename, "exec"), namespace)


def load_notebook(path):
    """(namespace after the setup and answer cells, [(exercise id, check cell source)])."""
    nb = nbformat.read(path, as_version=4)
    namespace = {"__name__": "__main__"}
    check_cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        role = _knobs(cell).get("role")
        if role == "check":
            check_cells.append((_knobs(cell)["exercise"], cell.source))
        else:
            run_cell(cell.source, f"{path.stem}/{cell.id}", namespace)
    return namespace, check_cells


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_solutions_pass_under_three_seeds(path, monkeypatch, capsys):
    namespace, check_cells = load_notebook(path)
    assert check_cells
    reports = []
    checks.add_reporter(reports.append)
    try:
        for seed in SEEDS:
            monkeypatch.setenv(_harness.SEED_ENV, str(seed))
            for exercise, source in check_cells:
                reports.clear()
                run_cell(source, f"{path.stem}/{exercise}-check", namespace)
                assert len(reports) == 1, (exercise, seed, reports)
                report = reports[0]
                json.dumps(report)  # JSON-serialisable, as the grader stores it
                assert report["exercise"] == exercise
                assert report["status"] == "passed", (seed, report["message"])
                assert report["parts"] and all(ok for _, ok in report["parts"]), report
                assert report["diagnoses"] == []
    finally:
        checks.remove_reporter(reports.append)
    out = capsys.readouterr().out
    assert out.count("✓") >= len(check_cells) * len(SEEDS)


def test_every_check_cell_is_a_registered_exercise():
    ids = {_knobs(c)["exercise"] for p in NOTEBOOKS for c in nbformat.read(p, as_version=4).cells
           if _knobs(c).get("role") == "check"}
    assert ids <= set(_harness.EXERCISES), sorted(ids - set(_harness.EXERCISES))
