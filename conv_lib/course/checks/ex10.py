"""Checks of the exercise notebook ex10: temporal convolutional networks."""

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.receptive import receptive_field

from ._harness import (
    _consistent, _torch, _jax, _nnx, _ok, _failure, _require_values, _call, _parts, _probe, _to_numpy,
    _array_diff, Case, _check_scalars, _same_value, _as_shape, case_rng, exercise, framework_seed,
    register)
from ._scratch import ARITHMETIC, Rule, _require_rule
from ._refs import _torch_rf, _jax_rf

RULES = {
    "ex10-temporal-block": Rule("Flax NNX is the tool here; no PyTorch or conv_lib.",
                                modules=("torch", "conv_lib")),
    "ex10-tcn-receptive-field": ARITHMETIC,
}

_TCN_RF = "1 + sum over levels i of 2 * (k-1) * 2**i"
EXERCISES = {
    "ex10-temporal-block": (
        "two causal dilated convs (all padding on the left), ReLU and dropout after each, a "
        "residual (1x1 conv when the channel counts differ), and a final ReLU.",
        "y = relu(dropout(relu(conv2(dropout(relu(conv1(x)))))) + (x or downsample(x))), convs with "
        "padding='CAUSAL', kernel_dilation=dilation"),
    "ex10-tcn-receptive-field": (
        "each level holds TWO causal convs with dilation 2**i, and each widens the field by its "
        "dilated span minus one.", _TCN_RF),
    "ex10-tcn-usage": (
        "causal padding keeps the length; the decoder maps the last hidden size to out_features; "
        "the field grows by 2*(k-1)*2**i per level.", "out = (B, T, out_features); rf = " + _TCN_RF),
}

DIAGNOSES = {
    "ex10-temporal-block/no-residual": ("residual missing", "the residual connection is missing: "
                                                            "add x (or downsample(x)) before the "
                                                            "last ReLU."),
    "ex10-temporal-block/no-final-relu": ("final ReLU missing", "the final ReLU (after the residual "
                                                                "add) is missing."),
    "ex10-temporal-block/no-dilation": ("dilation ignored", "the convs ignore the dilation."),
    "ex10-temporal-block/not-causal": ("not causal", "both convs need all their padding on the left."),
    "ex10-tcn-receptive-field/one-conv-per-level": (
        "one conv per level", "each level has TWO dilated convs, and both widen the field."),
    "ex10-tcn-receptive-field/no-one": ("forgot the starting 1",
                                        "you forgot the starting 1 (the output sample itself)."),
    "ex10-tcn-receptive-field/dilations-from-2": (
        "dilations start at 2", "the dilations are 1, 2, 4, ...: level i uses 2**i, starting at "
                                "i = 0."),
    "ex10-tcn-usage/one-conv-per-level": ("one conv per level", "each level has TWO convs with the "
                                                                "same dilation."),
    "ex10-tcn-usage/no-one": ("forgot the starting 1", "start from 1 (the current sample)."),
}
register(EXERCISES, DIAGNOSES, RULES)


def _torch_block(x_btc, params, dilation, *, residual=True, final_relu=True, dil=None):
    """PyTorch re-implementation of the causal TemporalBlock (eval mode), from Flax parameters."""
    torch, F = _torch()
    d = dilation if dil is None else dil
    t = lambda a: None if a is None else torch.from_numpy(np.asarray(a, dtype=np.float64))  # noqa: E731
    x = t(fw.channels_first(x_btc))                      # (B, T, C) -> (B, C, T)

    def cconv(h, kernel, bias):
        k = kernel.shape[0]
        return F.conv1d(F.pad(h, (d * (k - 1), 0)), t(fw.hwio_to_oihw(kernel)), t(bias), dilation=d)

    y = torch.relu(cconv(x, *params["conv1"]))
    y = torch.relu(cconv(y, *params["conv2"]))
    if residual:
        res = x if params["downsample"] is None else F.conv1d(
            x, t(fw.hwio_to_oihw(params["downsample"][0])), t(params["downsample"][1]))
        y = y + res
    if final_relu:
        y = torch.relu(y)
    return fw.channels_last(y.numpy())


