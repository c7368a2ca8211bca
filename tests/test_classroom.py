"""The class-level grader modules on their own (no notebooks run): roster and layouts, late policy,
exports, per-submission JSON, the report's numbers and HTML, and the result cache."""
from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone

import pytest

from conv_lib.tools.grade import cache, exports, late, report, results_json, roster

UTC = timezone.utc


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- roster and layouts ---------------------------------------------------------------------------

def test_roster_accepts_common_headers(tmp_path):
    path = _write(tmp_path / "r.csv", "Student ID,First Name,Last Name,E-mail,Section\n"
                                      "a1,Ada,Lovelace,ada@x.org,S1\nb2,Alan,Turing,alan@x.org,S2\n\n")
    people = roster.read_roster(path)
    assert [s.id for s in people.students] == ["a1", "b2"]
    assert people.students[0].name == "Ada Lovelace" and people.students[1].section == "S2"
    assert people.find("ALAN@x.org").id == "b2" and people.find("alan").id == "b2"
    assert people.find("nobody") is None


def test_roster_reads_a_canvas_export(tmp_path):
    path = _write(tmp_path / "r.csv", "Student,ID,SIS User ID,SIS Login ID,Section\n"
                                      "\"Lovelace, Ada\",4711,a1,ada,S1\n")
    student = roster.read_roster(path).students[0]
    assert (student.id, student.canvas_id, student.sis_login, student.name) == ("a1", "4711", "ada", "Lovelace, Ada")


@pytest.mark.parametrize("text, needle", [("name,email\nAda,a@x\n", "no student id column"),
                                          ("id\na1\nA1\n", "appears twice")])
def test_roster_errors_name_the_file_and_problem(tmp_path, text, needle):
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(ValueError, match=needle) as info:
        roster.read_roster(path)
    assert "bad.csv" in str(info.value)


def test_layouts(tmp_path):
    nbg = tmp_path / "course"
    _write(nbg / "submitted" / "a1" / "ex02-output-shape" / "ex02-output-shape.ipynb", "{}")
    _write(nbg / "submitted" / "a1" / "ex02-output-shape" / "timestamp.txt", "2026-11-30 10:00:00 UTC")
    _write(nbg / "submitted" / ".hidden" / "x" / "y.ipynb", "{}")
    found = roster.discover([nbg])
    assert [(f.student_key, f.assignment_hint, f.layout) for f in found] == [("a1", "ex02-output-shape", "nbgrader")]
    assert found[0].timestamp_dir.name == "ex02-output-shape"

    folders = tmp_path / "folders"
    _write(folders / "b2" / "work" / "mine.ipynb", "{}")
    assert [(f.student_key, f.layout) for f in roster.discover([folders])] == [("b2", "folders")]

    flat = tmp_path / "flat"
    _write(flat / "a1_ex04-padding.ipynb", "{}")
    _write(flat / "README.ipynb", "{}")
    found = roster.discover([flat], pattern="{student}_{assignment}.ipynb")
    assert [(f.student_key, f.assignment_hint) for f in found] == [("", ""), ("a1", "ex04-padding")]
    people = roster.Roster([roster.Student("a1"), roster.Student("a12")])
    _write(flat / "lovelace_a12_late.ipynb", "{}")
    keys = {f.path.name: f.student_key for f in roster.discover([flat], roster=people)}
    assert keys["lovelace_a12_late.ipynb"] == "a12" and keys["a1_ex04-padding.ipynb"] == "a1"
    with pytest.raises(ValueError, match="must contain"):
        roster.compile_pattern("{assignment}.ipynb")
    with pytest.raises(ValueError, match="layout 'cloud'"):
        roster.discover([flat], layout="cloud")


# -- late policy ----------------------------------------------------------------------------------

def test_late_policy_per_day_cap_and_grace():
    policy = late.LatePolicy.parse(["2026-11-30T23:59Z", "ex04-padding=2026-12-07T23:59+01:00"],
                                   "10%/day, cap 25%, grace 15min")
    deadline = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
    assess = lambda minutes: policy.assess("ex02-output-shape", deadline + timedelta(minutes=minutes))
    assert not assess(-60).late and not assess(14).late            # early, and within the grace period
    assert (assess(16).units_late, assess(16).penalty) == (1, pytest.approx(0.10))
    assert (assess(60 * 24 + 1).units_late, assess(60 * 24 + 1).penalty) == (2, pytest.approx(0.20))
    assert assess(60 * 24 * 9).penalty == pytest.approx(0.25)         # capped
    assert policy.deadline("ex04-padding") == datetime(2026, 12, 7, 22, 59, tzinfo=UTC)
    assert late.apply_penalty(7, assess(16)) == 6.3
    hourly = late.LatePolicy.parse(["2026-11-30T23:59Z"], "5% per hour")
    assert hourly.assess("x", deadline + timedelta(minutes=61)).penalty == pytest.approx(0.10)


