"""The class report (``--report DIR``): what the class got right, where it went wrong, how long it took.

Writes into ``DIR``:

- ``report.html``: one self-contained, offline page (plots embedded as PNG data URIs, no scripts,
  no external links): summary, score distribution, per-exercise outcome rates, the most common
  diagnosed mistakes per exercise with counts and one example message, failing and slowest
  submissions, and grading time;
- the same plots as ``scores.png``, ``outcomes.png``, ``mistakes.png`` and ``timing.png``;
- ``summary.md``: a short Markdown summary to paste into an e-mail.

Everything is computed from the records (see ``results_json``), so a report can be rebuilt from a
``--json-dir`` folder without grading again.
"""
from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter, defaultdict
from pathlib import Path

OUTCOMES = [  # (label, exercise statuses, colour)
    ("passed", {"passed"}, "#2e7d32"),
    ("partly passed", {"partial"}, "#9ccc65"),
    ("failed", {"failed", "forbidden"}, "#e53935"),
    ("not attempted", {"not-attempted"}, "#bdbdbd"),
    ("crashed", {"kernel-died", "memory-error", "not-run", "not-graded", "check-bug", "error"}, "#6d4c41"),
    ("timed out", {"timeout"}, "#fb8c00"),
    ("tampered", {"tampered"}, "#8e24aa"),
]
TIMING_PARTS = [("kernel", "kernel start"), ("setup", "imports (setup cell)"), ("cells", "student cells"),
                ("checks", "check cells")]


def outcome(status, parts=None):
    if status == "failed" and parts and any(ok for _, ok in parts):
        status = "partial"
    for label, statuses, _ in OUTCOMES:
        if status in statuses:
            return label
    return "crashed"


def summarise(records, wall_seconds=None):
    """Every number the report shows, as plain data (the tests read it too)."""
    submitted = [r for r in records if r["status"] != "missing"]
    students = sorted({r["student"] for r in records if r.get("student")})
    per_exercise = defaultdict(Counter)
    max_points = {}
    mistakes = defaultdict(Counter)
    headlines = defaultdict(Counter)   # failures the checks gave no diagnosis id: first message line
    examples = {}
    for record in submitted:
        for ex in record.get("exercises", []):
            name = ex["exercise"]
            max_points[name] = ex.get("max_points")
            per_exercise[name][outcome(ex.get("status"), ex.get("parts"))] += 1
            for diagnosis in ex.get("diagnoses") or []:
                mistakes[name][diagnosis] += 1
                examples.setdefault(diagnosis, (ex.get("message") or "").strip().splitlines()[:1])
            if ex.get("status") == "failed" and not ex.get("diagnoses"):
                headline = (ex.get("message") or "").strip().splitlines()[:1]
                if headline:   # "<exercise>: <what is wrong>" -> what is wrong
                    headlines[name][headline[0].split(": ", 1)[-1][:120]] += 1
    percents = [100.0 * r["score"] / r["max_score"] for r in submitted
                if r.get("max_score") and r.get("score") is not None]
    seconds = [r["timings"]["total"] for r in submitted if (r.get("timings") or {}).get("total")]
    timing = {key: statistics.mean([(r.get("timings") or {}).get(key) or 0.0 for r in submitted
                                    if (r.get("timings") or {}).get("total")] or [0.0])
              for key, _ in TIMING_PARTS}
    return {
        "students": len(students), "records": len(records), "submitted": len(submitted),
        "missing": sum(r["status"] == "missing" for r in records),
        "missing_students": sorted((r["student"], r["assignment"]) for r in records if r["status"] == "missing"),
        "late": sum(bool((r.get("late") or {}).get("late")) for r in submitted),
        "cached": sum(bool(r.get("cached")) for r in submitted),
        "status": Counter(r["status"] for r in records),
        "percents": percents,
        "mean_percent": statistics.mean(percents) if percents else None,
        "median_percent": statistics.median(percents) if percents else None,
        "per_exercise": {name: dict(per_exercise[name]) for name in sorted(per_exercise)},
        "max_points": max_points,
        "mistakes": {name: mistakes[name].most_common() for name in sorted(mistakes)},
        "examples": {k: (v[0] if v else "") for k, v in examples.items()},
        "undiagnosed": {name: headlines[name].most_common() for name in sorted(headlines)},
        "seconds": seconds, "timing": timing, "wall_seconds": wall_seconds,
        "failing": sorted((r for r in submitted if r["status"] not in ("ok", "output-truncated")
                           or not r.get("score")), key=lambda r: (r["status"], r["student"]))[:25],
        "slowest": sorted((r for r in submitted if (r.get("timings") or {}).get("total")),
                          key=lambda r: -r["timings"]["total"])[:10],
    }


# ------------------------------------------------------------------------------------------------
# plots (matplotlib, Agg backend, never shown)
# ------------------------------------------------------------------------------------------------

def _figure(width, height):
    import matplotlib
    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig


