"""Grades an instructor can trust (issue #11): one synthetic class of the real ``ex02-output-shape``,
graded in one batch with the sandbox, the guard and a fresh seed.

- a vandal (graded first) tries to read, write and kill everything it can reach: the submissions,
  the grader's working folder and its other working copies, the gradebook and feedback folders,
  ``solutions/``, ``exercises/`` and ``conv_lib/`` of the project, a file in the grader's /tmp, the
  network and the grader's processes; the correct submission graded after it keeps full marks;
- a library one-liner earns nothing for the from-scratch exercise; a multi-part answer with 3 of 5
  values right earns 3/5 of the points;
- checks patched from an answer cell (directly, through ``exec``, or NumPy's comparison) never
  give a silent score: status ``tampered``, no points from the tampering cell on;
- a kernel death costs only the exercise whose cell killed it;
- the submissions folder is byte-identical afterwards; the seed is recorded.

Plus units that need no kernel: the static scan and the kernel-side guard in this process.
"""
from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from conv_lib.tools.grade import kernel_guard, sandbox, tamper

pytestmark = pytest.mark.xdist_group("grade")

ROOT = Path(__file__).resolve().parents[1]
NAME = "ex02-output-shape"
FULL = 12

VANDAL = r'''
import glob, json, os, signal, socket, time
targets = json.loads(%(targets)r)
here = os.getcwd()          # its own working copy: the one folder it may change
done = []
for path in targets["read"]:
    try:
        with open(path, "rb") as handle:
            handle.read(10)
        done.append("read " + path)
    except OSError:
        pass
for folder in targets["list"]:
    try:
        seen = [e for e in os.listdir(folder) if os.path.join(folder, e) != here]
        if seen:
            done.append("listed " + folder)
    except OSError:
        pass
for pattern in targets["overwrite"]:
    for path in glob.glob(pattern, recursive=True) or [pattern]:
        if os.path.dirname(os.path.abspath(path)) == here:
            continue
        try:
            with open(path, "r+b") as handle:
                handle.write(b"vandal")
            done.append("overwrote " + path)
        except OSError:
            pass
for path in targets["create"]:
    try:
        with open(path, "x") as handle:
            handle.write("vandal")
        done.append("created " + path)
    except OSError:
        pass
for pid in [p for p in os.listdir("/proc") if p.isdigit() and int(p) != os.getpid()]:
    try:
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        continue
    if targets["marker"].encode() in cmdline:
        try:
            os.kill(int(pid), signal.SIGKILL)
            time.sleep(0.5)
            if not os.path.exists(f"/proc/{pid}") or b"(Z" in open(f"/proc/{pid}/stat", "rb").read():
                done.append("killed " + pid)
        except OSError:
            pass
try:
    socket.create_connection(("pypi.org", 443), timeout=3).close()
    done.append("network")
except OSError:
    pass
raise RuntimeError("VANDAL " + json.dumps(done))
'''
PATCH_CHECKS = ("from conv_lib.course import checks as _c\n"
                "for _name in dir(_c):\n"
                "    if _name.startswith('check_'):\n"
                "        setattr(_c, _name, lambda *a, **k: print('✓ looks right'))\n")
EXEC_PATCH = ("def output_size(n, k, s=1, p=0, d=1):\n    return 0\n"
              "exec(\"from conv_lib.course import checks as c\\n"
              "c.check_output_size = lambda f: print('✓ output_size is correct')\")\n")
NUMPY_PATCH = ("import numpy as _n\n_n.allclose = lambda *a, **k: True\n"
               "def same_padding(n, k, s=1, d=1):\n    return (0, 0)\n")
ONE_LINER = ("import conv_lib\ndef output_size(n, k, s=1, p=0, d=1):\n"
             "    return conv_lib.shapes.output_size(n, k, s, p, d)\n")
CRASH = "import os\nos._exit(3)\n"
PARTLY = "out_plain = 56\nout_dilated = 56\nrf_plain = 5\nrf_dilated = 10\nextra_params = 1\n"   # 3 of 5


