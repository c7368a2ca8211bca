"""The pytest plugin of the grader: runs inside each worker process (``-p conv_lib.tools.grade.plugin``).

The parent (``runner.py``) starts ``pytest -p nbval.plugin -p conv_lib.tools.grade.plugin`` with two
pipes in the environment. This plugin then collects nothing up front: it reads notebook paths, one
per line, from the feed pipe, runs each with nbval in a fresh kernel, and writes JSON events to the
event pipe: ``ready`` once, then per notebook ``start``, ``kernel``, one ``cell`` per code cell,
``warning``s and ``end``. It also limits memory (RLIMIT_AS, inherited by the kernels), caps the
output it keeps, and kills the kernel of a notebook that overruns the notebook time limit.
"""
from __future__ import annotations

import json
import math
import os
import re
import signal
import threading
import time
from pathlib import Path

from conv_lib.tools.grade import kernel_setup, nbval_patches
from conv_lib.tools.grade.config import (CELL_OUTPUT_LIMIT, ENV_EVENTS_FD, ENV_FEED_FD, ENV_FSIZE, ENV_MEMORY,
                                         ENV_NB_TIMEOUT, ENV_OUTPUT, MESSAGE_LIMIT, NOTEBOOK_OUTPUT_LIMIT,
                                         TRUNCATION_MARK)

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _clip(text, limit=MESSAGE_LIMIT):
    text = _ANSI_RE.sub("", str(text))
    if len(text) > limit:
        text = text[:limit] + f"\n... [{len(text) - limit} more characters]"
    return text


def pytest_configure(config):
    """Register the grading plugin when started by the grader (feed and event pipes in the env)."""
    if os.environ.get(ENV_FEED_FD) and os.environ.get(ENV_EVENTS_FD) and \
            not config.pluginmanager.has_plugin("conv-knobs-grader"):
        config.pluginmanager.register(_GraderPlugin(), "conv-knobs-grader")


