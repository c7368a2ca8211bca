"""Checks of the exercise notebook ex11: channels, groups and 1x1 convolutions (chapter 11)."""

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.counts import conv_params

from ._harness import (Case, _check_arrays, _check_scalars, _consistent, _ok, _probe, _torch,
                       case_rng, exercise, register)
from ._refs import _f32
from ._scratch import ARITHMETIC, FROM_SCRATCH, _require_rule

RULES = {"ex11-separable-params": ARITHMETIC, "ex11-connectivity": FROM_SCRATCH,
         "ex11-pointwise-linear": FROM_SCRATCH}

EXERCISES = {
    "ex11-separable-params": (
        "a filter of a grouped layer spans C_in/groups channels; depthwise-separable = depthwise "
        "k x k (groups = C_in) + pointwise 1 x 1.",
        "ordinary = C_out * C_in * k^2; separable = C_in * k^2 + C_in * C_out"),
    "ex11-connectivity": (
        "with g groups, output block b (C_out/g channels) reads input block b (C_in/g channels) only.",
        "reads[o, c] = (o // (C_out/g)) == (c // (C_in/g))"),
    "ex11-pointwise-linear": (
        "a 1x1 convolution applies the same matrix W = w[:, :, 0, 0] to the channel vector of every "
        "pixel, then adds the bias.",
        "y[n, :, i, j] = W @ x[n, :, i, j] + b"),
}

DIAGNOSES = {
    "ex11-separable-params/pointwise-missing": (
        "pointwise layer forgotten", "separable: the depthwise layer only filters each channel; "
                                     "the 1x1 pointwise layer that mixes them has weights too."),
    "ex11-separable-params/depthwise-full": (
        "depthwise counted as a full layer", "separable: the depthwise layer has ONE k x k filter "
                                             "per input channel (groups = C_in)."),
    "ex11-separable-params/k-not-squared": (
        "k not squared", "the kernel is k x k: k^2 weights per filter and channel."),
    "ex11-connectivity/interleaved": (
        "groups interleaved", "groups are CONSECUTIVE blocks of channels, not every g-th channel."),
    "ex11-connectivity/transposed": (
        "matrix transposed", "rows are output channels, columns input channels: shape (C_out, C_in)."),
    "ex11-pointwise-linear/no-bias": ("bias missing", "add the bias b[o] to every pixel of channel o."),
    "ex11-pointwise-linear/transposed-weight": (
        "weight transposed", "w[:, :, 0, 0] is (C_out, C_in): output channel o uses row o."),
}
register(EXERCISES, DIAGNOSES, RULES)


@exercise("ex11-separable-params")
def check_separable_params(fn):
    """fn(c_in, c_out, k) -> (ordinary, separable) weight counts (no biases)."""
    ex = "ex11-separable-params"
    _probe(ex, fn, 4, 8, 3)
    _require_rule(ex, fn, RULES[ex])
    torch, _ = _torch()
    rng = case_rng(ex)
    cases = [Case((32, 64, 3), show={"c_in": 32, "c_out": 64, "k": 3}, c_in=32, c_out=64, k=3)]
    while len(cases) < 16:
        c_in, c_out, k = int(rng.integers(1, 65)), int(rng.integers(1, 65)), int(rng.integers(1, 8))
        cases.append(Case((c_in, c_out, k), show={"c_in": c_in, "c_out": c_out, "k": k},
                          c_in=c_in, c_out=c_out, k=k))

    def torch_counts(c):
        nn = torch.nn
        count = lambda *layers: sum(p.numel() for layer in layers for p in layer.parameters())
        return (count(nn.Conv2d(c.c_in, c.c_out, c.k, bias=False, device="meta")),
                count(nn.Conv2d(c.c_in, c.c_in, c.k, groups=c.c_in, bias=False, device="meta"),
                      nn.Conv2d(c.c_in, c.c_out, 1, bias=False, device="meta")))

    def lib(c):
        return (conv_params(c.c_in, c.c_out, (c.k, c.k), bias=False),
                conv_params(c.c_in, c.c_in, (c.k, c.k), groups=c.c_in, bias=False)
                + conv_params(c.c_in, c.c_out, (1, 1), bias=False))

    def as_tuple(v):
        return tuple(int(a) for a in v) if isinstance(v, (tuple, list, np.ndarray)) else v

    refs = [("PyTorch (parameters of nn.Conv2d layers)", torch_counts, None),
            ("conv_lib.conv_params", lib, None)]
    variants = [
        ("pointwise-missing", lambda c: (lib(c)[0], c.c_in * c.k ** 2)),
        ("depthwise-full", lambda c: (lib(c)[0], c.c_in * c.c_in * c.k ** 2 + c.c_in * c.c_out)),
        ("k-not-squared", lambda c: (c.c_out * c.c_in * c.k, c.c_in * c.k + c.c_in * c.c_out)),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants, normalise=as_tuple)
    _ok(ex, f"{len(cases)} layer shapes: both counts match the parameters PyTorch allocates." + tally)