def _digest(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def _set(nb, cell_id, source):
    next(c for c in nb.cells if c.get("id") == cell_id).source = source


def _insert_after(nb, cell_id, source, new_id):
    cell = new_code_cell(source)
    cell.id = new_id
    index = next(i for i, c in enumerate(nb.cells) if c.get("id") == cell_id)
    nb.cells.insert(index + 1, cell)


@pytest.fixture(scope="module")
def trust_run(tmp_path_factory):
    cfg = sandbox.config(tmp_path_factory.mktemp("ipython-probe"))
    ok, reason = sandbox.self_test(cfg)
    if not ok:   # the vandal must never run unsandboxed on a shared machine
        if os.environ.get("CI"):   # .ci/run installs bubblewrap: there the sandbox must work
            pytest.fail(f"bubblewrap sandbox unavailable in CI: {reason}")
        pytest.skip(f"bubblewrap sandbox unavailable here: {reason}")
    base = tmp_path_factory.mktemp("trust")
    subs, work = base / "subs", base / "wd"
    subs.mkdir()
    canary = base / "grader-tmp-canary.txt"
    canary.write_text("grader's own file\n", encoding="utf-8")
    solution = nbformat.read(ROOT / "solutions" / f"{NAME}.ipynb", as_version=4)
    targets = {
        "read": [str(ROOT / "solutions" / f"{NAME}.ipynb"), str(ROOT / "README.md"), str(canary),
                 str(subs / "z-correct.ipynb")],
        "list": [str(subs), str(work / "notebooks"), str(base / "feedback"), str(ROOT / "solutions"),
                 str(ROOT / ".git")],
        "overwrite": [str(subs / "*.ipynb"), str(work / "notebooks" / "*" / "*.ipynb"), str(canary),
                      str(base / "out" / "gradebook.csv")],
        "create": [str(ROOT / "solutions" / "vandal.txt"), str(ROOT / "exercises" / "vandal.txt"),
                   str(ROOT / "conv_lib" / "vandal.txt"), str(base / "feedback" / "vandal.md"),
                   str(base / "out" / "vandal.txt"), str(subs / "vandal.ipynb")],
        "marker": str(base),
    }
    class_ = {}
    nb = copy.deepcopy(solution)
    _insert_after(nb, "ex02-setup", VANDAL % {"targets": json.dumps(targets)}, "vandal")
    class_["a-vandal"] = nb
    nb = copy.deepcopy(solution)
    _set(nb, "ex02-output-size-answer", ONE_LINER)
    _set(nb, "ex02-56x56-answer", PARTLY)
    _insert_after(nb, "ex02-setup", "import os\nraise RuntimeError('SEED ' + os.environ['CONV_KNOBS_CHECK_SEED'])",
                  "show-seed")
    class_["b-one-liner"] = nb
    nb = copy.deepcopy(solution)
    _insert_after(nb, "ex02-setup", PATCH_CHECKS, "patch")
    class_["c-patch-checks"] = nb
    nb = copy.deepcopy(solution)
    _set(nb, "ex02-output-size-answer", EXEC_PATCH)
    class_["c-exec-patch"] = nb
    nb = copy.deepcopy(solution)
    _set(nb, "ex02-same-padding-answer", NUMPY_PATCH)
    class_["c-numpy-patch"] = nb
    nb = copy.deepcopy(solution)
    _set(nb, "ex02-56x56-answer", CRASH)
    class_["d-crash"] = nb
    class_["z-correct"] = copy.deepcopy(solution)
    for name, notebook in class_.items():
        nbformat.write(notebook, subs / f"{name}.ipynb")
    before = _digest(subs)
    proc = subprocess.run(
        [sys.executable, "-m", "conv_lib.grade", "subs", "--out", "out/gradebook.csv", "--feedback-dir",
         "feedback", "--jobs", "2", "--keep-workdir", str(work), "--cell-timeout", "300",
         "--notebook-timeout", "900"],
        cwd=base, capture_output=True, text=True, timeout=1500)
    leaked = [p for p in (ROOT / "solutions" / "vandal.txt", ROOT / "exercises" / "vandal.txt",
                          ROOT / "conv_lib" / "vandal.txt") if p.exists()]
    for path in leaked:      # never leave a vandal's file in the project
        path.unlink()
    rows = {Path(r["submission"]).stem: r for r in csv.DictReader(open(base / "out" / "gradebook.csv"))} \
        if (base / "out" / "gradebook.csv").exists() else {}
    return {"base": base, "proc": proc, "rows": rows, "before": before, "after": _digest(subs),
            "leaked": leaked, "canary": canary.read_text(encoding="utf-8")}


def _feedback(run, name):
    return (run["base"] / "feedback" / f"{name}.md").read_text(encoding="utf-8")


def test_batch_ran_and_left_everything_as_it_was(trust_run):
    proc = trust_run["proc"]
    assert proc.returncode == 0, proc.stderr
    assert "sandbox: bubblewrap" in proc.stderr or "WITHOUT a sandbox" not in proc.stderr
    assert trust_run["after"] == trust_run["before"], "the submissions folder changed"
    assert not trust_run["leaked"], f"a submission wrote into the project: {trust_run['leaked']}"
    assert trust_run["canary"] == "grader's own file\n"
    assert not (trust_run["base"] / "feedback" / "vandal.md").exists()
    assert sorted(trust_run["rows"]) == ["a-vandal", "b-one-liner", "c-exec-patch", "c-numpy-patch",
                                         "c-patch-checks", "d-crash", "z-correct"]


def test_the_vandal_reached_nothing_and_the_class_keeps_its_marks(trust_run):
    rows = trust_run["rows"]
    assert "VANDAL []" in _feedback(trust_run, "a-vandal")     # every attempt failed
    for name in ("a-vandal", "z-correct"):
        assert rows[name]["status"] == "ok", _feedback(trust_run, name)
        assert (rows[name]["score"], rows[name]["max_score"], rows[name]["status"]) == (str(FULL), str(FULL), "ok")


def test_library_one_liner_earns_nothing_and_parts_earn_their_share(trust_run):
    row = trust_run["rows"]["b-one-liner"]
    assert row["ex02-output-size"] == "0" and row["ex02-56x56"] == "1.2"      # 2 points x 3/5 parts
    assert row["score"] == "9.2" and row["status"] == "ok"
    text = _feedback(trust_run, "b-one-liner")
    assert "| ex02-output-size | ✗ forbidden shortcut | 0 / 2 |" in text
    assert "Parts: 3 of 5 correct" in text and "- ✗ rf_dilated" in text and "- ✓ out_plain" in text


def test_patched_checks_are_flagged_not_rewarded(trust_run):
    rows = trust_run["rows"]
    assert rows["c-patch-checks"]["status"] == "tampered" and rows["c-patch-checks"]["score"] == "0"
    text = _feedback(trust_run, "c-patch-checks")
    assert "## Tampering" in text and "`setattr` on `_c`" in text
    # exec hides the patch from the static scan; the guard sees the replaced check
    row = rows["c-exec-patch"]
    assert row["status"] == "tampered", _feedback(trust_run, "c-exec-patch")
    assert row["ex02-output-size"] == row["ex02-same-padding"] == "0"
    assert row["ex02-56x56"] == "2" and row["score"] == "7"     # earlier exercises keep their points
    assert "conv_lib.course.checks.check_output_size was replaced" in _feedback(trust_run, "c-exec-patch")
    row = rows["c-numpy-patch"]
    assert row["status"] == "tampered" and row["ex02-same-padding"] == "0" and row["score"] == str(FULL - 3)
    assert "numpy.allclose was replaced" in _feedback(trust_run, "c-numpy-patch")


def test_answers_after_a_kernel_death_earn_their_points(trust_run):
    row = trust_run["rows"]["d-crash"]
    assert row["status"] == "kernel-died" and row["ex02-56x56"] == "0"
    assert row["score"] == str(FULL - 2)
    text = _feedback(trust_run, "d-crash")
    assert "cell `ex02-56x56-answer` killed the kernel" in text
    assert "## Kernel restarts" in text


def test_the_seed_is_fresh_and_recorded(trust_run):
    info = json.loads((trust_run["base"] / "out" / "gradebook.json").read_text(encoding="utf-8"))
    assert isinstance(info["seed"], int) and info["seed"] != 2024
    assert info["sandbox"].startswith("bubblewrap sandbox")
    assert f"- Checks' seed: `{info['seed']}`" in _feedback(trust_run, "z-correct")
    assert f"RuntimeError: SEED {info['seed']}" in _feedback(trust_run, "b-one-liner")   # what the kernels saw
    assert info["submissions"]["subs/c-exec-patch.ipynb"]["flags"]


# ------------------------------------------------------------------------------------------------
# Units without a kernel
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    ("checks.check_pad2d = lambda f: None", "assigns `checks.check_pad2d`"),
    ("from conv_lib.course import checks\nsetattr(checks, 'check_x', print)", "calls `setattr` on `checks`"),
    ("import sys\nsys.modules['conv_lib.course.checks'] = object()", "assigns an entry of `sys.modules`"),
    ("import sys\nsys.modules.pop('numpy')", "calls `sys.modules.pop`"),
    ("def f(): pass\nf.__code__ = (lambda: 1).__code__", "assigns `__code__` of `f`"),
    ("import gc", "imports `gc`"),
    ("from ctypes import pythonapi", "imports from `ctypes`"),
    ("np.allclose = lambda *a, **k: True", "assigns `np.allclose`"),
    ("import numpy as _n\n_n.allclose = min", "assigns `_n.allclose`"),
    ("from conv_lib.course import checks as c\nfor n in dir(c):\n    setattr(c, n, print)", "calls `setattr` on `c`"),
    ("%time x = 1\ndel checks._harness.PROTECTED", "deletes `checks._harness.PROTECTED`"),
])
def test_static_scan_finds_tampering(source, expected):
    found = [text for _, text in tamper.scan_source(source)]
    assert any(expected in text for text in found), found