def _png(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.1)
    return buffer.getvalue()


def plot_scores(summary):
    fig = _figure(6.4, 3.0)
    ax = fig.add_subplot()
    ax.hist(summary["percents"] or [0], bins=[i * 10 for i in range(11)], color="#1565c0", edgecolor="white")
    ax.set_xlabel("score (% of the maximum, after late penalties)")
    ax.set_ylabel("submissions")
    ax.set_title("Score distribution")
    return _png(fig)


def plot_outcomes(summary):
    names = list(summary["per_exercise"])
    fig = _figure(7.2, 0.9 + 0.32 * max(1, len(names)))
    ax = fig.add_subplot()
    left = [0.0] * len(names)
    for label, _, colour in OUTCOMES:
        rates = []
        for name in names:
            counts = summary["per_exercise"][name]
            total = sum(counts.values()) or 1
            rates.append(100.0 * counts.get(label, 0) / total)
        ax.barh(names, rates, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, rates)]
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of submissions")
    ax.set_title("Outcome per exercise")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), ncols=len(OUTCOMES), fontsize=7, frameon=False)
    return _png(fig)


def plot_mistakes(summary, top=12):
    pairs = Counter()
    for name, items in summary["mistakes"].items():
        for diagnosis, count in items:
            pairs[diagnosis] += count
    title = "Most common diagnosed mistakes"
    if not pairs:   # no check reported a diagnosis id: the most common failure messages instead
        for name, items in summary["undiagnosed"].items():
            for headline, count in items:
                pairs[f"{name}: {headline[:60]}"] += count
        title = "Most common failure messages (no diagnosis ids)"
    items = pairs.most_common(top)
    fig = _figure(7.2, 0.9 + 0.3 * max(1, len(items)))
    ax = fig.add_subplot()
    if items:
        ax.barh([d for d, _ in items], [c for _, c in items], color="#c62828")
        ax.invert_yaxis()
        ax.tick_params(axis="y", labelsize=7)
    else:
        ax.text(0.5, 0.5, "no diagnosed mistakes", ha="center", va="center", transform=ax.transAxes)
        ax.set_yticks([])
    ax.set_xlabel("submissions")
    ax.set_title(title)
    return _png(fig)


def plot_timing(summary):
    fig = _figure(7.2, 2.8)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[3, 2])
    ax1.hist(summary["seconds"] or [0], bins=20, color="#5e35b1", edgecolor="white")
    ax1.set_xlabel("seconds per submission")
    ax1.set_ylabel("submissions")
    ax1.set_title("Grading time")
    left = 0.0
    for (key, label), colour in zip(TIMING_PARTS, ("#90caf9", "#42a5f5", "#1e88e5", "#0d47a1")):
        value = summary["timing"].get(key) or 0.0
        ax2.barh(["mean"], [value], left=left, color=colour, label=label)
        left += value
    ax2.set_xlabel("seconds")
    ax2.set_title("Where the time goes")
    ax2.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncols=2, frameon=False)
    return _png(fig)


PLOTS = [("scores.png", plot_scores, "Score distribution"), ("outcomes.png", plot_outcomes, "Outcomes per exercise"),
         ("mistakes.png", plot_mistakes, "Most common diagnosed mistakes"), ("timing.png", plot_timing, "Grading time")]


# ------------------------------------------------------------------------------------------------
# HTML and Markdown
# ------------------------------------------------------------------------------------------------

CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 60rem;
       padding: 1rem 1.25rem 3rem; color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; } code { font-size: .85em; }
