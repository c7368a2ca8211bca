"""Who the students are and which notebook belongs to whom.

A roster is a CSV file with one row per student. Its header names the columns (any order, case
and spacing ignored); only the student id is required:

| column | also accepted as |
| --- | --- |
| ``id`` | ``student``, ``student_id``, ``username``, ``login`` |
| ``name`` | ``full_name``, ``student_name`` (or ``first_name`` + ``last_name``) |
| ``email`` | ``e-mail``, ``mail`` |
| ``section`` | ``group``, ``class`` |
| ``canvas_id`` | Canvas's numeric user ``ID`` column (for the Canvas export) |
| ``sis_login`` | ``sis_login_id`` (for the Canvas export; default: the e-mail) |

Submission layouts (``layout="auto"`` picks the first that fits each folder given):

- ``nbgrader``: ``submitted/<student>/<assignment>/<notebook>.ipynb`` (+ ``timestamp.txt``), the
  folder given being ``submitted/`` or the course folder that contains it;
- ``folders``: one folder per student, ``<student>/.../<notebook>.ipynb``;
- ``pattern``: the student (and optionally the assignment) in the file name, described by a
  pattern such as ``{student}_{assignment}.ipynb`` or ``{student}_{*}.ipynb`` (``{*}`` matches
  anything); with a roster and no pattern, a file name containing a roster id is matched to it.
"""
from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

ALIASES = {
    "id": ("id", "student", "student_id", "studentid", "username", "user", "login", "student_number"),
    "name": ("name", "full_name", "student_name", "fullname"),
    "first_name": ("first_name", "given_name", "firstname"),
    "last_name": ("last_name", "family_name", "surname", "lastname"),
    "email": ("email", "e-mail", "mail", "email_address"),
    "section": ("section", "group", "class", "section_name"),
    "canvas_id": ("canvas_id", "canvas_user_id"),
    "sis_login": ("sis_login", "sis_login_id"),
}
LAYOUTS = ("auto", "nbgrader", "folders", "pattern")


@dataclass(frozen=True)
class Student:
    id: str
    name: str = ""
    email: str = ""
    section: str = ""
    canvas_id: str = ""
    sis_login: str = ""


@dataclass
class Roster:
    students: list = field(default_factory=list)

    def __post_init__(self):
        self._by_key = {}
        for student in self.students:
            for key in (student.id, student.email, student.email.split("@")[0] if student.email else ""):
                if key:
                    self._by_key.setdefault(key.casefold(), student)

    def __len__(self):
        return len(self.students)

    def find(self, key):
        """The student whose id, e-mail or e-mail user name is ``key`` (case-insensitive), else None."""
        return self._by_key.get(str(key).casefold()) if key else None

    def find_in_name(self, file_name):
        """The student whose id occurs in ``file_name`` as a whole word (longest id wins), else None."""
        stem = Path(file_name).name.casefold()
        hits = [s for s in self.students
                if re.search(rf"(?<![a-z0-9]){re.escape(s.id.casefold())}(?![a-z0-9])", stem)]
        return max(hits, key=lambda s: len(s.id)) if hits else None


def _normalise(header):
    return re.sub(r"[\s\-]+", "_", header.strip().lower()).replace("e_mail", "email")


