"""The grader's command line and orchestration: ``python -m conv_lib.grade`` (see the package docstring)."""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from conv_lib.tools import notebook_meta as meta
from conv_lib.tools.grade import tamper
from conv_lib.tools.grade.config import DEFAULT_RELEASE, cpu_count
from conv_lib.tools.grade.feedback import feedback_markdown, feedback_names
from conv_lib.tools.grade.gradebook import Submission, score, write_gradebook
from conv_lib.tools.grade.release import InvalidNotebook, Releases, read_notebook, restore
from conv_lib.tools.grade.runner import Runner


def find_submissions(args):
    """Expand files/folders into sorted, de-duplicated (label, path) pairs."""
    found = {}
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.endswith(".ipynb") and not name.startswith("."):
                        full = Path(root) / name
                        found.setdefault(full.resolve(), os.path.normpath(str(full)))
        else:
            found.setdefault(path.resolve(), os.path.normpath(str(path)))
    return sorted(((label, path) for path, label in found.items()), key=lambda pair: pair[0])


def prepare(sub, releases, workdir, index, expected=None, write=True):
    """Recognise and restore a submission; sets sub.status for rows that will not run.

    Sets ``sub.work_path`` (the working copy's path, in its own folder), ``sub.cell_order`` and
    ``sub.static_flags``; the copy itself is written now only if ``write`` (else by
    ``write_working_copy`` when its turn comes).
    """
    try:
        nb = read_notebook(sub.path)
    except InvalidNotebook as exc:
        sub.status, sub.message = "invalid-notebook", str(exc)
        guess = releases.from_file_name(sub.path)
        if guess in releases.names:
            sub.assignment, sub.release = guess, releases.get(guess)
        return
    name = meta.assignment(nb)
    if not name:
        name = releases.from_file_name(sub.path)
        if name:
            sub.notes.append(f"The notebook metadata does not name its assignment; `{name}` was "
                             f"recognised from the file name.")
    sub.assignment = name or ""
    if not name or name not in releases.names:
        sub.status = "unknown-assignment"
        sub.message = (f"no released notebook `{name}.ipynb` in {releases.folder}" if name else
                       "neither the notebook metadata (conv_knobs.assignment) nor the file name "
                       "names an assignment")
        return
    sub.release = releases.get(name)
    if expected and name != expected:
        sub.status = "wrong-assignment"
        sub.message = f"this is a notebook of `{name}`, not of `{expected}`"
        return
    work, notes = restore(nb, sub.release)
    sub.notes.extend(notes)
    sub.cell_order = [cell.get("id") for cell in work.cells]
    sub.static_flags = tamper.scan_notebook(work)
    sub.work_path = Path(workdir) / "notebooks" / f"{index:05d}" / f"{name}.ipynb"
    if write:
        _write(work, sub.work_path)


