"""Checks of the exercise notebook ex08: frameworks."""

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv
from conv_lib.counts import conv_params

from ._harness import (
    _torch, _jax, _nnx, _ok, _failure, _require_values, _call, _parts, _probe, _to_numpy, _array_diff, Case,
    _check_arrays, _check_scalars, _as_shape, _as_tuple, case_rng, exercise, framework_seed, register)
from ._scratch import ARITHMETIC, FROM_SCRATCH, Rule, _require_rule
from ._refs import _f32

FRAMEWORKS_ONLY = Rule("PyTorch, JAX and Flax are the tools here; no conv_lib (its adapters would "
                       "do the port for you).", modules=("conv_lib",))
RULES = {
    "ex08-port-layer": FRAMEWORKS_ONLY,
    "ex08-grouped-conv": FROM_SCRATCH,
    "ex08-depthwise-separable": Rule("make_depthwise: Flax; separable_params: plain arithmetic (no "
                                     "conv_lib, no frameworks).", modules=("conv_lib",)),
}

EXERCISES = {
    "ex08-port-layer": (
        "Flax stores the kernel HWIO and works channels-last; its default padding is 'SAME'; groups "
        "are feature_group_count.",
        "nnx.Conv(C_in, C_out, kernel_size, strides, padding=[(p, p), ...], kernel_dilation, "
        "feature_group_count=groups); kernel = weight.transpose(2, 3, 1, 0); NCHW <-> NHWC with "
        "transpose(0, 2, 3, 1) / (0, 3, 1, 2)"),
    "ex08-flax-shapes": (
        "Flax keeps every leading batch axis, pads 'SAME' by default, and applies the output-size "
        "formula to each spatial axis.",
        "O = floor((n' + lo + hi - d(k-1) - 1) / s) + 1 with n' = (n - 1)*input_dilation + 1"),
    "ex08-grouped-conv": (
        "output block g of C_out/groups channels reads only input block g of C_in/groups channels.",
        "for g in range(groups): y[:, g*Og:(g+1)*Og] = conv(x[:, g*Cg:(g+1)*Cg], w[g*Og:(g+1)*Og])"),
    "ex08-depthwise-separable": (
        "a depthwise conv has one group per input channel; every conv here has a bias per output "
        "channel.",
        "depthwise: nnx.Conv(C, C*m, (k, k), padding='SAME', feature_group_count=C, use_bias=True); "
        "standard: c_out*c_in*k*k + c_out; separable: (c_in*k*k + c_in) + (c_out*c_in + c_out)"),
}

DIAGNOSES = {
    "ex08-port-layer/still-nhwc": ("output left NHWC", "the result is still NHWC: move the channel "
                                                       "axis back."),
    "ex08-port-layer/reshaped-input": ("input reshaped, not transposed",
                                       "the input must go NCHW -> NHWC by moving axes, not by a "
                                       "reshape."),
    "ex08-grouped-conv/groups-ignored": (
        "groups ignored", "groups ignored: every output channel reads the FIRST C_in/groups input "
                          "channels instead of its own group's."),
    "ex08-grouped-conv/interleaved": (
        "groups interleaved", "the groups are interleaved: consecutive output channels belong to "
                              "the SAME group."),
    "ex08-depthwise-separable/no-bias": (
        "depthwise layer without bias", "the prompt asks for a bias: one per output channel."),
    "ex08-depthwise-separable/groups-ignored": (
        "depthwise layer not grouped", "groups ignored: with feature_group_count=channels each "
                                       "filter sees ONE input channel."),
    "ex08-depthwise-separable/count-no-bias": (
        "counts without biases", "the biases are missing (every conv here has one bias per output "
                                 "channel)."),
    "ex08-depthwise-separable/count-full-depthwise": (
        "depthwise counted as a full conv", "the depthwise conv was counted like a full conv: each "
                                            "of its filters sees one channel."),
}
register(EXERCISES, DIAGNOSES, RULES)


def _flax_pairs(padding, in_sizes, kernel, strides, dilation):
    """Flax/lax padding attribute -> list of (lo, hi) pairs (for hints)."""
    from conv_lib.shapes import resolve_padding

    if isinstance(padding, str):
        return resolve_padding(padding.lower(), in_sizes, kernel, strides, dilation)
    if isinstance(padding, int):
        return [(padding, padding)] * len(kernel)
    return [tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in padding]


def _tuple2(v, default=1):
    if v is None:
        return (default, default)
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)


