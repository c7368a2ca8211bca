"""The playgrounds in a real browser (Debian chromium driven by Python playwright; nothing downloaded).

1. Static book: a tiny MyST project laid out like the repository (book/ next to conv_lib/course/static/) with
   the three ``{anywidget}`` blocks is built offline with the vendored theme, served on 127.0.0.1, and
   driven through its controls with the keyboard and mouse; the shapes, values, receptive fields and
   regions on screen must equal conv_lib's.
2. JupyterLab: a notebook creates a ConvPlayground; moving the stride slider in the rendered view must
   change the view AND the Python trait, and setting the trait from Python must move the view.

Screenshots go to test-results/playgrounds/ (gitignored). Each test takes about a minute.
"""
import contextlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request

import numpy as np
import pytest

from browser import free_port, launch, serve
from conv_lib.course.widgets import CausalStackExplorer, ConvPlayground, ReceptiveFieldGrowth

pytestmark = pytest.mark.timeout(900)

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-results" / "playgrounds"   # gitignored
THEME = ROOT.parent / "shared" / "vendor" / "myst-book-theme-1.3.1.tar.gz"
BIN = pathlib.Path(sys.executable).parent
PAGE = """# Playgrounds

:::{anywidget} ../conv_lib/course/static/conv_playground.mjs
{ "input_size": 6, "kernel_size": 3 }
:::

:::{anywidget} ../conv_lib/course/static/causal_stack.mjs
{ "layers": 3, "length": 24 }
:::

:::{anywidget} ../conv_lib/course/static/rf_growth.mjs
{ "input_size": 16 }
:::
"""


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = launch(pw, "--disable-background-networking", "--no-first-run")
        yield b
        b.close()


