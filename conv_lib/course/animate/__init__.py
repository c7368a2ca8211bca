"""Step-by-step pictures of any convolution, drawn from ``conv_lib`` itself.

>>> from conv_lib.course.animate import animate
>>> a = animate(5, 3, stride=2, padding=1, mode="reflect")
>>> len(a)                                  # one frame per output position
9
>>> a.save("conv.gif")                      # doctest: +SKIP  (.gif .webp .svg .png)

The same from a shell::

    python -m conv_lib.course.animate --input 5 --kernel 3 --stride 2 --padding 1 \\
        --mode reflect -o conv.gif

What a picture shows is computed in ``frames`` (highlighted cells = ``conv_lib.input_region``,
values = ``conv_lib.conv``), laid out in ``scene`` and drawn by ``render_raster`` (Pillow: GIF,
WebP, PNG) or ``render_svg`` (animated or still SVG). Same arguments, same bytes.
"""
from __future__ import annotations

import base64
import html
import os

from . import frames as _frames
from . import render_raster, render_svg
from .scene import PALETTE, Style, build

__all__ = ["animate", "Animation", "PALETTE", "FORMATS"]

FORMATS = ("gif", "webp", "svg", "png")


class Animation:
    """A model (what each frame shows) and its scene (how it is drawn).

    ``len(a)`` is the number of frames; ``a.model.frames[t]`` says what frame ``t`` shows.
    """

    def __init__(self, model, style):
        self.model, self.style = model, style
        self.scene = build(model, style)

    def __len__(self):
        return len(self.scene.frames)

    def _check_frame(self, frame):
        if frame is None:
            return None
        n = len(self)
        if isinstance(frame, bool) or not isinstance(frame, int) or not -n <= frame < n:
            raise ValueError(f"frame must be an int from 0 to {len(self) - 1} (this animation has "
                             f"{len(self)} frames), got frame={frame!r}")
        return frame % len(self)

    def images(self):
        """Every frame as a Pillow RGB image."""
        return render_raster.frames(self.scene)

    def to_bytes(self, fmt="gif", frame=None):
        """The animation (or one ``frame``) as ``gif``, ``webp``, ``svg`` or ``png`` bytes.

        A PNG is always one frame: the last one unless ``frame`` says otherwise.
        """
        if fmt not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got fmt={fmt!r}")
        frame = self._check_frame(frame)
        if fmt == "png" and frame is None:
            frame = len(self) - 1
        if fmt == "svg":
            return render_svg.encode(self.scene, frame)
        return render_raster.encode(self.scene, fmt, frame)

    def save(self, path, frame=None):
        """Write the file; its extension picks the format. Returns ``path``."""
        ext = os.path.splitext(str(path))[1].lower().lstrip(".")
        if ext not in FORMATS:
            raise ValueError(f"output must end in one of {tuple('.' + f for f in FORMATS)}, "
                             f"got output={str(path)!r}")
        data = self.to_bytes(ext, frame)
        with open(path, "wb") as fh:
            fh.write(data)
        return path

    def img(self, fmt="gif", alt=None):
        """An ``<img>`` tag holding the animation inline (a data URI), at its natural size and
        shrinking to fit narrow pages."""
        data = base64.b64encode(self.to_bytes(fmt)).decode("ascii")
        mime = "svg+xml" if fmt == "svg" else fmt
        alt = html.escape(alt if alt is not None else self.scene.caption, quote=True)
        return (f'<img src="data:image/{mime};base64,{data}" width="{self.scene.width}" '
                f'height="{self.scene.height}" alt="{alt}" '
                f'style="max-width:100%;height:auto;display:block">')

    def _repr_mimebundle_(self, include=None, exclude=None):
        # HTML, not image/gif: JupyterLab and the static book (whose theme renders text/html
        # outputs) both show it
        return {"text/html": self.img(), "text/plain": f"<Animation: {len(self)} frames>"}


def animate(size=5, kernel=3, *, stride=1, padding=0, mode="zeros", dilation=1,
            input_dilation=1, dims=2, transposed=False, view="conv", output_padding=0,
            groups=None, channels=None, causal_stack=None, numbers=False, fps=2.0,
            palette=None, cell_size=36, seed=0):
    """Build the animation of one convolution.

    Parameters
    ----------
    size, kernel : int or one int per dim
        Input and kernel sizes (``size`` is the sequence length of a causal stack).
    stride, padding, mode, dilation, input_dilation : as in ``conv_lib.conv``
        ``padding`` may be an int, ints per dim, (lo, hi) pairs or 'valid'/'same'/'full'/'causal';
        ``mode`` is the padding mode ('zeros', 'reflect', 'replicate', 'circular').
    dims : 1 or 2
    transposed : draw ``conv_lib.conv_transpose`` (``stride``, ``padding``, ``output_padding``,
        ``dilation`` are then its own arguments), as ``view='conv'`` (the equivalent convolution
        over the stride-dilated input) or ``view='scatter'`` (each input adds a scaled kernel).
    groups, channels : draw the channel connectivity of a grouped convolution; ``channels`` is
        C_in or (C_in, C_out) (default: 2 * groups), ``groups`` divides both (default 1).
    causal_stack : sequence of dilations: draw a stack of causal 1-D layers over ``size`` steps.
    numbers : write the values (input, kernel weights, outputs) into the cells.
    fps, palette, cell_size : speed (frames per second), colour overrides (keys of ``PALETTE``),
        cell size in pixels.
    seed : the seed of the example values.
    """
    style = Style(cell=cell_size, fps=fps, numbers=bool(numbers),
                  palette={**PALETTE, **(palette or {})})
    if view not in ("conv", "scatter"):
        raise ValueError(f"view must be 'conv' or 'scatter', got view={view!r}")
    if causal_stack is not None:
        if transposed or groups is not None or channels is not None:
            raise ValueError("causal_stack cannot be combined with transposed, groups or channels")
        model = _frames.stack_model(size, kernel, causal_stack, seed)
    elif groups is not None or channels is not None:
        if transposed:
            raise ValueError("groups/channels draw channel connectivity; transposed=True "
                             "cannot be combined with them")
        groups = 1 if groups is None else groups
        if channels is None:
            channels = 2 * groups if isinstance(groups, int) else 2
        if isinstance(channels, int) and not isinstance(channels, bool):
            channels = (channels, channels)
        model = _frames.group_model(channels, groups)
    elif transposed:
        if mode != "zeros":
            raise ValueError(f"a transposed convolution has no padding mode (its padding crops "
                             f"the output): mode must be 'zeros', got mode={mode!r}")
        if input_dilation != 1:
            raise ValueError(f"a transposed convolution dilates its input by its stride: "
                             f"input_dilation must be 1, got input_dilation={input_dilation!r}")
        make = _frames.transposed_model if view == "conv" else _frames.scatter_model
        model = make(size, kernel, dims=dims, stride=stride, padding=padding,
                     output_padding=output_padding, dilation=dilation, seed=seed)
    else:
        if output_padding != 0:
            raise ValueError(f"output_padding belongs to transposed convolutions: give "
                             f"transposed=True, got output_padding={output_padding!r}")
        if view != "conv":
            raise ValueError(f"view={view!r} needs transposed=True")
        model = _frames.conv_model(size, kernel, dims=dims, stride=stride, padding=padding,
                                   mode=mode, dilation=dilation, input_dilation=input_dilation,
                                   seed=seed)
    return Animation(model, style)
