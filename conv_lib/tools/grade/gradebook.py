"""The per-submission record, scoring, and the gradebook CSV.

``Submission`` is what every stage fills in: ``cli.prepare`` (assignment, release, notes, working
copy or an early status), the runner (``result``: status, message, cell events), then ``score``
(points per exercise and total). ``write_gradebook`` writes one row per submission, sorted by path:
``submission, assignment, <one column per exercise>, score, max_score, status``.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path


class Submission:
    def __init__(self, label, path):
        self.label = label            # path as shown in the gradebook
        self.path = Path(path)
        self.assignment = ""
        self.release = None
        self.status = None            # set early for rows that are not run
        self.message = ""
        self.notes = []
        self.work_path = None
        self.result = None
        self.points = {}              # exercise id -> points earned
        self.score = 0


def score(sub):
    release = sub.release
    cells = (sub.result or {}).get("cells", {})
    sub.points, sub.score = {}, 0
    if release is None:
        return
    for exercise, points, cell_id in release.exercises:
        passed = cells.get(cell_id, {}).get("ok") is True
        sub.points[exercise] = points if passed else 0
        sub.score += sub.points[exercise]


def _fmt(value):
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def gradebook_rows(subs):
    """Header and rows of the gradebook (rows sorted by submission path)."""
    releases = {}
    for sub in subs:
        if sub.release is not None:
            releases[sub.release.name] = sub.release
    exercise_columns = [ex for name in sorted(releases) for ex, _, _ in releases[name].exercises]
    header = ["submission", "assignment"] + exercise_columns + ["score", "max_score", "status"]
    rows = []
    for sub in sorted(subs, key=lambda s: s.label):
        row = [sub.label, sub.assignment]
        row += [_fmt(sub.points.get(ex, "")) if sub.release is not None and ex in sub.points else ""
                for ex in exercise_columns]
        row += [_fmt(sub.score), _fmt(sub.release.max_score) if sub.release is not None else "", sub.status]
        rows.append(row)
    return header, rows


def write_gradebook(subs, out):
    header, rows = gradebook_rows(subs)
    out = Path(out)
    if out.parent:
        out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, out)
    return header, rows