@pytest.mark.parametrize("deadline, penalty, needle", [
    (["tomorrow"], None, "--deadline 'tomorrow'"),
    (["2026-11-30"], "10%/week", "not understood"),
    (["2026-11-30"], "cap 20%", "names no rate"),
    (["2026-11-30"], "10%/day, cap 120%", "between 0% and 100%"),
    (["2026-11-30"], "10%/day, grace soon", "not a duration")])
def test_late_policy_errors(deadline, penalty, needle):
    with pytest.raises(ValueError, match=needle):
        late.LatePolicy.parse(deadline, penalty)


def test_submission_time_from_nbgrader_timestamp_or_file(tmp_path):
    nb = _write(tmp_path / "a" / "x.ipynb", "{}")
    when, source = late.submission_time(nb)
    assert source == "file time" and abs((datetime.now(UTC) - when).total_seconds()) < 600
    _write(tmp_path / "a" / "timestamp.txt", "2026-12-01 08:30:00.250000 America/New_York\n")
    when, source = late.submission_time(nb)
    assert source == "timestamp.txt" and when == datetime(2026, 12, 1, 13, 30, 0, 250000, tzinfo=UTC)
    assert late.parse_time("2026-12-01 10:00:00 UTC") == datetime(2026, 12, 1, 10, tzinfo=UTC)


# -- records -> exports, JSON, report ----------------------------------------------------------------

def _record(student, status="ok", points=(2, 0), score=None, late_info=None, diagnoses=((), ("ex-b/sign",)),
            statuses=("passed", "failed"), total=4.0):
    exercises = [{"exercise": name, "points": p, "max_points": 2, "status": s, "parts": [],
                  "diagnoses": list(d), "message": f"{name}: message of {student}", "seconds": 0.5}
                 for name, p, s, d in zip(("ex-a", "ex-b"), points, statuses, diagnoses)]
    raw = sum(p for p in points if p is not None) if status != "missing" else None
    return {"student": student, "name": f"Name {student}", "email": f"{student}@x.org", "section": "S1",
            "assignment": "ex99-demo", "submission": f"sub/{student}.ipynb" if status != "missing" else "",
            "status": status, "message": "", "raw_score": raw, "max_score": 4,
            "score": raw if score is None else score, "late": late_info or {}, "exercises": exercises,
            "notes": [], "cached": False,
            "timings": {"total": total, "kernel": 1.0, "setup": 2.0, "cells": 0.5, "checks": 0.5}}


RECORDS = [_record("b2"), _record("a1", points=(2, 2), statuses=("passed", "passed"), diagnoses=((), ())),
           _record("c3", score=1.8, late_info={"late": True, "units_late": 1, "penalty": 0.1}),
           _record("d4", status="missing", points=(None, None), statuses=("missing", "missing"), diagnoses=((), ())),
           _record("e5", status="kernel-died", points=(0, 0), statuses=("kernel-died", "not-run"),
                   diagnoses=((), ()), total=9.0)]