@exercise("ex11-connectivity")
def check_connectivity(fn):
    """fn(c_in, c_out, groups) -> boolean (C_out, C_in): does output o read input c?"""
    ex = "ex11-connectivity"
    _probe(ex, fn, 4, 4, 2)
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    rng = case_rng(ex)
    cases = []
    for i in range(16):
        g = [1, 2, 3, 4][i % 4]
        c_in, c_out = g * int(rng.integers(1, 4)), g * int(rng.integers(1, 4))
        cases.append(Case((c_in, c_out, g), show={"c_in": c_in, "c_out": c_out, "groups": g},
                          c_in=c_in, c_out=c_out, g=g))

    def measured(c):
        """Which outputs change when one input channel is poked (PyTorch, random weights)."""
        w = torch.from_numpy(rng.uniform(0.5, 1.5, size=(c.c_out, c.c_in // c.g, 1, 1)))
        pokes = torch.eye(c.c_in, dtype=torch.float64).reshape(c.c_in, c.c_in, 1, 1)
        return (F.conv2d(pokes, w, groups=c.g)[:, :, 0, 0] != 0).T.numpy().astype(float)

    def block(c):
        return np.kron(np.eye(c.g), np.ones((c.c_out // c.g, c.c_in // c.g)))

    def interleaved(c):
        return (np.arange(c.c_out)[:, None] % c.g == np.arange(c.c_in)[None] % c.g).astype(float)

    def as_float(fn_):
        def run(*args):
            return np.asarray(fn_(*args)).astype(float)
        return run

    refs = [("PyTorch (outputs that change when one input channel changes)", measured, None, 0, 0)]
    variants = [("interleaved", interleaved), ("transposed", lambda c: block(c).T)]
    for c in cases[:4]:
        _consistent(ex, np.array_equal(measured(c), block(c)), "measured connectivity vs blocks")
    tally = _check_arrays(ex, as_float(fn), cases, refs, variants)
    _ok(ex, f"{len(cases)} layers: your matrices are the connectivity PyTorch exhibits, "
            f"block-diagonal with one block per group." + tally)


@exercise("ex11-pointwise-linear")
def check_pointwise_linear(fn):
    """fn(x, w, b) -> the 1x1 convolution of x (N, C, H, W) with w (O, C, 1, 1) plus b (O,)."""
    ex = "ex11-pointwise-linear"
    _probe(ex, fn, np.ones((1, 2, 2, 2)), np.ones((3, 2, 1, 1)), np.zeros(3))
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    cases = []
    for _ in range(16):
        n, c, o = int(rng.integers(1, 3)), int(rng.integers(1, 6)), int(rng.integers(1, 6))
        h, w_ = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        x, w, b = rng.normal(size=(n, c, h, w_)), rng.normal(size=(o, c, 1, 1)), rng.normal(size=o)
        cases.append(Case((x, w, b), show={"x": x, "w": w, "b": b}, x=x, w=w, b=b))

    refs = [("PyTorch (nn.Conv2d with kernel_size=1)",
             lambda c: fw.torch_conv(c.x, c.w, c.b), None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated)",
             lambda c: fw.jax_conv(_f32(c.x), _f32(c.w), _f32(c.b)), 4, 1e-4, 1e-4)]
    variants = [
        ("no-bias", lambda c: fw.torch_conv(c.x, c.w)),
        ("transposed-weight", lambda c: np.einsum("co,nchw->nohw", c.w[:, :, 0, 0], c.x)
         + c.b[None, :, None, None] if c.w.shape[0] == c.w.shape[1] else np.full(1, np.nan)),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random layers: your per-pixel matrix product is the 1x1 convolution of "
            f"PyTorch and JAX." + tally)
