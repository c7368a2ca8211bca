"""Constants shared by the grader's processes: statuses, limits, environment variable names.

Imported by the command line (parent process), the pytest plugin (worker process) and the
kernel-side setup (kernel process), so it imports nothing but the standard library.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_RELEASE = ROOT / "exercises"

STATUS_TEXT = {
    "ok": "the notebook ran to the end",
    "output-truncated": "the notebook printed too much; output beyond the limit was discarded",
    "memory-error": "a cell ran out of memory (the grader limits each kernel's address space)",
    "kernel-died": "the Python kernel died (os._exit, a crash or a kill); the grader restarted it, "
                   "re-ran the setup cells and went on with the next exercise",
    "timeout": "a cell ran longer than the cell time limit or the notebook exceeded its time limit",
    "tampered": "the notebook altered the checks or the machinery they rely on; the affected checks "
                "earn no points",
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
ENV_SANDBOX = "CONV_KNOBS_GRADE_SANDBOX"          # JSON: how to wrap each kernel (see sandbox.py)
# read by the checks in the kernel (conv_lib.course.checks._harness.case_rng)
ENV_CHECK_SEED = "CONV_KNOBS_CHECK_SEED"

CELL_OUTPUT_LIMIT = 1_000_000      # characters a kernel may send per cell (stdout+stderr+display)
NOTEBOOK_OUTPUT_LIMIT = 8_000_000  # characters the pytest process keeps per notebook
LOG_HEAD = LOG_TAIL = 32_768       # bytes of a pytest process's own stdout/stderr kept
MESSAGE_LIMIT = 6_000              # characters of an error message kept for feedback
TRUNCATION_MARK = "[grader] output truncated"
MAX_NOTEBOOK_BYTES = 100 << 20     # larger files are not read


def cpu_count() -> int:
    """CPUs this process may use: the library's one worker count (``conv_lib._engine.WORKERS``)."""
    from conv_lib._engine import WORKERS
    return WORKERS
