"""The Jupyter Book site: built once (``make site``, the command behind ``make book``), then read.

Every chapter page must exist, show at least one rendered figure, and show no error output,
no exception text and no ipywidgets-only output (which a static page can only replace by "a
Jupyter kernel connection is required"); viz.live's controls must read there as a one-line note.
Math must be styled by the site's own KaTeX CSS, no page may log a console or page error or ask
another host for anything (a browser visits every page), the build log must be clean, the
exercise notebooks must be downloadable, and the notebooks' outputs must come from the execution
cache when ``make test`` ran them under nbval first (no second execution).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from browser import launch, serve
from conftest import BOOK, EXECUTE_CACHE, ROOT, SITE, book_chapters, book_toc
from conv_lib.course.viz import LIVE_NOTE
from tests.nbval_myst_cache import cacheable_reason, myst_cache_key

pytestmark = [pytest.mark.site, pytest.mark.slow, pytest.mark.xdist_group("site"),
              pytest.mark.timeout(2400)]

EXPECTED_TOC = [
    "index.md", "01-convolution.ipynb", "02-output-shape.ipynb", "03-stride.ipynb",
    "04-padding.ipynb", "05-dilation.ipynb", "06-transposed.ipynb", "07-receptive-field.ipynb",
    "08-frameworks.ipynb", "09-gemm.ipynb", "10-tcn.ipynb", "11-groups.ipynb", "12-pooling.ipynb",
    "appendix-fast.ipynb",
    "playgrounds.md", "gallery.ipynb",
]
NUMBERED = [f for f in EXPECTED_TOC if f[:2].isdigit()]  # the chapters; the other pages opt out
CHAPTERS = [f for f in EXPECTED_TOC if f.endswith(".ipynb")]
# Pages that embed in-browser playgrounds ({anywidget} blocks) and the modules they load.
PLAYGROUNDS = {
    "03-stride.ipynb": ["conv_playground"], "04-padding.ipynb": ["conv_playground"],
    "05-dilation.ipynb": ["conv_playground"], "06-transposed.ipynb": ["conv_playground"],
    "07-receptive-field.ipynb": ["rf_growth"], "10-tcn.ipynb": ["causal_stack"],
    "playgrounds.md": ["conv_playground", "causal_stack", "rf_growth"],
}
EXERCISES = [
    "ex01-convolution.ipynb", "ex02-output-shape.ipynb", "ex03-stride.ipynb",
    "ex04-padding.ipynb", "ex05-dilation.ipynb", "ex06-transposed.ipynb",
    "ex07-receptive-field.ipynb", "ex08-frameworks.ipynb", "ex09-gemm.ipynb", "ex10-tcn.ipynb",
    "ex11-groups.ipynb", "ex12-pooling.ipynb",
]
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
IMAGE_MIMES = ("image/png", "image/svg+xml")
# What the theme (thebe's stripWidgets) puts in place of a widget view that has no text/html
# fallback: "<code>ipywidgets</code> - a Jupyter kernel connection is required to fully display
# this output." It is rendered in the browser, so it never appears in the built HTML files.
KERNEL_PLACEHOLDER = "kernel connection is required"


@pytest.fixture(scope="module")
def site(built_site):
    """The successful build; the page checks skip when it failed (test_build_succeeded fails)."""
    if built_site.returncode != 0:
        pytest.skip("`make site` failed: see test_build_succeeded")
    return built_site


@pytest.fixture(scope="module")
def pages(site) -> dict[str, dict]:
    """Source file (as in the toc) -> {"slug", "html", "json"} of its page in the site."""
    found = {}
    for path in SITE.glob("*.json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        if isinstance(data, dict) and "location" in data and "mdast" in data:
            slug = data["slug"]
            html = SITE / "index.html" if slug == "index" else SITE / slug / "index.html"
            found[data["location"].lstrip("/")] = {"slug": slug, "html": html, "json": data}
    return found


def _outputs_by_cell(mdast) -> list[list[dict]]:
    """The `jupyter_data` of every output, grouped per notebook cell (outputs node)."""
    groups = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "outputs":
                if node.get("visibility") == "remove":  # tagged remove-output: not on the page
                    return
                groups.append([child.get("jupyter_data") or {} for child in node.get("children", [])
                               if child.get("type") == "output"])
                return
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(mdast)
    return groups


def _text(value) -> str:
    if isinstance(value, dict):
        value = value.get("content", "")
    return "".join(value) if isinstance(value, list) else str(value or "")


def test_toc_is_the_chapters_in_order_then_the_other_pages():
    assert book_toc() == EXPECTED_TOC


def test_build_succeeded(built_site):
    assert built_site.returncode == 0, (
        f"`make site` failed (exit {built_site.returncode}); end of its log:\n"
        + built_site.log_tail())
    assert (SITE / "index.html").is_file()


def test_build_has_no_warnings(site):
    """`--strict` stops only on errors; MyST warnings (an unresolved citation, a duplicate label,
    an unreadable references.bib) are problems a reader sees, so they fail here."""
    flagged = [line.strip() for line in site.log.splitlines() if "\u26a0" in line or "\u26d4" in line]
    assert not flagged, "MyST reported:\n" + "\n".join(dict.fromkeys(flagged))


@pytest.mark.parametrize("source", EXPECTED_TOC)
def test_page_exists(pages, source):
    assert source in pages, f"no page built from book/{source}; pages: {sorted(pages)}"
    assert pages[source]["html"].is_file(), f"missing {pages[source]['html']}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_shows_a_figure(pages, chapter):
    page = pages[chapter]
    html = page["html"].read_text(encoding="utf-8")
    images = [data[mime]["path"] for cell in _outputs_by_cell(page["json"]["mdast"])
              for out in cell for data in [out.get("data", {})] for mime in IMAGE_MIMES
              if mime in data and isinstance(data[mime], dict) and data[mime].get("path")]
    assert images, f"{chapter}: no cell leaves a PNG/SVG figure in the static page"
    shown = [src for src in images if f'src="{src}"' in html]
    assert shown, f"{chapter}: figure outputs {images} are not rendered as <img> in the HTML"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_no_error_output(pages, chapter):
    page = pages[chapter]
    problems = []
    for index, cell in enumerate(_outputs_by_cell(page["json"]["mdast"])):
        for out in cell:
            kind = out.get("output_type")
            if kind == "error":
                problems.append(f"output group {index}: {out.get('ename')}: {out.get('evalue')}")
            elif kind == "stream" and out.get("name") == "stderr":
                text = _text(out.get("text"))
                if re.search(r"Traceback|Error\b|Exception\b|Warning\b", text):
                    problems.append(f"output group {index}: stderr: {text.strip()[:300]}")
    html = page["html"].read_text(encoding="utf-8")
    for marker in ("Traceback (most recent call last)", "myst-jp-error-output"):
        if marker in html:
            problems.append(f"HTML contains {marker!r}")
    assert not problems, f"{chapter} shows errors:\n" + "\n".join(problems)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_widgets_leave_a_static_figure(pages, chapter):
    """An ipywidgets output alone renders as 'a Jupyter kernel connection is required'."""
    page = pages[chapter]
    bare = []
    for index, cell in enumerate(_outputs_by_cell(page["json"]["mdast"])):
        has_widget = any(WIDGET_MIME in out.get("data", {}) for out in cell)
        has_image = any(m in out.get("data", {}) for out in cell for m in IMAGE_MIMES)
        if has_widget and not has_image:
            bare.append(index)
    assert not bare, (f"{chapter}: output groups {bare} contain only an ipywidgets view; "
                      "also display a static matplotlib figure in that cell (or hide the "
                      "widget output with the remove-output tag)")
    html = page["html"].read_text(encoding="utf-8")
    assert KERNEL_PLACEHOLDER not in html


def _live_outputs(page) -> list[tuple[int, list[dict]]]:
    """(index, outputs) of the output groups that hold an ipywidgets view (viz.live's controls)."""
    return [(index, cell) for index, cell in enumerate(_outputs_by_cell(page["json"]["mdast"]))
            if any(WIDGET_MIME in out.get("data", {}) for out in cell)]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_live_controls_fall_back_to_a_note(pages, chapter):
    """Without a kernel the theme drops the widget view and renders the output's text/html; when
    there is none it shows its 'kernel connection is required' placeholder instead. viz.live's
    controls therefore carry our one-line note as text/html (and text/plain).

    A failure here after changing conv_lib/viz.py can mean stale outputs: MyST's execution cache
    (book/_build/execute) is keyed on the notebook's code only, so delete it and rebuild."""
    page = pages[chapter]
    problems = []
    for index, cell in _live_outputs(page):
        for out in cell:
            data = out.get("data", {})
            if WIDGET_MIME not in data:
                continue
            if LIVE_NOTE not in _text(data.get("text/html")):
                problems.append(f"output group {index}: widget view without the text/html note")
            if LIVE_NOTE not in _text(data.get("text/plain")):
                problems.append(f"output group {index}: text/plain is {_text(data.get('text/plain'))[:80]!r}")
    assert not problems, f"{chapter}:\n" + "\n".join(problems)


@pytest.mark.browser
def test_live_chapters_show_the_note_not_the_kernel_placeholder(pages):
    """What a reader sees: every chapter with viz.live controls, opened in headless Chromium, shows
    the static figure and our note, and nowhere the theme's 'kernel connection is required'."""
    sync_api = pytest.importorskip("playwright.sync_api")
    live = {chapter: pages[chapter] for chapter in CHAPTERS if _live_outputs(pages[chapter])}
    assert live, "no chapter page has viz.live controls: is the test looking at the right site?"
    problems = []
    with serve(SITE) as base, sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            for chapter, info in live.items():
                expected = len(_live_outputs(info))
                page.goto(f"{base}/{info['slug']}", wait_until="networkidle")
                # Outputs with HTML are rendered client-side (thebe's passive renderer): wait until
                # each widget output shows either the note or the placeholder.
                try:
                    page.wait_for_function(
                        """([note, placeholder, n]) => {
                            const text = document.body.innerText;
                            return text.split(note).length - 1 + text.split(placeholder).length - 1 >= n;
                        }""", arg=[LIVE_NOTE, KERNEL_PLACEHOLDER, expected], timeout=30_000)
                except sync_api.TimeoutError:
                    pass
                text = page.inner_text("body")
                if KERNEL_PLACEHOLDER in text or page.locator(".thebe-ipywidgets-placeholder").count():
                    problems.append(f"{chapter}: shows {KERNEL_PLACEHOLDER!r}")
                if text.count(LIVE_NOTE) != expected:
                    problems.append(f"{chapter}: the note appears {text.count(LIVE_NOTE)} times, "
                                    f"expected once per viz.live ({expected})")
                figures = page.locator("[data-name=outputs-container] img")
                if figures.count() == 0 or not figures.first.evaluate("img => img.naturalWidth > 0"):
                    problems.append(f"{chapter}: no static figure image loaded")
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


def test_chapters_are_numbered_in_toc_order(site):
    config = json.loads((SITE / "config.json").read_text(encoding="utf-8"))
    enumerators = [page.get("enumerator") for page in config["projects"][0]["pages"]
                   if page.get("level") == 1]
    expected = [str(NUMBERED.index(f) + 1) if f in NUMBERED else None for f in EXPECTED_TOC[1:]]
    assert enumerators == expected, "chapters are numbered 1, 2, ...; appendix and extra pages not"


def _nodes(node, kind):
    if isinstance(node, dict):
        if node.get("type") == kind:
            yield node
        for value in node.values():
            yield from _nodes(value, kind)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value, kind)


