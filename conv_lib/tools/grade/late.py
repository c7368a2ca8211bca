"""Late policy: deadlines, a penalty per day (or hour) late, a cap and a grace period.

    --deadline 2026-12-01T23:59+01:00              one deadline for every assignment
    --deadline ex04-padding=2026-12-08T23:59Z      a deadline for one assignment (repeatable)
    --late-penalty "10%/day, cap 50%, grace 15min"

A submission ``t`` seconds after its deadline is late when ``t > grace``; it then loses
``per_unit * ceil(t / unit)`` of its score (``unit`` is a day or an hour), at most ``cap``
(``cap 100%`` lets a late submission reach zero). The grace period only decides *whether* a
submission is late; once late, the lateness is counted from the deadline itself.

Submission times come from the ``timestamp.txt`` that nbgrader writes next to a submission
(e.g. ``2026-12-01 23:58:02.531 UTC`` or ``2026-12-01 23:58:02 America/New_York``); without one,
the notebook file's modification time is used (and the feedback says so). Times without a time
zone are taken as UTC.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

TIMESTAMP_FILE = "timestamp.txt"
_UNITS = {"s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60, "minutes": 60,
          "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400, "days": 86400}


def parse_time(text, *, what="time"):
    """An aware datetime from ISO-8601 text, an nbgrader timestamp, or ``... <IANA zone>``.

    Naive times are taken as UTC. Raises ValueError naming ``what`` and the text.
    """
    raw = str(text).strip()
    body, zone = raw, None
    parts = raw.rsplit(" ", 1)
    if len(parts) == 2 and re.fullmatch(r"[A-Za-z_]+(?:/[A-Za-z_+-]+)*", parts[1]):
        body, zone = parts
    try:
        when = datetime.fromisoformat(body.replace("Z", "+00:00"))
    except ValueError:
        try:
            from dateutil import parser as dateutil_parser
            when = dateutil_parser.parse(body)
        except Exception:
            raise ValueError(f"{what} {raw!r} is not a date and time such as 2026-12-01T23:59:00+00:00") from None
    if zone and when.tzinfo is None:
        if zone.upper() in ("UTC", "GMT", "Z"):
            when = when.replace(tzinfo=timezone.utc)
        else:
            try:
                from zoneinfo import ZoneInfo
                when = when.replace(tzinfo=ZoneInfo(zone))
            except Exception:
                raise ValueError(f"{what} {raw!r} names an unknown time zone {zone!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when


def _duration(text, what):
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", text.lower())
    if not match or (match.group(2) or "s") not in _UNITS:
        raise ValueError(f"{what} {text!r} is not a duration such as 15min, 2h or 1d")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])


def _percent(text, what):
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%?\s*", text)
    value = float(match.group(1)) / 100 if match else -1.0
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} {text!r} is not a percentage between 0% and 100%")
    return value


@dataclass(frozen=True)
class Lateness:
    """How late one submission is and what it costs."""
    submitted_at: datetime | None
    source: str                 # "timestamp.txt", "file time" or "" when unknown
    deadline: datetime | None
    seconds_late: float = 0.0   # > 0 only when late (after the grace period)
    units_late: int = 0         # whole days (or hours) late, rounded up
    penalty: float = 0.0        # fraction of the score taken away, 0..cap

    @property
    def late(self):
        return self.seconds_late > 0

    def as_dict(self):
        return {"submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
                "source": self.source, "deadline": self.deadline.isoformat() if self.deadline else None,
                "late": self.late, "seconds_late": round(self.seconds_late, 1),
                "units_late": self.units_late, "penalty": round(self.penalty, 6)}


@dataclass(frozen=True)
class LatePolicy:
    """Deadlines (``None`` key: every assignment) and the penalty rule."""
    deadlines: dict = field(default_factory=dict)
    per_unit: float = 0.0
    unit_seconds: int = 86400
    cap: float = 1.0
    grace: timedelta = timedelta(0)

    @classmethod
    def parse(cls, deadline_args=(), penalty=None):
        """Build a policy from ``--deadline`` values and a ``--late-penalty`` text."""
        deadlines = {}
        for arg in deadline_args or ():
            name, sep, when = str(arg).partition("=")
            if sep and re.fullmatch(r"ex\d\d[-a-z0-9]*", name.strip()):
                deadlines[name.strip()] = parse_time(when, what=f"--deadline for {name.strip()}")
            else:
                deadlines[None] = parse_time(arg, what="--deadline")
        kwargs = {}
        if penalty:
            for piece in re.split(r"[,;]", penalty):
                piece = piece.strip().lower()
                if not piece:
                    continue
                rate = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%?\s*(?:/|per\s+)\s*(day|hour|d|h)", piece)
                cap = re.fullmatch(r"(?:cap|max)\s*[= ]?\s*(.+)", piece)
                grace = re.fullmatch(r"grace\s*[= ]?\s*(.+)", piece)
                if rate:
                    kwargs["per_unit"] = _percent(rate.group(1), "--late-penalty rate")
                    kwargs["unit_seconds"] = 3600 if rate.group(2).startswith("h") else 86400
                elif cap:
                    kwargs["cap"] = _percent(cap.group(1), "--late-penalty cap")
                elif grace:
                    kwargs["grace"] = _duration(grace.group(1), "--late-penalty grace")
                else:
                    raise ValueError(f"--late-penalty part {piece!r} is not understood; use e.g. "
                                     f"'10%/day, cap 50%, grace 15min'")
            if "per_unit" not in kwargs:
                raise ValueError(f"--late-penalty {penalty!r} names no rate such as 10%/day")
        return cls(deadlines=deadlines, **kwargs)

    @property
    def active(self):
        return bool(self.deadlines)

    def deadline(self, assignment):
        return self.deadlines.get(assignment, self.deadlines.get(None))

    def assess(self, assignment, submitted_at, source=""):
        deadline = self.deadline(assignment)
        if deadline is None or submitted_at is None:
            return Lateness(submitted_at, source, deadline)
        seconds = (submitted_at - deadline).total_seconds()
        if seconds <= self.grace.total_seconds() or seconds <= 0:
            return Lateness(submitted_at, source, deadline)
        units = math.ceil(seconds / self.unit_seconds)
        return Lateness(submitted_at, source, deadline, seconds, units, min(self.cap, self.per_unit * units))

    def describe(self):
        if not self.active:
            return "no deadline"
        unit = "day" if self.unit_seconds == 86400 else "hour"
        text = f"{self.per_unit:.0%} per {unit} late (started {unit}s count), at most {self.cap:.0%}"
        if self.grace:
            text += f", grace period {self.grace}"
        return text


def apply_penalty(raw_score, lateness):
    """Score after the late penalty, rounded to 0.01."""
    return round(raw_score * (1.0 - lateness.penalty), 2)


def submission_time(notebook_path, timestamp_dir=None):
    """``(aware datetime, source)``: nbgrader's timestamp.txt if there is one, else the file time.

    ``timestamp_dir``: folder to look in (default: the notebook's folder).
    """
    path = Path(notebook_path)
    stamp = Path(timestamp_dir or path.parent) / TIMESTAMP_FILE
    if stamp.is_file():
        text = stamp.read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return parse_time(text.splitlines()[0], what=str(stamp)), TIMESTAMP_FILE
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc), "file time"
    except OSError:
        return None, ""
