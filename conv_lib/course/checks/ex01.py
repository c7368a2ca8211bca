"""Checks of the exercise notebook ex01: convolution."""

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv
from conv_lib.counts import conv_params

from ._harness import (
    _torch, _jax, _nnx, _ok, _failure, _require_values, _call, _probe, _parts, Case, _check_arrays,
    _check_scalars, _same_value, _as_shape, case_rng, exercise, register)
from ._scratch import ARITHMETIC, FROM_SCRATCH, LIBRARIES, Rule, _require_rule
from ._refs import _f32

RULES = {
    "ex01-cross-correlation": Rule(
        "build it on np.convolve (required); no np.correlate, PyTorch, JAX, SciPy or conv_lib.",
        modules=LIBRARIES, names=("numpy.correlate",), require=("numpy.convolve",)),
    "ex01-conv1d": FROM_SCRATCH,
    "ex01-param-count": ARITHMETIC,
    "ex01-im2col": FROM_SCRATCH,
}

EXERCISES = {
    "ex01-cross-correlation": (
        "deep-learning layers slide the kernel as it is; np.convolve reverses it first and its "
        "default mode keeps partial overlaps.",
        "np.convolve(x, kernel[::-1], mode='valid')"),
    "ex01-conv1d": (
        "every output channel o sums over all input channels and all K taps, plus its bias.",
        "y[n, o, t] = bias[o] + sum over c and k of x[n, c, t + k] * w[o, c, k]"),
    "ex01-param-count": (
        "a layer stores one filter per output channel, each spanning all input channels, plus "
        "one bias per output channel.",
        "weights: c_out * c_in * prod(kernel_size); bias: c_out (if any)"),
    "ex01-filters": (
        "one filter per output channel; 'same' padding at stride 1 keeps H and W.",
        "out_shape = (N, out_channels, H, W) for padding='same', stride 1"),
    "ex01-im2col": (
        "one row per (channel, kernel row, kernel column) tap, one column per output position "
        "in row-major order.",
        "cols[(c*kh + a)*kw + b, i*OW + j] = x[c, i + a, j + b]"),
}

DIAGNOSES = {
    "ex01-cross-correlation/flipped": (
        "true convolution (kernel flipped)",
        "your result is the true convolution: np.convolve flips the kernel before sliding it, "
        "while deep-learning 'convolutions' do not."),
    "ex01-cross-correlation/full-mode": (
        "np.convolve mode 'full'",
        "np.convolve's default mode is 'full' (length n + k - 1); a conv layer without padding "
        "keeps only the positions where the kernel fits entirely."),
    "ex01-cross-correlation/full-and-flipped": (
        "mode 'full' and kernel flipped",
        "two things differ: the mode keeps partial overlaps, and the kernel is still reversed."),
    "ex01-cross-correlation/same-mode": (
        "np.convolve mode 'same'",
        "mode 'same' pads the input; F.conv1d with padding=0 keeps only full windows."),
    "ex01-conv1d/flipped": (
        "kernel flipped",
        "your output equals the convolution with the kernel FLIPPED (np.convolve-style); conv "
        "layers compute cross-correlation, no flip."),
    "ex01-conv1d/no-bias": (
        "bias missing", "everything matches except the bias: it is added to every position of "
                        "its output channel."),
    "ex01-conv1d/one-short": (
        "last window missing", "one output position is missing at the end: count the windows "
                               "of length K that fit in L samples."),
    "ex01-param-count/no-bias": (
        "bias forgotten", "you forgot the bias: one extra number per output channel when bias=True."),
    "ex01-param-count/bias-per-input": (
        "bias per input channel", "the bias belongs to the output channels, not the input channels."),
    "ex01-param-count/no-c-in": (
        "filters span one channel", "each filter spans ALL input channels."),
    "ex01-param-count/one-filter": (
        "counted one filter", "that is the size of ONE filter; a layer has c_out of them."),
    "ex01-param-count/bias-when-false": (
        "bias counted although bias=False", "you added the bias although bias=False."),
    "ex01-filters/input-channels": (
        "filters = input channels", "3 is the number of INPUT channels; each filter produces one "
                                    "output channel."),
    "ex01-im2col/transposed": (
        "matrix transposed", "your matrix is transposed: rows are the taps, columns the output "
                             "positions (so that w.reshape(C_out, -1) @ cols is the convolution)."),
    "ex01-im2col/channel-last": (
        "rows ordered channel last", "the rows are in the wrong order: they follow "
                                     "w.reshape(C_out, -1), channel first (yours put it last)."),
    "ex01-im2col/column-major": (
        "positions column-major", "the columns run over output positions column by column; use "
                                  "row-major order (the output column index changes fastest)."),
}
register(EXERCISES, DIAGNOSES, RULES)