@pytest.mark.parametrize("source", sorted(PLAYGROUNDS))
def test_playgrounds_are_embedded_and_shipped(pages, source):
    """Each {anywidget} block points at a bundled module that the site serves itself."""
    page = pages[source]
    served = sorted(str(node.get("esm", "")) for node in _nodes(page["json"]["mdast"], "anywidget"))
    for name in PLAYGROUNDS[source]:
        matches = [url for url in served if re.search(rf"/{name}-[0-9a-f]+\.mjs$", url)]
        assert matches, f"{source}: no {{anywidget}} block loading {name}.mjs (found {served})"
        for url in matches:
            assert (SITE / "build" / url.rsplit("/", 1)[1]).is_file(), f"{url} is not in the site"


def test_theme_stylesheets_are_served_by_the_site(pages):
    """Math is styled by KaTeX's stylesheet served by the site itself, and so are the theme's two
    other stylesheets (Font Awesome, ipympl's widget CSS): ``conv_lib.tools.site_offline``
    relinked them in the theme before the build, so every page links the site's own copies."""
    index_html = pages["index.md"]["html"].read_text(encoding="utf-8")
    assert 'class="katex"' in index_html, "the landing page's formula is not rendered by KaTeX"
    from conv_lib.tools.site_offline import LINKS
    for source, page in pages.items():
        html = page["html"].read_text(encoding="utf-8")
        assert "cdn.jsdelivr.net/npm/katex" not in html and "cdnjs.cloudflare.com" not in html, \
            f"{source}: a stylesheet still comes from a CDN"
        for _, _, target in LINKS:
            assert f'href="/build/_vendor/{target}"' in html, f"{source}: {target} not linked"
    katex = (SITE / "build" / "_vendor" / "katex" / "katex.min.css").read_text(encoding="utf-8")
    assert ".katex" in katex
    for font in re.findall(r"url\((fonts/[\w-]+\.woff2)\)", katex):
        assert (SITE / "build" / "_vendor" / "katex" / font).is_file(), f"KaTeX font {font} missing"
    awesome = (SITE / "build" / "_vendor" / "font-awesome" / "css" / "font-awesome.css")
    for font in set(re.findall(r"url\('\.\./(fonts/[\w.-]+?)[?#']", awesome.read_text("utf-8"))):
        assert (awesome.parent.parent / font).is_file(), f"Font Awesome font {font} missing"


