"""Interactive playgrounds (anywidget) whose state is read back and recomputed by conv_lib.

Each class is an ``anywidget.AnyWidget``: its view is one self-contained ES module in
``conv_lib/course/static/`` (the same file the static book loads with the MyST ``{anywidget}`` directive),
its settings are synced traitlets (set them from Python and the view follows; move a control and the
trait follows), and its results are recomputed here by conv_lib, never taken from the browser:

    >>> from conv_lib.course.widgets import ConvPlayground
    >>> w = ConvPlayground(input_size=5, kernel_size=3, stride=2, padding=1)
    >>> w.output_shape
    (3, 3)
    >>> w.output                      # conv_lib.conv on the current settings, shape (3, 3)

The JavaScript computes the same numbers itself (so the static site needs no kernel); the Node tests
in tests/js/ check it against golden cases that ``python -m tests.golden`` derives from conv_lib.
"""
import pathlib

import numpy as np
import traitlets as t

from conv_lib._args import PADDING_MODES, is_int
from conv_lib.conv import conv
from conv_lib.padding import dilate, pad
from conv_lib.receptive import input_region, receptive_field, receptive_field_table
from conv_lib.shapes import output_size, resolve_padding

try:
    import anywidget
except ImportError as err:  # pragma: no cover - anywidget is a dependency of the project
    raise ImportError("conv_lib.course.widgets needs the 'anywidget' package (pip install anywidget)") from err

STATIC = pathlib.Path(__file__).parent / "static"

#: Ranges of every control, shared with the JavaScript (tests/js checks that both agree).
LIMITS = {
    "conv": {"input_size": (1, 10), "kernel_size": (1, 5), "stride": (1, 4), "dilation": (1, 4),
             "input_dilation": (1, 3), "padding": (0, 6)},
    "stack": {"layers": (1, 8), "kernel_size": (1, 5), "dilation": (1, 8), "custom_dilation": (1, 64),
              "length": (8, 64)},
    "rf": {"input_size": (4, 64), "layers": (0, 8), "kernel": (1, 7), "stride": (1, 4),
           "dilation": (1, 4), "padding": (0, 6)},
}
KERNEL_NAMES = ("ones", "ramp", "edge", "center")
SCHEDULES = ("doubling", "constant", "custom")


# ---- demo data (the JavaScript builds the same arrays: see demoInput / demoKernel) -------------

def demo_input(shape):
    """Input of the playground, shape (H, W): x[r, c] = r * W + c + 1 (every sample distinct)."""
    h, w = shape
    return np.arange(1, h * w + 1, dtype=np.float64).reshape(h, w)