def _diagnose_port(layer, tlayer, in_sizes):
    """A hint comparing the Flax layer's attributes with the PyTorch layer's."""
    nnx = _nnx()
    if not isinstance(layer, nnx.Conv):
        return f"port_conv2d should return an nnx.Conv, got {type(layer).__name__}."
    w = tlayer.weight.detach().numpy()
    hwio = fw.oihw_to_hwio(w)
    kernel = np.asarray(layer.kernel[...])
    if kernel.shape != hwio.shape:
        return (f"the kernel has shape {kernel.shape}; Flax wants HWIO = (kh, kw, C_in/groups, "
                f"C_out) = {hwio.shape}, i.e. weight.permute(2, 3, 1, 0).")
    if not np.allclose(kernel, hwio, atol=1e-6):
        if np.allclose(kernel, w.reshape(hwio.shape), atol=1e-6):
            return ("you RESHAPED the OIHW weight to the HWIO shape; the axes must be moved "
                    "(transpose(2, 3, 1, 0)), a reshape scrambles the numbers.")
        if np.allclose(kernel, hwio[::-1, ::-1], atol=1e-6):
            return "the kernel is flipped in space; neither framework flips kernels."
        return "the kernel values are not the PyTorch weights moved to HWIO (transpose(2, 3, 1, 0))."
    pairs = [(p, p) for p in tlayer.padding]
    if _flax_pairs(layer.padding, in_sizes, tlayer.kernel_size, _tuple2(layer.strides),
                   _tuple2(layer.kernel_dilation)) != pairs:
        return (f"padding: the Flax layer has padding={layer.padding!r} but PyTorch pads "
                f"{tuple(tlayer.padding)} on each side. Flax's DEFAULT is 'SAME', PyTorch's is 0: "
                f"pass padding=[(p, p) for p in layer.padding].")
    if _tuple2(layer.strides) != tuple(tlayer.stride):
        return f"strides: Flax layer has {layer.strides!r}, PyTorch layer has {tlayer.stride}."
    if _tuple2(layer.kernel_dilation) != tuple(tlayer.dilation):
        return (f"kernel_dilation: Flax layer has {layer.kernel_dilation!r}, PyTorch's dilation is "
                f"{tlayer.dilation}.")
    if layer.feature_group_count != tlayer.groups:
        return (f"groups ignored: PyTorch groups={tlayer.groups} is Flax's feature_group_count "
                f"(yours is {layer.feature_group_count}).")
    if (layer.bias is None) != (tlayer.bias is None):
        return "use_bias must follow the PyTorch layer (bias=None means no bias)."
    if tlayer.bias is not None and not np.allclose(np.asarray(layer.bias[...]),
                                                   tlayer.bias.detach().numpy(), atol=1e-6):
        return "the bias was not copied: set flax_layer.bias[...] = the PyTorch bias."
    return None


@exercise("ex08-port-layer")
def check_port_conv(port_conv2d, forward_nchw):
    """port_conv2d(nn.Conv2d) -> nnx.Conv with copied weights; forward_nchw(flax_layer, x_nchw) -> NCHW."""
    ex = "ex08-port-layer"
    _require_rule(ex, {"port_conv2d": port_conv2d, "forward_nchw": forward_nchw}, RULES[ex])
    torch, _ = _torch()
    rng = case_rng(ex)
    configs = [dict(kernel_size=3, padding=1),
               dict(kernel_size=3, stride=2, dilation=2, bias=False),
               dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)),
               dict(kernel_size=3, groups=2, padding=2),
               dict(kernel_size=(2, 3), dilation=(2, 1), padding=(0, 2)),
               dict(kernel_size=3, stride=3, padding=1)]
    gen = torch.Generator().manual_seed(framework_seed(rng))
    x = torch.randn(2, 4, 9, 11, generator=gen)
    for i, cfg in enumerate(configs):
        with torch.random.fork_rng():
            torch.manual_seed(framework_seed(rng))
            tlayer = torch.nn.Conv2d(4, 6, **cfg)
            with torch.no_grad():
                if tlayer.bias is not None:
                    tlayer.bias.normal_()
        show = {"torch layer": repr(tlayer), "x": tuple(x.shape)}
        layer = _call(ex, port_conv2d, tlayer, config=show,
                      hint="the Flax kernel is HWIO: (kh, kw, C_in // groups, C_out); with "
                           "groups > 1 pass feature_group_count=groups, otherwise Flax expects all "
                           "C_in input channels per filter.")
        got = _to_numpy(ex, _call(ex, forward_nchw, layer, x.numpy(), config=show), show)
        with torch.no_grad():
            expected = tlayer(x).numpy().astype(np.float64)
        problems = _array_diff(got, expected, 1e-4, 1e-4)
        if problems:
            hint, key = _diagnose_port(layer, tlayer, x.shape[2:]), None
            if hint is None and got.shape == fw.channels_last(expected).shape:
                key = f"{ex}/still-nhwc"
            if hint is None and got.shape[1:] == expected.shape[1:][::-1]:
                key = f"{ex}/reshaped-input"
            raise _failure(ex, f"configuration {i + 1} of {len(configs)}: the Flax output differs "
                               f"from PyTorch's", config=show, details=problems,
                           hint=hint or (DIAGNOSES[key][1] if key else None), diagnosis=key)
    _ok(ex, f"{len(configs)} PyTorch Conv2d layers (stride, padding, dilation, groups, bias) ported "
            f"to nnx.Conv give the same outputs.")