def test_outputs_carry_no_tex(pages):
    """The theme renders notebook outputs without MathJax (``site_offline`` empties thebe's CDN
    URL for it): that is only right while no HTML, Markdown or LaTeX output carries TeX. Math in
    prose is rendered by KaTeX at build time and is not an output."""
    tex = re.compile(r"\$[^$\n]+\$|\\\(|\\\[|\\begin\{")
    found = []
    for source, page in pages.items():
        for cell in _outputs_by_cell(page["json"]["mdast"]):
            for output in cell:
                for mime, value in (output.get("data") or {}).items():
                    if mime not in ("text/html", "text/markdown", "text/latex"):
                        continue
                    if isinstance(value, dict):        # MyST: {"content": ...} or {"path": ...}
                        path = value.get("path")
                        value = value.get("content") or (
                            (SITE / path.lstrip("/")).read_text(encoding="utf-8") if path else "")
                    text = "".join(value) if isinstance(value, list) else str(value)
                    if tex.search(text):
                        found.append(f"{source}: {mime} output with TeX: {text[:80]!r}")
    assert not found, "\n".join(found)


def test_build_html_is_not_rewritten(pages):
    """No post-build rewrite of the theme's CDN links (the old offline post-processing replaced
    them with empty data: stylesheets, which made every page fail to hydrate)."""
    for source, page in pages.items():
        html = page["html"].read_text(encoding="utf-8")
        assert 'href="data:text/css,"' not in html, f"{source}: rewritten stylesheet link"
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "SITE_OFFLINE_PY" not in makefile


