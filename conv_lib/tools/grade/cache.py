"""Incremental regrading (``--cache DIR``): a notebook that has been graded is not run again.

A run's result (the per-cell outcomes the runner reports, before scoring) is stored under the
SHA-256 of the submitted notebook's bytes together with the grader version, and tagged with the
*exercise set* it was graded against: the released notebook plus the source of the checks. A
cached result is reused when all three still match, so re-running the grader after late
submissions arrive runs only the new (or re-submitted) notebooks.

``--only EXERCISE`` (e.g. after fixing one check) re-runs every notebook of that exercise's
assignment but takes only that exercise's check cell from the new run: every other exercise keeps
its cached outcome, even though the exercise set changed with the fixed check. The merged result
is stored under the new exercise set.

Entries are small JSON files (``DIR/ab/abcdef....json``, one per notebook content, the latest
grading wins), written atomically, so an interrupted run never leaves a half-written entry. An entry
that no longer applies is counted as stale, with the reason (grader or checks changed), so the
summary line says why notebooks ran again.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
GRADE_PACKAGE = Path(__file__).resolve().parent
# modules that only shape the outputs: editing them does not change any grade
OUTPUT_ONLY = {"cache.py", "exports.py", "report.py", "results_json.py", "roster.py", "late.py",
               "classroom.py", "dask_backend.py", "feedback.py", "cli.py", "__main__.py"}


def _digest(paths, extra=b""):
    h = hashlib.sha256(extra)
    for path in paths:
        h.update(str(path.name).encode() + b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def grader_version():
    """Hash of the grader modules that decide a notebook's outcome (not the report writers)."""
    files = sorted(p for p in GRADE_PACKAGE.glob("*.py") if p.name not in OUTPUT_ONLY)
    single = GRADE_PACKAGE.parent / "grade.py"   # before the package split
    if not files and single.is_file():
        files = [single]
    return _digest(files)[:16]


def checks_sources(assignment=None):
    """The check modules an assignment's checks run: the shared ones (``_*.py``, ``__init__.py``)
    and ``exNN.py`` of the assignment ``exNN-...`` (every module when ``assignment`` is None)."""
    folder = ROOT / "conv_lib" / "course" / "checks"
    files = sorted(folder.glob("*.py")) if folder.is_dir() else []
    if assignment:
        own = assignment.split("-", 1)[0] + ".py"
        files = [f for f in files if f.name.startswith("_") or f.name == own]
    single = folder.with_suffix(".py")   # before the checks became a package
    return files + ([single] if single.is_file() else [])


def exercise_set(release_path):
    """Hash of a released notebook together with the check modules it uses.

    A release whose protected cells never mention ``conv_lib.course`` (e.g. a course's own
    assignment with its checks in the setup cell) depends on the notebook only.
    """
    release_path = Path(release_path)
    text = release_path.read_text(encoding="utf-8", errors="replace")
    files = checks_sources(release_path.stem) if "conv_lib.course" in text else []
    return _digest([release_path] + files)[:16]


def notebook_hash(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class ResultCache:
    def __init__(self, folder, version=None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.version = version or grader_version()
        self.hits = self.misses = 0
        self.stale = {}   # reason -> count of entries that no longer applied

    def _path(self, content_hash):
        return self.folder / content_hash[:2] / f"{content_hash}.json"

    def entry(self, content_hash):
        """The stored entry ({version, exercise_set, result, ...}) of this notebook, or None."""
        path = self._path(content_hash)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def get(self, content_hash, exercise_set_hash):
        """The cached result if the same grader graded it against the same exercise set, else None."""
        entry = self.entry(content_hash)
        if entry is not None and entry.get("version") == self.version and \
                entry.get("exercise_set") == exercise_set_hash:
            self.hits += 1
            return entry["result"]
        self.misses += 1
        if entry is not None:
            reason = "grader changed" if entry.get("version") != self.version else "release or checks changed"
            self.stale[reason] = self.stale.get(reason, 0) + 1
        return None

    def put(self, content_hash, exercise_set_hash, result, **info):
        path = self._path(content_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        entry = dict(info, exercise_set=exercise_set_hash, version=self.version, result=result)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(entry, handle, default=str)
        os.replace(tmp, path)


def merge_only(new_result, old_result, keep_cell_ids):
    """``new_result`` with the cells in ``keep_cell_ids`` taken from ``old_result`` (for --only).

    ``keep_cell_ids``: the check cells of the exercises that are *not* being regraded.
    """
    merged = dict(new_result)
    cells = dict(new_result.get("cells") or {})
    old_cells = (old_result or {}).get("cells") or {}
    for cell_id in keep_cell_ids:
        if cell_id in old_cells:
            cells[cell_id] = old_cells[cell_id]
        else:
            cells.pop(cell_id, None)
    merged["cells"] = cells
    return merged