def _write(work, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(work, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def write_working_copy(sub):
    """Write ``sub``'s restored working copy (re-read from the submission) to ``sub.work_path``."""
    work, _ = restore(read_notebook(sub.path), sub.release)
    _write(work, sub.work_path)


def remove_working_copy(sub):
    """Delete the working copy's folder (whatever the kernel left in it)."""
    shutil.rmtree(sub.work_path.parent, ignore_errors=True)


def finish(sub):
    """Score one submission and settle its status (``tampered`` wins over every other status)."""
    score(sub)
    if sub.flags:
        before = sub.status
        sub.status = "tampered"
        reasons = list(dict.fromkeys(f["reason"] for f in sub.flags))
        sub.message = reasons[0] + (f" (and {len(reasons) - 1} more finding(s))" if len(reasons) > 1 else "")
        if before not in (None, "ok", "tampered"):
            sub.message += f"; the notebook also ended with status `{before}`"


def grade(paths, *, out, feedback_dir=None, release_dir=DEFAULT_RELEASE, jobs=None, cell_timeout=120.0,
          notebook_timeout=600.0, memory_gib=4.0, expected=None, workdir=None, keep=False, quiet=True,
          seed=None, sandbox=True):
    """Grade submissions; write the gradebook (and feedback). Returns (header, rows).

    ``seed``: the checks' seed (``CONV_KNOBS_CHECK_SEED``); None draws a fresh secret one.
    ``sandbox``: run each kernel in bubblewrap (when available; see ``sandbox.py``).
    Also writes ``<out stem>.json`` next to the gradebook: the run's seed, sandbox and options.
    """
    releases = Releases(release_dir)
    subs = [Submission(label, path) for label, path in find_submissions(paths)]
    seed = secrets.randbits(32) if seed is None else int(seed)
    tmp_owner = None
    if workdir is None:
        tmp_owner = tempfile.mkdtemp(prefix="conv-knobs-grade-")
        workdir = tmp_owner
    workdir = Path(workdir).resolve()
    run_info = {"seed": seed, "sandbox": None, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "release": str(Path(release_dir).resolve()), "cell_timeout": cell_timeout,
                "notebook_timeout": notebook_timeout, "memory_gib": memory_gib}
    try:
        for index, sub in enumerate(subs):
            try:
                prepare(sub, releases, workdir, index, expected, write=False)
            except Exception as exc:  # a broken release or an unexpected notebook shape
                sub.status, sub.message = "error", f"{type(exc).__name__}: {exc}"
        runnable = [s for s in subs if s.status is None and s.work_path is not None]
        if runnable:
            runner = Runner(workdir, jobs=jobs or cpu_count(), cell_timeout=cell_timeout,
                            notebook_timeout=notebook_timeout, memory_bytes=int(memory_gib * (1 << 30)),
                            event_log=workdir / "events.jsonl" if keep else None, seed=seed,
                            sandbox=sandbox)
            run_info["sandbox"] = runner.sandbox_note
            if runner.sandbox is None:
                print(f"warning: grading WITHOUT a sandbox ({runner.sandbox_note[len('no sandbox: '):]}); "
                      f"submissions can read and write everything the grader's user can", file=sys.stderr)
            elif not quiet:
                print(f"sandbox: {run_info['sandbox']}", file=sys.stderr)
            by_path = {s.work_path: s for s in runnable}

            def progress(path, result):
                if not quiet:
                    sub = by_path.get(path)
                    seconds = f"{result['seconds']:6.1f} s" if "seconds" in result else " " * 8
                    print(f"{result.get('status', '?'):17s}{seconds}  {sub.label if sub else path}",
                          file=sys.stderr)

            try:
                results = runner.run([s.work_path for s in runnable], progress=progress,
                                     materialise=lambda path: write_working_copy(by_path[path]),
                                     cleanup=None if keep else lambda path: remove_working_copy(by_path[path]))
            except Exception as exc:  # never lose the rows: whatever ran is reported below
                results = getattr(runner, "partial_results", {})
                print(f"grader failure: {type(exc).__name__}: {exc}", file=sys.stderr)
            for sub in runnable:
                result = results.get(sub.work_path) or {"status": "error", "cells": {},
                                                        "message": "no result was recorded"}
                sub.result = result
                sub.status, sub.message = result["status"], result.get("message", "")
        for sub in subs:
            finish(sub)
        header, rows = write_gradebook(subs, out)
        write_run_info(out, run_info, subs)
        if feedback_dir:
            folder = Path(feedback_dir)
            folder.mkdir(parents=True, exist_ok=True)
            names = feedback_names(subs)
            for sub in subs:
                try:
                    text = feedback_markdown(sub, run_info)
                except Exception as exc:  # a feedback bug must not cost the other files
                    text = f"# Feedback\n\n- Submission: `{sub.label}`\n- Status: `{sub.status}`\n\n" \
                           f"(feedback could not be rendered: {type(exc).__name__}: {exc})\n"
                (folder / names[sub.label]).write_text(text, encoding="utf-8")
        return header, rows
    finally:
        if tmp_owner and not keep:
            shutil.rmtree(tmp_owner, ignore_errors=True)


def write_run_info(out, run_info, subs):
    """``<out stem>.json``: the run's seed (to reproduce it with --seed), sandbox, options and findings."""
    info = dict(run_info, submissions={
        sub.label: {"status": sub.status, "score": sub.score, "points": sub.points,
                    "flags": [f["reason"] for f in sub.flags],
                    "parts": {ex: (d.get("report") or {}).get("parts") for ex, d in sub.details.items()
                              if d.get("report")}}
        for sub in subs})
    path = Path(out).with_suffix(".json")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=1, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m conv_lib.grade",
                                     description="Autograde exercise notebooks with nbval.")
    parser.add_argument("submissions", nargs="+", help="notebook files or folders (searched recursively)")
    parser.add_argument("--out", required=True, help="gradebook CSV to write")
    parser.add_argument("--feedback-dir", help="write one Markdown feedback file per submission here")
    parser.add_argument("--release", default=str(DEFAULT_RELEASE),
                        help="folder of released notebooks (default: %(default)s)")
    parser.add_argument("--assignment", help="expected assignment; other notebooks get 'wrong-assignment'")
    parser.add_argument("--jobs", type=int, default=cpu_count(), help="parallel pytest processes "
                        "(default: number of CPUs, %(default)s)")
    parser.add_argument("--cell-timeout", type=float, default=120.0, help="seconds per cell (default 120)")
    parser.add_argument("--notebook-timeout", type=float, default=600.0,
                        help="seconds per notebook, kernel start included (default 600)")
    parser.add_argument("--memory", type=float, default=4.0,
                        help="address-space limit (RLIMIT_AS) per kernel in GiB (default 4; 0 = unlimited; "
                             "torch + jax + flax + matplotlib need about 2.1 GiB of it)")
    parser.add_argument("--keep-workdir", metavar="DIR", help="run in DIR and keep the repaired copies and "
                        "the event log (DIR/events.jsonl)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--seed", type=int, help="the checks' seed (default: a fresh secret one per run, "
                        "recorded in <gradebook>.json; pass it again to reproduce a grade)")
    parser.add_argument("--no-sandbox", action="store_true", help="run the kernels without bubblewrap "
                        "(they can then read and write everything the grader's user can)")
    from conv_lib.tools.grade import classroom
    classroom.add_arguments(parser)
    args = parser.parse_args(argv)
    if not Path(args.release).is_dir():
        parser.error(f"--release {args.release!r} is not a folder")
    if args.keep_workdir:
        Path(args.keep_workdir).mkdir(parents=True, exist_ok=True)
    if not find_submissions(args.submissions):
        print("no notebooks found in " + " ".join(args.submissions), file=sys.stderr)
        return 1
    if classroom.wanted(args):   # roster, late policy, exports, report, cache or Dask
        # the class run's kernels get the same secret seed and sandbox as a plain run
        seed = args.seed if args.seed is not None else secrets.randbits(32)
        return classroom.run(args, parser, runner_options={"seed": seed, "sandbox": not args.no_sandbox})
    started = time.monotonic()
    header, rows = grade(args.submissions, out=args.out, feedback_dir=args.feedback_dir,
                         release_dir=args.release, jobs=args.jobs, cell_timeout=args.cell_timeout,
                         notebook_timeout=args.notebook_timeout, memory_gib=args.memory,
                         expected=args.assignment, workdir=args.keep_workdir, keep=bool(args.keep_workdir),
                         quiet=args.quiet, seed=args.seed, sandbox=not args.no_sandbox)
    counts = {}
    for row in rows:
        counts[row[-1]] = counts.get(row[-1], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"graded {len(rows)} submission(s) in {time.monotonic() - started:.1f} s -> {args.out} ({summary})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
