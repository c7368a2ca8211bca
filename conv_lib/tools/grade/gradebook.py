"""The per-submission record, scoring, and the gradebook CSV.

``Submission`` is what every stage fills in: ``cli.prepare`` (assignment, release, notes, working
copy or an early status), the runner (``result``: status, message, cell events), then ``score``
(points per exercise and total). ``write_gradebook`` writes one row per submission, sorted by path:
``submission, assignment, <one column per exercise>, score, max_score, status``.
"""
from __future__ import annotations

import csv
import os
import re
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
        self.cell_order = []          # the working copy's cell ids, in order
        self.result = None
        self.points = {}              # exercise id -> points earned
        self.score = 0
        self.static_flags = []        # tamper.scan_notebook findings on the working copy
        self.flags = []               # every tampering finding: [{"cell", "reason"}] (static + guard)
        self.details = {}             # exercise id -> {"verdict", "parts", "diagnoses", "status", ...}


def _report_for(reports, exercise):
    """The CheckResult reported for ``exercise`` (the last one for it, else the cell's last one)."""
    mine = [r for r in reports if r.get("exercise") == exercise]
    return (mine or reports or [None])[-1]


def _share(points, report):
    """Points for one check result: all for "passed", a share per passed part, else nothing."""
    parts = report.get("parts") or []
    parts = [p for p in parts if isinstance(p, (list, tuple)) and len(p) == 2]
    if report.get("status") == "passed":
        return points
    if report.get("status") in ("failed", "not-attempted") and len(parts) > 1:
        return round(points * sum(1 for _, ok in parts if ok is True) / len(parts), 2)
    return 0


def score(sub):
    """Points per exercise (``sub.points``), ``sub.score`` and ``sub.details``; flags tampering.

    A check cell earns its points when it passed; a check of the course (its released source calls
    a ``checks.check_*`` that the guard saw registered as reporting) is scored from the
    ``CheckResult`` it reported (partial credit per part) and must report one. Every check from
    the first tampered cell on earns nothing.
    """
    release = sub.release
    result = sub.result or {}
    cells = result.get("cells", {})
    reports = result.get("reports", {})
    reporting = set(result.get("reporting", []))
    sub.points, sub.score, sub.details = {}, 0, {}
    sub.flags = list(sub.static_flags) + list(result.get("flags", []))
    if release is None:
        return
    order = {cell_id: n for n, cell_id in enumerate(sub.cell_order)}
    for exercise, points, cell_id in release.exercises:
        cell = cells.get(cell_id, {})
        report = _report_for(reports.get(cell_id, []), exercise)
        called = re.findall(r"\bchecks\.(check_\w+)\s*\(", release.protected[cell_id].source)
        expects = any(name in reporting for name in called)
        if report is not None and report.get("status") == "passed" and cell.get("ok") is not True:
            earned = 0
        elif report is not None:
            earned = _share(points, report)
        else:
            earned = points if cell.get("ok") is True else 0
            if earned and expects:
                sub.flags.append({"cell": cell_id, "reason": f"the check cell `{cell_id}` passed without "
                                                             f"reporting a result to the grader"})
        sub.details[exercise] = {"report": report, "cell": cell_id}
        sub.points[exercise] = earned
    if sub.flags:
        first = min(order.get(f.get("cell"), 0) for f in sub.flags)   # unknown cell: all checks
        for exercise, points, cell_id in release.exercises:
            if order.get(cell_id, -1) >= first and sub.points[exercise]:
                sub.points[exercise] = 0
                sub.details[exercise]["tampered"] = True
    sub.score = round(sum(sub.points.values()), 2)


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


def write_csv(path, header, rows):
    """Write a CSV atomically (a reader never sees half a gradebook); returns (header, rows)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, path)
    return header, rows


def write_gradebook(subs, out):
    return write_csv(out, *gradebook_rows(subs))
