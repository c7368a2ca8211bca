"""Autograde exercise notebooks with nbval.

    python -m conv_lib.grade SUBMISSIONS... --out gradebook.csv [--feedback-dir DIR] [--jobs N]
                             [--cell-timeout S] [--notebook-timeout S] [--release exercises/]
                             [--assignment exNN-NAME] [--memory GIB]

SUBMISSIONS are notebook files or folders (searched recursively for ``*.ipynb``, skipping hidden
folders such as ``.ipynb_checkpoints``). Submissions are never modified: each one is read, repaired
and written to a private temporary folder, then executed there.

How a submission is graded
--------------------------
1. *Recognise* the assignment from ``metadata.conv_knobs.assignment`` (fallback: a released
   assignment name such as ``ex04-padding`` inside the file name) and load the released notebook
   ``<release>/<assignment>.ipynb``.
2. *Restore* the protected cells (``conv_knobs.role`` "check" or "setup") from the release, matching
   by cell id (fallback: same exercise and role in the metadata, for notebooks whose ids were lost):
   edited ones are replaced by the released cell, deleted ones are re-inserted after the nearest
   preceding released cell that is still present, duplicates are removed, and cells claiming a
   check/setup role that the release does not have are dropped. Outputs are cleared.
3. *Run* the copies with ``pytest --nbval-lax --nbval-cell-timeout S`` on ``--jobs`` persistent
   pytest processes (own process group each), which are fed one notebook at a time through a pipe;
   every notebook gets its own, fresh kernel. This module is also the pytest plugin
   (``-p conv_lib.tools.grade``): inside the pytest process it limits memory (RLIMIT_AS, inherited by the
   kernels), reports every cell's outcome and error message as JSON events on a second pipe, caps
   the output a kernel may send, notices a dead kernel within a second instead of waiting for the
   cell timeout, and kills the kernel of a notebook that overruns ``--notebook-timeout``. Should
   that fail too, the parent kills the pytest process (and its kernels) and starts a new one.
4. *Score*: an exercise earns its points iff its released check cell ran without an exception.
   One gradebook row per submission (sorted by path), one Markdown feedback file per submission.

Status column: ok, output-truncated (flooding; graded anyway), memory-error (a cell raised
MemoryError), kernel-died (the kernel process exited or was killed), timeout (a cell exceeded
--cell-timeout or the notebook exceeded --notebook-timeout), wrong-assignment (with --assignment),
unknown-assignment, invalid-notebook (empty, not JSON, not a notebook), error (grader failure).
Points earned before or after a timeout/crash still count.
"""
import argparse
import copy
import csv
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RELEASE = ROOT / "exercises"
PROTECTED_ROLES = ("setup", "check")
ASSIGNMENT_RE = re.compile(r"ex\d\d-[a-z0-9]+(?:-[a-z0-9]+)*")

STATUS_TEXT = {
    "ok": "the notebook ran to the end",
    "output-truncated": "the notebook printed too much; output beyond the limit was discarded",
    "memory-error": "a cell ran out of memory (the grader limits each kernel's address space)",
    "kernel-died": "the Python kernel died (os._exit, a crash or a kill); later cells did not run",
    "timeout": "a cell ran longer than the cell time limit or the notebook exceeded its time limit",
    "error": "the grader could not run this notebook",
    "wrong-assignment": "this notebook belongs to a different assignment",
    "unknown-assignment": "the notebook does not belong to a released assignment",
    "invalid-notebook": "the file is not a readable Jupyter notebook",
}

# environment variables understood by the pytest-side plugin
ENV_FEED_FD = "CONV_KNOBS_GRADE_FEED_FD"
ENV_EVENTS_FD = "CONV_KNOBS_GRADE_EVENTS_FD"
ENV_NB_TIMEOUT = "CONV_KNOBS_GRADE_NOTEBOOK_TIMEOUT"
ENV_MEMORY = "CONV_KNOBS_GRADE_MEMORY_BYTES"
ENV_FSIZE = "CONV_KNOBS_GRADE_FILE_BYTES"
ENV_OUTPUT = "CONV_KNOBS_GRADE_OUTPUT_CHARS"

