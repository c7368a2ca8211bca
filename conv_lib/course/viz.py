"""Small matplotlib helpers shared by the chapters, so notebooks hold prose and maths, not plotting code.

* ``show_grid``   draws a 2-D array as labelled cells (padding hatched, sampled taps outlined).
* ``show_signal`` draws a 1-D signal as a stem plot with optional highlighted samples.
* ``live``        wires ipywidgets controls to a drawing function and ALSO leaves a static figure at
                  the default values, because a static book page cannot run Python.
"""
import numpy as np


def _axes(ax, figsize=(4, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def show_grid(values, ax=None, title=None, pad_mask=None, highlight=None, fmt="{:g}",
              cmap="Blues", fontsize=None, vmin=None, vmax=None):
    """Draw a 2-D array as a grid of numbered cells.

    values    : (H, W) array
    pad_mask  : (H, W) bool array, True where a cell is padding (drawn hatched, grey text)
    highlight : (H, W) bool array or iterable of (row, col): cells outlined in a thick border and
                marked with a dot, so the cue does not rely on colour alone
    Returns the matplotlib Axes.
    """
    from matplotlib.patches import Rectangle

    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"show_grid needs a 2-D array, got shape {values.shape}")
    ax = _axes(ax, figsize=(max(2, 0.5 * values.shape[1]), max(2, 0.5 * values.shape[0])))
    h, w = values.shape
    ax.imshow(values, cmap=cmap, vmin=vmin, vmax=vmax)
    if pad_mask is not None:
        for r, c in zip(*np.nonzero(np.asarray(pad_mask))):
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, facecolor="0.92", edgecolor="0.6",
                                   hatch="///", linewidth=0.5))
    marks = set()
    if highlight is not None:
        hl = np.asarray(highlight)
        marks = set(zip(*np.nonzero(hl))) if hl.dtype == bool else {tuple(p) for p in highlight}
        for r, c in marks:
            ax.add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, edgecolor="#d62728",
                                   linewidth=2.5))
    size = fontsize or (9 if max(h, w) <= 9 else 7 if max(h, w) <= 14 else 5)
    span = np.nanmax(np.abs(values)) if values.size else 1
    for r in range(h):
        for c in range(w):
            padded = pad_mask is not None and bool(np.asarray(pad_mask)[r, c])
            dark = not padded and abs(values[r, c]) > 0.6 * (vmax if vmax is not None else span)
            text = fmt.format(values[r, c]) + ("•" if (r, c) in marks else "")
            ax.text(c, r, text, ha="center", va="center", fontsize=size,
                    color="0.45" if padded else ("white" if dark else "black"))
    ax.set_xticks(np.arange(-0.5, w, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, h, 1), minor=True)
    ax.grid(which="minor", color="0.75", linewidth=0.5)
    ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_signal(values, ax=None, title=None, highlight=(), label=None, color="C0"):
    """Stem plot of a 1-D signal; indices in ``highlight`` get a filled red marker."""
    ax = _axes(ax, figsize=(6, 2))
    values = np.asarray(values, dtype=float)
    idx = np.arange(len(values))
    ax.stem(idx, values, linefmt=color, markerfmt="o", basefmt="0.7", label=label)
    hl = list(highlight)
    if hl:
        ax.plot(hl, values[hl], "s", color="#d62728", markersize=8, fillstyle="none",
                markeredgewidth=2)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


# What a page without a kernel (the static book) shows in place of viz.live's controls.
LIVE_NOTE = "Interactive controls: run this notebook in JupyterLab to use them."


def live(draw, caption=None, **controls):
    """Interactive figure: ``draw(**values)`` must build and return a matplotlib Figure.

    ``controls`` maps argument names to ipywidgets widgets; each widget's current ``value`` is the
    default. Two things are displayed: a static figure at the defaults (what the printed/static
    book shows) and, below it, the controls with a live figure that redraws on every change
    (JupyterLab). Returns a ``Live`` handle (``.box``, ``.controls``).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from html import escape

    from IPython.display import HTML, display

    defaults = {name: w.value for name, w in controls.items()}
    static = draw(**defaults)
    shown = ", ".join(f"{k}={v!r}" for k, v in defaults.items())
    text = caption or f"Static snapshot at {shown}. Run the notebook to move the controls."
    display(HTML(f"<p><em>{escape(text)}</em></p>"))
    display(static)
    plt.close(static)

    out = widgets.Output()

    def redraw(_change=None):
        # Write into the Output widget's own state (not via `with out:`), so that headless
        # executors (nbval, Jupyter Book) never see the live figure as a second cell output.
        fig = draw(**{name: w.value for name, w in controls.items()})
        out.outputs = ()
        out.append_display_data(fig)
        plt.close(fig)

    for w in controls.values():
        w.observe(redraw, names="value")
    box = widgets.VBox([widgets.HBox(list(controls.values()),
                                     layout=widgets.Layout(flex_flow="row wrap")), out])
    redraw()
    # Where no widget manager runs, a frontend falls back to another MIME type of this output:
    # a sentence, not the VBox(...) repr. The static book needs the text/html one: its theme
    # strips the widget view and, when no text/html is left, puts "ipywidgets - a Jupyter kernel
    # connection is required to fully display this output" above the text/plain. JupyterLab
    # ranks the widget renderer above HTML, so there the live controls show, exactly once.
    bundle = box._repr_mimebundle_()
    bundle["text/plain"] = f"[{LIVE_NOTE}]"
    bundle["text/html"] = f'<p class="ck-live-note"><small><em>{escape(LIVE_NOTE)}</em></small></p>'
    display(bundle, raw=True)
    return Live(box, controls)


class Live:
    """What ``live`` returns: ``.box`` (the widget box) and ``.controls`` (name -> widget).

    It displays as nothing, so that ``viz.live(...)`` as the last line of a cell does not show the
    controls a second time.
    """

    def __init__(self, box, controls):
        self.box, self.controls = box, dict(controls)

    def _ipython_display_(self):
        pass


def markdown(text):
    """Display Markdown generated by code (prose around measured numbers, tables).

    Two renderings of the same text: text/markdown for JupyterLab, and text/html (rendered here
    with markdown-it, tables enabled) for the static book, whose theme does not render Markdown
    outputs. Inline math is not rendered in the HTML form, so generated prose avoids it.
    """
    from IPython.display import display
    from markdown_it import MarkdownIt

    # wide tables scroll sideways instead of being cut off at the page's text column
    html = ('<div style="overflow-x: auto">'
            + MarkdownIt("commonmark").enable("table").render(text) + "</div>")
    display({"text/html": html, "text/markdown": text, "text/plain": text}, raw=True)
