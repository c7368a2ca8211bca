"""The exercise notebooks' metadata, read in one place (grader and exercise generator).

Every exercise notebook carries ``metadata.conv_knobs``:

- on the notebook: ``{"assignment": "ex04-padding", "chapter": 4}``;
- on a cell: ``{"exercise": "ex04-reflect", "role": "answer", "points": 2}`` where ``role`` is one of
  ``ROLES``; check cells carry ``points``; setup and check cells are the *protected* ones (the
  grader restores them from the release, the generator copies them byte for byte).

The accessors accept nbformat nodes or plain dicts and never raise on odd metadata: a value of the
wrong type reads as absent.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

KEY = "conv_knobs"
ROLES = ("setup", "prompt", "answer", "check", "explanation")
PROTECTED_ROLES = ("setup", "check")
ASSIGNMENT_RE = re.compile(r"ex\d\d-[a-z0-9]+(?:-[a-z0-9]+)*")


def knobs(cell_or_nb: Any) -> dict:
    """``metadata.conv_knobs`` of a cell or notebook as a dict ({} when absent or malformed)."""
    meta = cell_or_nb.get("metadata", {}) if isinstance(cell_or_nb, Mapping) else {}
    value = meta.get(KEY) if isinstance(meta, Mapping) else None
    return value if isinstance(value, dict) else {}


def role(cell: Any) -> str | None:
    """The cell's role ("setup", "answer", "check", ...) or None."""
    value = knobs(cell).get("role")
    return value if isinstance(value, str) else None


def exercise(cell: Any) -> str | None:
    """The exercise id a cell belongs to (e.g. "ex04-reflect") or None."""
    value = knobs(cell).get("exercise")
    return value if isinstance(value, str) and value else None


def points(cell: Any) -> float | None:
    """The points of a check cell or None."""
    value = knobs(cell).get("points")
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def is_protected(cell: Any) -> bool:
    """Setup and check cells: restored by the grader, released unchanged by the generator."""
    return role(cell) in PROTECTED_ROLES


def assignment(nb: Any) -> str | None:
    """The assignment a notebook belongs to (``metadata.conv_knobs.assignment``) or None."""
    value = knobs(nb).get("assignment")
    return value if isinstance(value, str) and value else None
