"""pytest plugin: turn an nbval run of the book's notebooks into Jupyter Book 2's execution cache.

Why: ``make test`` must run every book notebook with ``nbval --nbval-lax`` AND check the built
site, whose pages need the notebooks' outputs. Executing each notebook twice (once under nbval,
once under ``jupyter book build --execute``) would double the slowest part of the suite. So nbval
is the single execution: while it runs a notebook cell by cell, this plugin records each cell's
outputs, and when every code cell of a notebook has run without error it writes them where
MyST (the engine of Jupyter Book 2) looks for cached outputs, ``<project>/_build/execute/<key>.ipynb``.
The site build that follows (the exact ``make book`` command, ``--execute --strict``) then logs
"Adding cached notebook outputs" instead of starting a kernel.

The cache key reproduces ``buildCacheKey`` of myst-execute (bundled in jupyter-book 2.1.7):
md5 of the kernel name followed by the JSON of ``[{"kind": "block", "content": <cell source>,
"raisesException": <tagged raises-exception>}, ...]`` over the code cells MyST would execute
(all but those tagged ``skip-execution``). ``tests/test_site.py`` checks after every build that
this key names a cache file for every chapter, so a future MyST that changes the key fails
loudly instead of silently executing twice.

A notebook is left to MyST (no cache written, any stale entry for the same code removed) when
nbval did not run all of its code cells, a cell failed, or it uses features whose MyST result
nbval cannot reproduce: inline ``{eval}`` expressions, ``#|`` cell-option headers (MyST strips
them before hashing) or a ``depends_on_env`` execute option.

Enable with ``-p tests.nbval_myst_cache`` next to ``--nbval``/``--nbval-lax`` (see the Makefile).
"""
from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import json
import os
from pathlib import Path

import pytest

CACHE_SUBDIR = Path("_build") / "execute"


def myst_project_root(notebook: Path) -> Path | None:
    """The nearest directory at or above ``notebook`` holding a ``myst.yml``, or None."""
    for parent in notebook.resolve().parents:
        if (parent / "myst.yml").is_file():
            return parent
        if (parent / ".git").exists():
            break
    return None


def _tags(cell) -> list:
    tags = cell.get("metadata", {}).get("tags", [])
    return tags if isinstance(tags, list) else []


def executable_cells(nb) -> list:
    """The code cells MyST executes, in order (``skip-execution`` cells are left out)."""
    return [c for c in nb["cells"]
            if c["cell_type"] == "code" and "skip-execution" not in _tags(c)]


def _source(cell) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


def myst_cache_key(nb) -> str:
    """MyST's execution-cache key of notebook ``nb`` (an nbformat node or plain dict)."""
    kernel = nb["metadata"]["kernelspec"]["name"]
    items = [{"kind": "block", "content": _source(c),
              "raisesException": "raises-exception" in _tags(c)}
             for c in executable_cells(nb)]
    digest = hashlib.md5(kernel.encode("utf-8"))
    # JSON.stringify: no spaces, non-ASCII kept as is.
    digest.update(json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def cacheable_reason(nb) -> str | None:
    """None if nbval's outputs can stand in for MyST's execution of ``nb``, else why not."""
    if not nb.get("metadata", {}).get("kernelspec", {}).get("name"):
        return "no kernelspec"
    for cell in nb["cells"]:
        src = _source(cell)
        if cell["cell_type"] == "markdown" and "{eval}" in src:
            return "inline {eval} expressions"
        if cell["cell_type"] == "code" and src.lstrip().startswith("#|"):
            return "'#|' cell options"
    execute = nb.get("metadata", {}).get("execute", {})
    if isinstance(execute, dict) and execute.get("depends_on_env"):
        return "execute.depends_on_env"
    return None


def _plain(output) -> dict:
    """An nbval output (NotebookNode) as the JSON object MyST stores for a kernel message."""
    out = json.loads(json.dumps(output, default=str))
    if out.get("output_type") == "execute_result":
        out.setdefault("execution_count", None)
    return out


class _NotebookRun:
    def __init__(self, path: Path, nb):
        self.path = path
        self.nb = nb
        self.outputs: dict[int, list] = {}
        self.failed = False
        self.seconds = 0.0


class MystCacheWriter:
    """Collects per-cell outputs from nbval items and writes one cache file per notebook."""

    def __init__(self):
        self.runs: dict[str, _NotebookRun] = {}
        self.written: list[Path] = []

    @staticmethod
    def _is_nbval_cell(item) -> bool:
        return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell_num")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        if not self._is_nbval_cell(item):
            return
        report = outcome.get_result()
        run = self.runs.get(item.parent.nodeid)
        if run is None:
            run = self.runs[item.parent.nodeid] = _NotebookRun(Path(str(item.parent.fspath)),
                                                               item.parent.nb)
        if report.when == "call":
            run.seconds += report.duration
            if report.passed and item.test_outputs is not None:
                run.outputs[item.cell_num] = [_plain(o) for o in item.test_outputs]
        if report.failed or report.skipped:
            run.failed = True

    def pytest_runtest_teardown(self, item, nextitem):
        if not self._is_nbval_cell(item):
            return
        if nextitem is not None and nextitem.parent is item.parent:
            return
        run = self.runs.pop(item.parent.nodeid, None)
        if run is not None:
            self._finish(run)

    def _finish(self, run: _NotebookRun) -> None:
        root = myst_project_root(run.path)
        if root is None:
            return
        nb = run.nb
        if cacheable_reason(nb) is not None:
            return
        cache_file = root / CACHE_SUBDIR / f"{myst_cache_key(nb)}.ipynb"
        code_cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
        complete = len(run.outputs) == len(code_cells) and not run.failed
        if not complete:
            cache_file.unlink(missing_ok=True)  # never let a stale result stand in for a failure
            return
        skipped = {id(c) for c in code_cells if "skip-execution" in _tags(c)}
        results = [run.outputs[i] for i, c in enumerate(code_cells) if id(c) not in skipped]
        document = {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"mystContext": {
                "kernelspec": dict(nb["metadata"]["kernelspec"]),
                "path": run.path.name,
                "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(),
                "duration_ms": int(run.seconds * 1000),
                "producer": "nbval (tests/nbval_myst_cache.py)",
            }},
            "cells": [{"cell_type": "code", "source": [], "metadata": {"mystResultType": "code"},
                       "outputs": copy.deepcopy(outs), "execution_count": i}
                      for i, outs in enumerate(results)],
        }
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        tmp.replace(cache_file)
        self.written.append(cache_file)


def pytest_configure(config):
    if getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False):
        config.pluginmanager.register(MystCacheWriter(), "nbval-myst-cache-writer")