def test_build_log_is_clean(site):
    """Widgets created while MyST executes the notebooks have no frontend; the build gives them
    inert comms instead of logging "Exception opening new comm" once per widget."""
    noisy = [line.strip() for line in site.log.splitlines()
             if re.search(r"Exception opening new comm|Traceback \(most recent call last\)", line)]
    assert not noisy, f"{len(noisy)} error lines in the build log, e.g. {noisy[:3]}"


def _page_url(base, info):
    """Where the served site shows a page (the index at the root)."""
    return base + ("/" if info["slug"] == "index" else f"/{info['slug']}")


@pytest.mark.browser
def test_pages_have_no_console_errors(pages):
    """Every page, opened in headless Chromium, raises no page error, logs no console error and
    asks no other host for anything (the theme's CDN stylesheets are served by the site itself,
    see test_theme_stylesheets_are_served_by_the_site), and every file it loads exists. Page
    errors include React's hydration errors (#418/#423), which a rewrite of the built HTML that
    the browser bundle does not share would cause."""
    sync_api = pytest.importorskip("playwright.sync_api")
    problems = []
    with serve(SITE) as base, sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            for source, info in sorted(pages.items()):
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                errors, failed, foreign = [], [], []
                page.on("pageerror", lambda exc, errors=errors: errors.append(f"pageerror: {exc}"))
                page.on("console", lambda msg, errors=errors: errors.append(
                    f"console error: {msg.text} ({(msg.location or {}).get('url', '')})")
                    if msg.type == "error" else None)
                page.on("requestfailed", lambda req, failed=failed: failed.append(req.url))
                page.on("request", lambda req, foreign=foreign: foreign.append(req.url)
                        if not req.url.startswith((base, "data:", "blob:")) else None)
                page.goto(_page_url(base, info), wait_until="networkidle")
                page.wait_for_timeout(500)  # hydration errors are logged after the load event
                page.close()
                problems += [f"{source}: asks another host for {u}" for u in sorted(set(foreign))]
                problems += [f"{source}: failed to load {u}" for u in sorted(set(failed))]
                problems += [f"{source}: {error}" for error in errors]
        finally:
            browser.close()
    assert not problems, "\n".join(problems)


