"""Make the book's theme load its stylesheets from the site itself instead of from CDNs.

    python -m conv_lib.tools.site_offline THEME_DIR NODE_MODULES     # what `make site` runs

book-theme 1.3.1 links three stylesheets on CDNs from every page: KaTeX's (jsDelivr, with an
integrity hash), Font Awesome 4.7.0's (cdnjs) and ipympl's widget CSS 0.11.3 (jsDelivr). Without
internet, or behind a firewall that blocks those hosts, each is a failed request and a console
error on every page. ``make site`` installs the same packages from npm; this tool copies their
stylesheets (and fonts) into the theme's ``public/build/_vendor/`` and points the three links
there -- in the theme's server bundle AND in its browser bundle, with the same text in both, so the
HTML the server renders is exactly what React hydrates in the browser (rewriting only the built
HTML made React fail to hydrate every page). MyST's static export turns the theme's
``/myst_assets_folder/`` prefix into ``<BASE_URL>/build/`` in every file, so the links follow
``BASE_URL`` like the theme's own assets. KaTeX is the version the theme renders math with
(0.15.6; the link named 0.15.2), so its integrity attribute goes; ipympl's CSS is npm's 0.12.0
(0.11.3 is no longer published).

One more request left the site: the theme renders notebook outputs with thebe, whose renderers
load MathJax 2.7.5 from cdnjs to typeset TeX inside HTML outputs, on every notebook page. The
book's math is rendered by KaTeX when the site is built and no output carries TeX
(``tests/test_site.py`` checks that), so thebe's default MathJax URL is emptied instead: thebe
then leaves MathJax out. Running the tool again changes nothing.
"""
import argparse
import re
import shutil
import sys
from pathlib import Path

PREFIX = "/myst_assets_folder/_vendor/"

# (what the theme's bundles contain, what replaces it, the local file it names)
LINKS = (
    (re.compile(r'href:"https://cdn\.jsdelivr\.net/npm/katex@[\d.]+/dist/katex\.min\.css",'
                r'integrity:"[^"]*",crossOrigin:"anonymous"'),
     f'href:"{PREFIX}katex/katex.min.css"', "katex/katex.min.css"),
    (re.compile(re.escape('"https://cdnjs.cloudflare.com/ajax/libs/font-awesome/4.7.0/css/'
                          'font-awesome.css"')),
     f'"{PREFIX}font-awesome/css/font-awesome.css"', "font-awesome/css/font-awesome.css"),
    (re.compile(re.escape('"https://cdn.jsdelivr.net/npm/jupyter-matplotlib@0.11.3/css/'
                          'mpl_widget.css"')),
     f'"{PREFIX}jupyter-matplotlib/css/mpl_widget.css"', "jupyter-matplotlib/css/mpl_widget.css"),
)

# thebe's default MathJax URL (its renderers load MathJax only when it is set)
MATHJAX = '"https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.5/MathJax.js"'

# (npm package path under node_modules, its place under _vendor/): files and whole directories
COPIES = (
    ("katex/dist/katex.min.css", "katex/katex.min.css"),
    ("katex/dist/fonts", "katex/fonts"),
    ("font-awesome/css/font-awesome.css", "font-awesome/css/font-awesome.css"),
    ("font-awesome/fonts", "font-awesome/fonts"),
    ("jupyter-matplotlib/css/mpl_widget.css", "jupyter-matplotlib/css/mpl_widget.css"),
)


class ThemeError(RuntimeError):
    """The theme or the npm packages are not what this tool expects."""


def bundles(theme):
    """The theme's JavaScript: the server build, the browser build and thebe's scripts."""
    return sorted([*(theme / "build").rglob("*.js"), *(theme / "public").rglob("*.js")])


def patch(theme, node_modules):
    """Copy the stylesheets into the theme and relink them; returns the files changed."""
    theme, node_modules = Path(theme), Path(node_modules)
    if not (theme / "template.yml").is_file():
        raise ThemeError(f"{theme} is not an unpacked MyST theme (no template.yml)")
    vendor = theme / "public" / "build" / "_vendor"
    for source, target in COPIES:
        src, dst = node_modules / source, vendor / target
        if not src.exists():
            raise ThemeError(f"{src} is missing: install the npm packages first (make site)")
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, dst)
    changed, found = [], {target: 0 for _, _, target in LINKS}
    for js in bundles(theme):
        text = js.read_text(encoding="utf-8")
        new = text
        for pattern, replacement, target in LINKS:
            new = pattern.sub(replacement, new)
            found[target] += new.count(replacement)          # replaced now or in an earlier run
        new = new.replace(MATHJAX, '""')
        if new != text:
            js.write_text(new, encoding="utf-8")
            changed.append(js)
    # every link must now be in both bundles (server and browser), pointing at a copied file
    for target, count in found.items():
        if count < 2:
            raise ThemeError(f"the theme's link to {target} was not found in its server and "
                             f"browser bundles ({count} found): a different theme version?")
        if not (vendor / target).is_file():
            raise ThemeError(f"{vendor / target} was not copied")
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("theme", type=Path, help="the unpacked book-theme directory")
    parser.add_argument("node_modules", type=Path, help="where npm installed katex, font-awesome "
                                                        "and jupyter-matplotlib")
    args = parser.parse_args(argv)
    try:
        changed = patch(args.theme, args.node_modules)
    except ThemeError as error:
        print(f"site_offline: {error}", file=sys.stderr)
        return 1
    if changed:
        print(f"Theme served from the site itself: {len(changed)} bundle(s) relinked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
