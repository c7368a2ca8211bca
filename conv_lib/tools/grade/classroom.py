"""Grading a whole class: roster, late policy, cache, Dask, and the class-level outputs.

``python -m conv_lib.grade`` switches to this mode when any of ``--roster``, ``--deadline``,
``--report``, ``--canvas``, ``--long-csv``, ``--json-dir``, ``--cache``, ``--only`` or ``--dask``
is given. Every submission still goes through the grader's own stages (``cli.prepare`` recognises
and restores it, the ``Runner`` executes it, ``gradebook.score`` scores it,
``feedback.feedback_markdown`` explains it); this module adds who submitted what and when, which
notebooks need to run at all, where they run, and the outputs:

- ``--out``: one row per student and assignment (``exports.student_gradebook``), missing
  submissions as status ``missing``, late penalties applied;
- ``--feedback-dir``: ``<student>--<assignment>.md``, the grader's feedback plus the lateness;
- ``--canvas``, ``--long-csv``, ``--json-dir``, ``--report``: see ``exports``, ``results_json``
  and ``report``.

A student with several notebooks for one assignment is graded once, on the latest (by
submission time); the others are named in the feedback.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from conv_lib.tools.grade import cache as cache_mod
from conv_lib.tools.grade import exports, late, report, results_json, roster as roster_mod

OPTIONS = ("roster", "deadline", "report", "canvas", "long_csv", "json_dir", "cache", "only", "dask")


def add_arguments(parser):
    """The class-level options of ``python -m conv_lib.grade``."""
    group = parser.add_argument_group("a class at scale")
    group.add_argument("--roster", help="roster CSV (id, name, email, section, ...): one gradebook row per "
                       "student and assignment, missing submissions listed")
    group.add_argument("--layout", default="auto", choices=roster_mod.LAYOUTS,
                       help="how submissions are laid out (default: auto)")
    group.add_argument("--name-pattern", help="file names such as '{student}_{assignment}.ipynb' "
                       "({*} matches anything)")
    group.add_argument("--deadline", action="append", metavar="[ASSIGNMENT=]TIME",
                       help="deadline (ISO 8601; UTC unless a zone is given); repeat per assignment")
    group.add_argument("--late-penalty", metavar="RULE", help="e.g. '10%%/day, cap 50%%, grace 15min'")
    group.add_argument("--report", metavar="DIR", help="write report.html, PNG plots and summary.md here")
    group.add_argument("--canvas", metavar="CSV", help="write a Canvas gradebook-import CSV")
    group.add_argument("--canvas-ids", metavar="A=ID,...", help="Canvas assignment ids, e.g. ex02-output-shape=4711")
    group.add_argument("--long-csv", metavar="CSV", help="write student, assignment, exercise, points, diagnosis")
    group.add_argument("--json-dir", metavar="DIR", help="write one JSON file per submission here")
    group.add_argument("--cache", metavar="DIR", help="reuse results of notebooks graded before (incremental)")
    group.add_argument("--only", metavar="EXERCISE", help="regrade this exercise only; the others come from --cache")
    group.add_argument("--dask", metavar="ADDRESS", help="grade on a Dask cluster, e.g. tcp://127.0.0.1:8786")


def wanted(args):
    return any(getattr(args, name, None) for name in OPTIONS)


def run(args, parser, runner_options=None):
    """Command-line entry: validate the class options, grade, print one summary line."""
    if args.only and not args.cache:
        parser.error("--only EXERCISE needs --cache DIR (the other exercises' results come from it)")
    if args.only:
        from conv_lib.tools.grade.release import Releases
        releases = Releases(args.release)
        known = sorted(ex for name in releases.names for ex, _, _ in releases.get(name).exercises)
        if args.only not in known:
            parser.error(f"--only {args.only!r} is not an exercise of the released notebooks in {args.release} "
                         f"({', '.join(known[:8])}{', ...' if len(known) > 8 else ''})")
    try:
        policy = late.LatePolicy.parse(args.deadline, args.late_penalty)
        canvas_ids = dict(pair.split("=", 1) for pair in (args.canvas_ids or "").split(",") if "=" in pair)
    except ValueError as exc:
        parser.error(str(exc))
    if args.late_penalty and not policy.active:
        parser.error("--late-penalty needs --deadline")
    started = time.monotonic()
    outcome = grade_class(
        args.submissions, out=args.out, roster=args.roster, layout=args.layout, name_pattern=args.name_pattern,
        policy=policy, release_dir=args.release, feedback_dir=args.feedback_dir, report_dir=args.report,
        canvas=args.canvas, canvas_ids=canvas_ids, long_csv=args.long_csv, json_dir=args.json_dir,
        cache_dir=args.cache, only=args.only, dask=args.dask, expected=args.assignment,
        workdir=args.keep_workdir, keep=bool(args.keep_workdir), quiet=args.quiet,
        runner_options={"seed": getattr(args, "seed", None), "sandbox": not getattr(args, "no_sandbox", False),
                        **(runner_options or {}), "jobs": args.jobs, "cell_timeout": args.cell_timeout,
                        "notebook_timeout": args.notebook_timeout, "memory_bytes": int(args.memory * (1 << 30))})
    counts = {}
    for record in outcome["records"]:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    if "no sandbox" in outcome["sandbox"]:
        print(f"warning: grading WITHOUT a sandbox ({outcome['sandbox']}); submissions can read and write "
              f"everything the grader's user can", file=sys.stderr)
    elif not args.quiet:
        print(f"sandbox: {outcome['sandbox']}", file=sys.stderr)
    print(f"graded {len(outcome['records'])} student-assignment row(s) in {time.monotonic() - started:.1f} s "
          f"({outcome['ran']} notebook(s) run, {outcome['cached']} from the cache) -> {args.out} ("
          + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) + ")", file=sys.stderr)
    return 0


def grade_class(paths, *, out, roster=None, layout="auto", name_pattern=None, policy=None, release_dir=None,
                feedback_dir=None, report_dir=None, canvas=None, canvas_ids=None, long_csv=None, json_dir=None,
                cache_dir=None, only=None, dask=None, expected=None, workdir=None, keep=False, quiet=True,
                runner_options=None):
    """Grade a class; write every requested output. Returns {"records", "ran", "cached", "seconds"}."""
    from conv_lib.tools.grade import cli
    from conv_lib.tools.grade.config import DEFAULT_RELEASE
    from conv_lib.tools.grade.gradebook import Submission
    from conv_lib.tools.grade.release import Releases

    started = time.monotonic()
    releases = Releases(release_dir or DEFAULT_RELEASE)
    if only and not any(only == ex for name in releases.names for ex, _, _ in releases.get(name).exercises):
        raise ValueError(f"--only {only!r}: no released notebook in {releases.folder} has this exercise")
    people = roster_mod.read_roster(roster) if roster else None
    policy = policy or late.LatePolicy()
    found = roster_mod.discover(paths, layout=layout, pattern=name_pattern, roster=people)
    owner = tempfile.mkdtemp(prefix="conv-knobs-class-") if workdir is None else None
    workdir = Path(workdir or owner).resolve()
    try:
        subs = []
        for index, item in enumerate(found):
            sub = Submission(os.path.normpath(str(item.path)), item.path)
            sub.found = item
            try:
                cli.prepare(sub, releases, workdir, index, expected)
            except Exception as exc:
                sub.status, sub.message = "error", f"{type(exc).__name__}: {exc}"
            _identify(sub, item, people, policy)
            subs.append(sub)
        subs = _latest_only(subs)
        options = dict(runner_options or {})
        if options.get("seed") is None:   # a fresh secret seed per run, as the grader draws it
            options["seed"] = secrets.randbits(32)
        run_info = {"seed": options["seed"], "sandbox": "", "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "release": str(releases.folder.resolve()), "dask": dask or None,
                    **{k: options.get(k) for k in ("cell_timeout", "notebook_timeout", "memory_bytes")}}
        ran, cached, run_info["sandbox"] = _run(subs, workdir, cache_dir, only, dask, options, quiet)
        for sub in subs:
            cli.finish(sub)
        records = [_record(sub) for sub in subs] + _missing(subs, people, releases, expected)
        wall = time.monotonic() - started
        exports.write_student_gradebook(records, out)
        cli.write_run_info(out, run_info, subs)
        if feedback_dir:
            _write_feedback(subs, records, feedback_dir, run_info)
        if canvas:
            exports.write_canvas(records, people or _roster_from(records), canvas, canvas_ids)
        if long_csv:
            exports.write_long(records, long_csv)
        if json_dir:
            results_json.write_records(records, json_dir)
        if report_dir:
            report.write_report(records, report_dir, wall_seconds=wall)
        return {"records": records, "ran": ran, "cached": cached, "seconds": wall, "sandbox": run_info["sandbox"]}
    finally:
        if owner and not keep:
            shutil.rmtree(owner, ignore_errors=True)


# ------------------------------------------------------------------------------------------------
# who and when
# ------------------------------------------------------------------------------------------------

def _identify(sub, item, people, policy):
    student = people.find(item.student_key) if people is not None and item.student_key else None
    if people is not None and student is None:
        student = people.find_in_name(item.path.name) if not item.student_key else None
    if student is not None:
        sub.student = student
    else:
        key = item.student_key or Path(sub.label).stem
        sub.student = roster_mod.Student(key)
        if people is not None:
            sub.notes.append(f"`{key}` is not on the roster.")
    sub.on_roster = people is None or student is not None
    if item.assignment_hint and sub.assignment and item.assignment_hint != sub.assignment:
        sub.notes.append(f"The notebook is in the folder of `{item.assignment_hint}` but belongs to "
                         f"`{sub.assignment}`; it was graded as `{sub.assignment}`.")
    try:
        when, source = late.submission_time(item.path, item.timestamp_dir)
    except ValueError as exc:
        when, source = late.submission_time(item.path, Path(os.devnull))[0], "file time"
        sub.notes.append(f"The submission time could not be read ({exc}); the file time was used.")
    sub.lateness = policy.assess(sub.assignment, when, source)


def _latest_only(subs):
    groups = {}
    for sub in subs:
        groups.setdefault((sub.student.id, sub.assignment), []).append(sub)
    kept = []
    for group in groups.values():
        group.sort(key=lambda s: (s.lateness.submitted_at is not None, s.lateness.submitted_at or 0, s.label))
        latest = group[-1]
        for other in group[:-1]:
            latest.notes.append(f"An earlier notebook `{other.label}` of the same assignment was not graded.")
        kept.append(latest)
    return sorted(kept, key=lambda s: s.label)


# ------------------------------------------------------------------------------------------------
# running (cache, local or Dask)
# ------------------------------------------------------------------------------------------------

def _run(subs, workdir, cache_dir, only, dask, runner_options, quiet):
    """Fill ``sub.result`` of every runnable submission; returns (notebooks run, from the cache, sandbox)."""
    store = cache_mod.ResultCache(cache_dir) if cache_dir else None
    runnable = [s for s in subs if s.status is None and s.work_path is not None]
    todo, from_cache = [], 0
    for sub in runnable:
        sub.cached, sub.trace = False, []
        if store is None:
            todo.append(sub)
            continue
        sub.content_hash = cache_mod.notebook_hash(sub.path)
        sub.exercise_set = cache_mod.exercise_set(sub.release.path)
        regrade = only is not None and any(ex == only for ex, _, _ in sub.release.exercises)
        hit = None if regrade else store.get(sub.content_hash, sub.exercise_set)
        if hit is not None:
            sub.result, sub.trace, sub.cached = hit["result"], hit.get("trace", []), True
            sub.seed = hit.get("seed")
            from_cache += 1
        else:
            sub.previous = store.entry(sub.content_hash) if regrade else None
            todo.append(sub)
    items = [(i, sub.work_path.name, sub.work_path.read_text(encoding="utf-8")) for i, sub in enumerate(todo)]
    options = {k: v for k, v in runner_options.items() if v is not None}

    def progress(key, result):
        if not quiet:
            sub = todo[key]
            seconds = f"{result['seconds']:6.1f} s" if "seconds" in result else " " * 8
            print(f"{result.get('status', '?'):17s}{seconds}  {sub.label}", file=sys.stderr)

    if dask:
        from conv_lib.tools.grade.dask_backend import run_on_dask
        done = run_on_dask(dask, items, options, progress=progress)
    else:
        from conv_lib.tools.grade.dask_backend import run_batch
        done = run_batch(items, options, workdir=workdir / "run") if items else {}
        if not quiet:
            for key in sorted(done):
                progress(key, done[key]["result"])
    for key, sub in enumerate(todo):
        entry = done.get(key) or {"result": {"status": "error", "cells": {}, "message": "no result was recorded"},
                                  "trace": []}
        result = entry["result"]
        previous = getattr(sub, "previous", None)
        if previous is not None:
            keep = [cid for ex, _, cid in sub.release.exercises if ex != only]
            result = cache_mod.merge_only(result, previous.get("result", {}).get("result"), keep)
        sub.result, sub.trace, sub.seed = result, entry["trace"], options.get("seed")
        if store is not None:
            store.put(sub.content_hash, sub.exercise_set, {"result": result, "trace": sub.trace,
                                                           "seed": sub.seed}, submission=sub.label)
    for sub in runnable:
        sub.status, sub.message = sub.result["status"], sub.result.get("message", "")
    sandboxes = sorted({entry.get("sandbox", "") for entry in done.values()} - {""})
    sandbox = "; ".join(sandboxes) if sandboxes else ("results from the cache" if runnable else "nothing ran")
    if store is not None and store.stale:   # why notebooks ran again
        print("cache: " + ", ".join(f"{n} stale ({why})" for why, n in sorted(store.stale.items())), file=sys.stderr)
    return len(todo), from_cache, sandbox


# ------------------------------------------------------------------------------------------------
# records
# ------------------------------------------------------------------------------------------------

def _exercise_status(cell, check, ran):
    if not ran:
        return "not-graded"
    if not cell:
        return "not-run"
    if check.get("status") and check["status"] != "passed":
        return check["status"]
    result = cell.get("result")
    if result == "passed":
        return "passed"
    if result in ("timeout", "kernel-died", "not-run", "memory-error"):
        return result
    text = f"{cell.get('ename', '')} {cell.get('evalue', '')}".lower()
    if "notimplementederror" in text or "not attempted" in text:
        return "not-attempted"
    return "failed"


def _record(sub):
    student = sub.student
    release = sub.release
    result = sub.result or {}
    cells = result.get("cells", {})
    roles = {cid: (cell.get("metadata", {}).get("conv_knobs") or {}).get("role", "")
             for cid, cell in (release.protected.items() if release is not None else [])}
    exercises = []
    details = getattr(sub, "details", None) or {}   # the grader's scoring: CheckResult reports, tampering
    for exercise, points, cell_id in (release.exercises if release is not None else []):
        cell = cells.get(cell_id) or {}
        detail = details.get(exercise) or {}
        check = detail.get("report") or {}
        message = (cell.get("evalue") or "") if not cell.get("ok") else (cell.get("stdout") or "")
        exercises.append({
            "exercise": exercise, "points": sub.points.get(exercise, 0), "max_points": points,
            "status": "tampered" if detail.get("tampered") else _exercise_status(cell, check, sub.result is not None),
            "parts": [list(p) for p in check.get("parts", [])],
            "diagnoses": list(check.get("diagnoses") or []),
            "message": (check.get("message") or message).strip()[:2000],
            "seconds": _cell_seconds(sub.trace, cell_id)})
    lateness = getattr(sub, "lateness", None) or late.Lateness(None, "", None)
    raw = sub.score if release is not None else None
    return {
        "student": student.id, "name": student.name, "email": student.email, "section": student.section,
        "on_roster": getattr(sub, "on_roster", True),
        "assignment": sub.assignment, "submission": sub.label, "status": sub.status, "message": sub.message,
        "raw_score": raw, "max_score": release.max_score if release is not None else None,
        "score": late.apply_penalty(raw, lateness) if raw is not None else None,
        "late": lateness.as_dict(), "exercises": exercises, "notes": list(sub.notes),
        "timings": timings(getattr(sub, "trace", []), roles, result.get("seconds")),
        "cached": bool(getattr(sub, "cached", False)), "seed": getattr(sub, "seed", None),
        "flags": [f.get("reason", "") for f in getattr(sub, "flags", [])],
    }


def _cell_seconds(trace, cell_id):
    previous = None
    for event, cid, t in trace or []:
        if event == "cell" and cid == cell_id and previous is not None:
            return round(t - previous, 3)
        if event in ("kernel", "cell"):
            previous = t
    return None


def timings(trace, roles, total=None):
    """Split one notebook's time: kernel start, setup cells (imports), student cells, check cells."""
    out = {"total": total, "kernel": 0.0, "setup": 0.0, "cells": 0.0, "checks": 0.0}
    start = previous = None
    for event, cid, t in trace or []:
        if event == "start":
            start = previous = t
        elif event == "kernel" and previous is not None:
            out["kernel"] += t - previous
            previous = t
        elif event == "cell" and previous is not None:
            role = roles.get(cid, "")
            out["setup" if role == "setup" else "checks" if role == "check" else "cells"] += t - previous
            previous = t
        elif event == "end" and start is not None and out["total"] is None:
            out["total"] = t - start
    return {k: (round(v, 3) if v is not None else None) for k, v in out.items()}