@pytest.fixture(scope="module")
def static_site(tmp_path_factory):
    """Build the tiny book offline and return its html directory."""
    project = tmp_path_factory.mktemp("site")
    static = ("conv_lib", "course", "static")
    shutil.copytree(ROOT.joinpath(*static), project.joinpath(*static),
                    ignore=shutil.ignore_patterns("src", "build.mjs"))   # only the shipped bundles
    book = project / "book"
    book.mkdir()
    (book / "myst.yml").write_text("version: 1\nproject:\n  title: Playground test\n  toc:\n"
                                   "    - file: index.md\nsite:\n  template: book-theme\n")
    (book / "index.md").write_text(PAGE)
    if THEME.exists():  # offline: the theme comes from the vendored archive (see ../shared/README.md)
        target = book / "_build" / "templates" / "site" / "myst" / "book-theme"
        target.mkdir(parents=True)
        with tarfile.open(THEME) as tar:
            tar.extractall(target)
    jb = BIN / "jupyter-book"
    if not jb.exists():
        pytest.skip("jupyter-book is not installed in this environment")
    r = subprocess.run([str(jb), "build", "--html"], cwd=book, capture_output=True, text=True, timeout=900)
    html = book / "_build" / "html"
    if r.returncode != 0 or not (html / "index.html").exists():
        if not THEME.exists():
            pytest.skip(f"cannot build the site offline without {THEME}: {r.stderr[-500:]}")
        raise AssertionError(f"jupyter-book build failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    bundles = list((html / "build").glob("conv_playground-*.mjs"))
    assert bundles, "MyST did not copy the widget module into the site"
    return html


# ---- helpers that act like a reader ----------------------------------------------------------

def set_range(slider, target):
    """Move a range slider with the keyboard (arrow keys), as a keyboard user would."""
    slider.focus()
    for _ in range(50):
        value = int(slider.input_value())
        if value == target:
            return
        slider.press("ArrowRight" if value < target else "ArrowLeft")
    focused = slider.page.evaluate("() => { let a = document.activeElement; while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement; return a ? a.outerHTML.slice(0, 200) : null; }")
    raise AssertionError(f"slider stuck at {slider.input_value()}, wanted {target}; focus on {focused}")


def shown_output(widget):
    """Scrub to the last output position, then read the output grid exactly as displayed."""
    shape = widget.locator(".ck-big").get_attribute("data-shape")
    scrub = widget.get_by_label("Output position", exact=True)
    if shape == "invalid":
        assert scrub.is_disabled()
        return None
    scrub.focus()
    scrub.press("End")
    rows, cols = map(int, shape.split("x"))
    texts = widget.locator("[data-panel=output] td button").all_inner_texts()
    assert len(texts) == rows * cols
    return np.array([float(t.replace("−", "-")) for t in texts]).reshape(rows, cols)


def check_against_conv_lib(widget, settings):
    expected = ConvPlayground(**settings)
    shown = shown_output(widget)
    if expected.error:
        assert shown is None, f"{settings}: the view shows an output but conv_lib says {expected.error}"
        return expected
    assert shown is not None, f"{settings}: the view shows no output; problems: " + \
        widget.locator(".ck-problems").inner_text()
    assert shown.shape == expected.output_shape, widget.locator(".ck-formula").inner_text()
    np.testing.assert_array_equal(shown, expected.output, err_msg=str(settings))
    # the step line explains the last value: y[i, j] = ... = value
    line = widget.locator(".ck-sum").inner_text()
    i, j = shown.shape[0] - 1, shown.shape[1] - 1
    assert line.startswith(f"y[{i}, {j}] =") and line.split("\n")[0].endswith(f"= {int(expected.output[i, j])}")
    return expected


RERENDER = """async () => {
    const url = performance.getEntriesByType("resource").map((e) => e.name)
        .find((n) => /conv_playground-[0-9a-f]+[.]mjs/.test(n));
    const mod = await import(url);
    const host = [...document.querySelectorAll("div")].find((d) => d.shadowRoot && d.shadowRoot.querySelector(".ck-conv"));
    const data = { input_size: 6, kernel_size: 3 };
    const events = new EventTarget();
    const model = {
        get: (k) => data[k],
        set: (k, v) => { data[k] = v; events.dispatchEvent(new CustomEvent(`change:${k}`)); },
        on: (name, f) => events.addEventListener(name, f),
        off() { throw new Error("not implemented"); },
        save_changes() { throw new Error("not implemented"); },
    };
    const el = document.createElement("div");
    host.shadowRoot.replaceChildren(el);
    mod.default.render({ model, el });
    return el.querySelector(".ck-big").dataset.shape;
}"""


UNLABELLED = """() => {
    const controls = [...document.querySelectorAll("div")].filter((d) => d.shadowRoot)
        .flatMap((d) => [...d.shadowRoot.querySelectorAll(".ck-root input, .ck-root select, .ck-root button")]);
    const bad = controls.filter((e) => (e.tagName === "BUTTON" ? !(e.getAttribute("aria-label") || e.textContent.trim())
                                                              : !(e.labels && e.labels.length)));
    return { count: controls.length, bad: bad.map((e) => e.outerHTML.slice(0, 120)) };
}"""


def test_static_book_playgrounds_follow_conv_lib(static_site, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    with serve(static_site) as base:
        foreign = []   # the theme itself asks for web fonts etc.; nothing may leave the machine

        def only_local(route):
            if route.request.url.startswith(base):
                route.continue_()
            else:
                foreign.append(route.request.url)
                route.abort()
        page.route("**/*", only_local)
        page.goto(base + "/", wait_until="networkidle")
        conv = page.locator(".ck-conv")
        conv.wait_for(timeout=30000)

        settings = dict(input_size=6, kernel_size=3)
        check_against_conv_lib(conv, settings)
        set_range(conv.get_by_label("Stride", exact=True), 2)
        settings["stride"] = 2
        check_against_conv_lib(conv, settings)
        set_range(conv.get_by_label("Padding (all sides)", exact=True), 2)
        settings["padding"] = 2
        check_against_conv_lib(conv, settings)
        set_range(conv.get_by_label("Dilation", exact=True), 2)
        settings["dilation"] = 2
        assert check_against_conv_lib(conv, settings).output_shape == (3, 3)
        for mode in ("reflect", "replicate", "circular"):
            conv.get_by_label("Padding mode", exact=True).select_option(mode)
            settings["padding_mode"] = mode
            check_against_conv_lib(conv, settings)
        conv.get_by_label("Kernel weights", exact=True).select_option("ramp")
        settings["kernel"] = "ramp"
        check_against_conv_lib(conv, settings)
        page.screenshot(path=str(ARTIFACTS / "static-conv-1280.png"), full_page=True)

        # per-axis and per-side controls, input dilation, then settings that cannot work
        conv.get_by_label("Same value for rows and columns", exact=True).uncheck()
        conv.get_by_label("Symmetric padding (after = before)", exact=True).uncheck()
        set_range(conv.get_by_label("Stride ↔ cols", exact=True), 1)
        set_range(conv.get_by_label("Right", exact=True), 0)
        set_range(conv.get_by_label("Input dilation ↕ rows", exact=True), 2)
        settings.update(stride=(2, 1), padding=[(2, 2), (2, 0)], input_dilation=(2, 1))
        check_against_conv_lib(conv, settings)
        set_range(conv.get_by_label("Dilation ↔ cols", exact=True), 1)
        set_range(conv.get_by_label("Input size ↔ cols", exact=True), 2)       # circular: pad 2 <= 2 still fine
        settings.update(input_size=(6, 2), dilation=(2, 1))
        check_against_conv_lib(conv, settings)
        conv.get_by_label("Padding mode", exact=True).select_option("reflect")  # reflect: pad 2 >= 2 is not
        settings["padding_mode"] = "reflect"
        assert "reflect padding must be smaller" in check_against_conv_lib(conv, settings).error
        assert "Reflect padding mirrors" in conv.locator(".ck-problems").inner_text()
        assert conv.locator("td.ck-pad", has_text="?").count() > 0
        set_range(conv.get_by_label("Left", exact=True), 1)
        set_range(conv.get_by_label("Kernel size ↔ cols", exact=True), 5)        # 2 + 1 + 0 < 5: does not fit
        settings.update(padding=[(2, 2), (1, 0)], kernel_size=(3, 5))
        assert "kernel larger" in check_against_conv_lib(conv, settings).error
        assert "does not fit along the columns" in conv.locator(".ck-problems").inner_text()
        page.screenshot(path=str(ARTIFACTS / "static-conv-invalid-1280.png"), full_page=True)
        set_range(conv.get_by_label("Kernel size ↔ cols", exact=True), 1)
        settings["kernel_size"] = (3, 1)
        check_against_conv_lib(conv, settings)

        # The theme may call render() again with a fresh model from the block's JSON (React re-runs
        # its effect); the reader's settings must survive. Do exactly that, as the theme does.
        before = conv.locator(".ck-big").get_attribute("data-shape")
        again = page.evaluate(RERENDER)
        assert again == before != "4x4"      # 4x4 is what the block's JSON alone would give

        # the dilated stack: receptive field and the inputs reached, against conv_lib
        stack = page.locator(".ck-stack")
        set_range(stack.get_by_label("Layers", exact=True), 5)
        set_range(stack.get_by_label("Kernel size k", exact=True), 3)
        stack.get_by_label("Causal (all padding on the left, no look-ahead)", exact=True).uncheck()
        set_range(stack.get_by_label("Output time t", exact=True), 7)
        expected = CausalStackExplorer(layers=5, kernel_size=3, causal=False, length=24, output_index=7)
        summary = stack.locator(".ck-formula")
        assert int(summary.get_attribute("data-rf")) == expected.receptive_field == 63
        assert summary.get_attribute("data-reached") == ",".join(map(str, expected.reached_inputs))
        stack.get_by_label("Dilation schedule", exact=True).select_option("constant")
        set_range(stack.get_by_label("Dilation d", exact=True), 2)
        expected = CausalStackExplorer(layers=5, kernel_size=3, causal=False, length=24, output_index=7,
                                       schedule="constant", dilation=2)
        assert int(summary.get_attribute("data-rf")) == expected.receptive_field
        assert summary.get_attribute("data-reached") == ",".join(map(str, expected.reached_inputs))
        assert "gridding" in summary.inner_text()
        filled = stack.locator("circle[data-layer='0'][data-reached='1']").count()
        assert filled == len(expected.reached_inputs)

        # receptive-field growth: add a layer, edit a kernel in place, trace a unit
        rf = page.locator(".ck-rf")
        rf.get_by_role("button", name="+ pooling layer").click()
        k1 = rf.get_by_label("layer 1 kernel size", exact=True)
        k1.fill("5")
        k1.press("Tab")
        layers = [(5, 1, 1, 1), (3, 1, 1, 1), (2, 2, 1, 0), (3, 1, 1, 1), (2, 2, 1, 0)]
        expected = ReceptiveFieldGrowth(layers=layers, input_size=16, selected_layer=5, unit=(8, 8))
        rows = rf.locator("tr[data-row]")
        assert [int(rows.nth(i).get_attribute("data-rf")) for i in range(rows.count())] == \
            [row["rf"] for row in expected.table]
        set_range(rf.get_by_label("Unit row i", exact=True), 1)
        set_range(rf.get_by_label("Unit col j", exact=True), 2)   # the last map is 3 x 3
        expected.unit = (1, 2)
        (r0, r1), (c0, c1) = expected.region
        assert rf.locator(".ck-formula").get_attribute("data-region") == f"{r0},{r1},{c0},{c1}"
        assert expected.traced == (5, (1, 2))

        # every control has a <label>, every button a name (after all the edits above)
        controls = page.evaluate(UNLABELLED)
        assert controls["count"] > 60 and controls["bad"] == [], controls
        page.screenshot(path=str(ARTIFACTS / "static-all-1280.png"), full_page=True)
        page.set_viewport_size({"width": 375, "height": 800})
        page.wait_for_timeout(300)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 380, f"the page scrolls sideways at 375 px ({width} px wide)"
        page.screenshot(path=str(ARTIFACTS / "static-all-375.png"), full_page=True)
    assert not errors, errors
    ours = [u for u in foreign if re.search(r"\.mjs|conv_playground|causal_stack|rf_growth", u)]
    assert not ours, f"the playgrounds asked the network for {ours}"
    page.close()


# ---- JupyterLab ---------------------------------------------------------------------------------

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "id": "make", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "from conv_lib.course.widgets import ConvPlayground\nw = ConvPlayground(stride=1)\nw"},
        {"cell_type": "code", "id": "read", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "print('STRIDE', w.stride, 'SHAPE', w.output_shape)"},
        {"cell_type": "code", "id": "write", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "w.stride = 3"},
        {"cell_type": "code", "id": "others", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "from conv_lib.course.widgets import CausalStackExplorer, ReceptiveFieldGrowth\n"
                   "s = CausalStackExplorer(layers=3)\nr = ReceptiveFieldGrowth()\ndisplay(s, r)"},
        {"cell_type": "code", "id": "read-others", "metadata": {}, "execution_count": None, "outputs": [],
         "source": "print('LAYERS', s.layers, 'RF', s.receptive_field, 'NLAYERS', len(r.layers))"},
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
                 "language_info": {"name": "python"}},
    "nbformat": 4, "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    work = tmp_path_factory.mktemp("lab")
    (work / "playground.ipynb").write_text(json.dumps(NOTEBOOK))
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(work / "runtime"), "JUPYTER_CONFIG_DIR": str(work / "config"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [str(BIN / "jupyter-lab"), "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
           f"--ServerApp.root_dir={work}", "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(work / "lab.log", "w")
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            if proc.poll() is not None:
                raise AssertionError(f"JupyterLab exited: {(work / 'lab.log').read_text()[-2000:]}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url + "/api/status", timeout=2)
                break
            time.sleep(0.5)
        else:
            raise AssertionError("JupyterLab did not start in 120 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def cell_output(page, index):
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea-output").inner_text()


def run_cell(page, index):
    page.evaluate("""async (i) => {
        const app = window.jupyterapp;
        const panel = app.shell.currentWidget;
        panel.content.activeCellIndex = i;
        await app.commands.execute('notebook:run-cell');
    }""", index)


def test_jupyterlab_slider_and_trait_sync_both_ways(jupyterlab, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{jupyterlab}/lab/tree/playground.ipynb", wait_until="domcontentloaded")
    page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session "
                           "&& window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                           timeout=120000)
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.ready")
    run_cell(page, 0)
    conv = page.locator(".ck-conv")
    conv.wait_for(timeout=120000)
    shape = conv.locator(".ck-big")
    assert shape.get_attribute("data-shape") == "3x3"

    set_range(conv.get_by_label("Stride", exact=True), 2)        # the reader moves the slider
    page.wait_for_function("() => document.querySelector('.ck-big').dataset.shape === '2x2'")
    run_cell(page, 1)
    page.wait_for_function("() => document.querySelectorAll('.jp-Cell')[1].innerText.includes('STRIDE')",
                           timeout=60000)
    assert re.search(r"STRIDE \[2, 2\] SHAPE \(2, 2\)", cell_output(page, 1)), cell_output(page, 1)

    run_cell(page, 2)                                          # Python sets the trait
    page.wait_for_function("() => document.querySelector('.ck-big').dataset.shape === '1x1'", timeout=60000)
    assert conv.get_by_label("Stride", exact=True).input_value() == "3"
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-conv-1280.png"), full_page=True)

    # the other two playgrounds render in JupyterLab too, and their controls reach Python
    run_cell(page, 3)
    stack, rf = page.locator(".ck-stack"), page.locator(".ck-rf")
    stack.wait_for(timeout=60000)
    rf.wait_for(timeout=60000)
    assert stack.locator(".ck-formula").get_attribute("data-rf") == "8"      # k=2, d = 1, 2, 4
    set_range(stack.get_by_label("Layers", exact=True), 5)
    assert stack.locator(".ck-formula").get_attribute("data-rf") == "32"
    rf.get_by_role("button", name="+ conv layer").click()
    page.wait_for_function("() => document.querySelectorAll('.ck-rf tr[data-row]').length === 5")
    run_cell(page, 4)
    page.wait_for_function("() => document.querySelectorAll('.jp-Cell')[4].innerText.includes('LAYERS')",
                           timeout=60000)
    assert "LAYERS 5 RF 32 NLAYERS 5" in cell_output(page, 4), cell_output(page, 4)
    rf.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "jupyterlab-stack-rf-1280.png"))
    page.close()
