"""The pytest plugin of the grader: runs inside each worker process (``-p conv_lib.tools.grade.plugin``).

The parent (``runner.py``) starts ``pytest -p nbval.plugin -p conv_lib.tools.grade.plugin`` with two
pipes in the environment. This plugin then collects nothing up front: it reads notebook paths, one
per line, from the feed pipe, runs each with nbval in a fresh kernel, and writes JSON events to the
event pipe: ``ready`` once, then per notebook ``start``, ``kernel``, one ``cell`` per code cell,
``warning``s and ``end``. It also limits memory (RLIMIT_AS, inherited by the kernels), caps the
output it keeps, and kills the kernel of a notebook that overruns the notebook time limit.
"""
from __future__ import annotations

import ast
import json
import math
import os
import re
import signal
import threading
import time
from pathlib import Path

from conv_lib.tools import notebook_meta as meta
from conv_lib.tools.grade import kernel_guard, kernel_setup, nbval_patches
from conv_lib.tools.grade.config import (CELL_OUTPUT_LIMIT, ENV_EVENTS_FD, ENV_FEED_FD, ENV_FSIZE, ENV_MEMORY,
                                         ENV_NB_TIMEOUT, ENV_OUTPUT, ENV_SANDBOX, MESSAGE_LIMIT, NOTEBOOK_OUTPUT_LIMIT,
                                         TRUNCATION_MARK)

_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

