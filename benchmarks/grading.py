"""Grading throughput on a synthetic class, and where a submission's time goes.

    python -m benchmarks.grading                      # 100 submissions, locally and on 2 Dask workers
    python -m benchmarks.grading --students 20 --no-dask

A synthetic class (``make_class``) is a roster plus nbgrader-style submissions
``submitted/<student>/<assignment>/<assignment>.ipynb`` with ``timestamp.txt``, built from the
released notebook of one assignment (``ex02-output-shape`` by default) and the worked answers in
``solutions/``. Every student gets a *profile* (cycled, so every profile occurs in any class of
a dozen or more): correct, partly correct (two known-wrong answers, one left unattempted), an
error in an answer cell, a kernel crash (``os._exit``), a cheat that edits a check cell, a cheat
that replaces a check function from an answer cell, and an untouched notebook. Every fourth
submission is late (0.5 to 2.5 days); the last students of the roster submit nothing, and one
submission comes from someone not on the roster.

The benchmark grades the class with ``--jobs 2`` locally, then (unless ``--no-dask``) on a local
Dask cluster (one scheduler and two single-threaded workers on 127.0.0.1), and prints seconds per
submission and the mean split of one submission's time: kernel start, imports (the setup cell),
the student's cells and the check cells, from the grader's per-cell event times.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ASSIGNMENT = "ex02-output-shape"
DEADLINE = datetime(2026, 11, 30, 23, 59, tzinfo=timezone.utc)
PROFILES = ("correct", "partial", "cell-error", "crash", "cheat-edit", "correct", "cheat-patch", "blank",
            "partial")

# answers that are wrong in a way a student plausibly gets wrong (ex02-output-shape)
WRONG = {
    "ex02-output-size-answer": '''def output_size(n, k, s=1, p=0, d=1):
    """Output length of a convolution along one axis (padding p on each side)."""
    return (n + 2 * p - k) // s + 1          # forgets the dilation
''',
    "ex02-56x56-answer": '''out_plain = 56
out_dilated = 56 + 4
rf_plain = 5
rf_dilated = 10
extra_params = 0
''',
}
CRASH = "import os\nos._exit(3)\n"
CELL_ERROR = "raise ValueError('I am not sure what goes here')\n"
PATCH = ("from conv_lib.course import checks as _c\n"
         "for _name in dir(_c):\n"
         "    if _name.startswith('check_'):\n"
         "        setattr(_c, _name, lambda *a, **k: print('✓ looks right'))\n")


def _answer_sources(solution_path):
    """{answer cell id: source with the solution markers removed} from a solutions notebook."""
    nb = json.loads(Path(solution_path).read_text(encoding="utf-8"))
    out = {}
    for cell in nb["cells"]:
        if (cell.get("metadata", {}).get("conv_knobs") or {}).get("role") == "answer":
            source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            lines = [line for line in source.splitlines() if not re.match(r"\s*### (BEGIN|END) SOLUTION", line)]
            out[cell["id"]] = "\n".join(lines) + "\n"
    return out


def student_notebook(release, answers, profile):
    """A submission of ``profile`` made from the released notebook dict ``release``."""
    nb = json.loads(json.dumps(release))
    for cell in nb["cells"]:
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
    answer_cells = [c for c in nb["cells"] if (c["metadata"].get("conv_knobs") or {}).get("role") == "answer"]
    if profile == "blank":
        return nb
    for i, cell in enumerate(answer_cells):
        cell["source"] = answers.get(cell["id"], cell["source"])
        if profile == "partial":
            if cell["id"] in WRONG:
                cell["source"] = WRONG[cell["id"]]
            elif i == len(answer_cells) - 1:     # the last exercise is left unattempted
                cell["source"] = _released_source(release, cell["id"])
    if profile == "cell-error":
        answer_cells[1]["source"] = CELL_ERROR + answer_cells[1]["source"]
    elif profile == "crash":
        answer_cells[len(answer_cells) // 2]["source"] += CRASH
    elif profile == "cheat-edit":
        for cell in nb["cells"]:
            if (cell["metadata"].get("conv_knobs") or {}).get("role") == "check":
                cell["source"] = "print('✓ all good')\n"
        for cell in answer_cells:
            cell["source"] = _released_source(release, cell["id"])
    elif profile == "cheat-patch":
        for cell in answer_cells:
            cell["source"] = _released_source(release, cell["id"])
        answer_cells[0]["source"] = PATCH + answer_cells[0]["source"]
    return nb


def _released_source(release, cell_id):
    for cell in release["cells"]:
        if cell.get("id") == cell_id:
            return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    raise KeyError(cell_id)


def make_class(folder, students=12, *, assignment=DEFAULT_ASSIGNMENT, missing=None, seed=0):
    """Write a synthetic class into ``folder``; return a description (paths, profiles, expectations).

    ``folder/roster.csv``, ``folder/course/submitted/<student>/<assignment>/`` and one extra
    submission by ``zz-visitor`` who is not on the roster. ``missing`` students (default: one in
    ten, at least one) at the end of the roster submit nothing.
    """
    folder = Path(folder)
    release = json.loads((ROOT / "exercises" / f"{assignment}.ipynb").read_text(encoding="utf-8"))
    answers = _answer_sources(ROOT / "solutions" / f"{assignment}.ipynb")
    missing = max(1, students // 10) if missing is None else missing
    roster = folder / "roster.csv"
    roster.parent.mkdir(parents=True, exist_ok=True)
    ids = [f"s{n:03d}" for n in range(1, students + 1)]
    with open(roster, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Student ID", "Name", "Email", "Section", "Canvas ID"])
        for n, sid in enumerate(ids):
            writer.writerow([sid, f"Student{n + 1:03d}, Test", f"{sid}@uni.example", f"S{n % 2 + 1}",
                             str(1000 + n)])
    submitted = folder / "course" / "submitted"
    profiles, late = {}, {}
    submitters = ids[:students - missing] + ["zz-visitor"]
    for n, sid in enumerate(submitters):
        profile = PROFILES[(n + seed) % len(PROFILES)]
        profiles[sid] = profile
        where = submitted / sid / assignment
        where.mkdir(parents=True, exist_ok=True)
        (where / f"{assignment}.ipynb").write_text(
            json.dumps(student_notebook(release, answers, profile), indent=1) + "\n", encoding="utf-8")
        offset = timedelta(days=0.5 + n % 3) if n % 4 == 3 else -timedelta(hours=2 + n % 5)
        late[sid] = offset > timedelta(0)
        (where / "timestamp.txt").write_text((DEADLINE + offset).strftime("%Y-%m-%d %H:%M:%S.%f UTC") + "\n",
                                             encoding="utf-8")
    return {"folder": folder, "roster": roster, "course": folder / "course", "assignment": assignment,
            "profiles": profiles, "late": late, "missing": ids[students - missing:],
            "deadline": DEADLINE.isoformat()}