def _missing(subs, people, releases, expected):
    """A ``missing`` record for every rostered student without a notebook of a graded assignment."""
    if people is None:
        return []
    assignments = {s.assignment for s in subs if s.release is not None}
    if expected:
        assignments.add(expected)
    have = {(s.student.id, s.assignment) for s in subs}
    records = []
    for name in sorted(a for a in assignments if a in releases.names):
        release = releases.get(name)
        for student in people.students:
            if (student.id, name) not in have:
                records.append({
                    "student": student.id, "name": student.name, "email": student.email,
                    "section": student.section, "on_roster": True, "assignment": name, "submission": "",
                    "status": "missing", "message": "no submission", "raw_score": None,
                    "max_score": release.max_score, "score": None, "late": {}, "notes": [], "timings": {},
                    "cached": False,
                    "exercises": [{"exercise": ex, "points": None, "max_points": pts, "status": "missing",
                                   "parts": [], "diagnoses": [], "message": "", "seconds": None}
                                  for ex, pts, _ in release.exercises]})
    return records


def _roster_from(records):
    seen = {}
    for record in records:
        seen.setdefault(record["student"], roster_mod.Student(record["student"], record.get("name", ""),
                                                               record.get("email", ""), record.get("section", "")))
    return roster_mod.Roster(list(seen.values()))


