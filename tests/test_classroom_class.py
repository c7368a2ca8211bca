"""A synthetic class graded end to end with one command (issue #13), in reduced size.

Ten rostered students (one of them submits nothing) plus one visitor who is not on the roster,
nbgrader layout with timestamps, late submissions, and correct, partly correct, crashing, blank and
cheating notebooks of ``ex02-output-shape`` (see ``benchmarks.grading.make_class``). The class is
graded locally with every output, then on a real local Dask cluster (a scheduler and two workers
on 127.0.0.1, started here) whose gradebook must be identical, then once more with one added
submission and the cache: only that notebook runs. The HTML report is opened in headless Chromium.
"""
from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.grading import PROFILES, local_dask_cluster, make_class
from tests.browser import launch, serve

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("classroom")]

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "build" / "test-artifacts"
STUDENTS = 10   # 9 submit (every profile occurs), 1 does not; plus a visitor
POLICY = ["--deadline", "2026-11-30T23:59Z", "--late-penalty", "10%/day, cap 50%, grace 15min"]
SEED = ["--seed", "7"]   # the same check cases in every run compared below


def _grade(cwd, out, *extra):
    seed = SEED if "--seed" in _help() else []
    command = [sys.executable, "-m", "conv_lib.grade", "course", "--roster", "roster.csv", "--out",
               f"{out}/gradebook.csv", "--jobs", "2", "--cell-timeout", "120", "-q", *POLICY, *seed, *extra]
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=1800,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stderr


_HELP = []


def _help():
    if not _HELP:
        _HELP.append(subprocess.run([sys.executable, "-m", "conv_lib.grade", "--help"], capture_output=True,
                                    text=True, cwd=ROOT).stdout)
    return _HELP[0]


def _csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    info = make_class(base, STUDENTS)
    outputs = ["--feedback-dir", "out/feedback", "--report", "out/report", "--canvas", "out/canvas.csv",
               "--canvas-ids", "ex02-output-shape=4711", "--long-csv", "out/long.csv", "--json-dir", "out/json",
               "--cache", "out/cache"]
    log = _grade(base, "out", *outputs)
    return info, base, log


def _rows(path):
    table = _csv(path)
    return [dict(zip(table[0], row)) for row in table[1:]]


def test_gradebook_has_one_row_per_student_with_the_late_policy(graded):
    info, base, log = graded
    rows = {row["student"]: row for row in _rows(base / "out" / "gradebook.csv")}
    assert sorted(rows) == [f"s{n:03d}" for n in range(1, STUDENTS + 1)] + ["zz-visitor"]
    assert f"{STUDENTS} notebook(s) run, 0 from the cache" in log
    for student in info["missing"]:
        assert rows[student]["status"] == "missing" and rows[student]["score"] == ""
    for student, profile in info["profiles"].items():
        row = rows[student]
        raw, score, top = float(row["raw_score"]), float(row["score"]), float(row["max_score"])
        if info["late"][student]:
            days = int(row["late_days"])
            assert 1 <= days <= 3 and row["penalty"] == f"{min(10 * days, 50)}%"
            assert score == pytest.approx(round(raw * (1 - min(0.1 * days, 0.5)), 2))
        else:
            assert row["late_days"] == row["penalty"] == "" and score == raw
        if profile == "correct":
            assert (row["status"], raw) == ("ok", top)
        elif profile == "partial":
            assert 0 < raw < top and row["ex02-output-size"] == "0" and row["ex02-same-padding"] == "0"
        elif profile == "crash":
            assert row["status"] == "kernel-died" and raw < top
        elif profile in ("blank", "cheat-edit"):
            assert raw == 0, (student, profile)
        elif profile == "cell-error":
            assert row["ex02-quick-checks"] == "0" and raw == top - 1
        elif profile == "cheat-patch":   # replaced the check functions from an answer cell
            assert (row["status"], raw) == ("tampered", 0)


