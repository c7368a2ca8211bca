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
ERROR_IN = "ex02-quick-checks-answer"
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
    if profile == "cell-error":   # the answer cell of ERROR_IN (else the second one) raises
        target = next((c for c in answer_cells if c["id"] == ERROR_IN), answer_cells[1])
        target["source"] = CELL_ERROR + target["source"]
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


# ------------------------------------------------------------------------------------------------
# a local Dask cluster and the benchmark
# ------------------------------------------------------------------------------------------------

class local_dask_cluster:
    """``with local_dask_cluster(2) as address:`` a scheduler and ``workers`` one-thread workers on
    127.0.0.1, each its own process group, stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, workers=2, port=None):
        self.workers, self.port, self.procs = workers, port, []

    def __enter__(self):
        import socket
        if self.port is None:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.port = s.getsockname()[1]
        address = f"tcp://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        dask = str(Path(sys.executable).with_name("dask"))
        start = dict(cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.procs.append(subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                                "--no-dashboard"], **start))
            for _ in range(self.workers):
                self.procs.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1",
                                                    "--no-dashboard", "--memory-limit", "0", "--death-timeout", "60"],
                                                   **start))
            from distributed import Client
            with Client(address, timeout=60) as client:
                client.wait_for_workers(self.workers, timeout=180)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return address

    def __exit__(self, *exc):
        import signal
        for proc in reversed(self.procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
        self.procs = []
        return False


def grade_once(klass, out, *, dask=None, jobs=2):
    """Grade the synthetic class with the late policy; returns (wall seconds, records)."""
    from conv_lib.tools.grade import classroom, late
    policy = late.LatePolicy.parse([klass["deadline"]], "10%/day, cap 50%, grace 15min")
    started = time.monotonic()
    outcome = classroom.grade_class(
        [klass["course"]], out=Path(out) / "gradebook.csv", roster=klass["roster"], policy=policy, dask=dask,
        runner_options={"jobs": jobs, "cell_timeout": 120.0, "notebook_timeout": 600.0,
                        "memory_bytes": 4 << 30})
    return time.monotonic() - started, outcome["records"]


def table_row(name, wall, records, workers):
    run = [r for r in records if r["status"] != "missing" and (r.get("timings") or {}).get("total")]
    mean = {k: sum(r["timings"].get(k) or 0 for r in run) / max(1, len(run))
            for k in ("total", "kernel", "setup", "cells", "checks")}
    return {"mode": name, "submissions": len(run), "workers": workers, "wall_s": round(wall, 1),
            "s_per_submission": round(wall / max(1, len(run)), 2),
            **{f"mean_{k}_s": round(v, 2) for k, v in mean.items()}}


def print_table(rows):
    header = ["mode", "subs", "wall s", "s/sub", "notebook s", "kernel", "imports", "cells", "checks"]
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for r in rows:
        print(" | ".join(str(v) for v in (r["mode"], r["submissions"], r["wall_s"], r["s_per_submission"],
                                          r["mean_total_s"], r["mean_kernel_s"], r["mean_setup_s"],
                                          r["mean_cells_s"], r["mean_checks_s"])))


IMPORTS = "import numpy, torch, jax, jax.numpy, conv_lib, conv_lib.course.checks"
WORK = ("import numpy as np, torch, jax.numpy as jnp\n"
        "torch.nn.functional.conv1d(torch.ones(1, 1, 8), torch.ones(1, 1, 3)); jnp.ones(3).sum().block_until_ready()")

_FORK_PROBE = """
import os, resource, sys, time
t0 = time.perf_counter(); c0 = time.process_time()
exec(sys.argv[1])
print("parent", time.perf_counter() - t0, time.process_time() - c0, flush=True)
for _ in range(int(sys.argv[3])):
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        exec(sys.argv[2])
        os._exit(0)
    _, status, usage = os.wait4(pid, 0)
    print("child", time.perf_counter() - t, usage.ru_utime + usage.ru_stime, status, flush=True)
"""


def import_costs(repeat=3):
    """What a kernel spends on the course's imports, cold and forked from a process that has them.

    Cold: a fresh interpreter imports NumPy, PyTorch, JAX and the checks, then runs one PyTorch
    and one JAX operation (as the setup cell and the first check do). Forked: one process imports
    them once and forks a child per "notebook" that only runs the two operations. The difference
    is what a pre-importing kernel launcher (a fork server) would save per submission.
    """
    env = dict(os.environ, PYTHONPATH=str(ROOT), JAX_PLATFORMS="cpu")
    cold = []
    for _ in range(repeat):
        started = time.perf_counter()
        before = os.times()
        subprocess.run([sys.executable, "-c", IMPORTS + "\n" + WORK], env=env, check=True)
        after = os.times()
        cold.append((time.perf_counter() - started,
                     after.children_user + after.children_system - before.children_user - before.children_system))
    out = subprocess.run([sys.executable, "-c", _FORK_PROBE, IMPORTS, WORK, str(repeat)], env=env, check=True,
                         capture_output=True, text=True).stdout.split("\n")
    children = [tuple(map(float, line.split()[1:3])) for line in out if line.startswith("child")]
    parent = [tuple(map(float, line.split()[1:3])) for line in out if line.startswith("parent")][0]
    mean = lambda pairs, i: sum(p[i] for p in pairs) / len(pairs)   # noqa: E731
    return {"cold_wall_s": round(mean(cold, 0), 2), "cold_cpu_s": round(mean(cold, 1), 2),
            "forked_wall_s": round(mean(children, 0), 2), "forked_cpu_s": round(mean(children, 1), 2),
            "parent_import_wall_s": round(parent[0], 2)}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=100, help="roster size (default 100)")
    parser.add_argument("--assignment", default=DEFAULT_ASSIGNMENT)
    parser.add_argument("--jobs", type=int, default=2, help="local pytest processes (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="local Dask workers (default 2)")
    parser.add_argument("--no-dask", action="store_true", help="local grading only")
    parser.add_argument("--json", metavar="FILE", help="also write the table as JSON")
    parser.add_argument("--imports", action="store_true",
                        help="only measure the imports, cold and forked from a warm process")
    args = parser.parse_args(argv)
    if args.imports:
        costs = import_costs()
        print("per notebook | wall s | CPU s\n--- | --- | ---")
        print(f"fresh interpreter: imports + first ops | {costs['cold_wall_s']} | {costs['cold_cpu_s']}")
        print(f"forked from a warm process: first ops | {costs['forked_wall_s']} | {costs['forked_cpu_s']}")
        print(f"(the warm process paid {costs['parent_import_wall_s']} s once)")
        return 0
    with tempfile.TemporaryDirectory(prefix="conv-knobs-bench-") as tmp:
        klass = make_class(Path(tmp) / "class", args.students, assignment=args.assignment)
        rows = []
        wall, records = grade_once(klass, Path(tmp) / "local", jobs=args.jobs)
        rows.append(table_row(f"local, --jobs {args.jobs}", wall, records, args.jobs))
        print_table(rows)
        if not args.no_dask:
            with local_dask_cluster(args.workers) as address:
                wall, records = grade_once(klass, Path(tmp) / "dask", dask=address)
            rows.append(table_row(f"Dask, {args.workers} workers", wall, records, args.workers))
            print()
            print_table(rows)
    load = os.getloadavg()
    print(f"\n{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
          f"(other work on the machine slows every row alike)")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "load": load}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
