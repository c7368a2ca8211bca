"""conv_lib.tools.site_offline on a miniature theme: the three CDN links of book-theme 1.3.1 are
replaced by the same text in the server and the browser bundle, the files they name are copied,
thebe's MathJax URL is emptied, a second run changes nothing, and a theme without those links is
refused."""
import pytest

from conv_lib.tools import site_offline

# the three links exactly as book-theme 1.3.1's bundles write them
KATEX = ('var Fp={rel:"stylesheet",href:"https://cdn.jsdelivr.net/npm/katex@0.15.2/dist/'
         'katex.min.css",integrity:"sha384-MlJdn/WNKDGXveldHDdyRP1R4CTHr3FeuDNfhsLPYrq2t0UBkUdK2jy'
         'TnXPEK1NQ",crossOrigin:"anonymous"};')
OTHERS = ('St=()=>[{rel:"stylesheet",href:Be},{rel:"stylesheet",href:"https://cdn.jsdelivr.net/'
          'npm/jupyter-matplotlib@0.11.3/css/mpl_widget.css"},{rel:"stylesheet",href:"https://'
          'cdnjs.cloudflare.com/ajax/libs/font-awesome/4.7.0/css/font-awesome.css"}];')
THEBE = 'var Puu="https://cdn.jsdelivr.net/npm/";'      # thebe's loader: not a link, left alone
MATHJAX = ('function px(n){return Object.assign({mathjaxUrl:"https://cdnjs.cloudflare.com/ajax/libs/'
           'mathjax/2.7.5/MathJax.js",mathjaxConfig:"TeX-AMS_CHTML-full,Safe"},n)}')


def _theme(tmp_path, server=KATEX + OTHERS + THEBE + MATHJAX,
           browser=(KATEX, OTHERS + THEBE + MATHJAX)):
    theme = tmp_path / "book-theme"
    (theme / "build").mkdir(parents=True)
    (theme / "public" / "build" / "_shared").mkdir(parents=True)
    (theme / "template.yml").write_text("jtex: v1\n")
    (theme / "build" / "index.js").write_text(server)
    (theme / "public" / "build" / "_shared" / "chunk.js").write_text(browser[0])
    (theme / "public" / "build" / "root.js").write_text(browser[1])
    (theme / "public" / "thebe-core.min.js").write_text(MATHJAX)          # thebe, outside build/
    modules = tmp_path / "node_modules"
    for path in ("katex/dist/katex.min.css", "katex/dist/fonts/KaTeX_Main-Regular.woff2",
                 "font-awesome/css/font-awesome.css", "font-awesome/fonts/fontawesome-webfont.woff2",
                 "jupyter-matplotlib/css/mpl_widget.css"):
        (modules / path).parent.mkdir(parents=True, exist_ok=True)
        (modules / path).write_text(f"/* {path} */")
    return theme, modules


def test_links_point_at_the_copies_in_both_bundles(tmp_path):
    theme, modules = _theme(tmp_path)
    changed = site_offline.patch(theme, modules)
    assert len(changed) == 4
    server = (theme / "build" / "index.js").read_text()
    browser = "".join(p.read_text() for p in sorted((theme / "public" / "build").rglob("*.js")))
    for text in (server, browser):
        assert "katex@0.15.2" not in text and "cdnjs.cloudflare.com" not in text
        assert "jupyter-matplotlib@0.11.3" not in text and "integrity:" not in text
        assert 'href:"/myst_assets_folder/_vendor/katex/katex.min.css"}' in text
        assert '"/myst_assets_folder/_vendor/font-awesome/css/font-awesome.css"' in text
        assert '"/myst_assets_folder/_vendor/jupyter-matplotlib/css/mpl_widget.css"' in text
        assert THEBE in text
        assert 'Object.assign({mathjaxUrl:"",mathjaxConfig:' in text   # thebe leaves MathJax out
    vendor = theme / "public" / "build" / "_vendor"
    for target in ("katex/katex.min.css", "katex/fonts/KaTeX_Main-Regular.woff2",
                   "font-awesome/css/font-awesome.css", "font-awesome/fonts/fontawesome-webfont.woff2",
                   "jupyter-matplotlib/css/mpl_widget.css"):
        assert (vendor / target).is_file(), target
    assert "MathJax.js" not in (theme / "public" / "thebe-core.min.js").read_text()
    assert site_offline.patch(theme, modules) == []          # a second run: nothing to change
    assert (theme / "build" / "index.js").read_text() == server


def test_a_theme_without_the_links_is_refused(tmp_path):
    theme, modules = _theme(tmp_path, server=OTHERS, browser=(KATEX, OTHERS))
    with pytest.raises(site_offline.ThemeError, match="katex/katex.min.css"):
        site_offline.patch(theme, modules)


def test_missing_npm_packages_are_named(tmp_path, capsys):
    theme, modules = _theme(tmp_path)
    (modules / "jupyter-matplotlib" / "css" / "mpl_widget.css").unlink()
    assert site_offline.main([str(theme), str(modules)]) == 1
    assert "mpl_widget.css is missing" in capsys.readouterr().err