@exercise("ex01-cross-correlation")
def check_cross_correlation(fn):
    """fn(x, kernel) -> 1-D 'valid' cross-correlation (what F.conv1d computes), built on np.convolve."""
    ex = "ex01-cross-correlation"
    _call(ex, fn, np.arange(5.0), np.array([1.0, 2.0]))  # "not attempted yet" comes first
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    rng = case_rng(ex)
    cases = []
    for _ in range(24):
        n = int(rng.integers(3, 13))
        k = int(rng.integers(1, min(n, 5) + 1))
        x, kern = rng.normal(size=n), rng.normal(size=k)
        cases.append(Case((x, kern), show={"len(x)": n, "len(kernel)": k}, x=x, k=kern))
    refs = [("PyTorch (F.conv1d)",
             lambda c: F.conv1d(torch.from_numpy(c.x)[None, None],
                                torch.from_numpy(c.k)[None, None])[0, 0].numpy(), None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated)",
             lambda c: fw.jax_conv(_f32(c.x)[None, None], _f32(c.k)[None, None])[0, 0], 6, 1e-4, 1e-4)]
    variants = [
        ("flipped", lambda c: np.convolve(c.x, c.k, mode="valid")),
        ("full-mode", lambda c: np.convolve(c.x, c.k[::-1])),
        ("full-and-flipped", lambda c: np.convolve(c.x, c.k)),
        ("same-mode", lambda c: np.convolve(c.x, c.k[::-1], mode="same")),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random signals and asymmetric kernels match PyTorch (F.conv1d) and JAX." + tally)


@exercise("ex01-conv1d")
def check_conv1d(fn):
    """fn(x, w, bias=None): x (N, C_in, L), w (C_out, C_in, K), bias (C_out,) -> (N, C_out, L-K+1)."""
    ex = "ex01-conv1d"
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    cases = []
    for i in range(24):
        n, ci, co = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        length = int(rng.integers(3, 13))
        k = int(rng.integers(1, min(length, 4) + 1))
        x, w = rng.normal(size=(n, ci, length)), rng.normal(size=(co, ci, k))
        b = rng.normal(size=co) if i % 2 else None
        args = (x, w) if b is None else (x, w, b)
        cases.append(Case(args, show={"x": x, "w": w, "bias": b if b is None else b.shape},
                          x=x, w=w, b=b))
    refs = [("PyTorch (F.conv1d)", lambda c: fw.torch_conv(c.x, c.w, c.b), None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated)",
             lambda c: fw.jax_conv(_f32(c.x), _f32(c.w), None if c.b is None else _f32(c.b)),
             6, 1e-4, 1e-4)]
    variants = [
        ("flipped", lambda c: conv(c.x, c.w[..., ::-1].copy(), c.b)),
        ("no-bias", lambda c: conv(c.x, c.w)),
        ("one-short", lambda c: conv(c.x, c.w, c.b)[..., :-1]),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random (x, w, bias) match PyTorch (F.conv1d) and JAX "
            f"(lax.conv_general_dilated)." + tally)


@exercise("ex01-param-count")
def check_conv_params(fn):
    """fn(c_in, c_out, kernel_size, bias=True) -> number of learned parameters; kernel_size a tuple."""
    ex = "ex01-param-count"
    _probe(ex, fn, 3, 8, (3, 3), bias=True)
    _require_rule(ex, fn, RULES[ex])
    torch, _ = _torch()
    nnx = _nnx()
    jax, _, _ = _jax()
    rng = case_rng(ex)
    cases = []
    for i in range(20):
        nd = int(rng.integers(1, 4))
        ks = tuple(int(v) for v in rng.integers(1, 6, size=nd))
        ci, co, bias = int(rng.integers(1, 65)), int(rng.integers(1, 65)), bool(i % 3)
        cases.append(Case((ci, co, ks), {"bias": bias},
                          show={"c_in": ci, "c_out": co, "kernel_size": ks, "bias": bias},
                          ci=ci, co=co, ks=ks, bias=bias))

    def torch_count(c):
        layer = getattr(torch.nn, f"Conv{len(c.ks)}d")(c.ci, c.co, c.ks, bias=c.bias, device="meta")
        return sum(p.numel() for p in layer.parameters())

    def flax_count(c):
        layer = nnx.eval_shape(lambda: nnx.Conv(c.ci, c.co, c.ks, use_bias=c.bias, rngs=nnx.Rngs(0)))
        return sum(int(np.prod(v.shape)) for v in jax.tree_util.tree_leaves(nnx.state(layer, nnx.Param)))

    refs = [("PyTorch (parameters of nn.ConvNd)", torch_count, None),
            ("Flax (parameters of nnx.Conv)", flax_count, 6),
            ("conv_lib.conv_params", lambda c: conv_params(c.ci, c.co, c.ks, bias=c.bias), None)]
    variants = [
        ("no-bias", lambda c: c.co * c.ci * int(np.prod(c.ks))),
        ("bias-per-input", lambda c: c.co * c.ci * int(np.prod(c.ks)) + (c.ci if c.bias else 0)),
        ("no-c-in", lambda c: c.co * int(np.prod(c.ks)) + (c.co if c.bias else 0)),
        ("one-filter", lambda c: c.ci * int(np.prod(c.ks)) + (1 if c.bias else 0)),
        ("bias-when-false", lambda c: c.co * c.ci * int(np.prod(c.ks)) + c.co),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} layer configurations (1-D to 3-D) match the parameter counts of "
            f"PyTorch and Flax." + tally)


