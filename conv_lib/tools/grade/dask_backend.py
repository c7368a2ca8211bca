"""Grading on a Dask cluster (``--dask ADDRESS``) and the batch runner both back ends share.

``run_batch(items, options)`` is *the* per-submission runner: it writes the prepared notebooks
into a private folder, runs them with the grader's ``Runner`` (fresh kernel per notebook, the same
limits, plugin and sandbox as a local run) and returns, per notebook, the runner's result and the
trace of its events (for the timing split). Locally the grader calls it once with every
notebook and ``--jobs`` pytest processes; with ``--dask`` the client sends chunks of notebooks to
the cluster's workers, each of which calls ``run_batch`` with one pytest process per worker
thread, and the results come back into the same scoring, gradebook, report and feedback.

Workers need this repository (or the installed package) and its environment, not the
submissions: notebooks travel inside the tasks. Start a cluster by hand::

    dask scheduler --host 127.0.0.1 --port 8786 &
    dask worker tcp://127.0.0.1:8786 --nthreads 1 --nworkers 2 &
    python -m conv_lib.grade course/ --roster roster.csv --out gradebook.csv --dask tcp://127.0.0.1:8786

or on a Slurm cluster with ``dask_jobqueue.SLURMCluster`` / on Kubernetes with ``dask-kubernetes``
(see the README, "A class at scale"). One worker thread per kernel: a worker with ``--nthreads 4``
runs four notebooks at a time.
"""
from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path


def event_traces(log_path):
    """{notebook path: [(event, cell id, time)]} from a runner's event log (JSON lines)."""
    traces = {}
    try:
        lines = Path(log_path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return traces
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("nb") and event.get("ev") in ("start", "kernel", "cell", "end"):
            traces.setdefault(event["nb"], []).append((event["ev"], event.get("id"), float(event.get("t", 0))))
    return traces


def run_batch(items, options, workdir=None):
    """Run prepared notebooks; ``items``: [(key, file name, notebook text)].

    ``options``: keyword arguments of the grader's ``Runner`` (jobs, cell_timeout, seed, ...), where
    ``sandbox`` is True/False: the Runner configures (and self-tests) bubblewrap here, on the
    machine that runs the kernels.
    Returns {key: {"result": runner result, "trace": [(event, cell id, t)], "sandbox": sentence}}.
    """
    from conv_lib.tools.grade.runner import Runner
    owner = tempfile.mkdtemp(prefix="conv-knobs-batch-") if workdir is None else None
    root = Path(workdir or owner)
    try:
        paths = {}
        for index, (key, name, text) in enumerate(items):
            folder = root / "notebooks" / f"{index:05d}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(text, encoding="utf-8")
            paths[path] = key
        options = dict(options)
        options["jobs"] = max(1, min(int(options.get("jobs") or 1), len(items)))
        log = root / "events.jsonl"
        runner = Runner(root, event_log=log, **options)
        sandbox_text = getattr(runner, "sandbox_note", "")
        results = runner.run(list(paths))
        traces = event_traces(log)
        out = {}
        for path, key in paths.items():
            result = results.get(path) or {"status": "error", "cells": {}, "message": "no result was recorded"}
            out[key] = {"result": result, "trace": traces.get(str(path), []), "sandbox": sandbox_text}
        return out
    finally:
        if owner:
            shutil.rmtree(owner, ignore_errors=True)


def _remote_batch(items, options):
    import os
    options = dict(options)
    try:   # one pytest process per worker thread
        from distributed import get_worker
        options["jobs"] = int(getattr(get_worker(), "nthreads", 1) or 1)
    except Exception:   # not inside a Dask worker
        options["jobs"] = 1
    options["jobs"] = max(1, min(options["jobs"], os.cpu_count() or 1))
    return run_batch(items, options)


def run_on_dask(address, items, options, *, chunk=None, progress=None, timeout=None):
    """Grade ``items`` on the cluster at ``address``; same return value as ``run_batch``.

    ``chunk``: notebooks per task (default: about four tasks per worker thread, at most 8 each), so
    a task's pytest start-up is shared by several notebooks while the load stays balanced.
    """
    from distributed import Client, as_completed
    out = {}
    if not items:
        return out
    with Client(address, timeout=timeout or 60) as client:
        threads = sum(client.nthreads().values()) or 1
        size = chunk or max(1, min(8, math.ceil(len(items) / (4 * threads))))
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        futures = {client.submit(_remote_batch, batch, options, pure=False, retries=1): batch for batch in chunks}
        for future in as_completed(futures):
            batch = futures[future]
            try:
                results = future.result()
            except Exception as exc:   # a lost worker or a broken environment: never lose the rows
                results = {key: {"result": {"status": "error", "cells": {}, "message":
                                            f"the Dask task failed: {type(exc).__name__}: {exc}"}, "trace": [],
                                 "sandbox": ""} for key, _, _ in batch}
            out.update(results)
            if progress:
                for key in results:
                    progress(key, results[key]["result"])
    return out
