"""Markdown feedback, one file per submission, ready to return to the student."""
from __future__ import annotations

import os
import re

from conv_lib.tools.grade.config import STATUS_TEXT
from conv_lib.tools.grade.gradebook import _fmt


def _cell_verdict(cell):
    if not cell:
        return "not run", "The check did not run (an earlier problem stopped the notebook)."
    result = cell.get("result")
    if result == "passed":
        return "passed", cell.get("stdout", "").strip()
    ename, evalue = cell.get("ename", ""), cell.get("evalue", "")
    text = evalue if ename == "AssertionError" else f"{ename}: {evalue}".strip(": ")
    if result == "timeout":
        return "timeout", "The check was stopped: it (or an earlier cell) exceeded the time limit.\n" + text
    if result == "kernel-died":
        return "kernel died", "The kernel died while this check was running."
    if result == "not-run":
        if evalue.startswith("not run: the kernel died"):
            return "not run", "The check did not run: " + evalue[len("not run: "):] + "."
        return "not run", "The check did not run because the kernel had died earlier."
    if result == "memory-error":
        return "out of memory", text
    if ename == "NotImplementedError" or "not attempted" in evalue.lower():
        return "not attempted", text
    return "failed", text


REPORT_VERDICTS = {"passed": "passed", "failed": "failed", "not-attempted": "not attempted",
                   "forbidden": "forbidden shortcut", "check-bug": "check error"}


def _report_verdict(report, cell_verdict):
    """Verdict and text for a check that reported a CheckResult (the cell's text as fallback)."""
    verdict = REPORT_VERDICTS.get(report.get("status"), cell_verdict[0])
    text = (report.get("message") or "").strip() or cell_verdict[1]
    if report.get("status") == "check-bug":
        text = ("The check itself failed an internal consistency test (a bug in the check, not in "
                "your answer); your instructor will look at it.\n" + text)
    return verdict, text


def _report_lines(report):
    lines = []
    parts = [p for p in report.get("parts") or [] if isinstance(p, (list, tuple)) and len(p) == 2]
    if len(parts) > 1:
        done = sum(1 for _, ok in parts if ok is True)
        lines += [f"Parts: {done} of {len(parts)} correct", ""]
        lines += [f"- {'✓' if ok is True else '✗'} {name}" for name, ok in parts] + [""]
    diagnoses = [d for d in report.get("diagnoses") or [] if isinstance(d, str)]
    if diagnoses:
        lines += ["Diagnosis: " + ", ".join(f"`{d}`" for d in diagnoses), ""]
    return lines


def feedback_markdown(sub, run_info=None):
    lines = [f"# Feedback: {sub.assignment or 'unknown assignment'}", ""]
    lines.append(f"- Submission: `{sub.label}`")
    max_score = _fmt(sub.release.max_score) if sub.release is not None else "?"
    lines.append(f"- Score: **{_fmt(sub.score)} / {max_score}**")
    lines.append(f"- Status: `{sub.status}`: {sub.message or STATUS_TEXT.get(sub.status, '')}")
    if run_info and run_info.get("seed") is not None:
        lines.append(f"- Checks' seed: `{run_info['seed']}` (the random cases of this grading run)")
    lines.append("")
    flags = getattr(sub, "flags", [])
    if flags:
        lines += ["## Tampering", "",
                  "This notebook changed the checks or the machinery they rely on, so the checks from "
                  "the first cell below on earn no points:", ""]
        lines += [f"- {reason}" for reason in dict.fromkeys(f["reason"] for f in flags)] + [""]
    cells = (sub.result or {}).get("cells", {})
    if sub.release is not None and sub.release.exercises:
        lines += ["| Exercise | Result | Points |", "|---|---|---|"]
        details = []
        for exercise, points, cell_id in sub.release.exercises:
            verdict, text = _cell_verdict(cells.get(cell_id)) if sub.result else (
                "not graded", "The notebook could not be run.")
            detail = getattr(sub, "details", {}).get(exercise, {})
            report = detail.get("report")
            if report:
                verdict, text = _report_verdict(report, (verdict, text))
            if detail.get("tampered"):
                verdict = "tampered"
            mark = "✓" if verdict == "passed" else "✗"
            lines.append(f"| {exercise} | {mark} {verdict} | {_fmt(sub.points.get(exercise, 0))} / {_fmt(points)} |")
            details.append((exercise, verdict, text, points, report))
        lines.append("")
        for exercise, verdict, text, points, report in details:
            lines.append(f"## {exercise}: {verdict} ({_fmt(sub.points.get(exercise, 0))} / {_fmt(points)})")
            lines.append("")
            if report:
                lines += _report_lines(report)
            if text:
                fence = "~~~~" if "```" in text else "```"
                lines += [fence, text.rstrip(), fence, ""]
    protected = set(sub.release.protected) if sub.release is not None else set()
    other_errors = [c for cid, c in sorted(cells.items(), key=lambda kv: kv[1].get("index", 0))
                    if cid not in protected and not c.get("ok") and c.get("result") not in ("not-run",)]
    if other_errors:
        lines += ["## Errors in your cells", ""]
        for cell in other_errors:
            result = cell.get("result")
            if result == "kernel-died":
                text = "the kernel died while running this cell"
            elif result == "timeout":
                text = "the cell exceeded the time limit and was interrupted"
            else:
                first_line = (cell.get("evalue") or "").strip().splitlines()
                text = f"{cell.get('ename', '')}: {first_line[0][:300] if first_line else ''}".rstrip(": ")
            lines.append(f"- cell `{cell.get('id')}` (code cell {cell.get('index', 0) + 1}): {text}")
        lines.append("")
    restarts = (sub.result or {}).get("restarts", [])
    if restarts:
        lines += ["## Kernel restarts", ""]
        lines += [f"- cell `{r.get('after')}` killed the kernel; the grader restarted it, re-ran the setup "
                  f"cells and went on at cell `{r.get('resume')}`" for r in restarts] + [""]
    if sub.notes:
        lines += ["## Notes", ""] + [f"- {note}" for note in sub.notes] + [""]
    return "\n".join(lines).rstrip() + "\n"


def feedback_names(subs):
    """Deterministic, unique feedback file names derived from the submission paths."""
    labels = [s.label for s in subs]
    dirs = [os.path.dirname(os.path.abspath(label)) for label in labels]
    try:
        common = os.path.commonpath(dirs) if dirs else ""
    except ValueError:
        common = ""
    names, used = {}, set()
    for sub in sorted(subs, key=lambda s: s.label):
        rel = os.path.relpath(os.path.abspath(sub.label), common) if common else sub.label
        base = re.sub(r"\.ipynb$", "", rel)
        base = re.sub(r"[^A-Za-z0-9._-]+", "_", base.replace(os.sep, "__")).strip("._") or "submission"
        name, n = base, 1
        while name in used:
            n += 1
            name = f"{base}-{n}"
        used.add(name)
        names[sub.label] = f"{name}.md"
    return names