def _flax_params(block):
    def get(conv_layer):
        if conv_layer is None:
            return None
        bias = None if conv_layer.bias is None else np.asarray(conv_layer.bias[...])
        return (np.asarray(conv_layer.kernel[...]), bias)

    return {"conv1": get(block.conv1), "conv2": get(block.conv2),
            "downsample": get(getattr(block, "downsample", None))}


@exercise("ex10-temporal-block")
def check_temporal_block(block_cls):
    """TemporalBlock(in_channels, out_channels, kernel_size, dilation, dropout, rngs) in Flax NNX."""
    ex = "ex10-temporal-block"
    nnx = _nnx()
    _, jnp, _ = _jax()
    _require_rule(ex, block_cls, RULES[ex])
    rng = case_rng(ex)
    configs = [dict(in_channels=3, out_channels=5, kernel_size=3, dilation=2, dropout=0.3),
               dict(in_channels=5, out_channels=5, kernel_size=3, dilation=4, dropout=0.5)]
    for cfg in configs:
        show = dict(cfg)
        block = _call(ex, block_cls, rngs=nnx.Rngs(framework_seed(rng)), config=show, **cfg)
        missing = [a for a in ("conv1", "conv2", "dropout", "downsample") if not hasattr(block, a)]
        if missing:
            raise _failure(ex, f"the block has no attribute(s) {missing}", config=show,
                           hint="name the layers conv1, conv2, dropout and downsample (None when "
                                "in_channels == out_channels).")
        if (block.downsample is None) != (cfg["in_channels"] == cfg["out_channels"]):
            raise _failure(ex, "downsample must be a 1x1 nnx.Conv exactly when the channel counts "
                               "differ (and None otherwise)", config=show)
        x = rng.normal(size=(2, 24, cfg["in_channels"])).astype(np.float32)
        show["x"] = x.shape
        block.eval()
        y = _to_numpy(ex, _call(ex, block, jnp.asarray(x), config=show), show)
        want = (2, 24, cfg["out_channels"])
        if y.shape != want:
            raise _failure(ex, "wrong output shape", config=show,
                           details=[f"expected {want}, got {y.shape}"],
                           hint="causal padding keeps the length T; the output has out_channels.")
        x2 = x.copy()
        x2[:, 13:] = rng.normal(size=x2[:, 13:].shape)
        y2 = np.asarray(block(jnp.asarray(x2)))
        if not np.allclose(y[:, :13], y2[:, :13], atol=1e-5):
            raise _failure(ex, "not causal: changing inputs at t >= 13 changed outputs at t < 13",
                           config=show, diagnosis=f"{ex}/not-causal",
                           hint="both convs need padding='CAUSAL' (or [(d*(k-1), 0)]): "
                                             "all padding on the left.")
        params = _flax_params(block)
        d = cfg["dilation"]
        expected = _torch_block(x, params, d)
        problems = _array_diff(y, expected, 1e-4, 1e-4)
        if problems:
            key = None
            for slug, kw in [("no-residual", {"residual": False}),
                             ("no-final-relu", {"final_relu": False}), ("no-dilation", {"dil": 1})]:
                if np.allclose(y, _torch_block(x, params, d, **kw), atol=1e-4):
                    key = f"{ex}/{slug}"
                    break
            raise _failure(ex, "in eval mode the block differs from a PyTorch re-implementation with "
                               "your weights (causal F.pad + conv1d, ReLU, conv1d, ReLU, + residual, "
                               "ReLU)", config=show, details=problems,
                           hint=DIAGNOSES[key][1] if key else None, diagnosis=key)
        block.train()
        y_train = np.asarray(block(jnp.asarray(x)))
        block.eval()
        if np.allclose(y_train, y):
            raise _failure(ex, "dropout never fires: in training mode the output equals the eval output",
                           config=show, hint="apply self.dropout after each ReLU inside the block.")
    _ok(ex, "shapes, causality, dropout in training mode, and eval-mode outputs identical to a "
            "PyTorch re-implementation with your weights.")


def _tcn_layers(k, levels):
    return [(k, 1, 2 ** i) for i in range(levels) for _ in range(2)]