@exercise("ex08-flax-shapes")
def check_flax_shapes(unbatched, multi_batch, valid_100, causal_pad_100, kernel_dilated, input_dilated):
    """Six shape predictions, each checked by running nnx.Conv: six independent parts."""
    ex = "ex08-flax-shapes"
    values = dict(unbatched=unbatched, multi_batch=multi_batch, valid_100=valid_100,
                  causal_pad_100=causal_pad_100, kernel_dilated=kernel_dilated,
                  input_dilated=input_dilated)
    nnx = _nnx()
    _, jnp, _ = _jax()
    zeros = nnx.initializers.zeros_init()

    def run(layer_args, layer_kwargs, shape):
        layer = nnx.Conv(*layer_args, kernel_init=zeros, rngs=nnx.Rngs(0), **layer_kwargs)
        return tuple(layer(jnp.ones(shape)).shape)

    truth = {
        "unbatched": run((3, 4, (5, 5)), {}, (32, 32, 3)),
        "multi_batch": run((3, 4, (5, 5)), {}, (1, 1, 32, 32, 3)),
        "valid_100": run((3, 4, 5), {"padding": "VALID"}, (128, 100, 3)),
        "causal_pad_100": run((3, 4, 5), {"padding": [(4, 0)]}, (100, 3)),
        "kernel_dilated": run((5, 6, 7), {"padding": "VALID", "kernel_dilation": 2}, (224, 5)),
        "input_dilated": run((5, 6, 7), {"padding": [(0, 0)], "input_dilation": 2}, (224, 5)),
    }
    hints = {
        "unbatched": "Flax does not add a batch axis, and its default padding is 'SAME'.",
        "multi_batch": "every axis before the spatial ones counts as a batch axis and is kept.",
        "valid_100": "a 1-D kernel makes only the second-to-last axis spatial; 'VALID' drops k - 1 "
                     "samples.",
        "causal_pad_100": "the pair (lo, hi) adds lo zeros on the left and hi on the right before a "
                          "valid convolution.",
        "kernel_dilated": "the dilated kernel spans d*(k-1)+1 samples, and 'VALID' drops all but "
                          "one of them.",
        "input_dilated": "input_dilation inserts d-1 zeros between samples first, then the kernel "
                         "slides over the longer signal.",
    }

    def part(name, value):
        def run_part():
            _require_values(ex, **{name: value})
            if _as_shape(value) != truth[name]:
                raise _failure(ex, f"{name} is not the shape nnx.Conv returns", hint=hints[name])
        return run_part

    _parts(ex, [(name, part(name, value)) for name, value in values.items()])
    _ok(ex, "all six predictions agree with what flax.nnx.Conv returns.")


@exercise("ex08-grouped-conv")
def check_grouped_conv1d(fn):
    """fn(x, w, groups): x (N, C_in, L), w (C_out, C_in // groups, K) -> (N, C_out, L - K + 1)."""
    ex = "ex08-grouped-conv"
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    cases = []
    for i in range(20):
        g = int(rng.integers(1, 5)) if i else 2
        cg, og = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        if i == 0:
            cg, og = 2, 2
        length, k, n = int(rng.integers(3, 11)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
        x, w = rng.normal(size=(n, g * cg, length)), rng.normal(size=(g * og, cg, k))
        cases.append(Case((x, w, g), show={"x": x, "w": w, "groups": g}, x=x, w=w, g=g))

    def interleaved(c):
        c_out, cg = c.w.shape[0], c.w.shape[1]
        y = []
        for o in range(c_out):
            grp = o % c.g
            y.append(conv(c.x[:, grp * cg:(grp + 1) * cg], c.w[o:o + 1]))
        return np.concatenate(y, axis=1)

    refs = [("PyTorch (F.conv1d, groups=g)", lambda c: fw.torch_conv(c.x, c.w, groups=c.g), None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated, feature_group_count=g)",
             lambda c: fw.jax_conv(_f32(c.x), _f32(c.w), groups=c.g), 5, 1e-4, 1e-4)]
    variants = [
        ("groups-ignored", lambda c: conv(c.x[:, :c.w.shape[1]], c.w)),
        ("interleaved", interleaved),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          crash_hint="w has only C_in // groups input channels: slice x per group.")
    _ok(ex, f"{len(cases)} random grouped convolutions match PyTorch (groups) and JAX "
            f"(feature_group_count)." + tally)


