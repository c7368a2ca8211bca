"""Scenes to SVG: one frame, or every frame as an animated SVG that loops by itself.

The animation is SMIL, which browsers play inside ``<img>`` too: the base is drawn once and each
frame's overlay is a group that is visible only during its own slice of the loop
(``<animate attributeName="visibility" calcMode="discrete">``). Text uses the DejaVu Sans family
that the raster frames use, falling back to the reader's sans-serif.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

from .scene import Circle, Line, Rect, Scene, Text

_ANCHOR = {"l": "start", "m": "middle", "r": "end"}
_BASELINE = {"t": "hanging", "m": "central", "b": "text-after-edge"}


def _n(value):
    return f"{value:.6g}"


def _shape(shape):
    if isinstance(shape, Rect):
        fill = shape.fill or "none"
        stroke = (f' stroke="{shape.outline}" stroke-width="{shape.width}"'
                  + (' stroke-dasharray="3 3"' if shape.dash else "")) if shape.outline else ""
        inset = shape.width / 2 if shape.outline else 0      # Pillow draws the border inside
        return (f'<rect x="{_n(shape.x0 + inset)}" y="{_n(shape.y0 + inset)}" '
                f'width="{_n(shape.x1 - shape.x0 - 2 * inset + 1)}" '
                f'height="{_n(shape.y1 - shape.y0 - 2 * inset + 1)}" fill="{fill}"{stroke}/>')
    if isinstance(shape, Circle):
        stroke = (f' stroke="{shape.outline}" stroke-width="{shape.width}"'
                  + (' stroke-dasharray="3 3"' if shape.dash else "")) if shape.outline else ""
        return (f'<circle cx="{_n(shape.cx)}" cy="{_n(shape.cy)}" r="{_n(shape.r)}" '
                f'fill="{shape.fill or "none"}"{stroke}/>')
    if isinstance(shape, Line):
        return (f'<line x1="{_n(shape.x0)}" y1="{_n(shape.y0)}" x2="{_n(shape.x1)}" '
                f'y2="{_n(shape.y1)}" stroke="{shape.color}" stroke-width="{shape.width}"/>')
    if isinstance(shape, Text):
        return (f'<text x="{_n(shape.x)}" y="{_n(shape.y)}" font-size="{shape.size}" '
                f'fill="{shape.color}" text-anchor="{_ANCHOR[shape.anchor[0]]}" '
                f'dominant-baseline="{_BASELINE[shape.anchor[1]]}">{escape(shape.text)}</text>')
    raise TypeError(f"cannot draw {shape!r}")


def encode(scene: Scene, frame: int | None = None) -> bytes:
    """An animated SVG of every frame, or a still SVG of frame ``frame``."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{scene.width}" '
           f'height="{scene.height}" viewBox="0 0 {scene.width} {scene.height}" '
           f'font-family="DejaVu Sans, Verdana, sans-serif">',
           f'<rect width="100%" height="100%" fill="{scene.background}"/>']
    out += [_shape(s) for s in scene.base]
    if frame is not None:
        out += [_shape(s) for s in scene.frames[frame]]
    else:
        total = sum(scene.durations)
        start = 0
        for overlay, duration in zip(scene.frames, scene.durations):
            a, z = start / total, (start + duration) / total
            start += duration
            out.append(f'<g visibility="hidden"><animate attributeName="visibility" '
                       f'values="hidden;visible;hidden" keyTimes="0;{a:.6f};{z:.6f}" '
                       f'calcMode="discrete" dur="{total / 1000:g}s" repeatCount="indefinite"/>')
            out += [_shape(s) for s in overlay]
            out.append("</g>")
    out.append("</svg>")
    return ("\n".join(out) + "\n").encode()
