"""Checks of the exercise notebook ex01: convolution."""

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv
from conv_lib.counts import conv_params

from ._harness import (
    _torch, _jax, _nnx, _ok, _failure, _require_values, _call, _probe, Case, _check_arrays,
    _check_scalars, _same_value, _as_shape)
from ._scratch import _code_names, _own_functions, _require_from_scratch
from ._refs import _f32


def check_cross_correlation(fn):
    """fn(x, kernel) -> 1-D 'valid' cross-correlation (what F.conv1d computes), built on np.convolve."""
    ex = "ex01-cross-correlation"
    _call(ex, fn, np.arange(5.0), np.array([1.0, 2.0]))  # "not attempted yet" comes first
    if not any("convolve" in n for f in _own_functions(fn) for n in _code_names(f.__code__)):
        raise _failure(ex, f"`{fn.__name__}` does not call np.convolve",
                       hint="the point of this exercise is to get cross-correlation out of "
                            "np.convolve: think about what np.convolve does to the kernel first.")
    _require_from_scratch(ex, fn, what="np.convolve and slicing")
    torch, F = _torch()
    rng = np.random.default_rng(101)
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
        ("your result is the true convolution: np.convolve flips the kernel before sliding it, "
         "while deep-learning 'convolutions' do not. Undo the flip (kernel[::-1]).",
         lambda c: np.convolve(c.x, c.k, mode="valid")),
        ("np.convolve's default mode is 'full' (length n + k - 1); a conv layer without padding "
         "keeps only the positions where the kernel fits entirely: mode='valid'.",
         lambda c: np.convolve(c.x, c.k[::-1])),
        ("mode 'full' and the kernel is still flipped: use kernel[::-1] and mode='valid'.",
         lambda c: np.convolve(c.x, c.k)),
        ("mode 'same' pads the input; F.conv1d with padding=0 corresponds to mode='valid'.",
         lambda c: np.convolve(c.x, c.k[::-1], mode="same")),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random signals and asymmetric kernels match PyTorch (F.conv1d) and JAX." + tally)


def check_conv1d(fn):
    """fn(x, w, bias=None): x (N, C_in, L), w (C_out, C_in, K), bias (C_out,) -> (N, C_out, L-K+1)."""
    ex = "ex01-conv1d"
    _require_from_scratch(ex, fn, extra=[(r"\b(convolve|correlate)\b", "np.convolve/np.correlate")])
    rng = np.random.default_rng(102)
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
        ("your output equals the convolution with the kernel FLIPPED (np.convolve-style). Conv "
         "layers compute cross-correlation: y[t] = sum_k x[t + k] * w[k], no flip.",
         lambda c: conv(c.x, c.w[..., ::-1].copy(), c.b)),
        ("everything matches except the bias: add bias[o] to every position of output channel o.",
         lambda c: conv(c.x, c.w)),
        ("one output position is missing at the end: a length-L signal has L - K + 1 windows.",
         lambda c: conv(c.x, c.w, c.b)[..., :-1]),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          fallback_hint="y[n, o, t] = bias[o] + sum over c and k of x[n, c, t + k] * w[o, c, k]")
    _ok(ex, f"{len(cases)} random (x, w, bias) match PyTorch (F.conv1d) and JAX "
            f"(lax.conv_general_dilated)." + tally)


def check_conv_params(fn):
    """fn(c_in, c_out, kernel_size, bias=True) -> number of learned parameters; kernel_size a tuple."""
    ex = "ex01-param-count"
    _probe(ex, fn, 3, 8, (3, 3), bias=True)
    torch, _ = _torch()
    nnx = _nnx()
    jax, _, _ = _jax()
    rng = np.random.default_rng(103)
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
        ("you forgot the bias: one extra number per output channel when bias=True.",
         lambda c: c.co * c.ci * int(np.prod(c.ks))),
        ("the bias belongs to the output channels (c_out of them), not the input channels.",
         lambda c: c.co * c.ci * int(np.prod(c.ks)) + (c.ci if c.bias else 0)),
        ("each of the c_out filters spans ALL c_in input channels: multiply by c_in too.",
         lambda c: c.co * int(np.prod(c.ks)) + (c.co if c.bias else 0)),
        ("that is the size of ONE filter; a layer has c_out of them.",
         lambda c: c.ci * int(np.prod(c.ks)) + (1 if c.bias else 0)),
        ("you added the bias although bias=False.",
         lambda c: c.co * c.ci * int(np.prod(c.ks)) + c.co),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants,
                           fallback_hint="weights: c_out * c_in * prod(kernel_size); bias: c_out (if any)")
    _ok(ex, f"{len(cases)} layer configurations (1-D to 3-D) match the parameter counts of "
            f"PyTorch and Flax." + tally)


def check_filters(n_filters, out_shape):
    """The explainer's first example: nn.Conv2d(3, 32, 3, stride=1, padding='same') on (1, 3, 64, 64)."""
    ex = "ex01-filters"
    _require_values(ex, n_filters=n_filters, out_shape=out_shape)
    torch, _ = _torch()
    layer = torch.nn.Conv2d(3, 32, 3, stride=1, padding="same", device="meta")
    true_filters = layer.weight.shape[0]
    true_shape = tuple(layer(torch.empty(1, 3, 64, 64, device="meta")).shape)
    if not _same_value(n_filters, true_filters):
        hint = ("3 is the number of INPUT channels; each filter produces one output channel."
                if _same_value(n_filters, 3) else
                "the number of filters is the out_channels argument: one filter per output channel.")
        raise _failure(ex, "n_filters is not right", hint=hint)
    if _as_shape(out_shape) != true_shape:
        got = _as_shape(out_shape)
        if not isinstance(got, tuple) or len(got) != 4:
            hint = "give the full 4-D shape (N, C_out, H, W), as PyTorch reports it."
        elif got[1] != true_shape[1]:
            hint = "the channel axis of the output holds one map per filter."
        elif got[2:] != true_shape[2:]:
            hint = "padding='same' at stride 1 keeps the spatial size of the input."
        else:
            hint = "the batch size does not change."
        raise _failure(ex, "out_shape is not the shape PyTorch produces", hint=hint)
    _ok(ex, "matches what PyTorch builds and returns for the explainer's first example.")


def check_im2col(fn):
    """fn(x, kh, kw): x (C, H, W) -> columns (C*kh*kw, OH*OW), stride 1, no padding."""
    ex = "ex01-im2col"
    _require_from_scratch(ex, fn)
    torch, F = _torch()
    _, jnp, lax = _jax()
    rng = np.random.default_rng(104)
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
        ("your matrix is transposed: rows must be the C*kh*kw taps and columns the OH*OW positions "
         "(so that w.reshape(C_out, -1) @ cols is the convolution).",
         lambda c: torch_cols(c).T),
        ("the rows are in the wrong order: they must follow w.reshape(C_out, -1), i.e. channel "
         "first, then kernel row, then kernel column (yours put the channel last).",
         lambda c: shape_parts(c).transpose(1, 2, 0, 3, 4).reshape(-1, shape_parts(c)[0, 0, 0].size)),
        ("the columns run over output positions column by column; use row-major order "
         "(the output column index changes fastest).",
         lambda c: shape_parts(c).transpose(0, 1, 2, 4, 3).reshape(-1, shape_parts(c)[0, 0, 0].size)),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random images match PyTorch's F.unfold and JAX's "
            f"conv_general_dilated_patches." + tally)