def test_student_gradebook_and_long_csv(tmp_path):
    header, rows = exports.write_student_gradebook(RECORDS, tmp_path / "g.csv")
    assert header[:7] == ["student", "name", "email", "section", "assignment", "ex-a", "ex-b"]
    by_student = {row[0]: dict(zip(header, row)) for row in rows}
    assert [row[0] for row in rows] == ["a1", "b2", "c3", "d4", "e5"]
    assert by_student["c3"]["raw_score"] == "2" and by_student["c3"]["score"] == "1.8"
    assert by_student["c3"]["penalty"] == "10%" and by_student["c3"]["late_days"] == "1"
    assert by_student["d4"]["status"] == "missing" and by_student["d4"]["score"] == ""
    with open(tmp_path / "g.csv", newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [header] + rows
    header, rows = exports.write_long(RECORDS, tmp_path / "long.csv")
    assert header[:7] == ["student", "assignment", "exercise", "points", "max_points", "status", "diagnosis"]
    assert ["b2", "ex99-demo", "ex-b", "0", "2", "failed", "ex-b/sign"] == rows[3][:7]
    assert len(rows) == 2 * len(RECORDS)


def test_canvas_layout(tmp_path):
    people = roster.Roster([roster.Student("a1", "Lovelace, Ada", "ada@x.org", "S1", "4711"),
                            roster.Student("d4", "Turing, Alan", "alan@x.org", "S2", "4712", "aturing")])
    header, rows = exports.write_canvas(RECORDS, people, tmp_path / "canvas.csv", {"ex99-demo": "123"})
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ex99-demo (123)"]
    assert rows[0] == ["    Points Possible", "", "", "", "", "4"]
    assert rows[1:] == [["Lovelace, Ada", "4711", "a1", "ada@x.org", "S1", "4"],
                        ["Turing, Alan", "4712", "d4", "aturing", "S2", ""]]   # missing stays blank


def test_json_records_round_trip(tmp_path):
    paths = results_json.write_records(RECORDS, tmp_path / "json")
    assert sorted(p.name for p in paths) == ["a1--ex99-demo.json", "b2--ex99-demo.json", "c3--ex99-demo.json",
                                             "e5--ex99-demo.json"]
    back = results_json.read_records(tmp_path / "json")
    assert [r["student"] for r in back] == ["a1", "b2", "c3", "e5"] and back[0]["schema"] == results_json.SCHEMA
    assert back[1]["exercises"][1]["diagnoses"] == ["ex-b/sign"]


def test_report_numbers_and_html(tmp_path):
    evil = _record("<script>alert(1)</script>", status="error")
    evil["message"] = "<img src=x onerror=alert(2)>"
    summary = report.write_report(RECORDS + [evil], tmp_path / "rep", wall_seconds=12.5)
    assert (summary["submitted"], summary["missing"], summary["late"]) == (5, 1, 1)
    assert summary["per_exercise"]["ex-b"] == {"failed": 3, "passed": 1, "crashed": 1}
    assert summary["mistakes"] == {"ex-b": [("ex-b/sign", 3)]}
    assert summary["slowest"][0]["student"] == "e5"
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 4 and "<script" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "http://" not in html and "https://" not in html
    for name in ("scores.png", "outcomes.png", "mistakes.png", "timing.png"):
        assert (tmp_path / "rep" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "`ex-b/sign`: 3 submission(s)" in (tmp_path / "rep" / "summary.md").read_text(encoding="utf-8")


# -- cache ----------------------------------------------------------------------------------------

def test_cache_keys_and_only_merge(tmp_path):
    store = cache.ResultCache(tmp_path / "c", version="v1")
    result = {"status": "ok", "cells": {"a-check": {"ok": True}, "b-check": {"ok": False}}}
    assert store.get("h1", "set1") is None
    store.put("h1", "set1", result)
    assert store.get("h1", "set1") == result
    assert store.get("h1", "set2") is None and store.entry("h1")["exercise_set"] == "set1"
    newer = cache.ResultCache(tmp_path / "c", version="v2")                     # grader changed
    assert newer.get("h1", "set1") is None and newer.stale == {"grader changed": 1}
    assert store.stale == {"release or checks changed": 1}
    new = {"status": "ok", "cells": {"a-check": {"ok": False}, "b-check": {"ok": True}, "x": {"ok": True}}}
    merged = cache.merge_only(new, result, keep_cell_ids=["a-check"])
    assert merged["cells"] == {"a-check": {"ok": True}, "b-check": {"ok": True}, "x": {"ok": True}}
    release = _write(tmp_path / "ex.ipynb", json.dumps({"cells": []}))
    before = cache.exercise_set(release)
    _write(tmp_path / "ex.ipynb", json.dumps({"cells": [1]}))
    assert cache.exercise_set(release) != before and len(cache.grader_version()) == 16


def test_report_falls_back_to_failure_messages_without_diagnosis_ids(tmp_path):
    records = [_record(s, points=(0, 2), statuses=("failed", "passed"), diagnoses=((), ())) for s in ("a", "b")]
    for record in records:
        record["exercises"][0]["message"] = "ex-a: the output is one element too short\n  hint: count both ends"
    summary = report.write_report(records, tmp_path)
    assert summary["mistakes"] == {} and summary["undiagnosed"] == {"ex-a": [("the output is one element too short", 2)]}
    assert "the output is one element too short" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_outcome_categories():
    assert report.outcome("failed", [["a", True], ["b", False]]) == "partly passed"
    assert report.outcome("failed", [["a", False]]) == "failed"
    assert [report.outcome(s) for s in ("tampered", "timeout", "kernel-died", "not-attempted", "forbidden")] == \
        ["tampered", "timed out", "crashed", "not attempted", "failed"]
