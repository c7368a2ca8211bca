"""The autograder (python -m conv_lib.grade) on synthetic submissions.

Most tests use a tiny, self-contained fixture assignment built here (``ex98-fixture``: three
exercises whose checks are defined in the setup cell, NumPy only), released into a temporary
folder with ``conv_lib.tools.exercises`` and passed to the grader with ``--release``, so they do not
depend on the content of solutions/ and exercises/. ``test_real_solutions_and_exercises`` grades
the real notebooks: every solution must get full marks, every untouched exercise zero.
"""
from __future__ import annotations

import copy
import csv
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conv_lib.tools import exercises as gen
from conv_lib.tools import grade

pytestmark = pytest.mark.xdist_group("grade")

ROOT = Path(__file__).resolve().parents[1]
NAME = "ex98-fixture"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CELL_TIMEOUT = "6"

SETUP = '''import numpy as np

def _not_attempted(what):
    raise AssertionError(f"{what}: not attempted yet")

def check_double(f):
    try:
        got = [f(x) for x in (0, 3, -2)]
    except NotImplementedError:
        _not_attempted("double")
    assert got == [0, 6, -4], f"double: expected [0, 6, -4] for the inputs [0, 3, -2], got {got}"
    print("✓ double is correct")

def check_size(value):
    if value is Ellipsis:
        _not_attempted("size")
    assert value == 6, f"size: 8 samples and a 3-tap kernel do not give {value} outputs"
    print("✓ size is correct")

def check_clip(f):
    try:
        got = f(np.array([-2.0, 0.5, 3.0]))
    except NotImplementedError:
        _not_attempted("clip")
    assert np.allclose(got, [0.0, 0.5, 1.0]), f"clip: expected [0, 0.5, 1], got {got}"
    print("✓ clip is correct")
'''

DOUBLE_OK = "def double(x):\n    return 2 * x"
SIZE_OK = "size = 8 - 3 + 1"
CLIP_OK = "def clip(a):\n    return np.minimum(np.maximum(a, 0.0), 1.0)"


def _cell(kind, source, cell_id, role=None, exercise=None, points=None):
    cell = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    cell.id = cell_id
    knobs = {k: v for k, v in (("exercise", exercise), ("role", role), ("points", points)) if v is not None}
    if knobs:
        cell.metadata["conv_knobs"] = knobs
    return cell


def fixture_solution():
    nb = new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["conv_knobs"] = {"assignment": NAME, "chapter": 98}
    nb.cells = [
        _cell("markdown", "# A fixture assignment", "ex98-title"),
        _cell("code", SETUP, "ex98-setup", role="setup"),
        _cell("markdown", "Write `double(x)`.", "ex98-double-prompt", "prompt", "ex98-double"),
        _cell("code", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
              "ex98-double-answer", "answer", "ex98-double"),
        _cell("code", "check_double(double)", "ex98-double-check", "check", "ex98-double", 2),
        _cell("markdown", "Multiply by two.", "ex98-double-explanation", "explanation", "ex98-double"),
        _cell("markdown", "How many outputs?", "ex98-size-prompt", "prompt", "ex98-size"),
        _cell("code", "### BEGIN SOLUTION value\nsize = 8 - 3 + 1\n### END SOLUTION",
              "ex98-size-answer", "answer", "ex98-size"),
        _cell("code", "check_size(size)", "ex98-size-check", "check", "ex98-size", 1),
        _cell("markdown", "Write `clip(a)`.", "ex98-clip-prompt", "prompt", "ex98-clip"),
        _cell("code", "def clip(a):\n    ### BEGIN SOLUTION\n    return np.minimum(np.maximum(a, 0.0), 1.0)\n"
                      "    ### END SOLUTION", "ex98-clip-answer", "answer", "ex98-clip"),
        _cell("code", "check_clip(clip)", "ex98-clip-check", "check", "ex98-clip", 3),
        _cell("markdown", "The end.", "ex98-end"),
    ]
    return nb


@pytest.fixture(scope="session")
def release(tmp_path_factory):
    """solutions/ and the generated exercises/ (the release) of the fixture assignment."""
    base = tmp_path_factory.mktemp("fixture-assignment")
    (base / "solutions").mkdir()
    nbformat.write(fixture_solution(), base / "solutions" / f"{NAME}.ipynb")
    gen.write(base / "solutions", base / "exercises")
    return base


def _by_id(nb, cell_id):
    return next(c for c in nb.cells if c.get("id") == cell_id)