@exercise("ex01-filters")
def check_filters(n_filters, out_shape):
    """The explainer's first example: nn.Conv2d(3, 32, 3, stride=1, padding='same') on (1, 3, 64, 64)."""
    ex = "ex01-filters"
    torch, _ = _torch()
    layer = torch.nn.Conv2d(3, 32, 3, stride=1, padding="same", device="meta")
    true_filters = layer.weight.shape[0]
    true_shape = tuple(layer(torch.empty(1, 3, 64, 64, device="meta")).shape)

    def filters():
        _require_values(ex, n_filters=n_filters)
        if not _same_value(n_filters, true_filters):
            wrong_side = _same_value(n_filters, 3)
            raise _failure(ex, "n_filters is not right",
                           hint=DIAGNOSES[f"{ex}/input-channels"][1] if wrong_side else
                           "the number of filters is the out_channels argument.",
                           diagnosis=f"{ex}/input-channels" if wrong_side else None)

    def shape():
        _require_values(ex, out_shape=out_shape)
        got = _as_shape(out_shape)
        if got != true_shape:
            if not isinstance(got, tuple) or len(got) != 4:
                hint = "give the full 4-D shape (N, C_out, H, W), as PyTorch reports it."
            elif got[1] != true_shape[1]:
                hint = "the channel axis of the output holds one map per filter."
            elif got[2:] != true_shape[2:]:
                hint = "padding='same' at stride 1 keeps the spatial size of the input."
            else:
                hint = "the batch size does not change."
            raise _failure(ex, "out_shape is not the shape PyTorch produces", hint=hint)

    _parts(ex, [("n_filters", filters), ("out_shape", shape)])
    _ok(ex, "matches what PyTorch builds and returns for a 3 -> 32 channel 'same' layer.")


@exercise("ex01-im2col")
def check_im2col(fn):
    """fn(x, kh, kw): x (C, H, W) -> columns (C*kh*kw, OH*OW), stride 1, no padding."""
    ex = "ex01-im2col"
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    _, jnp, lax = _jax()
    rng = case_rng(ex)
    cases = []
    for _ in range(16):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(3, 9)), int(rng.integers(3, 9))
        kh, kw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        x = rng.normal(size=(c, h, w))
        cases.append(Case((x, kh, kw), show={"x": x, "kh": kh, "kw": kw}, x=x, kh=kh, kw=kw))

    def torch_cols(c):
        return F.unfold(torch.from_numpy(c.x)[None], (c.kh, c.kw))[0].numpy()

    def jax_cols(c):
        p = lax.conv_general_dilated_patches(jnp.asarray(_f32(c.x))[None], (c.kh, c.kw), (1, 1),
                                             "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return np.asarray(p[0]).reshape(p.shape[1], -1)

    def shape_parts(c):
        oh, ow = c.x.shape[1] - c.kh + 1, c.x.shape[2] - c.kw + 1
        return torch_cols(c).reshape(c.x.shape[0], c.kh, c.kw, oh, ow)

    refs = [("PyTorch (F.unfold)", torch_cols, None, 1e-9, 1e-12),
            ("JAX (lax.conv_general_dilated_patches)", jax_cols, 4, 1e-5, 1e-5)]
    variants = [
        ("transposed", lambda c: torch_cols(c).T),
        ("channel-last", lambda c: shape_parts(c).transpose(1, 2, 0, 3, 4).reshape(-1, shape_parts(c)[0, 0, 0].size)),
        ("column-major", lambda c: shape_parts(c).transpose(0, 1, 2, 4, 3).reshape(-1, shape_parts(c)[0, 0, 0].size)),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random images match PyTorch's F.unfold and JAX's "
            f"conv_general_dilated_patches." + tally)
