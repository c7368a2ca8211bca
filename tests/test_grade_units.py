"""Units of the grader package that need no grading run: notebook metadata, the nbval version
guard, the kernel-side setup (in a real kernel), the lazy package exports."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conv_lib.tools import notebook_meta as meta
from conv_lib.tools.grade import kernel_setup, nbval_patches

pytestmark = pytest.mark.xdist_group("grade")


def test_notebook_meta_reads_leniently():
    cell = {"metadata": {"conv_knobs": {"role": "check", "exercise": "ex04-x", "points": 2}}}
    assert (meta.role(cell), meta.exercise(cell), meta.points(cell)) == ("check", "ex04-x", 2)
    assert meta.is_protected(cell)
    odd = {"metadata": {"conv_knobs": {"role": 3, "exercise": "", "points": True}}}
    assert (meta.role(odd), meta.exercise(odd), meta.points(odd)) == (None, None, None)
    assert meta.knobs({"metadata": {"conv_knobs": ["not", "a", "dict"]}}) == {}
    assert meta.knobs("not a cell") == {}
    assert meta.assignment({"metadata": {"conv_knobs": {"assignment": "ex04-padding"}}}) == "ex04-padding"
    assert meta.assignment({"metadata": {}}) is None


def test_nbval_guard_names_both_versions():
    nbval_patches.check_version()            # the installed (pinned) nbval is accepted
    with pytest.raises(nbval_patches.UnsupportedNbval, match=r"nbval 0\.11\.0.*nbval 0\.12\.1 is installed"):
        nbval_patches.check_version("0.12.1")


def test_importing_the_kernel_setup_loads_nothing_else_of_the_grader():
    code = ("import sys, conv_lib.tools.grade.kernel_setup\n"
            "print(sorted(m for m in sys.modules if m.startswith('conv_lib.tools')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['conv_lib.tools', 'conv_lib.tools.grade', 'conv_lib.tools.grade.kernel_setup']"


def test_package_exports_resolve():
    from conv_lib.tools import grade
    assert grade.Release.__module__ == "conv_lib.tools.grade.release"
    assert callable(grade.main) and callable(grade.restore)
    with pytest.raises(AttributeError, match="no_such_name"):
        grade.no_such_name


def _run(kc, code):
    """Execute ``code`` in the kernel; return (stdout text, reply status)."""
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    text = []
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(text), reply["content"]["status"]


def test_kernel_setup_caps_output_in_a_real_kernel():
    from jupyter_client.manager import start_new_kernel
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        out, status = _run(kc, kernel_setup.install_code({"output_limit": 100, "mark": "[cap]"}))
        assert status == "ok" and out == ""
        out, status = _run(kc, "for i in range(50):\n    print('x' * 9)")
        assert status == "ok"
        assert out.startswith("x" * 9 + "\n") and out.count("x") <= 100
        assert "[cap]: this cell produced more than 100 characters of output" in out
        out, _ = _run(kc, "print('next cell')")           # the budget is per cell
        assert out == "next cell\n"
        out, _ = _run(kc, "get_ipython().set_custom_exc((AssertionError,), lambda *a, **k: None)\n"
                          "print(get_ipython().custom_exceptions)")
        out, status = _run(kc, "assert False, 'still raised'")
        assert status == "error"                          # custom handlers are reset before each cell
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_old_setup_cells_are_restored_from_the_release():
    """Notebooks handed out before the rooms moved import ``from conv_lib import checks``."""
    import copy
    from pathlib import Path

    from conv_lib.tools.grade.release import Release, restore
    root = Path(__file__).resolve().parents[1]
    release = Release("ex03-stride", root / "exercises" / "ex03-stride.ipynb")
    old = copy.deepcopy(release.nb)
    setup = next(c for c in old.cells if meta.role(c) == "setup")
    setup.source = setup.source.replace("from conv_lib.course import checks", "from conv_lib import checks")
    assert "from conv_lib import checks" in setup.source
    work, notes = restore(old, release)
    restored = next(c for c in work.cells if c.get("id") == setup.id)
    assert "from conv_lib.course import checks" in restored.source
    assert notes == [f"The setup cell `{setup.id}` had been changed; the released version was used."]


def test_sandbox_never_binds_the_folder_the_grader_runs_in(tmp_path, monkeypatch):
    """`python -m conv_lib.grade` puts its working folder on sys.path; that folder (which may hold
    the submissions and the gradebook) must not become visible inside the sandbox."""
    from conv_lib.tools.grade import sandbox

    course = tmp_path / "course"
    (course / "submissions").mkdir(parents=True)
    monkeypatch.chdir(course)
    monkeypatch.setattr(sys, "path", [str(course)] + sys.path)
    cfg = sandbox.config(tmp_path / "ipython")
    assert not [p for p in cfg["ro"] if str(course).startswith(p) or p.startswith(str(course))]
    # the private /tmp is mounted before the binds, so nothing bound under /tmp is hidden
    args = sandbox.argv(cfg, tmp_path / "work", tmp_path / "kernel")
    assert args.index("--tmpfs") < args.index("--ro-bind")
