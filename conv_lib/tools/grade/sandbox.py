"""The kernel sandbox: every grading kernel runs inside bubblewrap (``bwrap``), seeing only its own copy.

Inside the sandbox a kernel sees, read-only: the system (``/usr``, ``/etc`` and the ``/bin``,
``/lib*``, ``/sbin`` links), the Python installation and the virtual environment, the library
package ``conv_lib/`` (nothing else of the project: not ``solutions/``, ``exercises/``, ``tests/``
or ``.git``) and the grader's IPython profile. Read-write: its own notebook folder (the working
copy) and its own connection folder (the kernel's sockets). Everything else is absent: other
submissions and their working copies, the submissions folder, the gradebook, the feedback folder,
the grader's ``/tmp`` (a private, size-limited tmpfs replaces it), the network (``--unshare-net``;
the kernel talks to nbval through Unix sockets in its connection folder), other processes
(``--unshare-pid``). ``--die-with-parent`` ends the sandbox with its kernel manager.

``config(...)`` builds the JSON-able description that the runner passes to the pytest workers
(environment variable ``CONV_KNOBS_GRADE_SANDBOX``); ``argv(config, cwd, kernel_dir)`` is the command
prefix for one kernel; ``self_test(config)`` checks, before grading, that a sandboxed Python starts,
imports the library and cannot see the project. The grader runs without a sandbox (and says why,
on stderr and in the gradebook's metadata) when bwrap is missing, the self-test fails or
``--no-sandbox`` is given.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from conv_lib.tools.grade.config import ROOT

TMPFS_BYTES = 1 << 30          # the private /tmp of each kernel
SYSTEM_DIRS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/opt")


def _under(path, roots):
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def config(ipython_dir, bwrap=None):
    """The sandbox description: {"bwrap": path, "ro": [paths], "links": [[target, path]], ...}."""
    bwrap = bwrap or shutil.which("bwrap")
    ro, links = [], []
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            links.append([os.readlink(path), path])
        elif os.path.isdir(path):
            ro.append(path)
    python_roots = [os.path.realpath(p) for p in {sys.base_prefix, sys.prefix, sys.exec_prefix}]
    python_roots.append(os.path.dirname(os.path.realpath(sys.executable)))
    library = str(ROOT / "conv_lib")
    for path in python_roots + [library]:
        if not _under(path, ro):
            ro.append(path)
    if sys.prefix != os.path.realpath(sys.prefix) and not _under(sys.prefix, ro):
        ro.append(sys.prefix)                     # the venv's own path (symlinked folders)
    for entry in sys.path:                        # other package folders the interpreter imports from
        if not entry or not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        # Only package folders (a user site-packages, say). Never a plain folder such as the one the
        # grader was started in (`python -m` puts the working folder on sys.path): that may hold the
        # submissions, the gradebook or anything else of the instructor's.
        if os.path.basename(real) not in ("site-packages", "dist-packages"):
            continue
        if _under(real, ro) or _under(str(ROOT), [real]) or _under(real, [str(ROOT)]):
            continue
        ro.append(real)
    ro.append(str(ipython_dir))
    return {"bwrap": bwrap, "ro": ro, "links": links}


def argv(cfg, cwd, kernel_dir):
    """The bwrap command prefix for one kernel working in ``cwd`` with sockets in ``kernel_dir``."""
    args = [cfg["bwrap"], "--die-with-parent", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--hostname", "grader"]
    # The private /tmp comes first: a later bind may put a path back inside it (a project or a
    # virtual environment that lives under /tmp), while a tmpfs mounted last would hide them.
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp"]
    for target, path in cfg["links"]:
        args += ["--symlink", target, path]
    for path in cfg["ro"]:
        args += ["--ro-bind", path, path]
    for path in (str(cwd), str(kernel_dir)):
        args += ["--bind", path, path]
    args += ["--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--setenv", "MPLCONFIGDIR", "/tmp/mpl",
             "--setenv", "JUPYTER_RUNTIME_DIR", str(kernel_dir), "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
             "--unsetenv", "CONV_KNOBS_GRADE_FEED_FD", "--unsetenv", "CONV_KNOBS_GRADE_EVENTS_FD",
             # ipykernel watches JPY_PARENT_PID, which means nothing inside the PID namespace (its
             # parent is the namespace's init there); --die-with-parent ends it with its manager
             "--unsetenv", "JPY_PARENT_PID",
             "--chdir", str(cwd), "--"]
    return args


SELF_TEST = r"""
import os, sys
sys.path.insert(0, {root!r})
import conv_lib, ipykernel
assert not os.path.exists({solutions!r}), "the project's solutions are visible"
assert not os.path.exists({probe!r}), "the grader's files are visible"
open("written-by-the-sandbox", "w").write("ok")
try:
    open(os.path.join({library!r}, "written-by-the-sandbox"), "w")
except OSError:
    pass
else:
    raise AssertionError("the library folder is writable")
print("sandbox ok")
"""


def self_test(cfg, timeout=120):
    """``(True, "")`` when a sandboxed Python works as intended, else ``(False, reason)``."""
    if not cfg.get("bwrap"):
        return False, "bubblewrap (bwrap) is not installed (Debian: apt-get install bubblewrap)"
    with tempfile.TemporaryDirectory(prefix="conv-knobs-sandbox-test-") as tmp:
        cwd, kdir = Path(tmp) / "work", Path(tmp) / "kernel"
        cwd.mkdir()
        kdir.mkdir()
        probe = Path(tmp) / "grader-only"
        probe.write_text("secret", encoding="utf-8")
        code = SELF_TEST.format(root=str(ROOT), solutions=str(ROOT / "solutions"), probe=str(probe),
                                library=str(ROOT / "conv_lib"))
        try:
            proc = subprocess.run(argv(cfg, cwd, kdir) + [sys.executable, "-c", code], capture_output=True,
                                  text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return False, f"bwrap could not run the self-test ({type(exc).__name__}: {exc})"
        if proc.returncode != 0 or "sandbox ok" not in proc.stdout:
            detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return False, f"the bwrap self-test failed (exit {proc.returncode}): {' | '.join(detail)}"
        if not (cwd / "written-by-the-sandbox").exists():
            return False, "the bwrap self-test could not write to its own working folder"
    return True, ""


_SELF_TESTS = {}   # bwrap path -> (ok, reason): the self-test runs once per process


def prepare(ipython_dir, wanted=True):
    """``(config or None, sentence)`` for a runner: the sandbox if wanted and its self-test passes."""
    if not wanted:
        return None, "no sandbox: --no-sandbox was given"
    cfg = config(ipython_dir)
    key = cfg.get("bwrap")
    if key not in _SELF_TESTS:
        _SELF_TESTS[key] = self_test(cfg)
    ok, reason = _SELF_TESTS[key]
    if not ok:
        return None, f"no sandbox: {reason}"
    return cfg, f"bubblewrap sandbox ({cfg['bwrap']})"