def _write_feedback(subs, records, folder, run_info=None):
    from conv_lib.tools.grade.feedback import feedback_markdown
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    by_label = {r["submission"]: r for r in records if r["status"] != "missing"}
    for sub in subs:
        record = by_label[sub.label]
        try:
            # a result from the cache was graded with the seed of its own run
            text = feedback_markdown(sub, dict(run_info or {}, seed=getattr(sub, "seed", None)))
        except Exception as exc:  # a feedback bug must not cost the other files
            text = f"# Feedback\n\n- Submission: `{sub.label}`\n- Status: `{sub.status}`\n\n" \
                   f"(feedback could not be rendered: {type(exc).__name__}: {exc})\n"
        text += "\n" + _late_markdown(record)
        name = results_json.file_name(record)[:-5] + ".md"
        (folder / name).write_text(text, encoding="utf-8")


def _late_markdown(record):
    info = record.get("late") or {}
    lines = ["## Submission time", ""]
    who = f"{record['student']}" + (f" ({record['name']})" if record.get("name") else "")
    lines.append(f"- Student: {who}")
    if info.get("submitted_at"):
        lines.append(f"- Submitted: {info['submitted_at']} (from the {info['source']})")
    if info.get("deadline"):
        lines.append(f"- Deadline: {info['deadline']}")
    if info.get("late"):
        lines.append(f"- Late by {info['seconds_late'] / 3600:.1f} hours: a penalty of {info['penalty']:.0%} "
                     f"gives **{exports.fmt(record['score'])} / {exports.fmt(record['max_score'])}** "
                     f"(before the penalty: {exports.fmt(record['raw_score'])})")
    elif info.get("deadline"):
        lines.append("- On time.")
    return "\n".join(lines) + "\n"


def read_records(folder):
    """Records from a --json-dir folder (e.g. ``report.write_report(read_records(d), out)``)."""
    return results_json.read_records(folder)


def dumps(records):
    return json.dumps(records, indent=1, sort_keys=True, default=str)
