"""Scenes to pixels with Pillow: frames as images, then GIF, WebP or PNG bytes.

Deterministic by construction: no timestamps or metadata are written, and a GIF's colours come
from one fixed palette built from the scene's own colours (in a fixed order, plus the blends that
anti-aliased text needs), so the same call gives the same bytes.
"""
from __future__ import annotations

import functools
import importlib.util
import io
import os

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .scene import Circle, Line, Rect, Scene, Text


@functools.lru_cache(maxsize=None)
def font_path():
    """DejaVu Sans as shipped inside matplotlib (found without importing it), else None."""
    spec = importlib.util.find_spec("matplotlib")
    if spec and spec.submodule_search_locations:
        path = os.path.join(list(spec.submodule_search_locations)[0], "mpl-data", "fonts",
                            "ttf", "DejaVuSans.ttf")
        if os.path.exists(path):
            return path
    return None


@functools.lru_cache(maxsize=None)
def font(size):
    path = font_path()
    return ImageFont.truetype(path, size) if path else ImageFont.load_default(size)


def _rgb(color):
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def _dashed(draw, points, color, width, dash):
    """A dashed polyline (Pillow has no dash pattern)."""
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        length = max(abs(x1 - x0), abs(y1 - y0))
        steps = max(1, int(length // (2 * dash)))
        for k in range(steps):
            a, z = k / steps, (k + 0.5) / steps
            draw.line([(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a),
                       (x0 + (x1 - x0) * z, y0 + (y1 - y0) * z)], fill=color, width=width)


def _draw(draw, shape):
    if isinstance(shape, Rect):
        box = [round(shape.x0), round(shape.y0), round(shape.x1), round(shape.y1)]
        if shape.fill:
            draw.rectangle(box, fill=shape.fill)
        if shape.outline and shape.dash:
            x0, y0, x1, y1 = box
            _dashed(draw, [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)], shape.outline,
                    shape.width, 3)
        elif shape.outline:
            draw.rectangle(box, outline=shape.outline, width=shape.width)
    elif isinstance(shape, Circle):
        box = [round(shape.cx - shape.r), round(shape.cy - shape.r),
               round(shape.cx + shape.r), round(shape.cy + shape.r)]
        draw.ellipse(box, fill=shape.fill,
                     outline=None if shape.dash else shape.outline, width=shape.width)
        if shape.dash and shape.outline:
            for start in range(0, 360, 30):
                draw.arc(box, start, start + 15, fill=shape.outline, width=shape.width)
    elif isinstance(shape, Line):
        draw.line([(shape.x0, shape.y0), (shape.x1, shape.y1)], fill=shape.color,
                  width=shape.width)
    elif isinstance(shape, Text):
        draw.text((shape.x, shape.y), shape.text, fill=shape.color, font=font(shape.size),
                  anchor=shape.anchor)
    else:
        raise TypeError(f"cannot draw {shape!r}")


def frames(scene: Scene):
    """Every frame of the scene as an RGB image."""
    base = Image.new("RGB", (scene.width, scene.height), scene.background)
    draw = ImageDraw.Draw(base)
    for shape in scene.base:
        _draw(draw, shape)
    out = []
    for overlay in scene.frames:
        image = base.copy()
        draw = ImageDraw.Draw(image)
        for shape in overlay:
            _draw(draw, shape)
        out.append(image)
    return out


def palette(scene: Scene):
    """The fixed GIF palette, as (N, 3) uint8 RGB: the scene's colours in order of first use,
    then, for every pair of a text colour and a fill, three blends (the shades of anti-aliased
    glyph edges)."""
    colors, texts = [], []

    def add(color):
        if color and color not in colors:
            colors.append(color)

    add(scene.background)
    for shape in scene.base + [s for overlay in scene.frames for s in overlay]:
        for color in (getattr(shape, "fill", None), getattr(shape, "outline", None),
                      getattr(shape, "color", None)):
            add(color)
        if isinstance(shape, Text) and shape.color not in texts:
            texts.append(shape.color)
    rgb = [_rgb(c) for c in colors]
    for t in texts:
        for f in colors:
            for a in (0.25, 0.5, 0.75):
                blend = tuple(round(a * x + (1 - a) * y) for x, y in zip(_rgb(t), _rgb(f)))
                if blend not in rgb and len(rgb) < 256:
                    rgb.append(blend)
    return np.array(rgb, dtype=np.int32)


def indexed(image, pal):
    """``image`` as a "P" image on palette ``pal``: each colour goes to its nearest palette entry
    (the first of equals), so every colour of the scene keeps its exact value. (Pillow's own
    quantize looks colours up at reduced precision and may pick a neighbour.)"""
    a = np.asarray(image).astype(np.int32)
    keys = (a[..., 0] << 16) | (a[..., 1] << 8) | a[..., 2]
    pal_keys = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    order = np.argsort(pal_keys, kind="stable")
    pos = np.minimum(np.searchsorted(pal_keys[order], keys), len(pal) - 1)
    index = order[pos]
    miss = pal_keys[index] != keys                  # not a palette colour: glyph edges
    if miss.any():
        unique, inverse = np.unique(keys[miss], return_inverse=True)
        colors = np.stack([unique >> 16, (unique >> 8) & 255, unique & 255], axis=1)
        nearest = ((colors[:, None, :] - pal[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
        index[miss] = nearest[inverse]
    out = Image.fromarray(index.astype(np.uint8), "P")
    flat = pal.astype(np.uint8).ravel().tolist()
    out.putpalette(flat + flat[:3] * (256 - len(pal)))
    return out


def encode(scene: Scene, fmt: str, frame: int | None = None) -> bytes:
    """Bytes of an animated ``gif``/``webp`` (every frame, looping forever) or of one frame as
    ``png``/``gif``/``webp`` when ``frame`` is given."""
    images = frames(scene)
    durations = scene.durations
    if frame is not None:
        images, durations = [images[frame]], [durations[frame]]
    buf = io.BytesIO()
    if fmt == "png":
        if len(images) != 1:
            raise ValueError("a PNG holds one frame: give frame=N (the CLI's --frame N)")
        images[0].save(buf, format="PNG", optimize=True)
    elif fmt == "gif":
        pal = palette(scene)
        frames_p = [indexed(im, pal) for im in images]
        frames_p[0].save(buf, format="GIF", save_all=True, append_images=frames_p[1:],
                        duration=durations, loop=0, optimize=True, disposal=1)
    elif fmt == "webp":
        images[0].save(buf, format="WEBP", save_all=True, append_images=images[1:],
                       duration=durations, loop=0, lossless=True, method=1)
    else:
        raise ValueError(f"raster format must be 'gif', 'webp' or 'png', got {fmt!r}")
    return buf.getvalue()
