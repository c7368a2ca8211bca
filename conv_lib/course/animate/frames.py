"""What each frame of an animation shows, as plain data computed by ``conv_lib`` itself.

Nothing here draws. Every number a picture shows comes from the library:

* the grid the kernel slides over is ``pad(dilate(x))`` -- the same two steps ``conv`` takes
  (input dilation, then padding in any mode); padding the *sample numbers* the same way tells
  which sample each padding cell copies;
* the cells a frame highlights are ``input_region`` of that output position, and the kernel taps
  inside it are every ``dilation``-th cell of that region;
* the output values are ``conv`` (or ``conv_transpose``) of the same arrays.

Four kinds of model, one per kind of picture:

``ConvModel``     a 1-D or 2-D convolution, one frame per output position (also the transposed
                  convolution drawn as the equivalent convolution over its dilated input);
``ScatterModel``  a transposed convolution as a scatter: one frame per *input* position, which adds
                  ``x[i] * w`` into the outputs it reaches;
``StackModel``    a stack of causal dilated 1-D convolutions over time (a TCN / WaveNet stack);
``GroupModel``    which input channels each output channel of a grouped convolution reads.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

import conv_lib

MODES = ("zeros", "reflect", "replicate", "circular")


def _per_dim(name, value, ndim):
    """An int or a sequence of ``ndim`` ints, as a tuple (``conv_lib`` checks the values)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * ndim
    if isinstance(value, (tuple, list)) and len(value) == ndim:
        return tuple(value)
    raise ValueError(f"{name} must be an int or {ndim} ints (one per spatial dim), "
                     f"got {name}={value!r}")


def _check_positive(name, value, low=1):
    for v in value:
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
            raise ValueError(f"{name} must be an int >= {low} (or one per dim), got {name}={v!r}")
    return tuple(int(v) for v in value)


def example_values(shape, seed, high):
    """Small integers 0..high-1 (so every sum on a frame can be checked by eye), seeded."""
    return np.random.default_rng(seed).integers(0, high, size=shape).astype(float)


# ---------------------------------------------------------------------------------------------
# Convolution, one frame per output position


@dataclass(frozen=True)
class ConvFrame:
    """One output position ``out`` and the grid cells it reads.

    region : per dim, ``conv_lib.input_region`` of ``out`` -- ``[start, stop)`` in coordinates of
             the (dilated) input before padding, so ``start < 0`` reaches into the padding.
    taps   : the grid cells under the kernel, one tuple per tap in kernel order (grid coordinates:
             ``region start + pad_lo + t * dilation``).
    value  : the output value drawn at ``out``.
    """
    out: tuple
    region: tuple
    taps: tuple
    value: float


@dataclass(frozen=True)
class ConvModel:
    """A convolution of a ``sizes`` input with a ``kernel.shape`` kernel, drawn on its grid.

    grid_values : (*grid)  ``conv_lib.pad(conv_lib.dilate(x))``, the array the kernel slides over
    grid_kind   : (*grid)  'input' (a sample), 'zero' (inserted by input dilation) or 'pad'
    grid_source : (*grid)  flat index of the input sample a cell holds or copies; -1 for constant
                           padding and for inserted zeros
    kernel      : (*k)     the weights as they sit on the grid (flipped for a transposed conv)
    output      : (*out)   ``conv_lib.conv`` (or ``conv_transpose``) of the same arrays
    """
    sizes: tuple
    x: np.ndarray
    kernel: np.ndarray
    stride: tuple
    dilation: tuple
    input_dilation: tuple
    pads: tuple
    mode: str
    grid_values: np.ndarray
    grid_kind: np.ndarray
    grid_source: np.ndarray
    output: np.ndarray
    frames: tuple
    transposed: dict | None = None   # the transposed conv's own arguments, when this draws one

    @property
    def ndim(self):
        return len(self.sizes)