@pytest.mark.browser
def test_pages_do_not_pan_sideways_on_a_phone(pages):
    """At a phone's width (375 px) no page is wider than the screen: wide code, tables and figures
    scroll inside their own boxes, and nothing else (such as the theme's hidden heading permalinks,
    which ``book/site.css`` clips) makes the whole page pan sideways."""
    sync_api = pytest.importorskip("playwright.sync_api")
    wide = []
    with serve(SITE) as base, sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 375, "height": 800})
            for source, info in sorted(pages.items()):
                page.goto(_page_url(base, info), wait_until="networkidle")
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > 375:
                    wide.append(f"{source}: {width} px wide")
        finally:
            browser.close()
    assert not wide, "\n".join(wide)


def test_exercises_are_downloadable(pages):
    html = pages["index.md"]["html"].read_text(encoding="utf-8")
    for name in EXERCISES:
        stem = name[: -len(".ipynb")]
        links = re.findall(rf'href="(/build/{re.escape(stem)}-[0-9a-f]+\.ipynb)"', html)
        assert links, f"index page has no download link for exercises/{name}"
        served = SITE / links[0].lstrip("/")
        assert served.is_file(), f"{links[0]} is linked but not in the site"
        source = nbformat.read(ROOT / "exercises" / name, as_version=4)
        assert nbformat.reads(served.read_text(encoding="utf-8"), as_version=4) == source


def test_execution_cache_key_matches_myst(site):
    """After any build, MyST's cache holds every chapter under the key nbval_myst_cache uses.

    If MyST executed a notebook itself, this proves our key equals MyST's; if the outputs came
    from nbval, MyST found them under our key (see the next test)."""
    missing = []
    for chapter in book_chapters():
        nb = nbformat.read(BOOK / chapter, as_version=4)
        if cacheable_reason(nb):  # MyST hashes more than the code cells: not comparable
            continue
        key = myst_cache_key(nb)
        if not (EXECUTE_CACHE / f"{key}.ipynb").is_file():
            missing.append(f"{chapter} ({key})")
    assert not missing, "no MyST execution cache entry under our key for: " + ", ".join(missing)


@pytest.mark.skipif(os.environ.get("CK_SITE_AFTER_NBVAL") != "1",
                    reason="only meaningful inside `make test`, after the nbval run")
def test_site_reused_nbval_outputs(site):
    """Inside `make test`, nbval already executed every chapter: the site must not again."""
    expected = [c for c in book_chapters()
                if not cacheable_reason(nbformat.read(BOOK / c, as_version=4))]
    not_cached = sorted(set(expected) - set(site.cached_before))
    assert not not_cached, (f"nbval left no outputs for {not_cached} (failed or skipped "
                            "cells? see the nbval run above), so the site executed them again")
    executed = [name for name in re.findall(r"Executing notebook \(([^)]+)\)", site.log)
                if Path(name).name in expected]
    assert not executed, f"the site build executed {executed} a second time"
