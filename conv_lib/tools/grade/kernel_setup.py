"""Kernel-side setup: runs once, silently, in every grading kernel before the notebook's first cell.

The pytest plugin starts each kernel and sends it ``install_code(params)``, which imports this module
and calls ``install(params)``; ``params`` is plain JSON data:

- ``output_limit`` (int): characters of output one cell may produce (stdout, stderr, displays);
  beyond it the output is dropped and one line with ``mark`` says so.
- ``mark`` (str): the truncation line's prefix, which the plugin looks for.
- ``guard`` (bool): also install the check guard (``kernel_guard.install``): snapshots of the
  checks and the machinery they rely on, and the reporter that collects ``CheckResult`` dicts.

Nothing here is student-facing; it only imports IPython and the standard library (the guard
imports the checks).
"""
from __future__ import annotations

import contextlib
import json
import sys


def install_code(params: dict) -> str:
    """The code the plugin executes (silently) in a new kernel to call ``install(params)``."""
    return ("import json as _ck_json\n"
            "from conv_lib.tools.grade import kernel_setup as _ck_setup\n"
            f"_ck_setup.install(_ck_json.loads({json.dumps(json.dumps(params))}))\n"
            "del _ck_json, _ck_setup\n")


def install(params: dict) -> dict:
    """Install the output cap (and the guard if ``params["guard"]``); returns a small status dict."""
    from IPython import get_ipython
    ip = get_ipython()
    if ip is None:
        raise RuntimeError("kernel_setup.install must run inside an IPython kernel")
    cap_output(ip, int(params["output_limit"]), str(params["mark"]))
    status = {"cap": True, "guard": False}
    if params.get("guard"):
        from conv_lib.tools.grade import kernel_guard
        status["guard"] = kernel_guard.install(ip)
    return status


def cap_output(ip, limit: int, mark: str) -> None:
    """Cap the output each cell may produce at ``limit`` characters (streams and display data)."""
    state = {"used": 0, "cut": False}
    note = "\n%s: this cell produced more than %d characters of output\n" % (mark, limit)

    # IPython >= 9 "tees" stdout/stderr into the output history during every cell (keeping every
    # printed string in memory) and restores the stream's write method afterwards, which would also
    # undo the cap. Grading needs neither, so the tee is switched off.
    ip._tee = lambda channel: contextlib.nullcontext()

    def take(n):
        # -> (characters allowed, whether the limit was reached just now)
        if state["cut"]:
            return 0, False
        room = limit - state["used"]
        if n <= room:
            state["used"] += n
            return n, False
        state["used"], state["cut"] = limit, True
        return max(room, 0), True

    def size(data):
        try:
            return sum(len(v) if isinstance(v, (str, bytes)) else len(repr(v)) for v in data.values())
        except Exception:
            return 0

    def cap_stream(stream):
        write = stream.write
        if getattr(write, "_conv_knobs_cap", False):
            return

        def capped_write(text, *args, **kwargs):
            try:
                n = len(text)
            except TypeError:
                return write(text, *args, **kwargs)
            allowed, hit = take(n)
            if allowed == n and not hit:
                return write(text, *args, **kwargs)
            if allowed:
                write(text[:allowed])
            if hit:
                write(note)
            return n
        capped_write._conv_knobs_cap = True
        stream.write = capped_write

    def before_cell(*args, **kwargs):
        state["used"], state["cut"] = 0, False
        # get_ipython().set_custom_exc(...) would let a cell swallow the check's AssertionError
        ip.custom_exceptions = ()
        for stream in (sys.stdout, sys.stderr):
            try:
                cap_stream(stream)
            except Exception:
                pass

    ip.events.register("pre_execute", before_cell)

    pub = ip.display_pub
    publish = pub.publish

    def capped_publish(data, *args, **kwargs):
        allowed, hit = take(size(data) if isinstance(data, dict) else 0)
        if hit:
            return publish({"text/plain": note.strip()})
        if state["cut"]:
            return None
        return publish(data, *args, **kwargs)
    pub.publish = capped_publish

    hook = ip.displayhook
    write_format_data = hook.write_format_data

    def capped_write_format_data(format_dict, md_dict=None):
        allowed, hit = take(size(format_dict) if isinstance(format_dict, dict) else 0)
        if hit:
            return write_format_data({"text/plain": note.strip()}, {})
        if state["cut"]:
            return write_format_data({"text/plain": "..."}, {})
        return write_format_data(format_dict, md_dict)
    hook.write_format_data = capped_write_format_data