def _grid(x, pads, mode, input_dilation):
    """The padded, dilated grid of ``x`` and, cell by cell, what it holds (see ``ConvModel``)."""
    values = conv_lib.pad(conv_lib.dilate(x, list(input_dilation)), [list(p) for p in pads], mode)
    # Number the samples 1..N and send the numbers through the same two steps: 0 marks an
    # inserted zero (or a copy of one), -1 constant padding, k >= 1 a copy of sample k - 1.
    ids = np.arange(1, x.size + 1).reshape(x.shape)
    ids = conv_lib.pad(conv_lib.dilate(ids, list(input_dilation)), [list(p) for p in pads], mode,
                       value=-1).astype(int)
    core = np.zeros(ids.shape, bool)
    core[tuple(slice(lo, lo + (n - 1) * di + 1)
               for (lo, _), n, di in zip(pads, x.shape, input_dilation))] = True
    kind = np.where(core, np.where(ids > 0, "input", "zero"), "pad").astype(object)
    return values, kind, np.where(ids > 0, ids - 1, -1)


def _conv_frames(kernel_sizes, stride, dilation, pads, output):
    """One ``ConvFrame`` per output position, in row-major order."""
    frames = []
    for out in np.ndindex(*output.shape):
        region = tuple(conv_lib.input_region([(k, s, d, lo)], o)
                       for k, s, d, (lo, _), o in zip(kernel_sizes, stride, dilation, pads, out))
        per_dim = [range(start + lo, stop + lo, d)
                   for (start, stop), (lo, _), d in zip(region, pads, dilation)]
        frames.append(ConvFrame(out, region, tuple(itertools.product(*per_dim)),
                                float(output[out])))
    return tuple(frames)


