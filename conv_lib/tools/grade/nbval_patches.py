"""Every monkeypatch of nbval internals, in one place, for the nbval version they were written for.

The grader drives nbval's ``IPyNbFile``/``IPyNbCell``/``RunningKernel`` from its own loop (see
``plugin.py``) and changes four behaviours:

- ``RunningKernel.get_message`` polls in short steps, so a dead kernel is noticed within half a
  second instead of after the whole cell timeout, and passes every iopub message to
  ``plugin._cap_message`` (output limits);
- ``RunningKernel.interrupt``/``stop`` never raise on a kernel that is already gone;
- ``IPyNbFile.setup`` reports kernel start failures and calls ``plugin._kernel_started`` (which
  runs the kernel-side setup); ``IPyNbFile.teardown`` records deaths, timeouts and truncation.

These reach into nbval's private structure, so ``check_version`` refuses any nbval other than the
pinned one with an error that names both versions: re-read nbval's ``kernel.py`` and ``plugin.py``
before widening ``SUPPORTED``.
"""
from __future__ import annotations

import time

SUPPORTED = ("0.11.0",)


class UnsupportedNbval(RuntimeError):
    """The installed nbval is not a version these patches were written for."""


def check_version(version=None):
    """Raise ``UnsupportedNbval`` unless nbval's version is in ``SUPPORTED``."""
    if version is None:
        import nbval
        version = getattr(nbval, "__version__", None)
        if version is None:
            from importlib.metadata import version as dist_version
            version = dist_version("nbval")
    if version not in SUPPORTED:
        raise UnsupportedNbval(
            f"the grader patches nbval internals written for nbval {', '.join(SUPPORTED)}, but nbval "
            f"{version} is installed; install nbval=={SUPPORTED[-1]} (the pin in pyproject.toml) or "
            f"review conv_lib/tools/grade/nbval_patches.py for the new version")


def alive(kernel):
    """Whether an nbval RunningKernel's process is still running (False when it has none)."""
    km = getattr(kernel, "km", None)
    try:
        return km is not None and km.is_alive()
    except Exception:
        return False


def install(plugin):
    """Patch nbval (once per process) so that ``plugin`` sees kernel deaths, starts and output."""
    check_version()
    from queue import Empty

    from nbval import kernel as nbk
    from nbval import plugin as nbp

    RunningKernel, IPyNbFile = nbk.RunningKernel, nbp.IPyNbFile
    orig_get_message = RunningKernel.get_message
    orig_interrupt, orig_stop = RunningKernel.interrupt, RunningKernel.stop
    orig_setup, orig_teardown = IPyNbFile.setup, IPyNbFile.teardown

    def get_message(kernel, stream, timeout=None):
        # poll in short steps so that a dead kernel is noticed at once (nbval would otherwise
        # wait for the whole cell timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            try:
                msg = orig_get_message(kernel, stream, timeout=step)
            except Empty:
                stopped = getattr(kernel, "_ck_stopped", False)
                if not stopped and not alive(kernel):
                    kernel._ck_dead = True
                    plugin.state["dead"] = True
                    raise
                if stopped or (deadline is not None and time.monotonic() >= deadline):
                    raise
                continue
            if stream == "iopub":
                plugin._cap_message(kernel, msg)
            return msg

    def interrupt(kernel):
        if alive(kernel):
            try:
                orig_interrupt(kernel)
            except Exception:
                pass

    def stop(kernel):
        kernel._ck_stopped = True
        try:
            orig_stop(kernel)
        except Exception:
            pass

    def setup(nbfile):
        try:
            orig_setup(nbfile)
        except BaseException as exc:
            plugin.state["kernel_error"] = f"{type(exc).__name__}: {exc}"
            raise
        plugin._kernel_started(nbfile)

    def teardown(nbfile):
        kernel = nbfile.kernel
        if kernel is not None:
            if getattr(kernel, "_ck_dead", False):
                plugin.state["dead"] = True
            elif not getattr(kernel, "_ck_stopped", False) and not alive(kernel):
                plugin.state["dead"] = True
            plugin.state["truncated"] |= bool(getattr(kernel, "_ck_truncated", False))
        plugin.state["cell_timeout"] |= bool(nbfile.timed_out)
        orig_teardown(nbfile)

    if getattr(RunningKernel, "_ck_patched", False):
        raise RuntimeError("nbval is already patched in this process (one grader plugin per process)")
    RunningKernel.get_message = get_message
    RunningKernel.interrupt = interrupt
    RunningKernel.stop = stop
    IPyNbFile.setup = setup
    IPyNbFile.teardown = teardown
    RunningKernel._ck_patched = True


def restart_kernel(nbfile):
    """Give ``nbfile`` a fresh kernel, started the way ``IPyNbFile.setup`` starts one.

    The old kernel (dead or stopped) is shut down quietly; the caller then runs the kernel-side
    setup in the new one (``plugin._kernel_started``).
    """
    from nbval import kernel as nbk
    old = nbfile.kernel
    if old is not None and not getattr(old, "_ck_stopped", False):
        old.stop()
    option = nbfile.parent.config.option
    if option.nbval_current_env:
        kernel_name = nbk.CURRENT_ENV_KERNEL_NAME
    elif option.nbval_kernel_name:
        kernel_name = option.nbval_kernel_name
    else:
        kernel_name = nbfile.nb.metadata.get("kernelspec", {}).get("name", "python")
    nbfile.kernel = nbk.RunningKernel(kernel_name, cwd=str(nbfile.fspath.dirname),
                                      startup_timeout=option.nbval_kernel_startup_timeout)


def use_sandbox(cfg):
    """Start every kernel of this process inside bubblewrap (``sandbox.argv``), talking over Unix sockets.

    Replaces nbval's ``start_new_kernel``: each kernel gets a fresh connection folder under
    ``cfg["kernel_root"]`` (its sockets and connection file, bound read-write into the sandbox), the
    IPC transport (TCP would not cross ``--unshare-net``) and interrupts by message (a SIGINT to
    the process group would end bwrap itself).
    """
    import os
    import tempfile

    from jupyter_client.manager import KernelManager
    from nbval import kernel as nbk

    from conv_lib.tools.grade import sandbox

    class SandboxedKernelManager(KernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            return sandbox.argv(cfg, self._ck_cwd, self._ck_dir) + cmd

    def start_new_kernel(startup_timeout=60, kernel_name="python", **kwargs):
        kernel_dir = tempfile.mkdtemp(prefix="kernel-", dir=cfg["kernel_root"])
        cwd = kwargs.get("cwd") or os.getcwd()
        km = SandboxedKernelManager(kernel_name=kernel_name, kernel_spec_manager=nbk.NbvalKernelspecManager(),
                                    transport="ipc", ip=os.path.join(kernel_dir, "ipc"),
                                    connection_file=os.path.join(kernel_dir, "kernel.json"))
        km._ck_cwd, km._ck_dir = cwd, kernel_dir
        km.kernel_spec.interrupt_mode = "message"
        km.start_kernel(**kwargs)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=startup_timeout)
        except RuntimeError:
            kc.stop_channels()
            km.shutdown_kernel()
            raise
        return km, kc

    nbk.start_new_kernel = start_new_kernel