@exercise("ex08-depthwise-separable")
def check_depthwise_separable(make_depthwise, separable_params):
    """make_depthwise(channels, kernel_size, multiplier, rngs) -> nnx.Conv (SAME, grouped, with bias);
    separable_params(c_in, c_out, k) -> (standard, separable) parameter counts, biases included.
    Two independent parts."""
    ex = "ex08-depthwise-separable"
    torch, F = _torch()
    nnx = _nnx()
    _, jnp, _ = _jax()
    rng = case_rng(ex)
    configs = [(3, 3, 1), (4, 5, 2), (int(rng.integers(1, 6)), int(rng.choice([1, 3, 5])),
                                      int(rng.integers(1, 4)))]

    def depthwise_part():
        _require_rule(ex, make_depthwise, RULES[ex])
        for channels, k, mult in configs:
            show = {"channels": channels, "kernel_size": k, "multiplier": mult}
            layer = _call(ex, make_depthwise, channels, k, mult, nnx.Rngs(framework_seed(rng)),
                          config=show)
            kernel = np.array(layer.kernel[...])
            want = (k, k, 1, channels * mult)
            if kernel.shape != want:
                grouped = kernel.shape == (k, k, channels, channels * mult)
                raise _failure(ex, "the depthwise kernel has the wrong shape", config=show,
                               details=[f"expected {want}, got {kernel.shape}"],
                               hint=DIAGNOSES[f"{ex}/groups-ignored"][1] if grouped else
                               "out_features = channels * multiplier, one group per input channel.",
                               diagnosis=f"{ex}/groups-ignored" if grouped else None)
            if getattr(layer, "bias", None) is None or np.shape(layer.bias[...]) != (channels * mult,):
                raise _failure(ex, "the depthwise layer has no bias of shape (channels * multiplier,)",
                               config=show, hint=DIAGNOSES[f"{ex}/no-bias"][1],
                               diagnosis=f"{ex}/no-bias")
            # random weights and bias, so that every one of them is exercised
            kernel = rng.normal(size=want).astype(np.float32)
            bias = rng.normal(size=channels * mult).astype(np.float32)
            layer.kernel[...] = jnp.asarray(kernel)
            layer.bias[...] = jnp.asarray(bias)
            x = rng.normal(size=(2, 9, 9, channels)).astype(np.float32)
            got = np.asarray(layer(jnp.asarray(x)), dtype=np.float64)
            expected = fw.torch_conv(fw.channels_first(x), fw.hwio_to_oihw(kernel), bias,
                                     padding="same", groups=channels)
            problems = _array_diff(got, fw.channels_last(expected), 1e-4, 1e-4)
            if problems:
                raise _failure(ex, "the depthwise layer differs from PyTorch's grouped conv with the "
                                   "same weights", config=show, details=problems,
                               hint="keep the spatial size (padding='SAME') and one group per input "
                                    "channel.")

    cases = []
    for _ in range(15):
        ci, co, k = int(rng.integers(1, 65)), int(rng.integers(1, 129)), int(rng.choice([1, 3, 5, 7]))
        cases.append(Case((ci, co, k), show={"c_in": ci, "c_out": co, "k": k}, ci=ci, co=co, k=k))

    def count(*layers):
        return sum(p.numel() for layer in layers for p in layer.parameters())

    def torch_counts(c):
        std = torch.nn.Conv2d(c.ci, c.co, c.k, device="meta")
        dw = torch.nn.Conv2d(c.ci, c.ci, c.k, groups=c.ci, device="meta")
        pw = torch.nn.Conv2d(c.ci, c.co, 1, device="meta")
        return (count(std), count(dw, pw))

    refs = [("PyTorch (parameters of Conv2d / depthwise + pointwise Conv2d)", torch_counts, None),
            ("conv_lib.conv_params",
             lambda c: (conv_params(c.ci, c.co, (c.k, c.k)),
                        conv_params(c.ci, c.ci, (c.k, c.k), groups=c.ci) + conv_params(c.ci, c.co, (1, 1))),
             None)]
    variants = [
        ("count-no-bias", lambda c: (c.co * c.ci * c.k * c.k, c.ci * c.k * c.k + c.co * c.ci)),
        ("count-full-depthwise",
         lambda c: (c.co * c.ci * c.k * c.k + c.co, c.ci * c.ci * c.k * c.k + c.ci + c.co * c.ci + c.co)),
    ]

    def counts_part():
        _probe(ex, separable_params, 3, 8, 3)
        _require_rule(ex, separable_params, ARITHMETIC)
        _check_scalars(ex, separable_params, cases, refs, variants, normalise=_as_tuple)

    _parts(ex, [("make_depthwise", depthwise_part), ("separable_params", counts_part)])
    _ok(ex, "the depthwise layer (with bias) matches PyTorch's groups=C conv; parameter counts "
            f"match PyTorch and conv_lib on {len(cases)} shapes.")