class _GraderPlugin:
    """pytest side of the grader: a worker that runs the notebooks it is fed, one at a time.

    The parent writes notebook paths, one per line, to the feed pipe; for each one this plugin
    collects the notebook with nbval, runs its cells (nbval starts and stops the kernel), and
    writes JSON events to the event pipe: ``ready`` once, then per notebook ``start``, ``kernel``,
    one ``cell`` per code cell and ``end``.
    """

    def __init__(self):
        import resource
        for env, limit in ((ENV_MEMORY, resource.RLIMIT_AS), (ENV_FSIZE, resource.RLIMIT_FSIZE)):
            if os.environ.get(env):
                value = int(os.environ[env])
                resource.setrlimit(limit, (value, value))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        self.feed = os.fdopen(int(os.environ[ENV_FEED_FD]), "r", encoding="utf-8")
        self.events = os.fdopen(int(os.environ[ENV_EVENTS_FD]), "w", encoding="utf-8")
        self.nb_timeout = float(os.environ.get(ENV_NB_TIMEOUT, "0") or 0)
        self.output_limit = int(os.environ.get(ENV_OUTPUT, str(CELL_OUTPUT_LIMIT)))
        self.lock = threading.Lock()
        self.current = None   # [notebook path, deadline, kernel pgid, watchdog fired]
        self.state = {}       # facts about the current notebook, reported in its "end" event
        nbval_patches.install(self)
        from nbval.plugin import IPyNbCell
        self._IPyNbCell = IPyNbCell
        threading.Thread(target=self._watchdog, name="grader-watchdog", daemon=True).start()

    def emit(self, **event):
        event["t"] = round(time.time(), 3)
        self.events.write(json.dumps(event) + "\n")
        self.events.flush()

    # -- the worker loop --------------------------------------------------------------------------
    def pytest_collection(self, session):
        return True   # nothing is collected up front: notebooks arrive through the feed

    def pytest_runtestloop(self, session):
        self.emit(ev="ready", pid=os.getpid())
        for line in self.feed:
            path = line.strip()
            if path:
                self._run_notebook(session, Path(path))
        return True

    def _run_notebook(self, session, path):
        from nbval.plugin import IPyNbFile
        self.state = {"kernel_error": None, "dead": False, "cell_timeout": False, "truncated": False}
        with self.lock:
            deadline = time.monotonic() + self.nb_timeout if self.nb_timeout else math.inf
            self.current = [str(path), deadline, None, False]
        self.emit(ev="start", nb=str(path))
        try:
            nbfile = IPyNbFile.from_parent(session, path=path)
            items = list(nbfile.collect())
            for i, item in enumerate(items):
                nextitem = items[i + 1] if i + 1 < len(items) else None
                item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
        except Exception as exc:
            self.state["kernel_error"] = self.state["kernel_error"] or f"{type(exc).__name__}: {exc}"
        with self.lock:
            fired = bool(self.current and self.current[3])
            self.current = None
        self.emit(ev="end", nb=str(path), notebook_timeout=fired, **self.state)

    # -- watchdog: kill the kernel of a notebook that overruns --notebook-timeout ------------------
    def _watchdog(self):
        while True:
            time.sleep(0.25)
            with self.lock:
                current = self.current
                if not current or current[3] or time.monotonic() < current[1]:
                    continue
                current[3] = True
                pgid = current[2]
            if pgid:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except OSError:
                    pass

    def _kernel_started(self, nbfile):
        kernel = nbfile.kernel
        provisioner = getattr(kernel.km, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        pgid = getattr(provisioner, "pgid", None) or pid
        with self.lock:
            if self.current:
                self.current[2] = pgid
        self.emit(ev="kernel", nb=str(nbfile.path), pid=pid, pgid=pgid)
        code = kernel_setup.install_code({"output_limit": self.output_limit, "mark": TRUNCATION_MARK})
        try:
            msg_id = kernel.kc.execute(code, silent=True, store_history=False, allow_stdin=False)
            kernel.await_reply(msg_id, timeout=60)
        except Exception as exc:  # not fatal: the notebook still runs, only without the cap
            self.emit(ev="warning", nb=str(nbfile.path), text=f"output cap not installed: {exc}")

    def _cap_message(self, kernel, msg):
        """Keep at most NOTEBOOK_OUTPUT_LIMIT characters of output per notebook in this process."""
        content = msg.get("content", {})
        kind = msg.get("msg_type")
        if kind == "stream":
            text = content.get("text", "")
            if TRUNCATION_MARK in text:
                kernel._ck_truncated = True
            used = getattr(kernel, "_ck_output", 0) + len(text)
            kernel._ck_output = used
            if used > NOTEBOOK_OUTPUT_LIMIT:
                kernel._ck_truncated = True
                content["text"] = ""
        elif kind in ("display_data", "execute_result", "update_display_data"):
            data = content.get("data", {})
            if not isinstance(data, dict):
                return
            text = data.get("text/plain", "")
            if isinstance(text, str) and TRUNCATION_MARK in text:
                kernel._ck_truncated = True
            used = getattr(kernel, "_ck_output", 0) + sum(len(v) if isinstance(v, str) else 1000
                                                          for v in data.values())
            kernel._ck_output = used
            if used > NOTEBOOK_OUTPUT_LIMIT:
                kernel._ck_truncated = True
                content["data"] = {"text/plain": "..."}
        elif kind == "error":
            content["evalue"] = _clip(content.get("evalue", ""), 20_000)
            content["traceback"] = [_clip("\n".join(content.get("traceback", [])), 20_000)]

    # -- per-cell results ---------------------------------------------------------------------------
    def pytest_runtest_makereport(self, item, call):
        if not isinstance(item, self._IPyNbCell):
            return
        if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
            self._record_cell(item, call)
        if call.when == "teardown":
            item.test_outputs = None   # do not keep outputs of finished cells in memory

    def _record_cell(self, item, call):
        import pytest
        nbfile = item.parent
        kernel = nbfile.kernel
        excinfo = call.excinfo
        event = {"ev": "cell", "nb": str(nbfile.path), "id": item.cell.get("id"), "index": item.cell_num,
                 "ok": excinfo is None, "result": "passed"}
        outputs = item.test_outputs or []
        stdout = "".join(o.get("text", "") for o in outputs
                         if o.get("output_type") == "stream" and o.get("name") == "stdout")
        event["stdout"] = _clip(stdout, 2_000)
        if excinfo is not None:
            errors = [o for o in outputs if o.get("output_type") == "error"]
            if errors:
                event["ename"], event["evalue"] = errors[-1].get("ename", ""), errors[-1].get("evalue", "")
                event["traceback"] = _clip("\n".join(errors[-1].get("traceback", [])), 3_000)
            else:
                event["ename"], event["evalue"] = type(excinfo.value).__name__, str(excinfo.value)
            event["evalue"] = _clip(event["evalue"])
            message = str(excinfo.value)
            with self.lock:
                fired = bool(self.current and self.current[3])
            if isinstance(excinfo.value, pytest.skip.Exception):
                event["result"] = "skipped"
            elif "Kernel dead on test start" in message or call.when == "setup":
                event["result"] = "not-run"
            elif fired:
                event["result"] = "timeout"
            elif kernel is not None and getattr(kernel, "_ck_dead", False):
                event["result"] = "kernel-died"
            elif "Timeout of" in message:
                event["result"] = "timeout"
            elif event["ename"].endswith("MemoryError") or _looks_like_oom(event["evalue"]):
                event["result"] = "memory-error"
            else:
                event["result"] = "failed"
        self.emit(**event)


def _looks_like_oom(text):
    text = str(text).lower()
    return any(s in text for s in ("can't allocate memory", "cannot allocate memory", "out of memory",
                                   "resource_exhausted", "std::bad_alloc"))


