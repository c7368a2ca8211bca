"""Frames as display lists: the model of ``frames.py`` laid out as rectangles, circles, lines
and text, in pixels. Both renderers (``render_raster``, ``render_svg``) play the same lists, so
a GIF and an SVG of the same call show the same picture.

A ``Scene`` is a static ``base`` (drawn once) plus one overlay list per frame. ``boxes`` records
where each cell was put (``boxes["input"][(row, col)] = (x0, y0, x1, y1)``) so tests can look
at the pixels of a rendered frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .frames import ConvModel, GroupModel, ScatterModel, StackModel

# Okabe & Ito's colour-blind-safe palette (orange #E69F00, sky blue #56B4E9, bluish green
# #009E73, yellow #F0E442, blue #0072B2, vermillion #D55E00, reddish purple #CC79A7), as
# fills (light tints) and strokes. Every key can be overridden.
PALETTE = {
    "background": "#ffffff",
    "text": "#1a1a1a",
    "muted": "#7a7a7a",
    "input": "#cde6f7",          # sky blue tint
    "zero": "#ffffff",           # inserted by input dilation
    "pad_zeros": "#ffffff",
    "pad_reflect": "#f5d9a0",    # orange tint
    "pad_replicate": "#f6efa6",  # yellow tint
    "pad_circular": "#efcce0",   # reddish purple tint
    "kernel": "#0072b2",         # blue: the kernel footprint and the edges it follows
    "tap": "#8ab9da",            # fill of a cell under the kernel
    "hidden": "#e6e6e6",         # intermediate activations of a stack
    "output": "#bfe6d9",         # bluish green tint: outputs already computed
    "current": "#009e73",        # bluish green: the output being computed
    "active": "#d55e00",         # vermillion: the input being scattered
    "cropped": "#ececec",        # transposed conv cells removed by padding
}


@dataclass(frozen=True)
class Rect:
    x0: float
    y0: float
    x1: float
    y1: float
    fill: str | None
    outline: str | None = None
    width: int = 1
    dash: bool = False


@dataclass(frozen=True)
class Circle:
    cx: float
    cy: float
    r: float
    fill: str | None
    outline: str | None = None
    width: int = 1
    dash: bool = False


@dataclass(frozen=True)
class Line:
    x0: float
    y0: float
    x1: float
    y1: float
    color: str
    width: int = 1


@dataclass(frozen=True)
class Text:
    x: float
    y: float
    text: str
    size: int
    color: str
    anchor: str = "mm"           # Pillow anchors: "mm" centre, "lt" left-top, "rb" right-bottom


@dataclass
class Scene:
    width: int
    height: int
    background: str
    base: list
    frames: list
    durations: list
    boxes: dict = field(default_factory=dict)
    caption: str = ""


@dataclass(frozen=True)
class Style:
    """Everything about the look that is not data: overridable from Python and the CLI."""
    cell: int = 36
    fps: float = 2.0
    hold: float = 3.0            # the last frame stays hold times as long
    numbers: bool = False
    palette: dict = field(default_factory=lambda: dict(PALETTE))

    def __post_init__(self):
        cell = self.cell
        if not isinstance(cell, int) or isinstance(cell, bool) or not 12 <= cell <= 200:
            raise ValueError(f"cell_size must be an int from 12 to 200 pixels, "
                             f"got cell_size={cell!r}")
        if not isinstance(self.fps, (int, float)) or not 0.1 <= self.fps <= 50:
            raise ValueError(f"fps must be a number from 0.1 to 50, got fps={self.fps!r}")
        unknown = sorted(set(self.palette) - set(PALETTE))
        if unknown:
            raise ValueError(f"palette has unknown keys {unknown}; valid keys: {list(PALETTE)}")
        for key, value in self.palette.items():
            if not (isinstance(value, str) and len(value) == 7 and value[0] == "#"
                    and all(ch in "0123456789abcdefABCDEF" for ch in value[1:])):
                raise ValueError(f"palette[{key!r}] must be a colour '#rrggbb', got {value!r}")

    def color(self, key):
        return self.palette.get(key, PALETTE[key]).lower()

    def durations(self, n):
        step = round(1000 / self.fps)
        return [step] * (n - 1) + [round(step * self.hold)]


def _fmt(value):
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.1e}"


def _times(sizes):
    return "×".join(str(n) for n in sizes)


def _knob(values):
    """One number when every dim agrees (stride 2), else one per dim (stride 2×1)."""
    return str(values[0]) if len(set(values)) == 1 else _times(values)


class _Builder:
    """Shared helpers: font sizes from the cell size, cell shapes, captions."""

    def __init__(self, style):
        self.s = style
        self.c = style.cell
        self.big = max(8, round(self.c * 0.42))
        self.small = max(7, round(self.c * 0.27))
        self.label = max(9, round(self.c * 0.36))
        self.margin = max(6, self.c // 2)
        self.base, self.boxes = [], {}

    def cell(self, box, fill, *, outline=None, width=1, dash=False, main=None, corner=None,
             weight=None, text_color=None):
        """A square cell: fill, border, a centred label and an optional corner label."""
        x0, y0, x1, y1 = box
        shapes = [Rect(x0, y0, x1, y1, self.s.color(fill) if fill else None,
                       self.s.color(outline or "muted"), width, dash)]
        color = self.s.color(text_color or "text")
        if main is not None:
            shapes.append(Text((x0 + x1) / 2, (y0 + y1) / 2, main, self.big if corner is None
                               else self.small + 2, color))
        if corner is not None:
            shapes.append(Text(x0 + 3, y0 + 2, corner, self.small, color, "lt"))
        if weight is not None:
            shapes.append(Text(x1 - 3, y1 - 2, weight, self.small, self.s.color("kernel"), "rb"))
        return shapes

    def caption(self, text, y):
        return Text(self.margin, y, text, self.label, self.s.color("text"), "lt")

    def text_width(self, text, size):
        from .render_raster import font
        return font(size).getlength(text)


# ---------------------------------------------------------------------------------------------
# Convolution (and the transposed convolution as a convolution)


def _source_label(model, flat):
    if flat < 0:
        return None
    index = np.unravel_index(flat, model.sizes)
    return f"x{index[0]}" if model.ndim == 1 else ",".join(str(i) for i in index)


def conv_scene(model: ConvModel, style: Style) -> Scene:
    b, c = _Builder(style), style.cell
    grid = model.grid_values.shape
    grid2 = grid if model.ndim == 2 else (1,) + grid
    label_y = b.margin
    top = label_y + b.label + b.margin // 2
    copies = model.mode != "zeros"

    def grid_box(index):
        r, col = (index if model.ndim == 2 else (0, index[0]))
        return (b.margin + col * c, top + r * c, b.margin + (col + 1) * c, top + (r + 1) * c)

    def grid_cell(index, highlight=False, weight=None):
        kind, src = model.grid_kind[index], int(model.grid_source[index])
        value = _fmt(model.grid_values[index]) if style.numbers else None
        label = _source_label(model, src) if copies and kind != "zero" else None
        main, corner = (value, label) if value is not None else (label, None)
        if kind == "zero":
            main, fill, dash = ("0" if style.numbers else None), "zero", True
        elif kind == "pad":
            fill, dash = f"pad_{model.mode}", True
            if model.mode == "zeros":
                main, corner = ("0" if style.numbers else None), None
        else:
            fill, dash = "input", False
        if highlight:
            return b.cell(grid_box(index), "tap", outline="kernel", width=max(2, c // 12),
                          main=main, corner=corner, weight=weight)
        return b.cell(grid_box(index), fill, dash=dash, main=main, corner=corner,
                      text_color="muted" if kind != "input" and not copies else None)

    b.boxes["input"] = {}
    for index in np.ndindex(*grid):
        b.boxes["input"][index] = grid_box(index)
        b.base += grid_cell(index)
    in_right = b.margin + grid2[1] * c
    in_bottom = top + grid2[0] * c
    out = model.output.shape

    if model.ndim == 2:
        ox, oy = in_right + c, top + (grid2[0] - out[0]) * c / 2

        def out_box(o):
            return (ox + o[1] * c, oy + o[0] * c, ox + (o[1] + 1) * c, oy + (o[0] + 1) * c)
        out_label = (ox, label_y)
        right, bottom = ox + out[1] * c, in_bottom
    else:
        oy = in_bottom + 2 * c
        # output j sits under the centre of the cells it reads
        centres = [b.margin + c * (f.taps[0][0] + f.taps[-1][0] + 1) / 2 for f in model.frames]

        def out_box(o):
            x = centres[o[0]]
            return (x - c / 2, oy, x + c / 2, oy + c)
        out_label = (b.margin, oy - b.label - 4)
        right, bottom = max(in_right, out_box((len(centres) - 1,))[2]), oy + c
    b.base.append(Text(b.margin, label_y, "input", b.label, style.color("text"), "lt"))
    b.base.append(Text(*out_label, "output", b.label, style.color("text"), "lt"))
    b.boxes["output"] = {o: out_box(o) for o in np.ndindex(*out)}
    for o in np.ndindex(*out):
        b.base += b.cell(out_box(o), "background")

    frames = []
    for i, f in enumerate(model.frames):
        shapes = []
        for prev in model.frames[:i]:
            shapes += b.cell(out_box(prev.out), "output",
                             main=_fmt(prev.value) if style.numbers else None)
        for t, tap in zip(np.ndindex(*model.kernel.shape), f.taps):
            shapes += grid_cell(tap, True, f"×{_fmt(model.kernel[t])}" if style.numbers else None)
        ob = out_box(f.out)
        shapes += b.cell(ob, "current", outline="kernel", width=max(2, c // 12),
                         main=_fmt(f.value) if style.numbers else None, text_color="background")
        if model.ndim == 1:
            for tap in f.taps:
                x0, _, x1, y1 = grid_box(tap)
                shapes.insert(0, Line((x0 + x1) / 2, y1, (ob[0] + ob[2]) / 2, ob[1],
                                      style.color("kernel"), max(1, c // 18)))
        frames.append(shapes)
    caption = _conv_caption(model)
    cap_y = bottom + b.margin
    width = max(right, b.margin + b.text_width(caption, b.label)) + b.margin
    b.base.append(b.caption(caption, cap_y))
    return Scene(int(np.ceil(width)), int(cap_y + b.label + b.margin), style.color("background"),
                 b.base, frames, style.durations(len(frames)), b.boxes, caption)


def _conv_caption(model):
    k = model.kernel.shape
    if model.transposed:
        a = model.transposed
        parts = [f"transposed conv {_times(model.sizes)} → {_times(model.output.shape)}",
                 f"kernel {_times(k)}", f"stride {_knob(a['stride'])}",
                 f"padding {_knob(a['padding'])}"]
        if any(a["output_padding"]):
            parts.append(f"output_padding {_knob(a['output_padding'])}")
        if any(d > 1 for d in a["dilation"]):
            parts.append(f"dilation {_knob(a['dilation'])}")
        return " · ".join(parts)
    parts = [f"input {_times(model.sizes)}", f"kernel {_times(k)}"]
    if any(s > 1 for s in model.stride):
        parts.append(f"stride {_knob(model.stride)}")
    if any(d > 1 for d in model.dilation):
        parts.append(f"dilation {_knob(model.dilation)}")
    if any(d > 1 for d in model.input_dilation):
        parts.append(f"input dilation {_knob(model.input_dilation)}")
    pads = model.pads
    if any(lo or hi for lo, hi in pads):
        if len(set(pads)) == 1:        # the same in every dim: say it once
            lo, hi = pads[0]
            text = str(lo) if lo == hi else f"({lo},{hi})"
        else:
            text = " ".join(f"({lo},{hi})" for lo, hi in pads)
        parts.append(f"padding {text}" + ("" if model.mode == "zeros" else f" {model.mode}"))
    return " · ".join(parts) + f" → output {_times(model.output.shape)}"


# ---------------------------------------------------------------------------------------------
# Transposed convolution as a scatter


def scatter_scene(model: ScatterModel, style: Style) -> Scene:
    b, c = _Builder(style), style.cell
    one_d = model.ndim == 1
    label_y = b.margin
    top = label_y + b.label + b.margin // 2
    sizes2 = (1,) + model.sizes if one_d else model.sizes
    canvas2 = (1,) + model.canvas_sizes if one_d else model.canvas_sizes

    def in_box(i):
        r, col = (0, i[0]) if one_d else i
        return (b.margin + col * c, top + r * c, b.margin + (col + 1) * c, top + (r + 1) * c)

    cx0 = b.margin if one_d else b.margin + (sizes2[1] + 1) * c
    cy0 = top + 3 * c if one_d else top

    def canvas_box(j):
        r, col = (0, j[0]) if one_d else j
        return (cx0 + col * c, cy0 + r * c, cx0 + (col + 1) * c, cy0 + (r + 1) * c)

    def kept(j):
        return all(p <= a < n - p for a, n, p in zip(j, model.canvas_sizes, model.padding))

    b.boxes["input"] = {i: in_box(i) for i in np.ndindex(*model.sizes)}
    b.boxes["canvas"] = {j: canvas_box(j) for j in np.ndindex(*model.canvas_sizes)}
    for i in np.ndindex(*model.sizes):
        b.base += b.cell(in_box(i), "input", main=_fmt(model.x[i]) if style.numbers else None)
    for j in np.ndindex(*model.canvas_sizes):
        b.base += b.cell(canvas_box(j), "background" if kept(j) else "cropped", dash=not kept(j))
    b.base.append(Text(b.margin, label_y, "input", b.label, style.color("text"), "lt"))
    b.base.append(Text(cx0, cy0 - b.label - 4 if one_d else label_y,
                       "output (grey: cropped by padding)" if any(model.padding) else "output",
                       b.label, style.color("text"), "lt"))
    frames = []
    for n, f in enumerate(model.frames):
        shapes = []
        touched = {t for prev in model.frames[:n] for t in prev.targets}
        for j in sorted(touched - set(f.targets)):
            shapes += b.cell(canvas_box(j), "output" if kept(j) else "cropped", dash=not kept(j),
                             main=_fmt(f.partial[j]) if style.numbers else None)
        for t, j in zip(np.ndindex(*model.kernel.shape), f.targets):
            shapes += b.cell(canvas_box(j), "tap", outline="kernel", width=max(2, c // 12),
                             main=_fmt(f.partial[j]) if style.numbers else None,
                             weight=f"×{_fmt(model.kernel[t])}" if style.numbers else None)
        ib = in_box(f.inp)
        shapes += b.cell(ib, "active", outline="active", width=max(2, c // 12),
                         main=_fmt(model.x[f.inp]) if style.numbers else None,
                         text_color="background")
        if one_d:
            for j in f.targets:
                x0, y0, x1, _ = canvas_box(j)
                shapes.insert(0, Line((ib[0] + ib[2]) / 2, ib[3], (x0 + x1) / 2, y0,
                                      style.color("kernel"), max(1, c // 18)))
        frames.append(shapes)
    a = model
    caption = (f"transposed conv as a scatter: {_times(a.sizes)} → {_times(a.output.shape)} · "
               f"kernel {_times(a.kernel.shape)} · stride {_knob(a.stride)} · "
               f"padding {_knob(a.padding)}")
    if any(a.output_padding):
        caption += f" · output_padding {_knob(a.output_padding)}"
    if any(d > 1 for d in a.dilation):
        caption += f" · dilation {_knob(a.dilation)}"
    right = max(cx0 + canvas2[1] * c, b.margin + sizes2[1] * c)
    bottom = max(cy0 + canvas2[0] * c, top + sizes2[0] * c)
    cap_y = bottom + b.margin
    width = max(right, b.margin + b.text_width(caption, b.label)) + b.margin
    b.base.append(b.caption(caption, cap_y))
    return Scene(int(np.ceil(width)), int(cap_y + b.label + b.margin), style.color("background"),
                 b.base, frames, style.durations(len(frames)), b.boxes, caption)


# ---------------------------------------------------------------------------------------------
# Causal dilated stack over time


def stack_scene(model: StackModel, style: Style) -> Scene:
    b, c = _Builder(style), style.cell
    pad, levels = model.pad, len(model.levels)
    names = ["input"] + [f"d={d}" for d in model.dilations]
    names[-1] = f"output (d={model.dilations[-1]})"
    left = b.margin + max(b.text_width(n, b.label) for n in names) + b.margin
    top = b.margin
    gap = 1.6 * c
    r = c * 0.34

    def centre(level, t):
        return (left + (t + pad + 0.5) * c, top + (levels - 1 - level) * gap + c / 2)

    b.boxes["nodes"] = {}
    for level in range(levels):
        y = centre(level, 0)[1]
        b.base.append(Text(b.margin, y, names[level], b.label, style.color("text"), "lm"))
        fill = "input" if level == 0 else "hidden" if level < levels - 1 else "background"
        for t in range(-pad, model.length):
            x, y = centre(level, t)
            b.boxes["nodes"][(level, t)] = (x - r, y - r, x + r, y + r)
            if t < 0:
                b.base.append(Circle(x, y, r, style.color("background"), style.color("muted"),
                                     1, True))
            else:
                b.base.append(Circle(x, y, r, style.color(fill), style.color("muted")))
                if style.numbers:
                    b.base.append(Text(x, y, _fmt(model.levels[level][t]), b.small,
                                       style.color("text")))
    bottom = centre(0, 0)[1] + r + c * 0.3
    frames = []
    for f in model.frames:
        shapes = [Line(*centre(*a), *centre(*z), style.color("kernel"), max(1, c // 16))
                  for a, z in f.edges]
        for prev in range(f.t):
            x, y = centre(levels - 1, prev)
            shapes.append(Circle(x, y, r, style.color("output"), style.color("muted")))
        for level, nodes in enumerate(f.nodes[:-1]):
            for t in nodes:
                x, y = centre(level, t)
                shapes.append(Circle(x, y, r, style.color("tap" if t >= 0 else "background"),
                                     style.color("kernel"), max(2, c // 12), t < 0))
        x, y = centre(levels - 1, f.t)
        shapes.append(Circle(x, y, r, style.color("current"), style.color("kernel"),
                             max(2, c // 12)))
        if style.numbers:
            shapes += [Text(*centre(level, t), _fmt(model.levels[level][t]), b.small,
                            style.color("text"))
                       for level, nodes in enumerate(f.nodes) for t in nodes if t >= 0]
        start, stop = f.region
        x0, x1 = centre(0, start)[0] - c / 2, centre(0, stop - 1)[0] + c / 2
        shapes += [Line(x0, bottom, x1, bottom, style.color("kernel"), 2),
                   Line(x0, bottom - 5, x0, bottom + 5, style.color("kernel"), 2),
                   Line(x1, bottom - 5, x1, bottom + 5, style.color("kernel"), 2)]
        frames.append(shapes)
    rf = model.frames[0].region[1] - model.frames[0].region[0]
    caption = (f"causal stack · kernel {model.kernel} · dilations "
               f"{', '.join(map(str, model.dilations))} · receptive field {rf}")
    cap_y = bottom + b.margin
    width = max(left + (pad + model.length) * c, b.margin + b.text_width(caption, b.label))
    b.base.append(b.caption(caption, cap_y))
    return Scene(int(np.ceil(width + b.margin)), int(cap_y + b.label + b.margin),
                 style.color("background"), b.base, frames, style.durations(len(frames)), b.boxes,
                 caption)


# ---------------------------------------------------------------------------------------------
# Groups: channel connectivity


def group_scene(model: GroupModel, style: Style) -> Scene:
    b, c = _Builder(style), style.cell
    top = b.margin + b.label + b.margin // 2
    rows = max(model.c_in, model.c_out)
    step = 1.25 * c
    in_x, out_x = b.margin + c, b.margin + c + 5 * c

    def box(x, i, count):
        y = top + (rows - count) * step / 2 + i * step
        return (x, y, x + c, y + c)

    b.boxes["input"] = {ci: box(in_x, ci, model.c_in) for ci in range(model.c_in)}
    b.boxes["output"] = {o: box(out_x, o, model.c_out) for o in range(model.c_out)}
    per_in, per_out = model.c_in // model.groups, model.c_out // model.groups
    for g in range(model.groups):          # one bracket per group around its channels
        for x, lo, hi, count in ((in_x, g * per_in, (g + 1) * per_in - 1, model.c_in),
                                 (out_x, g * per_out, (g + 1) * per_out - 1, model.c_out)):
            y0, y1 = box(x, lo, count)[1] - 4, box(x, hi, count)[3] + 4
            b.base.append(Rect(x - 6, y0, x + c + 6, y1, None, style.color("muted"), 1, True))
        y = (box(in_x, g * per_in, model.c_in)[1] + box(in_x, (g + 1) * per_in - 1,
                                                          model.c_in)[3]) / 2
        b.base.append(Text(b.margin - 4, y, f"g{g}", b.label, style.color("muted"), "lm"))
    for o in range(model.c_out):
        for ci in np.flatnonzero(model.connected[o]):
            ib, ob = b.boxes["input"][ci], b.boxes["output"][o]
            b.base.append(Line(ib[2], (ib[1] + ib[3]) / 2, ob[0], (ob[1] + ob[3]) / 2,
                               style.color("hidden"), 1))
    for ci, bx in b.boxes["input"].items():
        b.base += b.cell(bx, "input", main=str(ci))
    for o, bx in b.boxes["output"].items():
        b.base += b.cell(bx, "background", main=str(o))
    b.base.append(Text(in_x - 6, b.margin, "input channels", b.label, style.color("text"), "lt"))
    b.base.append(Text(out_x + c + 6, b.margin, "output channels", b.label, style.color("text"),
                       "rt"))
    frames = []
    for f in model.frames:
        shapes = []
        ob = b.boxes["output"][f.out]
        for ci in f.inputs:
            ib = b.boxes["input"][ci]
            shapes.append(Line(ib[2], (ib[1] + ib[3]) / 2, ob[0], (ob[1] + ob[3]) / 2,
                               style.color("kernel"), max(2, c // 12)))
            shapes += b.cell(ib, "tap", outline="kernel", width=max(2, c // 12), main=str(ci))
        for prev in range(f.out):
            shapes += b.cell(b.boxes["output"][prev], "output", main=str(prev))
        shapes += b.cell(ob, "current", outline="kernel", width=max(2, c // 12),
                         main=str(f.out), text_color="background")
        frames.append(shapes)
    kind = ("depthwise" if model.groups == model.c_in else
            "dense" if model.groups == 1 else f"groups={model.groups}")
    caption = (f"{kind}: {model.c_in} → {model.c_out} channels · each output reads "
               f"{per_in} input channel{'s' if per_in > 1 else ''}")
    bottom = top + rows * step
    cap_y = bottom + b.margin
    width = max(out_x + c + 6, b.margin + b.text_width(caption, b.label)) + b.margin
    b.base.append(b.caption(caption, cap_y))
    return Scene(int(np.ceil(width)), int(cap_y + b.label + b.margin), style.color("background"),
                 b.base, frames, style.durations(len(frames)), b.boxes, caption)


def build(model, style: Style) -> Scene:
    """The scene of any model from ``frames``."""
    if isinstance(model, ConvModel):
        return conv_scene(model, style)
    if isinstance(model, ScatterModel):
        return scatter_scene(model, style)
    if isinstance(model, StackModel):
        return stack_scene(model, style)
    if isinstance(model, GroupModel):
        return group_scene(model, style)
    raise TypeError(f"model must come from conv_lib.course.animate.frames, got {type(model)!r}")
