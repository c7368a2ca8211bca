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
   every notebook gets its own, fresh kernel. The pytest plugin
   (``-p conv_lib.tools.grade.plugin``): inside the pytest process it limits memory (RLIMIT_AS, inherited by the
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


# The package is imported in three processes (the command line, each pytest worker, each kernel),
# so its names are loaded lazily: a kernel that imports ``kernel_setup`` loads nothing else.
_EXPORTS = {
    "main": "cli", "grade": "cli", "find_submissions": "cli", "prepare": "cli",
    "InvalidNotebook": "release", "read_notebook": "release", "Release": "release",
    "Releases": "release", "restore": "release",
    "Submission": "gradebook", "score": "gradebook", "gradebook_rows": "gradebook",
    "write_gradebook": "gradebook",
    "feedback_markdown": "feedback", "feedback_names": "feedback",
    "Runner": "runner", "summarise": "runner",
    "STATUS_TEXT": "config", "DEFAULT_RELEASE": "config", "cpu_count": "config",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