@exercise("ex10-tcn-receptive-field")
def check_tcn_receptive_field(fn):
    """fn(kernel_size, n_levels) -> receptive field of a TCN (two causal dilated convs per level)."""
    ex = "ex10-tcn-receptive-field"
    _probe(ex, fn, 3, 2)
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    pairs = [(3, 3), (2, 1), (2, 4)]
    while len(pairs) < 12:
        pair = (int(rng.integers(2, 7)), int(rng.integers(1, 8)))
        if pair not in pairs:
            pairs.append(pair)
    cases = [Case((k, lv), show={"kernel_size": k, "n_levels": lv}, k=k, lv=lv) for k, lv in pairs]
    refs = [("PyTorch (impulse response through the causal conv stack)",
             lambda c: _torch_rf(_tcn_layers(c.k, c.lv)), None),
            ("JAX (jax.grad through the same stack)", lambda c: _jax_rf(_tcn_layers(c.k, c.lv)), 2),
            ("conv_lib.receptive_field", lambda c: receptive_field(_tcn_layers(c.k, c.lv)), None)]
    variants = [
        ("one-conv-per-level", lambda c: 1 + (c.k - 1) * (2 ** c.lv - 1)),
        ("no-one", lambda c: 2 * (c.k - 1) * (2 ** c.lv - 1)),
        ("dilations-from-2", lambda c: 1 + 2 * (c.k - 1) * (2 ** (c.lv + 1) - 2)),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} (kernel_size, n_levels) agree with impulse responses through PyTorch and "
            f"JAX causal stacks." + tally)


def _reference_tcn(nnx, in_ch, hidden, out_features, k):
    """The Flax guide's TCN (weights zero: only shapes are needed), written independently."""
    zeros = nnx.initializers.zeros_init()
    convs = []
    c_prev = in_ch
    for i, c in enumerate(hidden):
        d = 2 ** i
        convs.append((nnx.Conv(c_prev, c, k, padding="CAUSAL", kernel_dilation=d, kernel_init=zeros,
                               rngs=nnx.Rngs(0)),
                      nnx.Conv(c, c, k, padding="CAUSAL", kernel_dilation=d, kernel_init=zeros,
                               rngs=nnx.Rngs(0)),
                      nnx.Conv(c_prev, c, 1, kernel_init=zeros, rngs=nnx.Rngs(0)) if c_prev != c else None))
        c_prev = c
    decoder = nnx.Conv(c_prev, out_features, 1, kernel_init=zeros, rngs=nnx.Rngs(0))

    def run(x):
        for c1, c2, down in convs:
            res = x if down is None else down(x)
            x = nnx.relu(nnx.relu(c2(nnx.relu(c1(x)))) + res)
        return decoder(x)

    return run


@exercise("ex10-tcn-usage")
def check_tcn_usage(out_shape, rf):
    """TCN(5, [25, 25, 25], 1, kernel_size=3) on (32, 1024, 5): output shape and receptive field."""
    ex = "ex10-tcn-usage"
    nnx = _nnx()
    _, jnp, _ = _jax()
    true_shape = tuple(_reference_tcn(nnx, 5, [25, 25, 25], 1, 3)(jnp.ones((32, 1024, 5))).shape)
    true_rf = _torch_rf(_tcn_layers(3, 3))
    _consistent(ex, true_rf == receptive_field(_tcn_layers(3, 3)),
                "receptive fields from PyTorch and conv_lib")

    def shape_part():
        _require_values(ex, out_shape=out_shape)
        got = _as_shape(out_shape)
        if got != true_shape:
            hint = ("the decoder (a 1x1 conv) maps the last hidden size to out_features."
                    if isinstance(got, tuple) and len(got) == 3 and got[:2] == true_shape[:2] else
                    "causal padding keeps T, and the batch axis is untouched.")
            raise _failure(ex, "out_shape is not what the TCN returns when run", hint=hint)

    def rf_part():
        _require_values(ex, rf=rf)
        if not _same_value(rf, true_rf):
            one_conv = 1 + (3 - 1) * (2 ** 3 - 1)
            slug = {one_conv: "one-conv-per-level", true_rf - 1: "no-one"}.get(
                rf if isinstance(rf, (int, np.integer)) else None)
            key = f"{ex}/{slug}" if slug else None
            raise _failure(ex, "rf does not match the impulse response through the TCN's conv stack",
                           hint=DIAGNOSES[key][1] if key else EXERCISES[ex][0], diagnosis=key)

    _parts(ex, [("out_shape", shape_part), ("rf", rf_part)])
    _ok(ex, "shape matches the Flax TCN run on (32, 1024, 5); receptive field matches the impulse "
            "response (PyTorch) and conv_lib.")