CELL_OUTPUT_LIMIT = 1_000_000      # characters a kernel may send per cell (stdout+stderr+display)
NOTEBOOK_OUTPUT_LIMIT = 8_000_000  # characters the pytest process keeps per notebook
LOG_HEAD = LOG_TAIL = 32_768       # bytes of a pytest process's own stdout/stderr kept
MESSAGE_LIMIT = 6_000              # characters of an error message kept for feedback
TRUNCATION_MARK = "[grader] output truncated"
MAX_NOTEBOOK_BYTES = 100 << 20     # larger files are not read


# ================================================================================================
# Reading submissions and releases
# ================================================================================================

class InvalidNotebook(Exception):
    """The file cannot be read as a notebook."""


def _knobs(cell_or_nb):
    meta = cell_or_nb.get("metadata", {}) if isinstance(cell_or_nb, dict) else {}
    knobs = meta.get("conv_knobs") if isinstance(meta, dict) else None
    return knobs if isinstance(knobs, dict) else {}


def read_notebook(path):
    """Read ``path`` as an nbformat-4 NotebookNode; raise InvalidNotebook with a clear reason."""
    import nbformat
    try:
        size = Path(path).stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise InvalidNotebook(f"the file is too large ({size} bytes; the limit is {MAX_NOTEBOOK_BYTES})")
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InvalidNotebook(f"cannot read the file: {exc.strerror or exc}") from None
    if not data.strip():
        raise InvalidNotebook("the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidNotebook("the file is not UTF-8 text") from None
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise InvalidNotebook(f"the file is not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("cells", raw.get("worksheets")), list):
        raise InvalidNotebook("the JSON is not a Jupyter notebook (no list of cells)")
    if raw.get("nbformat") != 4:
        try:   # older formats: let nbformat convert them
            import logging
            logging.getLogger("traitlets").setLevel(logging.CRITICAL)
            return nbformat.reads(text, as_version=4)
        except Exception as exc:  # nbformat raises many types for broken documents
            raise InvalidNotebook(f"nbformat cannot read it ({type(exc).__name__}: {exc})") from None
    # nbformat 4: normalise leniently (a notebook that only misses optional keys is still graded)
    for index, cell in enumerate(raw["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise InvalidNotebook(f"cell #{index} is not a valid cell")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise InvalidNotebook(f"cell #{index} has a source that is not text")
        cell["source"] = source
        if not isinstance(cell.setdefault("metadata", {}), dict):
            raise InvalidNotebook(f"cell #{index} has metadata that is not a mapping")
        if "id" in cell and not isinstance(cell["id"], str):
            del cell["id"]
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    if not isinstance(raw.setdefault("metadata", {}), dict):
        raw["metadata"] = {}
    raw.setdefault("nbformat_minor", 5)
    return nbformat.from_dict(raw)


class Release:
    """The released (student) version of one assignment: exercises/<name>.ipynb."""

    def __init__(self, name, path):
        self.name = name
        self.path = Path(path)
        self.nb = read_notebook(self.path)
        self.protected = {}     # cell id -> released cell (role setup/check)
        self.exercises = []     # [(exercise id, points, check cell id)] in notebook order
        for index, cell in enumerate(self.nb.cells):
            knobs = _knobs(cell)
            if knobs.get("role") not in PROTECTED_ROLES:
                continue
            cell_id = cell.get("id")
            if not cell_id or cell_id in self.protected:
                raise ValueError(f"{self.path}: protected cell #{index} has a missing or duplicate id")
            self.protected[cell_id] = cell
            if knobs["role"] == "check":
                if "exercise" not in knobs or "points" not in knobs:
                    raise ValueError(f"{self.path}: check cell {cell_id!r} lacks 'exercise' or 'points'")
                self.exercises.append((knobs["exercise"], knobs["points"], cell_id))
        ids = [ex for ex, _, _ in self.exercises]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{self.path}: an exercise has more than one check cell")
        self.max_score = sum(points for _, points, _ in self.exercises)


class Releases:
    """Lazy loader of the released notebooks of a folder."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.names = sorted(p.stem for p in self.folder.glob("*.ipynb"))
        self._cache = {}

    def get(self, name):
        if name not in self._cache:
            self._cache[name] = Release(name, self.folder / f"{name}.ipynb")
        return self._cache[name]

    def from_file_name(self, path):
        """The longest released assignment name that occurs in the file name, else None."""
        stem = Path(path).name.lower()
        hits = [name for name in self.names if name.lower() in stem]
        if hits:
            return max(hits, key=len)
        match = ASSIGNMENT_RE.search(stem)
        return match.group(0) if match else None


# ================================================================================================
# Restoring protected cells
# ================================================================================================

def _clear_outputs(cell):
    if cell.get("cell_type") == "code":
        cell["outputs"] = []
        cell["execution_count"] = None
    return cell


def restore(nb, release):
    """Return ``(working notebook, notes)``: ``nb`` with its setup/check cells restored.

    ``notes`` is a list of human-readable sentences about every repair made (for the feedback).
    """
    released = list(release.nb.cells)
    protected = release.protected
    order = {cell.get("id"): i for i, cell in enumerate(released) if cell.get("id")}
    # pass 1: match protected cells by id (first occurrence wins)
    cells = list(nb.cells)
    match = [None] * len(cells)          # released id this submitted cell stands for
    taken = set()
    for i, cell in enumerate(cells):
        cid = cell.get("id")
        if cid in protected and cid not in taken:
            match[i] = cid
            taken.add(cid)
    # pass 2: protected-looking cells whose id was lost -> same (role, exercise) in metadata
    by_key = {}
    for cid, cell in protected.items():
        knobs = _knobs(cell)
        by_key.setdefault((knobs.get("role"), knobs.get("exercise")), []).append(cid)
    for i, cell in enumerate(cells):
        knobs = _knobs(cell)
        if match[i] is None and cell.get("id") not in protected and knobs.get("role") in PROTECTED_ROLES:
            for cid in by_key.get((knobs.get("role"), knobs.get("exercise")), []):
                if cid not in taken:
                    match[i] = cid
                    taken.add(cid)
                    break
    notes = []
    out = []
    for i, cell in enumerate(cells):
        cid, knobs = cell.get("id"), _knobs(cell)
        if match[i] is not None:
            ref = protected[match[i]]
            role = _knobs(ref)["role"]
            if cell.get("cell_type") != ref.cell_type or cell.get("source") != ref.source:
                notes.append(f"The {role} cell `{match[i]}` had been changed; the released version was used.")
            out.append(_clear_outputs(copy.deepcopy(ref)))
        elif cid in protected:
            notes.append(f"A second copy of the {_knobs(protected[cid])['role']} cell `{cid}` was removed.")
        elif knobs.get("role") in PROTECTED_ROLES:
            notes.append(f"The cell `{cid}` claims the role '{knobs.get('role')}' but is not part of the "
                         f"released notebook; it was removed.")
        else:
            out.append(_clear_outputs(copy.deepcopy(cell)))
    # re-insert missing protected cells after the nearest preceding released cell still present
    for cid in [c.get("id") for c in released]:
        if cid not in protected or cid in taken:
            continue
        position = 0
        for prev in reversed(released[:order[cid]]):
            ids = [c.get("id") for c in out]
            if prev.get("id") in ids:
                position = ids.index(prev.get("id")) + 1
                break
        out.insert(position, _clear_outputs(copy.deepcopy(protected[cid])))
        taken.add(cid)
        notes.append(f"The {_knobs(protected[cid])['role']} cell `{cid}` was missing; the released "
                     f"version was re-inserted.")
    # unique ids for the working copy (protected ids are already unique)
    seen = set()
    for n, cell in enumerate(out):
        cid = cell.get("id")
        if not isinstance(cid, str) or not cid or cid in seen:
            cell["id"] = f"grader-cell-{n}"
        seen.add(cell["id"])
    work = copy.deepcopy(nb)
    work.cells = out
    work.nbformat, work.nbformat_minor = 4, max(5, int(nb.get("nbformat_minor", 5) or 5))
    work.metadata = copy.deepcopy(nb.get("metadata", {}))
    work.metadata["kernelspec"] = copy.deepcopy(release.nb.metadata.get("kernelspec", {
        "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}))
    return work, notes


# ================================================================================================
# The pytest plugin (runs inside the pytest subprocess, loaded with -p conv_lib.tools.grade)
# ================================================================================================

KERNEL_SETUP = r'''
def _conv_knobs_grader_setup(limit, mark):
    # Runs once, silently, in every grading kernel: caps the output one cell may produce.
    import contextlib
    import sys
    from IPython import get_ipython
    ip = get_ipython()
    state = {"used": 0, "cut": False}
    note = "\n%s: this cell produced more than %d characters of output\n" % (mark, limit)

    # IPython >= 9 "tees" stdout/stderr into the output history during every cell (keeping every
    # printed string in memory) and restores the stream's write method afterwards, which would also
    # undo our cap. Grading needs neither, so the tee is switched off.
    ip._tee = lambda channel: contextlib.nullcontext()

    def take(n):
        # -> (characters allowed, whether the limit was reached just now)
        if state["cut"]:
            return 0, False
        room = limit - state["used"]
        if n <= room:
            state["used"] += n
            return n, False
        state["used"], state["cut"] = limit, True
        return max(room, 0), True

    def size(data):
        try:
            return sum(len(v) if isinstance(v, (str, bytes)) else len(repr(v)) for v in data.values())
        except Exception:
            return 0

    def cap_stream(stream):
        write = stream.write
        if getattr(write, "_conv_knobs_cap", False):
            return
        def capped_write(text, *args, **kwargs):
            try:
                n = len(text)
            except TypeError:
                return write(text, *args, **kwargs)
            allowed, hit = take(n)
            if allowed == n and not hit:
                return write(text, *args, **kwargs)
            if allowed:
                write(text[:allowed])
            if hit:
                write(note)
            return n
        capped_write._conv_knobs_cap = True
        stream.write = capped_write

    def before_cell(*args, **kwargs):
        state["used"], state["cut"] = 0, False
        # get_ipython().set_custom_exc(...) would let a cell swallow the check's AssertionError
        ip.custom_exceptions = ()
        for stream in (sys.stdout, sys.stderr):
            try:
                cap_stream(stream)
            except Exception:
                pass

    ip.events.register("pre_execute", before_cell)

    pub = ip.display_pub
    publish = pub.publish
    def capped_publish(data, *args, **kwargs):
        allowed, hit = take(size(data) if isinstance(data, dict) else 0)
        if hit:
            return publish({"text/plain": note.strip()})
        if state["cut"]:
            return None
        return publish(data, *args, **kwargs)
    pub.publish = capped_publish

    hook = ip.displayhook
    write_format_data = hook.write_format_data
    def capped_write_format_data(format_dict, md_dict=None):
        allowed, hit = take(size(format_dict) if isinstance(format_dict, dict) else 0)
        if hit:
            return write_format_data({"text/plain": note.strip()}, {})
        if state["cut"]:
            return write_format_data({"text/plain": "..."}, {})
        return write_format_data(format_dict, md_dict)
    hook.write_format_data = capped_write_format_data

_conv_knobs_grader_setup(__LIMIT__, __MARK__)
del _conv_knobs_grader_setup
'''

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
        self._patch_nbval()
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

    # -- nbval patches ------------------------------------------------------------------------------
    def _patch_nbval(self):
        from queue import Empty

        from nbval import kernel as nbk
        from nbval import plugin as nbp

        plugin = self
        RunningKernel, IPyNbFile = nbk.RunningKernel, nbp.IPyNbFile
        orig_get_message = RunningKernel.get_message
        orig_interrupt, orig_stop = RunningKernel.interrupt, RunningKernel.stop
        orig_setup, orig_teardown = IPyNbFile.setup, IPyNbFile.teardown

        def alive(kernel):
            km = getattr(kernel, "km", None)
            try:
                return km is not None and km.is_alive()
            except Exception:
                return False

        def get_message(kernel, stream, timeout=None):
            # poll in short steps so that a dead kernel is noticed at once (nbval would otherwise
            # wait for the whole cell timeout)
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                step = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
                try:
                    msg = orig_get_message(kernel, stream, timeout=step)
                except Empty:
                    stopped = getattr(kernel, "_ck_stopped", False)
                    if not stopped and not alive(kernel):
                        kernel._ck_dead = True
                        plugin.state["dead"] = True
                        raise
                    if stopped or (deadline is not None and time.monotonic() >= deadline):
                        raise
                    continue
                if stream == "iopub":
                    plugin._cap_message(kernel, msg)
                return msg

        def interrupt(kernel):
            if alive(kernel):
                try:
                    orig_interrupt(kernel)
                except Exception:
                    pass

        def stop(kernel):
            kernel._ck_stopped = True
            try:
                orig_stop(kernel)
            except Exception:
                pass

        def setup(nbfile):
            try:
                orig_setup(nbfile)
            except BaseException as exc:
                plugin.state["kernel_error"] = f"{type(exc).__name__}: {exc}"
                raise
            plugin._kernel_started(nbfile)

        def teardown(nbfile):
            kernel = nbfile.kernel
            if kernel is not None:
                if getattr(kernel, "_ck_dead", False):
                    plugin.state["dead"] = True
                elif not getattr(kernel, "_ck_stopped", False) and not alive(kernel):
                    plugin.state["dead"] = True
                plugin.state["truncated"] |= bool(getattr(kernel, "_ck_truncated", False))
            plugin.state["cell_timeout"] |= bool(nbfile.timed_out)
            orig_teardown(nbfile)

        RunningKernel.get_message = get_message
        RunningKernel.interrupt = interrupt
        RunningKernel.stop = stop
        IPyNbFile.setup = setup
        IPyNbFile.teardown = teardown
        self._IPyNbCell = nbp.IPyNbCell

    def _kernel_started(self, nbfile):
        kernel = nbfile.kernel
        provisioner = getattr(kernel.km, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        pgid = getattr(provisioner, "pgid", None) or pid
        with self.lock:
            if self.current:
                self.current[2] = pgid
        self.emit(ev="kernel", nb=str(nbfile.path), pid=pid, pgid=pgid)
        code = KERNEL_SETUP.replace("__LIMIT__", str(self.output_limit)).replace("__MARK__", repr(TRUNCATION_MARK))
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


# ================================================================================================
# Running batches of notebooks (parent side)
# ================================================================================================

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
                result = _summarise(events)
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
                result = _summarise(events)
                result["seconds"] = round(event["t"] - events[0]["t"], 2)
                return result


class Runner:
    """Runs prepared notebooks on ``jobs`` persistent pytest processes; collects their results."""

    def __init__(self, workdir, *, jobs, cell_timeout, notebook_timeout, memory_bytes,
                 startup_grace=180.0, kill_grace=30.0, event_log=None):
        self.workdir = Path(workdir)
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
        ini = self.workdir / "pytest.ini"
        ini.write_text("[pytest]\naddopts =\n", encoding="utf-8")
        self.env = self._environment(ipython_dir)
        self.command = [
            sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "nbval.plugin",
            "-p", "conv_lib.tools.grade", "-c", str(ini), "--rootdir", str(self.workdir),
            "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout", str(cell_timeout),
            "--nbval-kernel-startup-timeout", "120", "-q", "--no-header", "-rN", "--color=no",
            "-p", "no:warnings"]
        self.startup_failures = 0
        self.lock = threading.Lock()

    def _environment(self, ipython_dir):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CONV_KNOBS_GRADE_"))}
        threads = str(max(1, _cpu_count() // self.jobs))
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
        return env

    def run(self, notebooks, progress=None):
        """``notebooks``: list of paths. Returns {path: result dict}; never raises for one notebook."""
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
                    finish(path, result)
            finally:
                proc.stop()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(self.jobs, len(pending)))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results


def _summarise(events):
    """Turn one notebook's events into {status, message, cells: {cell id: cell event}}."""
    cells = {}
    end = {}
    warnings = []
    for event in events:
        if event["ev"] == "cell" and event.get("id") is not None:
            cells.setdefault(event["id"], event)
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
        status, message = "kernel-died", where(first("kernel-died"), "killed the kernel (it exited or crashed)")
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
    return {"status": status, "message": message, "cells": cells, "warnings": warnings,
            "truncated": bool(end.get("truncated"))}


# ================================================================================================
# Submissions, gradebook and feedback
# ================================================================================================

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


def prepare(sub, releases, workdir, index, expected=None):
    """Recognise, restore and write the working copy; sets sub.status for rows that will not run."""
    try:
        nb = read_notebook(sub.path)
    except InvalidNotebook as exc:
        sub.status, sub.message = "invalid-notebook", str(exc)
        guess = releases.from_file_name(sub.path)
        if guess in releases.names:
            sub.assignment, sub.release = guess, releases.get(guess)
        return
    name = _knobs(nb).get("assignment")
    if not isinstance(name, str) or not name:
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
    folder = Path(workdir) / "notebooks" / f"{index:05d}"
    folder.mkdir(parents=True, exist_ok=True)
    sub.work_path = folder / f"{name}.ipynb"
    sub.work_path.write_text(json.dumps(work, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                             encoding="utf-8")


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
        return "not run", "The check did not run because the kernel had died earlier."
    if result == "memory-error":
        return "out of memory", text
    if ename == "NotImplementedError" or "not attempted" in evalue.lower():
        return "not attempted", text
    return "failed", text


def feedback_markdown(sub):
    lines = [f"# Feedback: {sub.assignment or 'unknown assignment'}", ""]
    lines.append(f"- Submission: `{sub.label}`")
    max_score = _fmt(sub.release.max_score) if sub.release is not None else "?"
    lines.append(f"- Score: **{_fmt(sub.score)} / {max_score}**")
    lines.append(f"- Status: `{sub.status}`: {sub.message or STATUS_TEXT.get(sub.status, '')}")
    lines.append("")
    cells = (sub.result or {}).get("cells", {})
    if sub.release is not None and sub.release.exercises:
        lines += ["| Exercise | Result | Points |", "|---|---|---|"]
        details = []
        for exercise, points, cell_id in sub.release.exercises:
            verdict, text = _cell_verdict(cells.get(cell_id)) if sub.result else (
                "not graded", "The notebook could not be run.")
            mark = "✓" if verdict == "passed" else "✗"
            lines.append(f"| {exercise} | {mark} {verdict} | {_fmt(sub.points.get(exercise, 0))} / {_fmt(points)} |")
            details.append((exercise, verdict, text, points))
        lines.append("")
        for exercise, verdict, text, points in details:
            lines.append(f"## {exercise}: {verdict} ({_fmt(sub.points.get(exercise, 0))} / {_fmt(points)})")
            lines.append("")
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


def grade(paths, *, out, feedback_dir=None, release_dir=DEFAULT_RELEASE, jobs=None, cell_timeout=120.0,
          notebook_timeout=600.0, memory_gib=4.0, expected=None, workdir=None, keep=False, quiet=True):
    """Grade submissions; write the gradebook (and feedback). Returns (header, rows)."""
    releases = Releases(release_dir)
    subs = [Submission(label, path) for label, path in find_submissions(paths)]
    tmp_owner = None
    if workdir is None:
        tmp_owner = tempfile.mkdtemp(prefix="conv-knobs-grade-")
        workdir = tmp_owner
    workdir = Path(workdir).resolve()
    try:
        for index, sub in enumerate(subs):
            try:
                prepare(sub, releases, workdir, index, expected)
            except Exception as exc:  # a broken release or an unexpected notebook shape
                sub.status, sub.message = "error", f"{type(exc).__name__}: {exc}"
        runnable = [s for s in subs if s.status is None and s.work_path is not None]
        if runnable:
            runner = Runner(workdir, jobs=jobs or _cpu_count(), cell_timeout=cell_timeout,
                            notebook_timeout=notebook_timeout, memory_bytes=int(memory_gib * (1 << 30)),
                            event_log=workdir / "events.jsonl" if keep else None)
            by_path = {s.work_path: s for s in runnable}

            def progress(path, result):
                if not quiet:
                    sub = by_path.get(path)
                    seconds = f"{result['seconds']:6.1f} s" if "seconds" in result else " " * 8
                    print(f"{result.get('status', '?'):17s}{seconds}  {sub.label if sub else path}",
                          file=sys.stderr)

            try:
                results = runner.run([s.work_path for s in runnable], progress=progress)
            except Exception as exc:  # never lose the rows: whatever ran is reported below
                results = getattr(runner, "partial_results", {})
                print(f"grader failure: {type(exc).__name__}: {exc}", file=sys.stderr)
            for sub in runnable:
                result = results.get(sub.work_path) or {"status": "error", "cells": {},
                                                        "message": "no result was recorded"}
                sub.result = result
                sub.status, sub.message = result["status"], result.get("message", "")
        for sub in subs:
            score(sub)
        header, rows = write_gradebook(subs, out)
        if feedback_dir:
            folder = Path(feedback_dir)
            folder.mkdir(parents=True, exist_ok=True)
            names = feedback_names(subs)
            for sub in subs:
                try:
                    text = feedback_markdown(sub)
                except Exception as exc:  # a feedback bug must not cost the other files
                    text = f"# Feedback\n\n- Submission: `{sub.label}`\n- Status: `{sub.status}`\n\n" \
                           f"(feedback could not be rendered: {type(exc).__name__}: {exc})\n"
                (folder / names[sub.label]).write_text(text, encoding="utf-8")
        return header, rows
    finally:
        if tmp_owner and not keep:
            shutil.rmtree(tmp_owner, ignore_errors=True)


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m conv_lib.grade",
                                     description="Autograde exercise notebooks with nbval.")
    parser.add_argument("submissions", nargs="+", help="notebook files or folders (searched recursively)")
    parser.add_argument("--out", required=True, help="gradebook CSV to write")
    parser.add_argument("--feedback-dir", help="write one Markdown feedback file per submission here")
    parser.add_argument("--release", default=str(DEFAULT_RELEASE),
                        help="folder of released notebooks (default: %(default)s)")
    parser.add_argument("--assignment", help="expected assignment; other notebooks get 'wrong-assignment'")
    parser.add_argument("--jobs", type=int, default=_cpu_count(), help="parallel pytest processes "
                        "(default: number of CPUs, %(default)s)")
    parser.add_argument("--cell-timeout", type=float, default=120.0, help="seconds per cell (default 120)")
    parser.add_argument("--notebook-timeout", type=float, default=600.0,
                        help="seconds per notebook, kernel start included (default 600)")
    parser.add_argument("--memory", type=float, default=4.0,
                        help="address-space limit (RLIMIT_AS) per kernel in GiB (default 4; 0 = unlimited; "
                             "torch + jax + flax + matplotlib need about 2.1 GiB of it)")
    parser.add_argument("--keep-workdir", metavar="DIR", help="run in DIR and keep the repaired copies and the event log (DIR/events.jsonl)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    if not Path(args.release).is_dir():
        parser.error(f"--release {args.release!r} is not a folder")
    if args.keep_workdir:
        Path(args.keep_workdir).mkdir(parents=True, exist_ok=True)
    if not find_submissions(args.submissions):
        print("no notebooks found in " + " ".join(args.submissions), file=sys.stderr)
        return 1
    started = time.monotonic()
    header, rows = grade(args.submissions, out=args.out, feedback_dir=args.feedback_dir,
                         release_dir=args.release, jobs=args.jobs, cell_timeout=args.cell_timeout,
                         notebook_timeout=args.notebook_timeout, memory_gib=args.memory,
                         expected=args.assignment, workdir=args.keep_workdir, keep=bool(args.keep_workdir),
                         quiet=args.quiet)
    counts = {}
    for row in rows:
        counts[row[-1]] = counts.get(row[-1], 0) + 1
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"graded {len(rows)} submission(s) in {time.monotonic() - started:.1f} s -> {args.out} ({summary})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
