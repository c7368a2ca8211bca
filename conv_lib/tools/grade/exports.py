"""Gradebook exports for learning-management systems and spreadsheets.

All writers take the per-(student, assignment) *records* built by ``classroom`` (plain dicts,
the same as the per-submission JSON of ``results_json``) and write CSV atomically.

- ``write_student_gradebook``: one row per student and assignment (missing submissions included),
  with exercise points, raw score, late penalty, final score and status.
- ``write_canvas``: Canvas's gradebook-import layout: ``Student, ID, SIS User ID, SIS Login ID,
  Section`` then one column per assignment named ``Name (canvas assignment id)`` (or just
  ``Name``, which makes Canvas create the assignment), a ``Points Possible`` row, and one row per
  rostered student. A missing submission is left blank, so Canvas's own missing-work policy applies.
- ``write_long``: one row per student, assignment and exercise: ``student, assignment, exercise,
  points, max_points, status, diagnosis`` (diagnosis ids joined with ``;``), for any other system.
"""
from __future__ import annotations

from .gradebook import write_csv

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
CANVAS_POINTS_ROW = "    Points Possible"


def fmt(value):
    """Points as text: integers without '.0', other numbers rounded to 0.01, None -> ''."""
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        value = round(value, 2)
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return str(value)




def exercise_columns(records):
    """Exercise ids in assignment order, then notebook order (from the records that know them)."""
    by_assignment = {}
    for record in records:
        if record.get("exercises"):
            names = by_assignment.setdefault(record["assignment"], [])
            for exercise in record["exercises"]:
                if exercise["exercise"] not in names:
                    names.append(exercise["exercise"])
    return [ex for name in sorted(by_assignment) for ex in by_assignment[name]]


def student_gradebook(records):
    """(header, rows) of the per-student gradebook, rows sorted by student then assignment."""
    columns = exercise_columns(records)
    header = (["student", "name", "email", "section", "assignment"] + columns +
              ["raw_score", "late_days", "penalty", "score", "max_score", "status", "submission"])
    rows = []
    for record in sorted(records, key=sort_key):
        points = {ex["exercise"]: ex["points"] for ex in record.get("exercises", [])}
        late = record.get("late") or {}
        rows.append([record["student"], record.get("name", ""), record.get("email", ""),
                     record.get("section", ""), record["assignment"]] +
                    [fmt(points.get(ex, "")) for ex in columns] +
                    [fmt(record.get("raw_score")), fmt(late.get("units_late") or "") if late.get("late") else "",
                     f"{late['penalty']:.0%}" if late.get("late") else "", fmt(record.get("score")),
                     fmt(record.get("max_score")), record["status"], record.get("submission", "")])
    return header, rows


def sort_key(record):
    return (str(record.get("student", "")).casefold(), record.get("assignment", ""), record.get("submission", ""))


def write_student_gradebook(records, path):
    return write_csv(path, *student_gradebook(records))


def canvas_table(records, roster, assignment_ids=None, max_scores=None):
    """(header, rows) in Canvas's import layout; ``assignment_ids``: {assignment: Canvas id}."""
    assignment_ids = assignment_ids or {}
    max_scores = dict(max_scores or {})
    for record in records:
        if record.get("max_score") not in (None, ""):
            max_scores.setdefault(record["assignment"], record["max_score"])
    assignments = sorted({r["assignment"] for r in records if r.get("assignment")})
    titles = [f"{name} ({assignment_ids[name]})" if assignment_ids.get(name) else name
              for name in assignments]
    header = CANVAS_IDENTITY + titles
    rows = [[CANVAS_POINTS_ROW, "", "", "", ""] + [fmt(max_scores.get(name, "")) for name in assignments]]
    scores = {}
    for record in records:
        if record["status"] != "missing":
            scores[(record["student"], record["assignment"])] = record.get("score")
    for student in sorted(roster.students, key=lambda s: (s.name.casefold(), s.id)):
        rows.append([student.name or student.id, student.canvas_id, student.id,
                     student.sis_login or student.email, student.section] +
                    [fmt(scores.get((student.id, name), "")) for name in assignments])
    return header, rows


def write_canvas(records, roster, path, assignment_ids=None):
    return write_csv(path, *canvas_table(records, roster, assignment_ids))


LONG_HEADER = ["student", "assignment", "exercise", "points", "max_points", "status", "diagnosis", "submission"]


def long_table(records):
    rows = []
    for record in sorted(records, key=sort_key):
        for exercise in record.get("exercises", []):
            rows.append([record["student"], record["assignment"], exercise["exercise"],
                         fmt(exercise.get("points")), fmt(exercise.get("max_points")), exercise.get("status", ""),
                         ";".join(exercise.get("diagnoses") or []), record.get("submission", "")])
    return LONG_HEADER, rows


def write_long(records, path):
    return write_csv(path, *long_table(records))
