"""Per-submission results as JSON (``--json-dir DIR``): one file per graded submission.

``DIR/<student>--<assignment>.json`` (submissions without a rostered student are named after
their file) holds one *record*, the same dict every other output is made from::

    {"schema": 1, "student": "s001", "name": ..., "email": ..., "section": ...,
     "assignment": "ex02-output-shape", "submission": "submitted/s001/ex02.../ex02-output-shape.ipynb",
     "status": "ok", "message": "", "raw_score": 10, "max_score": 12, "score": 9.0,
     "late": {"submitted_at": ..., "source": "timestamp.txt", "deadline": ..., "late": true,
              "seconds_late": 4000.0, "units_late": 1, "penalty": 0.1},
     "exercises": [{"exercise": "ex02-56x56", "points": 2, "max_points": 2, "status": "passed",
                    "parts": [["out_plain", true], ...], "diagnoses": [], "message": "...",
                    "seconds": 0.41}, ...],
     "timings": {"total": 7.9, "kernel": 0.9, "setup": 2.7, "cells": 1.2, "checks": 3.1},
     "notes": [...], "cached": false, "grader": {"version": ..., "seed": ...}}

``status`` of an exercise: passed, failed, not-attempted, timeout, kernel-died, not-run,
memory-error, forbidden, check-bug, not-graded (the notebook did not run) or missing.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

SCHEMA = 1


def file_name(record):
    """A file name that identifies the record and is safe on every file system."""
    who = record.get("student") or Path(record.get("submission") or "submission").stem
    base = f"{who}--{record.get('assignment') or 'unknown'}"
    return re.sub(r"[^A-Za-z0-9._@-]+", "_", base).strip("._") + ".json"


def write_records(records, folder):
    """Write one JSON file per submitted record; return the paths written (missing ones skipped)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    for record in records:
        if record.get("status") == "missing":
            continue
        name = file_name(record)
        stem, n = name[:-5], 1
        while name in used:
            n += 1
            name = f"{stem}-{n}.json"
        used.add(name)
        path = folder / name
        tmp = path.with_name(name + ".tmp")
        tmp.write_text(json.dumps(dict(record, schema=SCHEMA), indent=1, sort_keys=True,
                                  ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        written.append(path)
    return written


def read_records(folder):
    """The records of a ``--json-dir`` folder (e.g. to rebuild a report)."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(folder).glob("*.json"))]
