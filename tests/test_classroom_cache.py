"""Incremental regrading and ``--only`` on a tiny NumPy-free assignment (fast kernels).

The assignment ``ex97-tiny`` has two exercises whose checks live in its setup cell, so "fixing a
check" means releasing a new version of the notebook. Students are laid out one folder each, without
a roster.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("classroom")]

ROOT = Path(__file__).resolve().parents[1]
NAME = "ex97-tiny"
SETUP_V1 = ('def check_a(x):\n    assert x == 1, "ex97-a: expected 1"\n    print("✓ a")\n\n'
            'def check_b(x):\n    assert x == 2, "ex97-b: expected 2"\n    print("✓ b")\n')
# the "fixed" release: b also accepts 3; a became stricter (must not apply under --only ex97-b)
SETUP_V2 = ('def check_a(x):\n    assert x == 5, "ex97-a: expected 5"\n    print("✓ a")\n\n'
            'def check_b(x):\n    assert x in (2, 3), "ex97-b: expected 2 or 3"\n    print("✓ b")\n')


def _notebook(setup, a="...", b="..."):
    def cell(source, **knobs):
        c = new_code_cell(source, metadata={"conv_knobs": knobs})
        c["id"] = knobs.get("id") or f"{knobs.get('exercise', 'ex97')}-{knobs['role']}"
        return c
    nb = new_notebook(cells=[cell(setup, role="setup", id="ex97-setup"),
                             cell(f"a = {a}", role="answer", exercise="ex97-a"),
                             cell("check_a(a)", role="check", exercise="ex97-a", points=1),
                             cell(f"b = {b}", role="answer", exercise="ex97-b"),
                             cell("check_b(b)", role="check", exercise="ex97-b", points=2)],
                      metadata={"conv_knobs": {"assignment": NAME},
                                "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    return nb


def _grade(tmp_path, *extra):
    command = [sys.executable, "-m", "conv_lib.grade", "class", "--release", "release", "--out", "gradebook.csv",
               "--cache", "cache", "--json-dir", "json", "--jobs", "2", "--cell-timeout", "60", "-q", *extra]
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(tmp_path / "gradebook.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    return proc.stderr, rows


def test_cache_and_only(tmp_path):
    (tmp_path / "release").mkdir()
    nbformat.write(_notebook(SETUP_V1), tmp_path / "release" / f"{NAME}.ipynb")
    for student, (a, b) in {"ann": (1, 2), "bob": (1, 3)}.items():
        (tmp_path / "class" / student).mkdir(parents=True)
        nbformat.write(_notebook(SETUP_V1, a, b), tmp_path / "class" / student / "tiny.ipynb")

    log, rows = _grade(tmp_path)
    assert "2 notebook(s) run, 0 from the cache" in log
    assert {s: (r["ex97-a"], r["ex97-b"], r["score"]) for s, r in rows.items()} == \
        {"ann": ("1", "2", "3"), "bob": ("1", "0", "1")}

    log, again = _grade(tmp_path)                      # nothing changed: nothing runs
    assert "0 notebook(s) run, 2 from the cache" in log and again == rows

    nbformat.write(_notebook(SETUP_V2), tmp_path / "release" / f"{NAME}.ipynb")
    log, only = _grade(tmp_path, "--only", "ex97-b")   # b regraded with the fixed check, a kept
    assert "2 notebook(s) run, 0 from the cache" in log
    assert {s: (r["ex97-a"], r["ex97-b"], r["score"]) for s, r in only.items()} == \
        {"ann": ("1", "2", "3"), "bob": ("1", "2", "3")}
    records = {json.loads(p.read_text())["student"]: json.loads(p.read_text()) for p in (tmp_path / "json").glob("*.json")}
    assert records["bob"]["exercises"][1]["status"] == "passed" and not records["bob"]["cached"]

    log, after = _grade(tmp_path)                      # the merged results are cached for the new release
    assert "0 notebook(s) run, 2 from the cache" in log and after == only

    (tmp_path / "class" / "cid").mkdir()               # a late submission: only it runs, with the new checks
    nbformat.write(_notebook(SETUP_V1, 5, 3), tmp_path / "class" / "cid" / "tiny.ipynb")
    log, late = _grade(tmp_path)
    assert "1 notebook(s) run, 2 from the cache" in log
    assert (late["cid"]["ex97-a"], late["cid"]["ex97-b"]) == ("1", "2")


def test_only_needs_a_cache_and_a_known_exercise(tmp_path):
    (tmp_path / "x.ipynb").write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "conv_lib.grade", str(tmp_path), "--out", "g.csv", "--only",
                           "ex97-b"], cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2 and "--only EXERCISE needs --cache DIR" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "conv_lib.grade", str(tmp_path), "--out", "g.csv", "--only",
                           "ex00-nothing", "--cache", "c"], cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 2 and "--only 'ex00-nothing'" in proc.stderr