def _answer(nb, slug, source):
    _by_id(nb, f"ex98-{slug}-answer").source = source


def build_submissions(release, folder):
    """The synthetic class: {file name: description}. Returns the folder."""
    ex = nbformat.read(release / "exercises" / f"{NAME}.ipynb", as_version=4)
    sol = nbformat.read(release / "solutions" / f"{NAME}.ipynb", as_version=4)
    folder.mkdir()

    def save(nb, name):
        nbformat.write(nb, folder / name)

    save(sol, "correct.ipynb")                                   # the worked solution itself
    save(ex, "untouched.ipynb")                                  # downloaded and handed back
    nb = copy.deepcopy(ex)                                       # one right, one off by one
    _answer(nb, "double", "def double(x):\n    return x + x")
    _answer(nb, "size", "size = 8 - 3")
    save(nb, "partial.ipynb")

    # tampered: every answer wrong, every check neutralised in a different way
    nb = copy.deepcopy(ex)
    _answer(nb, "double", "def double(x):\n    return x")
    _answer(nb, "size", "size = 5")
    _answer(nb, "clip", "def clip(a):\n    return a")
    nb.cells = [c for c in nb.cells if c.id != "ex98-double-check"]           # deleted ...
    impostor = new_code_cell("print('✓ double is correct')")                    # ... and re-added
    impostor.id = "ex98-double-check"                                           # with its id
    nb.cells.append(impostor)
    _by_id(nb, "ex98-size-check").source = "pass  # check_size(size)"           # edited
    _by_id(nb, "ex98-clip-check").source = "try:\n    check_clip(clip)\nexcept AssertionError:\n    pass"
    fake = _cell("code", "print('✓ clip is correct')", "my-own-check", "check", "ex98-clip", 3)
    nb.cells.append(fake)                                                        # a new "check"
    save(nb, "tampered.ipynb")

    # nothing answered; an IPython custom exception handler would swallow every AssertionError
    nb = copy.deepcopy(ex)
    sneaky = new_code_cell("get_ipython().set_custom_exc((AssertionError, NameError), lambda *a, **k: None)")
    sneaky.id = "sneaky"
    nb.cells.insert(2, sneaky)
    save(nb, "custom-exc.ipynb")

    # correct answers, but every check cell deleted: they must be re-inserted and pass
    nb = copy.deepcopy(sol)
    nb.cells = [c for c in nb.cells if c.metadata.get("conv_knobs", {}).get("role") != "check"]
    save(nb, "deleted-checks.ipynb")

    nb = copy.deepcopy(sol)                                      # loops forever in one exercise
    _answer(nb, "size", "while True:\n    pass")
    save(nb, "loop.ipynb")
    nb = copy.deepcopy(sol)                                      # kills its own kernel
    _answer(nb, "size", "import os\nos._exit(3)")
    save(nb, "exit.ipynb")
    nb = copy.deepcopy(sol)                                      # 8 TiB: MemoryError under RLIMIT_AS
    _answer(nb, "size", "big = np.ones(2**40)\nsize = 6")
    save(nb, "memory.ipynb")
    nb = copy.deepcopy(sol)                                      # 20 MB of output
    _answer(nb, "size", "for i in range(2_000):\n    print(str(i) * 10_000)\nsize = 6")
    save(nb, "flood.ipynb")
    nb = copy.deepcopy(sol)                                      # another (unreleased) assignment
    nb.metadata["conv_knobs"]["assignment"] = "ex99-elsewhere"
    save(nb, "other.ipynb")
    nb = copy.deepcopy(sol)                                      # metadata lost: name from file name
    del nb.metadata["conv_knobs"]
    save(nb, f"{NAME}-alice.ipynb")
    (folder / "notjson.ipynb").write_text("{ this is not JSON", encoding="utf-8")
    (folder / "empty.ipynb").write_bytes(b"")
    sub = folder / "nested" / ".ipynb_checkpoints"               # folders are searched recursively,
    sub.mkdir(parents=True)                                      # hidden ones skipped
    save(sol, "nested/correct-too.ipynb")
    save(ex, "nested/.ipynb_checkpoints/untouched-checkpoint.ipynb")
    return folder