def demo_kernel(name, shape):
    """Kernel of the playground, shape (KH, KW), with small integer weights.

    'ones' sums the window, 'ramp' numbers the taps 1..KH*KW (so each tap is recognisable),
    'edge' is sign(2b - (KW - 1)) (right minus left), 'center' is 1 at the centre tap (the top-left
    one of the middle four for even sizes).
    """
    kh, kw = shape
    a, b = np.meshgrid(np.arange(kh), np.arange(kw), indexing="ij")
    if name == "ones":
        return np.ones((kh, kw))
    if name == "ramp":
        return (a * kw + b + 1).astype(np.float64)
    if name == "edge":
        return np.sign(2 * b - (kw - 1)).astype(np.float64)
    if name == "center":
        return ((a == (kh - 1) // 2) & (b == (kw - 1) // 2)).astype(np.float64)
    raise ValueError(f"kernel must be one of {KERNEL_NAMES}, got kernel={name!r}")


# ---- trait types that accept the same shorthands as conv_lib -------------------------------------

def _check_range(owner, name, value, bounds):
    lo, hi = bounds
    if not is_int(value):
        raise t.TraitError(f"{owner}.{name} must be an int, got {value!r}")
    if not lo <= value <= hi:
        raise t.TraitError(f"{owner}.{name} must be between {lo} and {hi}, got {name}={value}")
    return int(value)


class AxisPair(t.TraitType):
    """Two ints (rows, columns). An int is shorthand for the same value on both axes."""

    info_text = "an int or a pair of ints (rows, columns)"

    def __init__(self, default, bounds, **kwargs):
        super().__init__(default_value=[default, default], **kwargs)
        self.bounds = bounds

    def validate(self, obj, value):
        if is_int(value):
            value = (value, value)
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise t.TraitError(f"{type(obj).__name__}.{self.name} must be {self.info_text}, got {value!r}")
        return [_check_range(type(obj).__name__, f"{self.name}[{i}]", v, self.bounds)
                for i, v in enumerate(value)]


class PadPairs(t.TraitType):
    """Padding as [[top, bottom], [left, right]].

    Accepts what conv_lib accepts for 2-D: an int (all sides), a pair of ints (rows, columns, each
    on both sides), a pair of (lo, hi) pairs, or 'valid' / 'same' / 'full' (resolved by
    conv_lib.resolve_padding against the widget's current sizes, stride and dilation).
    """

    info_text = "an int, (rows, cols), ((top, bottom), (left, right)) or 'valid'/'same'/'full'"

    def __init__(self, bounds, **kwargs):
        super().__init__(default_value=[[0, 0], [0, 0]], **kwargs)
        self.bounds = bounds

    def validate(self, obj, value):
        owner = type(obj).__name__
        if isinstance(value, str):
            try:
                value = resolve_padding(value, obj.input_size, obj.kernel_size, obj.stride,
                                        obj.dilation, obj.input_dilation)
            except ValueError as err:
                raise t.TraitError(f"{owner}.padding: {err}") from err
        if is_int(value):
            value = [(value, value)] * 2
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise t.TraitError(f"{owner}.padding must be {self.info_text}, got {value!r}")
        pairs = []
        for axis, p in enumerate(value):
            p = (p, p) if is_int(p) else p
            if not isinstance(p, (tuple, list)) or len(p) != 2:
                raise t.TraitError(f"{owner}.padding[{axis}] must be an int or a (lo, hi) pair, got {p!r}")
            pairs.append([_check_range(owner, f"padding[{axis}][{j}]", v, self.bounds) for j, v in enumerate(p)])
        return pairs


class _Playground(anywidget.AnyWidget):
    """Common base: the view module (``_esm``) and the settings shown by repr come from the subclass."""

    def __repr__(self):
        settings = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._settings)
        return f"{type(self).__name__}({settings})"


class ConvPlayground(_Playground):
    """2-D convolution playground: padded grid, sampled taps, output filling in, shape formula.

    Parameters (all synced traits; ints mean "same for rows and columns")
    ----------
    input_size, kernel_size, stride, dilation, input_dilation : int or (rows, cols)
    padding : int | (rows, cols) | ((top, bottom), (left, right)) | 'valid' | 'same' | 'full'
    padding_mode : 'zeros' | 'reflect' | 'replicate' | 'circular'
    kernel : 'ones' | 'ramp' | 'edge' | 'center'   (weights, see demo_kernel)
    step : int, the output position shown (row-major index into the output)

    Invalid combinations (a kernel larger than the padded input, reflect padding >= size, circular
    padding wrapping more than once) are allowed as states: the view explains them, and ``output``
    raises conv_lib's ValueError. ``error`` holds that message (or None).
    """

    _esm = STATIC / "conv_playground.mjs"
    _settings = ("input_size", "kernel_size", "stride", "dilation", "input_dilation", "padding",
                 "padding_mode", "kernel", "step")
    _L = LIMITS["conv"]
    input_size = AxisPair(5, _L["input_size"]).tag(sync=True)
    kernel_size = AxisPair(3, _L["kernel_size"]).tag(sync=True)
    stride = AxisPair(1, _L["stride"]).tag(sync=True)
    dilation = AxisPair(1, _L["dilation"]).tag(sync=True)
    input_dilation = AxisPair(1, _L["input_dilation"]).tag(sync=True)
    padding = PadPairs(_L["padding"]).tag(sync=True)
    padding_mode = t.Enum(PADDING_MODES, default_value="zeros").tag(sync=True)
    kernel = t.Enum(KERNEL_NAMES, default_value="ones").tag(sync=True)
    step = t.Int(0, min=0).tag(sync=True)

    def __init__(self, **kwargs):
        padding = kwargs.pop("padding", None)
        super().__init__(**kwargs)
        if padding is not None:  # strings are resolved against the sizes set above
            self.padding = padding

    # -- read-back, all computed by conv_lib --------------------------------------------------
    @property
    def input_array(self):
        """The input, shape (H, W)."""
        return demo_input(self.input_size)

    @property
    def weights(self):
        """The kernel weights, shape (KH, KW)."""
        return demo_kernel(self.kernel, self.kernel_size)

    def _kwargs(self):
        return dict(stride=tuple(self.stride), dilation=tuple(self.dilation),
                    input_dilation=tuple(self.input_dilation),
                    padding=[tuple(p) for p in self.padding], padding_mode=self.padding_mode)

    @property
    def output(self):
        """conv_lib.conv of input_array with weights on the current settings, shape (H_out, W_out).

        Raises conv_lib's ValueError when the settings are invalid.
        """
        return conv(self.input_array[None, None], self.weights[None, None], **self._kwargs())[0, 0]

    @property
    def output_shape(self):
        """(H_out, W_out) from conv_lib.output_size per axis (ValueError if the kernel does not fit)."""
        return tuple(output_size(n, k, stride=s, padding=tuple(p), dilation=d, input_dilation=di)
                     for n, k, s, p, d, di in zip(self.input_size, self.kernel_size, self.stride,
                                                   self.padding, self.dilation, self.input_dilation))

    @property
    def padded_input(self):
        """The input after input dilation and padding (conv_lib.dilate + conv_lib.pad)."""
        return pad(dilate(self.input_array, list(self.input_dilation)),
                   [tuple(p) for p in self.padding], self.padding_mode)

    @property
    def error(self):
        """conv_lib's message for the current settings, or None when they are valid."""
        try:
            self.output  # noqa: B018
        except ValueError as err:
            return str(err)
        return None


class CausalStackExplorer(_Playground):
    """1-D stack of stride-1 dilated convolutions (WaveNet / TCN) and the inputs an output sees.

    Parameters (synced traits)
    ----------
    layers : int, number of layers
    kernel_size : int, taps per layer
    schedule : 'doubling' (1, 2, 4, ...) | 'constant' (every layer ``dilation``) | 'custom'
    dilation : int, the dilation of every layer for schedule='constant'
    dilations : list of int, per-layer dilations for schedule='custom'
    causal : bool, pad (d(k-1), 0) (True) or split the padding around the centre (False)
    length : int, number of time steps shown
    output_index : int, the output whose dependency cone is shown (default: the last one)
    """

    _esm = STATIC / "causal_stack.mjs"
    _settings = ("layers", "kernel_size", "schedule", "dilation", "dilations", "causal", "length",
                 "output_index")
    _L = LIMITS["stack"]
    layers = t.Int(4).tag(sync=True)
    kernel_size = t.Int(2).tag(sync=True)
    schedule = t.Enum(SCHEDULES, default_value="doubling").tag(sync=True)
    dilation = t.Int(1).tag(sync=True)
    dilations = t.List(t.Int(), default_value=[1, 2, 4, 8]).tag(sync=True)
    causal = t.Bool(True).tag(sync=True)
    length = t.Int(32).tag(sync=True)
    output_index = t.Int(-1).tag(sync=True)

    def __init__(self, **kwargs):
        if "output_index" not in kwargs:
            kwargs["output_index"] = kwargs.get("length", 32) - 1
        super().__init__(**kwargs)

    @t.validate("layers", "kernel_size", "dilation", "length")
    def _in_range(self, proposal):
        name = proposal["trait"].name
        key = {"layers": "layers", "kernel_size": "kernel_size", "dilation": "dilation", "length": "length"}[name]
        return _check_range(type(self).__name__, name, proposal["value"], self._L[key])

    @t.validate("dilations")
    def _valid_dilations(self, proposal):
        values = list(proposal["value"])
        if not values:
            raise t.TraitError("CausalStackExplorer.dilations must list at least one dilation")
        return [_check_range(type(self).__name__, f"dilations[{i}]", d, self._L["custom_dilation"])
                for i, d in enumerate(values)]

    @t.validate("output_index")
    def _valid_index(self, proposal):
        return _check_range(type(self).__name__, "output_index", proposal["value"], (0, self.length - 1))

    @t.observe("length")
    def _clip_index(self, change):
        if self.output_index > change["new"] - 1:
            self.output_index = change["new"] - 1

    @property
    def layer_dilations(self):
        """The dilation of each layer under the current schedule."""
        if self.schedule == "doubling":
            return [2 ** i for i in range(self.layers)]
        if self.schedule == "constant":
            return [self.dilation] * self.layers
        custom = self.dilations
        return [custom[i] if i < len(custom) else custom[-1] for i in range(self.layers)]

    def layer_padding(self, d):
        """(lo, hi) padding of a layer with dilation d: conv_lib's 'causal' or 'same' rule."""
        return resolve_padding("causal" if self.causal else "same", [self.length],
                               [self.kernel_size], dilation=d)[0]

    @property
    def receptive_field(self):
        """conv_lib.receptive_field of the stack: 1 + (k - 1) * sum(dilations)."""
        return receptive_field([(self.kernel_size, 1, d) for d in self.layer_dilations])

    @property
    def region(self):
        """[start, stop) of the inputs output_index depends on, ignoring the sequence ends."""
        layers = [(self.kernel_size, 1, d, self.layer_padding(d)) for d in self.layer_dilations]
        return input_region(layers, self.output_index)

    def path_counts(self):
        """Number of paths from each input to output_index, shape (length,), via conv_lib.conv.

        Runs the stack with all-ones kernels on every unit impulse: by linearity the response at
        the output counts the distinct paths, and it is non-zero exactly for the inputs it sees.
        """
        x = np.eye(self.length)[:, None, :]              # (length impulses, 1 channel, length)
        for d in self.layer_dilations:
            w = np.ones((1, 1, self.kernel_size))
            x = conv(x, w, dilation=d, padding=[self.layer_padding(d)])
        return x[:, 0, self.output_index]

    @property
    def reached_inputs(self):
        """Sorted input positions that influence output_index (inside the sequence)."""
        return [int(i) for i in np.flatnonzero(self.path_counts())]


class ReceptiveFieldGrowth(_Playground):
    """Receptive field of a 2-D stack (square kernels), layer by layer, with the recursion's numbers.

    Parameters (synced traits)
    ----------
    layers : list of dicts {"type": "conv" | "pool", "k": int, "s": int, "d": int, "p": int}
        (``d`` is 1 for pooling). Tuples (k, s[, d[, p]]) are accepted and become conv layers.
    input_size : int, side of the square input
    selected_layer : int, 1-based layer whose unit is shown (0 = the input itself)
    unit : (row, col) of the shown unit in that layer's output
    """

    _esm = STATIC / "rf_growth.mjs"
    _settings = ("layers", "input_size", "selected_layer", "unit")
    _L = LIMITS["rf"]
    layers = t.List(t.Any(), default_value=[
        {"type": "conv", "k": 3, "s": 1, "d": 1, "p": 1},
        {"type": "conv", "k": 3, "s": 1, "d": 1, "p": 1},
        {"type": "pool", "k": 2, "s": 2, "d": 1, "p": 0},
        {"type": "conv", "k": 3, "s": 1, "d": 1, "p": 1},
    ]).tag(sync=True)
    input_size = t.Int(32).tag(sync=True)
    selected_layer = t.Int(-1).tag(sync=True)
    unit = AxisPair(8, (0, 63)).tag(sync=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if self.selected_layer < 0 or self.selected_layer > len(self.layers):
            self.selected_layer = len(self.layers)

    @t.validate("selected_layer")
    def _valid_selected(self, proposal):
        return _check_range("ReceptiveFieldGrowth", "selected_layer", proposal["value"], (-1, len(self.layers)))

    @t.validate("input_size")
    def _valid_size(self, proposal):
        return _check_range("ReceptiveFieldGrowth", "input_size", proposal["value"], self._L["input_size"])

    @t.validate("layers")
    def _valid_layers(self, proposal):
        layers = list(proposal["value"])
        lo, hi = self._L["layers"]
        if not lo <= len(layers) <= hi:
            raise t.TraitError(f"ReceptiveFieldGrowth.layers must have {lo} to {hi} layers, got {len(layers)}")
        out = []
        for i, layer in enumerate(layers):
            if isinstance(layer, (tuple, list)):
                keys = ("k", "s", "d", "p")[:len(layer)]
                layer = {"type": "conv", **dict(zip(keys, layer))}
            if not isinstance(layer, dict):
                raise t.TraitError(f"layers[{i}] must be a dict or a (k, s, d, p) tuple, got {layer!r}")
            kind = layer.get("type", "conv")
            if kind not in ("conv", "pool"):
                raise t.TraitError(f"layers[{i}]['type'] must be 'conv' or 'pool', got {kind!r}")
            row = {"type": kind}
            for key, limit in (("k", "kernel"), ("s", "stride"), ("d", "dilation"), ("p", "padding")):
                default = 0 if key == "p" else 1
                row[key] = _check_range("ReceptiveFieldGrowth", f"layers[{i}]['{key}']",
                                        layer.get(key, default), self._L[limit])
            if kind == "pool" and row["d"] != 1:
                raise t.TraitError(f"layers[{i}] is a pooling layer: its dilation must be 1, got {row['d']}")
            out.append(row)
        return out

    @property
    def _tuples(self):
        return [(L["k"], L["s"], L["d"], L["p"]) for L in self.layers]

    @property
    def table(self):
        """conv_lib.receptive_field_table of the stack (one dict per layer)."""
        return receptive_field_table(self._tuples)

    @property
    def receptive_field(self):
        """Receptive field (side, in input pixels) of one unit of the last layer."""
        return receptive_field(self._tuples)

    @property
    def feature_sizes(self):
        """Side of each feature map: [input_size, after layer 1, ...] (conv_lib.output_size).

        Stops at the first layer whose kernel does not fit (the list is then shorter).
        """
        sizes = [self.input_size]
        for k, s, d, p in self._tuples:
            try:
                sizes.append(output_size(sizes[-1], k, stride=s, padding=p, dilation=d))
            except ValueError:
                break
        return sizes

    @property
    def traced(self):
        """(layer, (row, col)) actually traced: like the view, the layer is clamped to the layers
        whose output exists and the unit to that layer's map."""
        sizes = self.feature_sizes
        layer = min(max(self.selected_layer, 0), len(sizes) - 1)
        return layer, tuple(min(max(i, 0), sizes[layer] - 1) for i in self.unit)

    @property
    def region(self):
        """((row_start, row_stop), (col_start, col_stop)) of the input seen by the traced unit
        (conv_lib.input_region; may reach past the edges into the padding)."""
        layer, unit = self.traced
        return tuple(input_region(self._tuples[:layer], i) for i in unit)