MAX_RESTARTS = 10   # kernel restarts per notebook (each re-runs the setup cells)


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
        if os.environ.get(ENV_SANDBOX):
            nbval_patches.use_sandbox(json.loads(os.environ[ENV_SANDBOX]))
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
        self.state = {"kernel_error": None, "dead": False, "cell_timeout": False, "truncated": False,
                      "restarts": 0}
        with self.lock:
            deadline = time.monotonic() + self.nb_timeout if self.nb_timeout else math.inf
            self.current = [str(path), deadline, None, False]
        self.emit(ev="start", nb=str(path))
        try:
            nbfile = IPyNbFile.from_parent(session, path=path)
            items = list(nbfile.collect())
            owners = _exercise_of_items(items)
            for i, item in enumerate(items):
                nextitem = items[i + 1] if i + 1 < len(items) else None
                item.ihook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                if nextitem is not None and self._kernel_gone(nbfile):
                    self._resume(nbfile, items, owners, i)
        except Exception as exc:
            self.state["kernel_error"] = self.state["kernel_error"] or f"{type(exc).__name__}: {exc}"
        with self.lock:
            fired = bool(self.current and self.current[3])
            self.current = None
        self.emit(ev="end", nb=str(path), notebook_timeout=fired, **self.state)

    # -- kernel death: restart, re-run the setup cells, go on with the next exercise ----------------
    def _kernel_gone(self, nbfile):
        kernel = nbfile.kernel
        if kernel is None or self.state["restarts"] >= MAX_RESTARTS:
            return False
        with self.lock:
            if self.current is None or self.current[3]:     # the notebook's time is up: no restart
                return False
        return getattr(kernel, "_ck_stopped", False) or not nbval_patches.alive(kernel)

    def _resume(self, nbfile, items, owners, i):
        """The kernel died in ``items[i]``: skip the rest of its exercise, restart, re-run setup."""
        dead_cell = items[i].cell.get("id")
        exercise = owners[i]
        j = i + 1
        while exercise is not None and j < len(items) and owners[j] == exercise:
            items[j].options["skip"] = True              # nbval skips the cell (pytest.skip)
            items[j]._ck_skipped_after = dead_cell
            j += 1
        if j >= len(items):
            return
        self.state["dead"] = self.state["dead"] or not getattr(nbfile.kernel, "_ck_stopped", False)
        self.state["cell_timeout"] |= bool(nbfile.timed_out)
        self.state["restarts"] += 1
        nbval_patches.restart_kernel(nbfile)
        self._kernel_started(nbfile)                    # output cap and guard in the new kernel
        nbfile.timed_out = False
        for item in items[:i + 1]:
            if meta.role(item.cell) == "setup":
                status = self._execute(nbfile.kernel, item.cell.source, timeout=120)
                if status != "ok":
                    self.emit(ev="warning", nb=str(nbfile.path),
                              text=f"after the restart the setup cell `{item.cell.get('id')}` ended with {status}")
        self.emit(ev="restart", nb=str(nbfile.path), after=dead_cell, resume=items[j].cell.get("id"))

    def _execute(self, kernel, code, timeout, **kwargs):
        """Run ``code`` silently; return the reply status ("ok", "error", ...) or "no reply"."""
        msg_id = kernel.kc.execute(code, silent=True, store_history=False, allow_stdin=False, **kwargs)
        reply = self._shell_reply(kernel, msg_id, timeout)
        self._last_reply = reply
        return reply["content"].get("status", "?") if reply else "no reply"

    @staticmethod
    def _shell_reply(kernel, msg_id, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                msg = kernel.get_message("shell", timeout=max(0.1, end - time.monotonic()))
            except Exception:
                return None
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
        return None

    # -- the guard: results of the checks and tampering, after every cell ---------------------------
    def _probe(self, nbfile, item):
        kernel = nbfile.kernel
        if kernel is None or getattr(kernel, "_ck_stopped", False) or not nbval_patches.alive(kernel):
            return
        cell_id = item.cell.get("id")
        try:
            status = self._execute(kernel, "", 60, user_expressions={"ck": kernel_guard.PROBE_EXPRESSION})
        except Exception as exc:
            status = f"{type(exc).__name__}: {exc}"
        payload = None
        if status == "ok":
            answer = self._last_reply["content"].get("user_expressions", {}).get("ck", {})
            try:
                payload = json.loads(ast.literal_eval(answer["data"]["text/plain"]))
            except Exception:
                payload = None
        if not isinstance(payload, dict):
            if not nbval_patches.alive(kernel):
                return                                   # died meanwhile: reported as a death
            payload = {"results": [], "flags": [f"the grader's guard did not answer after this cell ({status})"]}
        results = [r for r in payload.get("results", []) if isinstance(r, dict)][:50]
        flags = [str(f)[:300] for f in payload.get("flags", [])][:20]
        reporting = payload.get("reporting")
        first = not getattr(kernel, "_ck_reporting_sent", False) and isinstance(reporting, list)
        if results or flags or first:
            event = {"ev": "guard", "nb": str(nbfile.path), "id": cell_id, "results": results, "flags": flags}
            if first:
                kernel._ck_reporting_sent = True
                event["reporting"] = [str(name) for name in reporting][:500]
            self.emit(**event)

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
        code = kernel_setup.install_code({"output_limit": self.output_limit, "mark": TRUNCATION_MARK,
                                          "guard": True})
        try:
            status = self._execute(kernel, code, timeout=120)
        except Exception as exc:
            status = f"{type(exc).__name__}: {exc}"
        if status != "ok":   # the notebook still runs; the guard's probes will say it is missing
            self.emit(ev="warning", nb=str(nbfile.path), text=f"kernel setup failed: {status}")

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
        if call.when == "call" and not getattr(item, "_ck_skipped_after", None):
            self._probe(item.parent, item)     # before the teardown of the last cell stops the kernel
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
            if getattr(item, "_ck_skipped_after", None):
                event["result"] = "not-run"
                event["ename"], event["evalue"] = "", (f"not run: the kernel died in cell "
                                                       f"`{item._ck_skipped_after}` of the same exercise")
            elif isinstance(excinfo.value, pytest.skip.Exception):
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


def _exercise_of_items(items):
    """The exercise each collected cell belongs to: its own metadata, else the preceding cell's."""
    owners, current = [], None
    for item in items:
        if meta.role(item.cell) == "setup":
            current = None
        current = meta.exercise(item.cell) or current
        owners.append(current)
    return owners