def read_roster(path):
    """Read a roster CSV; raise ValueError naming the file for a missing id column or duplicate ids."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {}
        for header in reader.fieldnames or []:
            norm = _normalise(header)
            for field_name, names in ALIASES.items():
                if norm in names and field_name not in columns:
                    columns[field_name] = header
        # Canvas's own export: Student (the name), ID (Canvas's user id), SIS User ID, SIS Login ID
        names = [h.strip() for h in reader.fieldnames or []]
        if "SIS User ID" in names and "Student" in names:
            columns.update(id="SIS User ID", name="Student")
            if "ID" in names:
                columns["canvas_id"] = "ID"
            if "SIS Login ID" in names:
                columns["sis_login"] = "SIS Login ID"
        if "id" not in columns:
            raise ValueError(f"roster {path}: no student id column (one of {', '.join(ALIASES['id'])}); "
                             f"the columns are {reader.fieldnames}")
        students, seen = [], set()
        for line, row in enumerate(reader, start=2):
            sid = (row.get(columns["id"]) or "").strip()
            if not sid:
                continue
            if sid.casefold() in seen:
                raise ValueError(f"roster {path}, line {line}: student id {sid!r} appears twice")
            seen.add(sid.casefold())

            def get(name):
                return (row.get(columns[name]) or "").strip() if name in columns else ""
            name = get("name") or " ".join(p for p in (get("first_name"), get("last_name")) if p)
            students.append(Student(sid, name, get("email"), get("section"), get("canvas_id"),
                                    get("sis_login")))
    return Roster(students)


@dataclass
class Found:
    """A notebook found in a submissions folder and what its location says about it."""
    path: Path
    student_key: str = ""          # id/folder name as found (matched against the roster later)
    assignment_hint: str = ""      # from nbgrader's folder or the pattern; the grader confirms it
    layout: str = ""
    timestamp_dir: Path | None = None


def _notebooks(folder):
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".ipynb") and not name.startswith("."):
                yield Path(root) / name


def compile_pattern(pattern):
    """``{student}_{assignment}.ipynb`` -> a regex with named groups, matched against file names."""
    if "{student}" not in pattern:
        raise ValueError(f"--name-pattern {pattern!r} must contain {{student}}")
    out, pos = [], 0
    for match in re.finditer(r"\{(student|assignment|\*)\}", pattern):
        out.append(re.escape(pattern[pos:match.start()]))
        kind = match.group(1)
        out.append(".*?" if kind == "*" else f"(?P<{kind}>[^/]+?)")
        pos = match.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out) + r"\Z", re.IGNORECASE)


def discover(roots, *, layout="auto", pattern=None, roster=None):
    """Every notebook under ``roots`` (files or folders) as a ``Found``, sorted by path."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout {layout!r} is not one of {', '.join(LAYOUTS)}")
    if layout == "pattern" and not pattern:
        raise ValueError("layout 'pattern' needs --name-pattern, e.g. '{student}_{assignment}.ipynb'")
    regex = compile_pattern(pattern) if pattern else None
    found = {}
    for root in map(Path, roots):
        if root.is_file():
            found.setdefault(root.resolve(), _by_name(root, regex, roster, "pattern" if regex else "file"))
            continue
        kind = layout
        submitted = root if root.name == "submitted" else root / "submitted"
        if kind == "auto":
            kind = ("nbgrader" if submitted.is_dir() else "pattern" if regex else "folders")
        if kind == "nbgrader":
            for path in _notebooks(submitted):
                parts = path.relative_to(submitted).parts
                if len(parts) >= 3:
                    found.setdefault(path.resolve(), Found(path, parts[0], parts[1], "nbgrader",
                                                           submitted / parts[0] / parts[1]))
            continue
        for path in _notebooks(root):
            rel = path.relative_to(root).parts
            if kind == "folders" and len(rel) >= 2 and not regex:
                found.setdefault(path.resolve(), Found(path, rel[0], "", "folders"))
            else:
                found.setdefault(path.resolve(), _by_name(path, regex, roster, kind))
    return sorted(found.values(), key=lambda f: str(f.path))


def _by_name(path, regex, roster, layout):
    if regex is not None:
        match = regex.match(path.name)
        if match:
            groups = match.groupdict()
            return Found(path, groups.get("student") or "", groups.get("assignment") or "", "pattern")
        return Found(path, "", "", "pattern")
    if roster is not None:
        student = roster.find_in_name(path.name)
        if student is not None:
            return Found(path, student.id, "", "file name")
    return Found(path, "", "", layout)