.scroll { overflow-x: auto; } .cards { display: flex; flex-wrap: wrap; gap: .75rem; }
.card { border: 1px solid #ddd; border-radius: .4rem; padding: .5rem .8rem; min-width: 7rem; }
.card b { display: block; font-size: 1.4rem; }
"""


def _e(text):
    return html.escape(str(text), quote=True)


def _table(header, rows, numeric=()):
    out = ["<div class='scroll'><table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) +
           "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td class='n'>{_e(c)}</td>" if i in numeric else f"<td>{_e(c)}</td>"
                                    for i, c in enumerate(row)) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _num(value):
    if value is None or value == "":
        return "–"
    value = round(float(value), 2)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _pct(value):
    return "–" if value is None else f"{value:.0f}%"


def render_html(summary, images, title="Class report"):
    cards = [("students", summary["students"]), ("submissions", summary["submitted"]),
             ("missing", summary["missing"]), ("late", summary["late"]),
             ("mean score", _pct(summary["mean_percent"])), ("median score", _pct(summary["median_percent"]))]
    if summary.get("wall_seconds") is not None:
        cards.append(("grading time", f"{summary['wall_seconds']:.0f} s"))
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             "<link rel='icon' href='data:,'>",   # no favicon request: the page needs nothing else
             f"<title>{_e(title)}</title><style>{CSS}</style></head><body>", f"<h1>{_e(title)}</h1>",
             "<div class='cards'>" + "".join(f"<div class='card'><b>{_e(v)}</b>{_e(k)}</div>" for k, v in cards) +
             "</div>",
             "<p>Status of every student and assignment: " +
             ", ".join(f"{_e(s)} {n}" for s, n in sorted(summary["status"].items())) + ".</p>"]

    def img(name, alt):
        return f"<img src='data:image/png;base64,{base64.b64encode(images[name]).decode()}' alt='{_e(alt)}'>"

    parts += ["<h2>Scores</h2>", img("scores.png", "Histogram of scores")]
    parts += ["<h2>Exercises</h2>", img("outcomes.png", "Outcome rates per exercise")]
    header = ["exercise", "points"] + [label for label, _, _ in OUTCOMES]
    rows = [[name, summary["max_points"].get(name, "")] + [counts.get(label, 0) for label, _, _ in OUTCOMES]
            for name, counts in summary["per_exercise"].items()]
    parts.append(_table(header, rows, numeric=set(range(1, len(header)))))
    parts += ["<h2>Common mistakes</h2>", img("mistakes.png", "Most common diagnosed mistakes")]
    if summary["mistakes"]:
        rows = [[name, diagnosis, count, summary["examples"].get(diagnosis, "")]
                for name, items in summary["mistakes"].items() for diagnosis, count in items[:5]]
        parts.append(_table(["exercise", "mistake", "submissions", "example message"], rows, numeric={2}))
    else:
        parts.append("<p>No check diagnosed a known mistake.</p>")
    if summary["undiagnosed"]:
        rows = [[name, headline, count] for name, items in summary["undiagnosed"].items()
                for headline, count in items[:5]]
        parts += ["<p>Failures without a diagnosis, by the first line of the check's message:</p>",
                  _table(["exercise", "message", "submissions"], rows, numeric={2})]
    parts.append("<h2>Submissions to look at</h2>")
    if summary["failing"]:
        rows = [[r["student"], r["assignment"], r["status"], f"{_num(r.get('score'))}/{_num(r.get('max_score'))}",
                 (r.get("message") or " ".join(r.get("notes") or []))[:200]] for r in summary["failing"]]
        parts.append(_table(["student", "assignment", "status", "score", "why"], rows))
    else:
        parts.append("<p>Every submission ran to the end and scored points.</p>")
    if summary["missing_students"]:
        shown = summary["missing_students"][:100]
        parts.append(f"<p>No submission ({len(summary['missing_students'])}): " +
                     ", ".join(_e(f"{s} ({a})") for s, a in shown) +
                     (" …" if len(summary["missing_students"]) > len(shown) else "") + "</p>")
    parts += ["<h2>Grading time</h2>", img("timing.png", "Grading time per submission")]
    rows = [[r["student"], r["assignment"], f"{r['timings']['total']:.1f}"] +
            [f"{(r['timings'].get(k) or 0):.1f}" for k, _ in TIMING_PARTS] for r in summary["slowest"]]
    parts.append(_table(["student", "assignment", "total s"] + [label + " s" for _, label in TIMING_PARTS], rows,
                        numeric={2, 3, 4, 5, 6}))
    parts.append("</body></html>")
    return "\n".join(parts)


def render_markdown(summary, title="Class report"):
    lines = [f"# {title}", "",
             f"- Students: {summary['students']}; submissions: {summary['submitted']}; "
             f"missing: {summary['missing']}; late: {summary['late']}",
             f"- Mean score {_pct(summary['mean_percent'])}, median {_pct(summary['median_percent'])}",
             "- Status: " + ", ".join(f"{s} {n}" for s, n in sorted(summary["status"].items())), "",
             "| Exercise | passed | failed | not attempted | crashed | timed out | tampered |",
             "|---|---|---|---|---|---|---|"]
    for name, counts in summary["per_exercise"].items():
        total = sum(counts.values()) or 1
        cells = [counts.get(k, 0) for k in ("passed", "failed", "not attempted", "crashed", "timed out", "tampered")]
        lines.append(f"| {name} | " + " | ".join(f"{c} ({100 * c / total:.0f}%)" for c in cells) + " |")
    if summary["mistakes"]:
        lines += ["", "Most common mistakes:", ""]
        for name, items in summary["mistakes"].items():
            for diagnosis, count in items[:3]:
                lines.append(f"- `{diagnosis}`: {count} submission(s)")
    return "\n".join(lines) + "\n"


def write_report(records, folder, *, wall_seconds=None, title="Class report"):
    """Write report.html, the PNGs and summary.md into ``folder``; return the summary dict."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarise(records, wall_seconds)
    images = {}
    for name, plot, _ in PLOTS:
        images[name] = plot(summary)
        (folder / name).write_bytes(images[name])
    (folder / "report.html").write_text(render_html(summary, images, title), encoding="utf-8")
    (folder / "summary.md").write_text(render_markdown(summary, title), encoding="utf-8")
    return summary
