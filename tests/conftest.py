"""Shared pytest configuration for the Convolution Knobs test suite.

- Hypothesis: no per-example deadline (the CPU is shared, timings are noise); under CI
  (CI=true) examples are derandomized so a run is reproducible.
- Matplotlib draws off-screen (Agg).
- ``built_site``: the Jupyter Book site built once per test run with the same command as
  ``make book`` (``make site``), shared by every test that inspects book/_build/html. With
  pytest-xdist a file lock plus the run id makes the first worker build and the others reuse
  its result; still, put such modules in one xdist group so one worker runs them all:
  ``pytestmark = pytest.mark.xdist_group("site")`` (``make test`` uses ``--dist loadgroup``).
"""
from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
BUILD = BOOK / "_build"
SITE = BUILD / "html"
EXECUTE_CACHE = BUILD / "execute"

sys.path.insert(0, str(ROOT))  # `tests.nbval_myst_cache` and `conv_lib` from the checkout

try:
    from hypothesis import HealthCheck, settings

    settings.register_profile("dev", deadline=None)
    settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True,
                              suppress_health_check=[HealthCheck.too_slow])
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE",
                                         "ci" if os.environ.get("CI") else "dev"))
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass


def book_toc() -> list[str]:
    """The files of book/myst.yml's table of contents, in order."""
    import yaml

    config = yaml.safe_load((BOOK / "myst.yml").read_text(encoding="utf-8"))
    return [entry["file"] for entry in config["project"]["toc"]]


def book_chapters() -> list[str]:
    """The chapter notebooks of the toc (everything but the landing page)."""
    return [f for f in book_toc() if f.endswith(".ipynb")]


@dataclass
class SiteBuild:
    """Outcome of one `make site` run."""

    returncode: int
    log: str
    seconds: float
    html: Path = SITE
    # chapter notebooks that had a MyST execution-cache entry before the build started
    cached_before: list[str] = field(default_factory=list)

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log.splitlines()[-lines:])


def _run_id(config) -> str:
    worker_input = getattr(config, "workerinput", None)
    if worker_input and "testrunuid" in worker_input:
        return worker_input["testrunuid"]
    if not hasattr(config, "_ck_run_id"):
        config._ck_run_id = uuid.uuid4().hex
    return config._ck_run_id


def _cached_chapters() -> list[str]:
    import nbformat

    from tests.nbval_myst_cache import myst_cache_key

    cached = []
    for name in book_chapters():
        path = BOOK / name
        if path.exists():
            key = myst_cache_key(nbformat.read(path, as_version=4))
            if (EXECUTE_CACHE / f"{key}.ipynb").exists():
                cached.append(name)
    return cached


@pytest.fixture(scope="session")
def built_site(pytestconfig) -> SiteBuild:
    """Build the site once per test run (``make site``) and return the outcome.

    Set CK_SITE_REUSE=1 to inspect an existing book/_build/html without rebuilding.
    """
    BUILD.mkdir(parents=True, exist_ok=True)
    record = BUILD / "site-build.json"
    log_file = BUILD / "site-build.log"
    run_id = _run_id(pytestconfig)
    with open(BUILD / ".site-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.environ.get("CK_SITE_REUSE") == "1" and (SITE / "index.html").exists():
            return SiteBuild(0, "(reused an existing build: CK_SITE_REUSE=1)", 0.0)
        if record.exists():
            done = json.loads(record.read_text())
            if done.get("run_id") == run_id:
                return SiteBuild(done["returncode"], log_file.read_text(), done["seconds"],
                                 cached_before=done["cached_before"])
        cached_before = _cached_chapters()
        # (not this process's MPLBACKEND=Agg either: kernels started with it show no figures,
        # and the chapters it executed would reach the site without a single one)
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "BASE_URL", "MPLBACKEND")}
        env["NO_SERVE"] = "1"
        start = time.monotonic()
        proc = subprocess.run(["make", "--no-print-directory", "site"], cwd=ROOT, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace")
        seconds = time.monotonic() - start
        log_file.write_text(proc.stdout)
        record.write_text(json.dumps({"run_id": run_id, "returncode": proc.returncode,
                                      "seconds": seconds, "cached_before": cached_before}))
        print(f"\n[built_site] make site: exit {proc.returncode} in {seconds:.0f} s "
              f"({len(cached_before)} chapters from the execution cache)")
        return SiteBuild(proc.returncode, proc.stdout, seconds, cached_before=cached_before)