@pytest.mark.parametrize("source", [
    "tf = 3\nconv = lambda x: x\npad = np.pad\nchecks_done = True",
    "x = np.zeros(3)\nx[0] = 1\nresult.value = 2\nF_out = 1",
    "import numpy as np\nnp.random.seed(0)\ny = np.convolve([1], [1])",
    "class A:\n    def __init__(self):\n        self.weight = 1",
])
def test_static_scan_leaves_ordinary_code_alone(source):
    assert tamper.scan_source(source) == []


def test_static_scan_finds_nothing_in_the_worked_solutions_and_the_book():
    for path in sorted((ROOT / "solutions").glob("ex*.ipynb")) + sorted((ROOT / "book").glob("*.ipynb")):
        assert tamper.scan_notebook(nbformat.read(path, as_version=4)) == [], path.name


def test_guard_sees_replaced_checks_and_comparisons():
    """The guard's fingerprints, exercised in this process (no kernel, no IPython needed)."""
    import builtins

    import numpy as np

    from conv_lib.course import checks
    guard = kernel_guard.Guard(ip=None)
    assert guard.connect_checks()
    guard.builtins = {n: builtins.__dict__[n] for n in kernel_guard.HARNESS_BUILTINS if n in builtins.__dict__}
    guard.import_wrapper = builtins.__import__      # not installed here: compare with the current one
    guard.watch_loaded()
    assert guard.differences() == []
    name = next(n for n in dir(checks) if n.startswith("check_"))
    original, allclose = getattr(checks, name), np.allclose
    try:
        setattr(checks, name, lambda *a, **k: None)
        np.allclose = lambda *a, **k: True
        found = guard.differences()
    finally:
        setattr(checks, name, original)
        np.allclose = allclose
        checks._harness.remove_reporter(guard.reporter)
    assert f"conv_lib.course.checks.{name} was replaced" in found
    assert "numpy.allclose was replaced" in found
    assert guard.differences() == ["the grader's reporter was removed from the checks"]