EXPECTED = """\
submission,assignment,ex98-double,ex98-size,ex98-clip,score,max_score,status
subs/correct.ipynb,ex98-fixture,2,1,3,6,6,ok
subs/custom-exc.ipynb,ex98-fixture,0,0,0,0,6,ok
subs/deleted-checks.ipynb,ex98-fixture,2,1,3,6,6,ok
subs/empty.ipynb,,,,,0,,invalid-notebook
subs/ex98-fixture-alice.ipynb,ex98-fixture,2,1,3,6,6,ok
subs/exit.ipynb,ex98-fixture,2,0,3,5,6,kernel-died
subs/flood.ipynb,ex98-fixture,2,1,3,6,6,output-truncated
subs/loop.ipynb,ex98-fixture,2,0,3,5,6,timeout
subs/memory.ipynb,ex98-fixture,2,0,3,5,6,memory-error
subs/nested/correct-too.ipynb,ex98-fixture,2,1,3,6,6,ok
subs/notjson.ipynb,,,,,0,,invalid-notebook
subs/other.ipynb,ex99-elsewhere,,,,0,,unknown-assignment
subs/partial.ipynb,ex98-fixture,2,0,0,2,6,ok
subs/tampered.ipynb,ex98-fixture,0,0,0,0,6,ok
subs/untouched.ipynb,ex98-fixture,0,0,0,0,6,ok
"""