def test_canvas_long_csv_json_and_feedback(graded):
    info, base, _ = graded
    canvas = _csv(base / "out" / "canvas.csv")
    assert canvas[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ex02-output-shape (4711)"]
    assert canvas[1] == ["    Points Possible", "", "", "", "", "12"]
    book = {row["student"]: row for row in _rows(base / "out" / "gradebook.csv")}
    assert {row[2]: row[5] for row in canvas[2:]} == {s: book[s]["score"] for s in book if s != "zz-visitor"}
    long = _rows(base / "out" / "long.csv")
    assert len(long) == 6 * (STUDENTS + 1)
    assert {r["status"] for r in long} >= {"passed", "failed", "not-attempted", "missing"}
    records = [json.loads(p.read_text()) for p in sorted((base / "out" / "json").glob("*.json"))]
    assert len(records) == STUDENTS  # every submission (the visitor's too), none for the missing student
    for record in records:
        assert record["timings"]["total"] > 0 and record["timings"]["kernel"] > 0
        assert {e["status"] for e in record["exercises"]} <= {"passed", "failed", "not-attempted", "not-run",
                                                                "kernel-died", "forbidden", "check-bug",
                                                                "tampered"}
    visitor = (base / "out" / "feedback" / "zz-visitor--ex02-output-shape.md").read_text()
    assert "`zz-visitor` is not on the roster." in visitor
    for student, late in info["late"].items():
        text = (base / "out" / "feedback" / f"{student}--ex02-output-shape.md").read_text()
        assert ("a penalty of" in text) == late and ("On time." in text) == (not late)
    cheat = next(s for s, p in info["profiles"].items() if p == "cheat-edit")
    assert "had been changed; the released version was used" in \
        (base / "out" / "feedback" / f"{cheat}--ex02-output-shape.md").read_text()


def test_report_opens_in_chromium_without_errors(graded):
    _, base, _ = graded
    folder = base / "out" / "report"
    assert {p.name for p in folder.iterdir()} >= {"report.html", "summary.md", "scores.png", "outcomes.png",
                                                   "mistakes.png", "timing.png"}
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as pw, serve(folder) as base_url:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        errors, requests = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: requests.append(r.url))
        page.goto(base_url + "/report.html", wait_until="load")
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        text = page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "class-report.png"), full_page=True)
        browser.close()
    assert errors == []
    assert len(widths) == 4 and min(widths) > 300
    assert [u for u in requests if not u.startswith(base_url) and not u.startswith("data:")] == []
    assert "Common mistakes" in text and "s004" in text   # the crashed submission is listed


@pytest.fixture()
def dask_cluster():
    with local_dask_cluster(2) as address:   # started here, stopped after the test
        yield address


def test_dask_cluster_gives_the_same_gradebook(graded, dask_cluster):
    _, base, _ = graded
    log = _grade(base, "dask", "--dask", dask_cluster, "--report", "dask/report", "--json-dir", "dask/json")
    assert f"{STUDENTS} notebook(s) run" in log
    assert _csv(base / "dask" / "gradebook.csv") == _csv(base / "out" / "gradebook.csv")
    assert len(list((base / "dask" / "json").glob("*.json"))) == STUDENTS


def test_regrading_with_one_added_submission_runs_only_that_one(graded, tmp_path):
    info, base, _ = graded
    shutil.copytree(base / "course", tmp_path / "course")
    shutil.copy(base / "roster.csv", tmp_path / "roster.csv")
    shutil.copytree(base / "out" / "cache", tmp_path / "cache")
    newcomer = info["missing"][0]
    source = next(base / "course" / "submitted" / s for s, p in info["profiles"].items() if p == "correct")
    shutil.copytree(source, tmp_path / "course" / "submitted" / newcomer)
    notebook = tmp_path / "course" / "submitted" / newcomer / "ex02-output-shape" / "ex02-output-shape.ipynb"
    nb = json.loads(notebook.read_text())   # an identical notebook would (rightly) come from the cache
    nb["cells"].append({"cell_type": "markdown", "id": "mine", "metadata": {}, "source": f"by {newcomer}"})
    notebook.write_text(json.dumps(nb))
    started = time.monotonic()
    log = _grade(tmp_path, "out", "--cache", "cache", "--json-dir", "out/json")
    print(f"regrade with one new submission: {time.monotonic() - started:.1f} s")
    assert f"1 notebook(s) run, {STUDENTS} from the cache" in log
    records = {json.loads(p.read_text())["student"]: json.loads(p.read_text())
               for p in (tmp_path / "out" / "json").glob("*.json")}
    assert [s for s, r in records.items() if not r["cached"]] == [newcomer]
    before = {row["student"]: row for row in _rows(base / "out" / "gradebook.csv")}
    after = {row["student"]: row for row in _rows(tmp_path / "out" / "gradebook.csv")}
    assert after[newcomer]["status"] == "ok" and after[newcomer]["raw_score"] == after[newcomer]["max_score"]
    assert {s: r for s, r in after.items() if s != newcomer} == {s: r for s, r in before.items() if s != newcomer}


def test_every_profile_occurs():
    assert set(PROFILES) == {"correct", "partial", "cell-error", "crash", "cheat-edit", "cheat-patch", "blank"}
    assert len(set(PROFILES[:STUDENTS - 1])) == len(set(PROFILES))
