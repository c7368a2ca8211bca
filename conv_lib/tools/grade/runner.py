"""Running batches of notebooks (parent side): persistent pytest workers, process groups, limits.

``Runner.run(paths)`` feeds prepared notebooks to ``jobs`` persistent pytest processes (each in its
own process group, with the grader's plugin loaded), reads their JSON events, and turns each
notebook's events into a result dict with ``summarise``:
``{"status", "message", "cells": {cell id: cell event}, "warnings", "truncated", "seconds"}``.
A worker that dies or hangs is killed with its kernels and replaced; a notebook is retried once if
its worker died before starting it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

from conv_lib.tools.grade.config import (CELL_OUTPUT_LIMIT, ENV_EVENTS_FD, ENV_FEED_FD, ENV_FSIZE, ENV_MEMORY,
                                         ENV_NB_TIMEOUT, ENV_OUTPUT, ENV_SANDBOX, ENV_CHECK_SEED, LOG_HEAD, LOG_TAIL,
                                         ROOT, cpu_count)


class _CappedLog:
    """Keep the first and last bytes of a stream read from a pipe (the rest is counted only)."""

    def __init__(self, pipe):
        self.head = bytearray()
        self.tail = deque()
        self.tail_size = 0
        self.dropped = 0
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe):
        while True:
            chunk = pipe.read1(65536) if hasattr(pipe, "read1") else pipe.read(65536)
            if not chunk:
                break
            room = LOG_HEAD - len(self.head)
            if room > 0:
                self.head += chunk[:room]
                chunk = chunk[room:]
            if chunk:
                self.tail.append(chunk)
                self.tail_size += len(chunk)
                while self.tail and self.tail_size - len(self.tail[0]) >= LOG_TAIL:
                    self.dropped += len(self.tail[0])
                    self.tail_size -= len(self.tail.popleft())
        pipe.close()

    def text(self):
        self.thread.join(timeout=5)
        tail = b"".join(self.tail)
        middle = f"\n... [{self.dropped} bytes omitted] ...\n".encode() if self.dropped else b""
        return (bytes(self.head) + middle + tail).decode("utf-8", "replace")


def _kill_group(pgid, marker=None):
    """SIGKILL a process group, only if its leader still looks like ours (cmdline contains marker)."""
    if not pgid:
        return
    if marker:
        try:
            cmdline = Path(f"/proc/{pgid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            return
        if marker not in cmdline:
            return
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


class _Worker:
    """One persistent pytest process (parent side): feeds it notebooks, reads its events."""

    def __init__(self, runner):
        self.runner = runner
        self.proc = None
        self.log = None
        self.events = None
        self.feed = None
        self.kernels = set()

    def start(self):
        import queue
        feed_r, feed_w = os.pipe()
        events_r, events_w = os.pipe()
        env = dict(self.runner.env, **{ENV_FEED_FD: str(feed_r), ENV_EVENTS_FD: str(events_w)})
        try:
            self.proc = subprocess.Popen(
                self.runner.command, cwd=self.runner.workdir, env=env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                pass_fds=(feed_r, events_w))
        finally:
            os.close(feed_r)
            os.close(events_w)
        self.feed = os.fdopen(feed_w, "w", encoding="utf-8", buffering=1)
        self.log = _CappedLog(self.proc.stdout)
        self.events = queue.Queue()
        self.kernels = set()
        threading.Thread(target=self._read_events, args=(events_r, self.events, self.runner.event_log),
                         daemon=True).start()
        event = self._next_event(time.monotonic() + self.runner.startup_grace)
        if not isinstance(event, dict) or event.get("ev") != "ready":
            self.stop(kill=True)
            return False
        return True

    @staticmethod
    def _read_events(fd, sink, log_path=None):
        log = open(log_path, "ab") if log_path else None
        try:
            with os.fdopen(fd, "rb") as pipe:
                for line in pipe:
                    if log:
                        log.write(line)
                        log.flush()
                    try:
                        sink.put(json.loads(line))
                    except ValueError:
                        continue
        finally:
            if log:
                log.close()
            sink.put(None)   # end of file: the process is gone

    def _next_event(self, deadline):
        """The next event, None at end of file, "deadline" when the deadline passes first."""
        import queue
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "deadline"
            try:
                event = self.events.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if isinstance(event, dict) and event.get("ev") == "kernel" and event.get("pgid"):
                self.kernels.add(event["pgid"])
            return event

    def stop(self, kill=False):
        if self.proc is None:
            return
        if kill or self.proc.poll() is None:
            try:
                self.feed.close()
            except OSError:
                pass
            if kill:
                _kill_group(self.proc.pid)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _kill_group(self.proc.pid)
                self.proc.wait()
        for pgid in self.kernels:
            _kill_group(pgid, marker=str(self.runner.runtime_dir))
        self.proc = None

    def output(self):
        return self.log.text() if self.log else ""

    def run(self, path):
        """Run one notebook; returns its result dict, or None if it should be retried."""
        try:
            self.feed.write(f"{path}\n")
            self.feed.flush()
        except (OSError, ValueError):
            self.stop(kill=True)
            return None
        nb_timeout = self.runner.notebook_timeout
        events, started = [], False
        deadline = time.monotonic() + self.runner.startup_grace
        while True:
            event = self._next_event(deadline)
            if event == "deadline" or event is None:
                killed = event == "deadline"
                self.stop(kill=True)
                if not started:
                    return None
                result = summarise(events)
                if killed:
                    result["status"] = "timeout"
                    result["message"] = "the notebook exceeded the notebook time limit and was killed"
                else:
                    result["status"] = "error"
                    log = self.output().strip()
                    result["message"] = "the grading process died while running this notebook" + (
                        f"; its log ends with:\n{log[-2000:]}" if log else "")
                return result
            if event.get("nb") != str(path):
                continue
            events.append(event)
            if event["ev"] == "start":
                started = True
                deadline = time.monotonic() + (nb_timeout + self.runner.kill_grace if nb_timeout
                                               else 10 ** 9)
            elif event["ev"] == "end":
                result = summarise(events)
                result["seconds"] = round(event["t"] - events[0]["t"], 2)
                return result


class Runner:
    """Runs prepared notebooks on ``jobs`` persistent pytest processes; collects their results."""

    def __init__(self, workdir, *, jobs, cell_timeout, notebook_timeout, memory_bytes,
                 startup_grace=180.0, kill_grace=30.0, event_log=None, seed=None, sandbox=None):
        self.workdir = Path(workdir)
        self.seed = seed              # CONV_KNOBS_CHECK_SEED for every kernel (None: the practice seed)
        self.sandbox = None           # sandbox.config(...) when the kernels run in bubblewrap
        self.sandbox_note = "no sandbox: not requested"
        self.event_log = event_log
        self.jobs = max(1, int(jobs))
        self.cell_timeout = cell_timeout
        self.notebook_timeout = notebook_timeout
        self.memory_bytes = memory_bytes
        self.startup_grace = startup_grace
        self.kill_grace = kill_grace
        self.runtime_dir = self.workdir / "runtime"
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        ipython_dir = self.workdir / "ipython"
        (ipython_dir / "profile_default").mkdir(parents=True, exist_ok=True)
        (ipython_dir / "profile_default" / "ipython_kernel_config.py").write_text(
            "c.HistoryManager.enabled = False\n", encoding="utf-8")
        if isinstance(sandbox, dict):
            self.sandbox, self.sandbox_note = sandbox, f"bubblewrap sandbox ({sandbox.get('bwrap')})"
        elif sandbox is False:
            self.sandbox_note = "no sandbox: --no-sandbox was given"
        elif sandbox:                 # True: bubblewrap if it is installed and passes its self-test
            from conv_lib.tools.grade import sandbox as sandboxing
            self.sandbox, self.sandbox_note = sandboxing.prepare(ipython_dir)
        ini = self.workdir / "pytest.ini"
        ini.write_text("[pytest]\naddopts =\n", encoding="utf-8")
        self.env = self._environment(ipython_dir)
        self.command = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "nbval.plugin",
            "-p", "conv_lib.tools.grade.plugin", "-c", str(ini), "--rootdir", str(self.workdir),
            "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout", str(cell_timeout),
            "--nbval-kernel-startup-timeout", "120", "-q", "--no-header", "-rN", "--color=no",
            "-p", "no:warnings"]
        self.startup_failures = 0
        self.lock = threading.Lock()

    def _environment(self, ipython_dir):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CONV_KNOBS_GRADE_"))}
        threads = str(max(1, cpu_count() // self.jobs))
        env.update({
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])),
            "JUPYTER_RUNTIME_DIR": str(self.runtime_dir),
            "IPYTHONDIR": str(ipython_dir),
            "MPLBACKEND": "Agg",
            "PYTHONHASHSEED": "0",
            "JAX_PLATFORMS": "cpu",
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "PYTHONUNBUFFERED": "1",
            ENV_NB_TIMEOUT: str(self.notebook_timeout or 0),
            ENV_OUTPUT: str(CELL_OUTPUT_LIMIT),
            ENV_FSIZE: str(2 << 30),
        })
        if threads == "1":
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false "
                                "intra_op_parallelism_threads=1").strip()
        if self.memory_bytes:
            env[ENV_MEMORY] = str(int(self.memory_bytes))
        env.pop(ENV_CHECK_SEED, None)
        if self.seed is not None:
            env[ENV_CHECK_SEED] = str(int(self.seed))
        if self.sandbox:
            env[ENV_SANDBOX] = json.dumps(dict(self.sandbox, kernel_root=str(self.runtime_dir)))
        return env

    def run(self, notebooks, progress=None, materialise=None, cleanup=None):
        """``notebooks``: list of paths. Returns {path: result dict}; never raises for one notebook.

        ``materialise(path)`` (optional) writes a working copy just before its turn and
        ``cleanup(path)`` removes it once graded, so only the notebooks being run exist on disk.
        """
        pending = deque((Path(p), 0) for p in notebooks)
        results = self.partial_results = {}
        lock = threading.Lock()

        def finish(path, result):
            with lock:
                results[path] = result
            if progress:
                progress(path, result)

        def worker():
            proc = _Worker(self)
            try:
                while True:
                    with lock:
                        if not pending:
                            return
                        path, attempts = pending.popleft()
                    if proc.proc is None or proc.proc.poll() is not None:
                        proc.stop()
                        if self.startup_failures >= 3:
                            finish(path, {"status": "error", "cells": {}, "message":
                                          "the grading process could not be started (3 attempts failed)"})
                            continue
                        if not proc.start():
                            with lock:
                                self.startup_failures += 1
                                give_up = self.startup_failures >= 3
                            if give_up:
                                finish(path, {"status": "error", "cells": {}, "message":
                                              "the grading process could not be started; its log:\n"
                                              + proc.output()[-3000:]})
                            else:
                                with lock:
                                    pending.appendleft((path, attempts))
                            continue
                    try:
                        if materialise is not None:
                            materialise(path)
                        result = proc.run(path)
                    except Exception as exc:   # never stop half way
                        proc.stop(kill=True)
                        result = {"status": "error", "cells": {},
                                  "message": f"grader failure: {type(exc).__name__}: {exc}"}
                    if result is None:
                        if attempts >= 1:
                            result = {"status": "error", "cells": {}, "message":
                                      "the grading process died before running this notebook; its log:\n"
                                      + proc.output()[-3000:]}
                        else:
                            with lock:
                                pending.append((path, attempts + 1))
                            continue
                    if cleanup is not None:
                        cleanup(path)
                    finish(path, result)
            finally:
                proc.stop()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(self.jobs, len(pending)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results


def summarise(events):
    """Turn one notebook's events into a result dict.

    ``{"status", "message", "cells": {cell id: cell event}, "reports": {cell id: [CheckResult dicts
    reported while that cell ran]}, "flags": [{"cell": id, "reason": text}] (tampering seen by the
    kernel-side guard), "restarts": [{"after": dead cell id, "resume": cell id}], "reporting": [names
    of the checks that report results], "warnings",
    "truncated"}``
    """
    cells, reports, flags, restarts, reporting = {}, {}, [], [], set()
    end = {}
    warnings = []
    for event in events:
        if event["ev"] == "cell" and event.get("id") is not None:
            cells.setdefault(event["id"], event)
        elif event["ev"] == "guard":
            reports.setdefault(event.get("id"), []).extend(event.get("results", []))
            flags.extend({"cell": event.get("id"), "reason": reason} for reason in event.get("flags", []))
            reporting.update(event.get("reporting", []))
        elif event["ev"] == "restart":
            restarts.append({"after": event.get("after"), "resume": event.get("resume")})
        elif event["ev"] == "end":
            end = event
        elif event["ev"] == "warning":
            warnings.append(event.get("text", ""))
    ordered = sorted(cells.values(), key=lambda c: c.get("index", 0))

    def first(result):
        return next((c for c in ordered if c.get("result") == result), None)

    def where(cell, text):
        return f"cell `{cell.get('id')}` {text}" if cell else text

    if end.get("notebook_timeout"):
        status, message = "timeout", "the notebook exceeded the notebook time limit; its kernel was killed"
    elif end.get("dead") or first("kernel-died"):
        dead = [c for c in ordered if c.get("result") == "kernel-died"]
        status = "kernel-died"
        if len(dead) > 1:
            message = "cells " + ", ".join(f"`{c.get('id')}`" for c in dead) + " killed the kernel"
        else:
            message = where(first("kernel-died"), "killed the kernel (it exited or crashed)")
        if restarts:
            message += ("; the grader restarted it, re-ran the setup cells and went on with the next "
                        "exercise")
    elif end.get("cell_timeout") or first("timeout"):
        status, message = "timeout", where(first("timeout"), "exceeded the cell time limit and was interrupted")
    elif end.get("kernel_error"):
        status, message = "error", f"the kernel could not be started: {end['kernel_error']}"
    elif first("memory-error"):
        cell = first("memory-error")
        status, message = "memory-error", where(cell, f"ran out of memory ({cell.get('ename')})")
    elif end.get("truncated"):
        status, message = "output-truncated", (f"the output beyond {CELL_OUTPUT_LIMIT} characters per cell "
                                               f"was discarded")
    else:
        status, message = "ok", ""
    return {"status": status, "message": message, "cells": cells, "reports": reports, "flags": flags,
            "restarts": restarts, "reporting": sorted(reporting), "warnings": warnings,
            "truncated": bool(end.get("truncated"))}