def _digest(folder):
    return {p.relative_to(folder): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _shared_dir(tmp_path_factory, name):
    """A folder shared by all xdist workers of this run (the run's own basetemp without xdist)."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent          # pytest-N/popen-gwX -> pytest-N, one per run
    return base / name


@pytest.fixture(scope="session")
def graded(release, tmp_path_factory):
    """Grade the synthetic class once per test run with the CLI; returns (folder, result).

    (pytest-xdist's loadgroup does not group tests with pytest 9.2, see pytest-xdist#1386, so
    several workers may ask for this fixture: the first one grades, the others wait and reuse.)
    """
    work = _shared_dir(tmp_path_factory, "graded-synthetic-class")
    work.mkdir(parents=True, exist_ok=True)
    with open(work / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        record = work / "result.json"
        if not record.exists():
            build_submissions(release, work / "subs")
            before = _digest(work / "subs")
            start = time.monotonic()
            proc = subprocess.run(
                [sys.executable, "-m", "conv_lib.grade", "subs", "--out", "out/gradebook.csv",
                 "--feedback-dir", "feedback", "--release", str(release / "exercises"), "--jobs", "2",
                 "--cell-timeout", CELL_TIMEOUT, "--notebook-timeout", "120"],
                cwd=work, capture_output=True, text=True, timeout=600)
            unchanged = _digest(work / "subs") == before
            record.write_text(json.dumps({"returncode": proc.returncode, "stderr": proc.stderr,
                                          "seconds": time.monotonic() - start,
                                          "unchanged": unchanged}), encoding="utf-8")
        result = json.loads(record.read_text(encoding="utf-8"))
    assert result["unchanged"], "the grader modified a submission"
    return work, result


def test_gradebook_rows_are_exact(graded):
    work, result = graded
    assert result["returncode"] == 0, result["stderr"]
    assert (work / "out" / "gradebook.csv").read_text(encoding="utf-8") == EXPECTED, result["stderr"]
    assert "graded 15 submission(s)" in result["stderr"]
    print(f"graded the synthetic class in {result['seconds']:.1f} s")


def _feedback(work, name):
    return (work / "feedback" / name).read_text(encoding="utf-8")


def test_one_feedback_file_per_submission(graded):
    work, _ = graded
    rows = list(csv.DictReader(open(work / "out" / "gradebook.csv", encoding="utf-8")))
    files = sorted(p.name for p in (work / "feedback").iterdir())
    assert len(files) == len(rows) == 15
    assert "nested__correct-too.md" in files and "correct.md" in files
    for name in files:
        text = _feedback(work, name)
        assert text.startswith("# Feedback: ") and "- Status: `" in text


def test_feedback_quotes_the_check_messages(graded):
    work, _ = graded
    text = _feedback(work, "partial.md")
    assert "- Score: **2 / 6**" in text
    assert "| ex98-double | ✓ passed | 2 / 2 |" in text
    assert "| ex98-size | ✗ failed | 0 / 1 |" in text
    assert "size: 8 samples and a 3-tap kernel do not give 5 outputs" in text   # the AssertionError
    assert "| ex98-clip | ✗ not attempted | 0 / 3 |" in text
    assert "✓ double is correct" in text                                         # the check's line


def test_feedback_reports_restored_checks(graded):
    work, _ = graded
    text = _feedback(work, "tampered.md")
    assert "The check cell `ex98-size-check` had been changed; the released version was used." in text
    assert "The check cell `ex98-clip-check` had been changed" in text
    assert "The check cell `ex98-double-check` had been changed" in text          # the impostor
    assert "`my-own-check` claims the role 'check' but is not part of the released notebook" in text
    assert "double: expected [0, 6, -4] for the inputs [0, 3, -2], got [0, 3, -2]" in text
    text = _feedback(work, "deleted-checks.md")
    for slug in ("double", "size", "clip"):
        assert f"The check cell `ex98-{slug}-check` was missing; the released version was re-inserted." in text


def test_feedback_explains_failures(graded):
    work, _ = graded
    assert "cell `ex98-size-answer` exceeded the cell time limit" in _feedback(work, "loop.md")
    text = _feedback(work, "exit.md")
    assert "cell `ex98-size-answer` killed the kernel" in text
    assert "| ex98-size | ✗ not run | 0 / 1 |" in text          # the rest of the dead exercise
    assert "the kernel died in cell `ex98-size-answer` of the same exercise" in text
    assert "| ex98-clip | ✓ passed | 3 / 3 |" in text           # after the restart
    assert "MemoryError" in _feedback(work, "memory.md")
    assert "the file is empty" in _feedback(work, "empty.md")
    assert "not valid JSON" in _feedback(work, "notjson.md")
    assert "ex99-elsewhere.ipynb" in _feedback(work, "other.md")
    assert "recognised from the file name" in _feedback(work, "ex98-fixture-alice.md")


def test_wrong_assignment_and_unreadable_release(release, tmp_path):
    """--assignment: notebooks of another (known) assignment are reported, not graded."""
    other = fixture_solution()
    other.metadata["conv_knobs"]["assignment"] = "ex97-other"
    for cell in other.cells:
        knobs = cell.metadata.get("conv_knobs", {})
        if "exercise" in knobs:
            knobs["exercise"] = knobs["exercise"].replace("ex98-", "ex97-")
    (tmp_path / "rel").mkdir()
    nbformat.write(nbformat.read(release / "exercises" / f"{NAME}.ipynb", as_version=4),
                   tmp_path / "rel" / f"{NAME}.ipynb")
    nbformat.write(other, tmp_path / "rel" / "ex97-other.ipynb")
    nbformat.write(other, tmp_path / "mine.ipynb")
    header, rows = grade.grade([tmp_path / "mine.ipynb"], out=tmp_path / "gb.csv",
                               release_dir=tmp_path / "rel", expected=NAME)
    assert header == ["submission", "assignment", "ex97-double", "ex97-size", "ex97-clip", "score",
                      "max_score", "status"]
    assert rows == [[str(tmp_path / "mine.ipynb"), "ex97-other", "0", "0", "0", "0", "6",
                     "wrong-assignment"]]
    assert (tmp_path / "gb.csv").read_text(encoding="utf-8").splitlines()[1].endswith(",wrong-assignment")


# ------------------------------------------------------------------------------------------------
# Restoration (no kernels involved)
# ------------------------------------------------------------------------------------------------

def _release_obj(release):
    return grade.Release(NAME, release / "exercises" / f"{NAME}.ipynb")


def test_restore_reinserts_after_the_preceding_released_cell(release):
    rel = _release_obj(release)
    nb = copy.deepcopy(rel.nb)
    nb.cells = [c for c in nb.cells if c.id not in ("ex98-size-check", "ex98-setup")]
    mine = new_code_cell("x = 1")
    mine.id = "my-cell"
    nb.cells.insert(3, mine)
    work, notes = grade.restore(nb, rel)
    ids = [c.id for c in work.cells]
    assert ids[:2] == ["ex98-title", "ex98-setup"]
    assert ids[ids.index("ex98-size-answer") + 1] == "ex98-size-check"
    assert "my-cell" in ids
    assert len(notes) == 2


def test_restore_matches_by_metadata_when_ids_are_lost(release):
    rel = _release_obj(release)
    nb = copy.deepcopy(rel.nb)
    for n, cell in enumerate(nb.cells):
        cell.id = f"renamed-{n}"
    _by_id(nb, "renamed-4").source = "pass"          # the double check, edited and renamed
    work, notes = grade.restore(nb, rel)
    sources = [c.source for c in work.cells if c.metadata.get("conv_knobs", {}).get("role") == "check"]
    assert sources == ["check_double(double)", "check_size(size)", "check_clip(clip)"]
    assert [c.id for c in work.cells].count("ex98-double-check") == 1
    assert any("ex98-double-check" in note and "changed" in note for note in notes)


def test_restore_keeps_one_copy_and_clears_outputs(release):
    rel = _release_obj(release)
    nb = copy.deepcopy(rel.nb)
    check = copy.deepcopy(_by_id(nb, "ex98-clip-check"))
    nb.cells.insert(1, check)                           # a duplicate before the original
    answer = _by_id(nb, "ex98-double-answer")
    answer.outputs = [nbformat.v4.new_output("stream", name="stdout", text="old\n")]
    answer.execution_count = 7
    work, notes = grade.restore(nb, rel)
    assert [c.id for c in work.cells].count("ex98-clip-check") == 1
    assert [c.id for c in work.cells].index("ex98-clip-check") == 1      # the first copy's place
    assert all(not c.get("outputs") and c.get("execution_count") is None
               for c in work.cells if c.cell_type == "code")
    assert any("second copy" in note for note in notes)


@pytest.mark.parametrize("content, reason", [
    (b"", "the file is empty"),
    (b"   \n", "the file is empty"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"[1, 2, 3]", "not a Jupyter notebook"),
    (b'{"cells": [{"cell_type": "code", "source": 5}], "metadata": {}, "nbformat": 4, '
     b'"nbformat_minor": 5}', "source that is not text"),
])
def test_invalid_notebooks_are_named(tmp_path, content, reason):
    path = tmp_path / "x.ipynb"
    path.write_bytes(content)
    with pytest.raises(grade.InvalidNotebook, match=reason):
        grade.read_notebook(path)


def test_lenient_reading_of_slightly_off_notebooks(tmp_path):
    """Missing optional keys, list-of-lines sources and leftover outputs do not stop grading."""
    path = tmp_path / "x.ipynb"
    path.write_text('{"cells": [{"cell_type": "code", "source": ["a = 1\\n", "b = 2"], "id": "c1", '
                    '"outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}], '
                    '"execution_count": 3}], "nbformat": 4, "nbformat_minor": 5}', encoding="utf-8")
    nb = grade.read_notebook(path)
    assert nb.cells[0].source == "a = 1\nb = 2" and nb.cells[0].metadata == {}
    assert nb.cells[0].outputs == [] and nb.cells[0].execution_count is None and nb.metadata == {}


def test_assignment_from_file_name(release):
    releases = grade.Releases(release / "exercises")
    assert releases.from_file_name("Bob_ex98-fixture (1).ipynb") == NAME
    assert releases.from_file_name("ex42-unknown-thing.ipynb") == "ex42-unknown-thing"
    assert releases.from_file_name("homework.ipynb") is None


# ------------------------------------------------------------------------------------------------
# The real notebooks
# ------------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_real_solutions_and_exercises(tmp_path):
    """Every solution earns full marks; every untouched exercise notebook earns zero, status ok."""
    solutions = sorted((ROOT / "solutions").glob("ex*.ipynb"))
    assert solutions, "solutions/ has no exercise notebooks"
    released = sorted((ROOT / "exercises").glob("ex*.ipynb"))
    assert [p.name for p in released] == [p.name for p in solutions], "run `make exercises`"
    subs = tmp_path / "subs"
    for kind, paths in (("solutions", solutions), ("exercises", released)):
        (subs / kind).mkdir(parents=True)
        for path in paths:
            (subs / kind / path.name).write_bytes(path.read_bytes())
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "conv_lib.grade", "subs", "--out", "gradebook.csv", "--jobs", "2",
         "--feedback-dir", "feedback", "--cell-timeout", "300", "--notebook-timeout", "900"],
        cwd=tmp_path, capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(open(tmp_path / "gradebook.csv", encoding="utf-8")))
    assert len(rows) == 2 * len(solutions)
    problems = []
    for row in rows:
        kind = row["submission"].split(os.sep)[1]
        expected = row["max_score"] if kind == "solutions" else "0"
        if row["status"] != "ok" or row["score"] != expected or row["max_score"] in ("", "0"):
            feedback = (tmp_path / "feedback" / (row["submission"][len("subs/"):]
                        .replace(".ipynb", ".md").replace(os.sep, "__"))).read_text(encoding="utf-8")
            problems.append(f"{row['submission']}: score {row['score']}/{row['max_score']} "
                            f"(expected {expected}), status {row['status']}\n{feedback}")
    assert not problems, "\n\n".join(problems)
    print(f"graded {len(rows)} real notebooks in {seconds:.0f} s")
