"""Browser helpers shared by the tests that look at pages the way a reader does.

Debian's chromium driven by Python playwright; no browser is ever downloaded.
"""
import contextlib
import functools
import http.server
import os
import shutil
import socket
import subprocess
import threading

import pytest


def chromium_path():
    """Debian's chromium; installed with apt-get when missing and possible, else the test skips."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run("apt-get update -qq && apt-get install -y -qq chromium", shell=True,
                       capture_output=True, timeout=900)
        found = shutil.which("chromium")
    if not found:
        pytest.skip("no chromium: install Debian's package (apt-get install chromium); "
                    "browsers are never downloaded by these tests")
    return found


def launch(playwright, *extra_args):
    """Headless Debian chromium through ``playwright`` (a sync_playwright() handle), with the
    flags every browser test needs in a container (no sandbox, no GPU, no /dev/shm)."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", *extra_args])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(directory):
    """Serve a built MyST site on 127.0.0.1 (extension-less page URLs, as MyST links them)."""
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def send_head(self):
            path = self.translate_path(self.path)
            if not os.path.exists(path) and os.path.exists(path + ".html"):
                self.path = self.path.split("?")[0] + ".html"
            return super().send_head()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()),
                                             functools.partial(Handler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
