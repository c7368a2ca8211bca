"""Released notebooks and the restoration of a submission's protected cells.

``read_notebook`` reads a submission leniently (clear ``InvalidNotebook`` reasons); ``Release`` is
the released notebook of one assignment (its protected cells and exercises); ``restore`` puts the
released setup and check cells back into a submission. Old setup cells (for example one that says
``from conv_lib import checks``) are replaced by the released ones like any edited setup cell.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from conv_lib.tools import notebook_meta as meta
from conv_lib.tools.grade.config import MAX_NOTEBOOK_BYTES

PROTECTED_ROLES = meta.PROTECTED_ROLES
ASSIGNMENT_RE = meta.ASSIGNMENT_RE


class InvalidNotebook(Exception):
    """The file cannot be read as a notebook."""


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
            knobs = meta.knobs(cell)
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
        knobs = meta.knobs(cell)
        by_key.setdefault((knobs.get("role"), knobs.get("exercise")), []).append(cid)
    for i, cell in enumerate(cells):
        knobs = meta.knobs(cell)
        if match[i] is None and cell.get("id") not in protected and knobs.get("role") in PROTECTED_ROLES:
            for cid in by_key.get((knobs.get("role"), knobs.get("exercise")), []):
                if cid not in taken:
                    match[i] = cid
                    taken.add(cid)
                    break
    notes = []
    out = []
    for i, cell in enumerate(cells):
        cid, knobs = cell.get("id"), meta.knobs(cell)
        if match[i] is not None:
            ref = protected[match[i]]
            role = meta.knobs(ref)["role"]
            if cell.get("cell_type") != ref.cell_type or cell.get("source") != ref.source:
                notes.append(f"The {role} cell `{match[i]}` had been changed; the released version was used.")
            out.append(_clear_outputs(copy.deepcopy(ref)))
        elif cid in protected:
            notes.append(f"A second copy of the {meta.knobs(protected[cid])['role']} cell `{cid}` was removed.")
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
        notes.append(f"The {meta.knobs(protected[cid])['role']} cell `{cid}` was missing; the released "
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