def conv_model(size=5, kernel=3, *, dims=2, stride=1, padding=0, mode="zeros", dilation=1,
               input_dilation=1, seed=0):
    """The frames of ``conv_lib.conv`` on a seeded ``size`` input (``dims`` = 1 or 2).

    ``padding`` is anything ``conv`` accepts (int, pairs, 'valid', 'same', 'full', 'causal').
    """
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got dims={dims!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got mode={mode!r}")
    sizes = _check_positive("input", _per_dim("input", size, dims))
    ksizes = _check_positive("kernel", _per_dim("kernel", kernel, dims))
    stride = _check_positive("stride", _per_dim("stride", stride, dims))
    dilation = _check_positive("dilation", _per_dim("dilation", dilation, dims))
    input_dilation = _check_positive("input_dilation",
                                     _per_dim("input_dilation", input_dilation, dims))
    x = example_values(sizes, seed, 4)
    w = example_values(ksizes, seed + 1, 3)
    pads = tuple(tuple(p) for p in conv_lib.resolve_padding(padding, sizes, ksizes, stride,
                                                            dilation, input_dilation))
    y = conv_lib.conv(x[None, None], w[None, None], stride=stride, padding=[list(p) for p in pads],
                      dilation=dilation, input_dilation=input_dilation, padding_mode=mode)[0, 0]
    values, kind, source = _grid(x, pads, mode, input_dilation)
    return ConvModel(sizes, x, w, stride, dilation, input_dilation, pads, mode, values, kind,
                     source, y, _conv_frames(ksizes, stride, dilation, pads, y))


def _transposed_args(size, kernel, dims, stride, padding, output_padding, dilation):
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got dims={dims!r}")
    sizes = _check_positive("input", _per_dim("input", size, dims))
    ksizes = _check_positive("kernel", _per_dim("kernel", kernel, dims))
    stride = _check_positive("stride", _per_dim("stride", stride, dims))
    padding = _check_positive("padding", _per_dim("padding", padding, dims), 0)
    output_padding = _check_positive("output_padding",
                                     _per_dim("output_padding", output_padding, dims), 0)
    dilation = _check_positive("dilation", _per_dim("dilation", dilation, dims))
    return sizes, ksizes, stride, padding, output_padding, dilation


def _transposed_example(size, kernel, dims, stride, padding, output_padding, dilation, seed):
    """Checked arguments, example input and kernel, and ``conv_transpose``'s output for them."""
    args = _transposed_args(size, kernel, dims, stride, padding, output_padding, dilation)
    sizes, ksizes, stride, padding, output_padding, dilation = args
    x = example_values(sizes, seed, 4)
    w = example_values(ksizes, seed + 1, 3)
    y = conv_lib.conv_transpose(x[None, None], w[None, None], stride=stride, padding=padding,
                                output_padding=output_padding, dilation=dilation)[0, 0]
    return args, x, w, y


def transposed_model(size=2, kernel=3, *, dims=2, stride=1, padding=0, output_padding=0,
                     dilation=1, seed=0):
    """``conv_lib.conv_transpose`` drawn as the equivalent convolution over its dilated input.

    The identity (Dumoulin & Visin, 2016): insert ``stride - 1`` zeros between the inputs, pad by
    ``d(k-1) - p`` before and ``d(k-1) - p + output_padding`` after, and slide the flipped kernel
    with stride 1. The output values are ``conv_transpose``'s own.
    """
    (sizes, ksizes, stride, padding, output_padding, dilation), x, w, y = _transposed_example(
        size, kernel, dims, stride, padding, output_padding, dilation, seed)
    pads = []
    for k, p, op, d in zip(ksizes, padding, output_padding, dilation):
        if p > d * (k - 1):
            raise ValueError(f"padding={p} is larger than dilation*(kernel-1)={d * (k - 1)}: the "
                             f"equivalent convolution would have to crop its input; draw it with "
                             f"view='scatter' instead")
        pads.append((d * (k - 1) - p, d * (k - 1) - p + op))
    pads = tuple(pads)
    flipped = w[tuple(slice(None, None, -1) for _ in ksizes)]
    values, kind, source = _grid(x, pads, "zeros", stride)
    args = dict(stride=stride, padding=padding, output_padding=output_padding, dilation=dilation)
    return ConvModel(sizes, x, flipped, (1,) * dims, dilation, stride, pads, "zeros", values,
                     kind, source, y, _conv_frames(ksizes, (1,) * dims, dilation, pads, y),
                     transposed=args)


# ---------------------------------------------------------------------------------------------
# Transposed convolution as a scatter, one frame per input position


@dataclass(frozen=True)
class ScatterFrame:
    """Input ``inp`` adds ``x[inp] * w[t]`` to canvas cell ``targets[t]`` for every tap ``t``.

    partial : (*canvas) the canvas after this frame's additions (the running sum).
    """
    inp: tuple
    targets: tuple
    partial: np.ndarray


@dataclass(frozen=True)
class ScatterModel:
    """The uncropped canvas has ``(n-1)s + d(k-1) + 1 + output_padding`` cells per dim; the output
    is the canvas without ``padding`` cells at each end: ``canvas[p:p + out]``."""
    sizes: tuple
    x: np.ndarray
    kernel: np.ndarray
    stride: tuple
    padding: tuple
    output_padding: tuple
    dilation: tuple
    canvas_sizes: tuple
    output: np.ndarray
    frames: tuple

    @property
    def ndim(self):
        return len(self.sizes)


def scatter_model(size=2, kernel=3, *, dims=2, stride=1, padding=0, output_padding=0,
                  dilation=1, seed=0):
    """``conv_lib.conv_transpose`` as the sum of one scaled copy of the kernel per input."""
    (sizes, ksizes, stride, padding, output_padding, dilation), x, w, y = _transposed_example(
        size, kernel, dims, stride, padding, output_padding, dilation, seed)
    canvas = tuple((n - 1) * s + d * (k - 1) + 1 + op
                   for n, k, s, d, op in zip(sizes, ksizes, stride, dilation, output_padding))
    partial = np.zeros(canvas)
    frames = []
    for inp in np.ndindex(*sizes):
        targets = []
        for t in np.ndindex(*ksizes):
            cell = tuple(i * s + tt * d for i, tt, s, d in zip(inp, t, stride, dilation))
            partial[cell] += x[inp] * w[t]
            targets.append(cell)
        frames.append(ScatterFrame(inp, tuple(targets), partial.copy()))
    return ScatterModel(sizes, x, w, stride, padding, output_padding, dilation, canvas, y,
                        tuple(frames))


# ---------------------------------------------------------------------------------------------
# A causal dilated stack over time, one frame per output time step


@dataclass(frozen=True)
class StackFrame:
    """Output time ``t`` of the top layer and everything it depends on.

    region : ``conv_lib.input_region`` of ``t`` for the whole stack, in input time steps.
    nodes  : per level (0 = input), the time steps on a path to ``t``; negative = padding.
    edges  : ((level, time) of a node, (level - 1, time) of one it reads), top-down.
    """
    t: int
    region: tuple
    nodes: tuple
    edges: tuple
    value: float


@dataclass(frozen=True)
class StackModel:
    """``levels[0]`` is the input, ``levels[l]`` the output of causal layer ``l`` (``conv_lib.conv``
    with ``padding='causal'``): every level has ``length`` time steps."""
    length: int
    kernel: int
    dilations: tuple
    weights: tuple
    levels: tuple
    frames: tuple

    @property
    def pad(self):
        """Left padding needed to draw every level: the stack's receptive field minus one."""
        return conv_lib.receptive_field([(self.kernel, 1, d) for d in self.dilations]) - 1


def stack_model(size=16, kernel=2, dilations=(1, 2, 4, 8), seed=0):
    """Frames of a causal dilated stack (WaveNet's picture) computed with ``conv_lib``."""
    (length,) = _check_positive("input", (size,))
    (kernel,) = _check_positive("kernel", (kernel,))
    if isinstance(dilations, (int, np.integer)) or not len(dilations):
        raise ValueError(f"causal_stack must be a non-empty list of dilations, "
                         f"got causal_stack={dilations!r}")
    dilations = _check_positive("causal_stack", tuple(dilations))
    levels = [example_values((length,), seed, 4)]
    weights = []
    for i, d in enumerate(dilations):
        w = example_values((kernel,), seed + 1 + i, 2) + 1      # weights 1 or 2: no dead taps
        weights.append(w)
        levels.append(conv_lib.conv(levels[-1][None, None], w[None, None], padding="causal",
                                    dilation=d)[0, 0])
    layers = [(kernel, 1, d, d * (kernel - 1)) for d in dilations]
    frames = []
    for t in range(length):
        nodes = [set() for _ in levels]
        nodes[-1].add(t)
        edges = []
        for level in range(len(dilations), 0, -1):
            d = dilations[level - 1]
            for u in sorted(nodes[level]):
                if u < 0:
                    continue                 # a padding zero of this level reads nothing
                for j in range(kernel):
                    v = u - (kernel - 1 - j) * d
                    nodes[level - 1].add(v)
                    edges.append(((level, u), (level - 1, v)))
        frames.append(StackFrame(t, conv_lib.input_region(layers, t),
                                 tuple(tuple(sorted(n)) for n in nodes), tuple(edges),
                                 float(levels[-1][t])))
    return StackModel(length, kernel, dilations, tuple(weights), tuple(levels), tuple(frames))


# ---------------------------------------------------------------------------------------------
# Groups: which input channels each output channel reads, one frame per output channel


@dataclass(frozen=True)
class GroupFrame:
    out: int
    group: int
    inputs: tuple


@dataclass(frozen=True)
class GroupModel:
    """``connected[o, c]`` is True when output channel ``o`` reads input channel ``c``."""
    c_in: int
    c_out: int
    groups: int
    connected: np.ndarray
    frames: tuple


def group_model(channels=(4, 4), groups=2):
    """The channel connectivity of ``conv_lib.conv(..., groups=groups)``, measured, not assumed.

    Each input channel is switched on alone (a batch of one-hot images) and convolved with a
    kernel of ones: output channel ``o`` reads channel ``c`` exactly when it lights up.
    """
    c_in, c_out = _check_positive("channels", _per_dim("channels", channels, 2))
    (groups,) = _check_positive("groups", (groups,))
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups must divide both channel counts, got groups={groups} with "
                         f"channels=({c_in}, {c_out})")
    x = np.eye(c_in)[:, :, None]                         # (batch = c, C_in, 1): channel c is on
    w = np.ones((c_out, c_in // groups, 1))
    connected = conv_lib.conv(x, w, groups=groups)[:, :, 0].T != 0    # (C_out, C_in)
    frames = tuple(GroupFrame(o, o // (c_out // groups),
                              tuple(int(c) for c in np.flatnonzero(connected[o])))
                   for o in range(c_out))
    return GroupModel(c_in, c_out, groups, connected, frames)
