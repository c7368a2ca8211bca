"""Checks of the exercise notebook ex09: from loops to GEMM (chapter 9)."""

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv, conv_transpose
from conv_lib.counts import conv_macs
from conv_lib.shapes import output_shape

from ._harness import (Case, _check_arrays, _check_scalars, _consistent, _ok, _probe, _torch,
                       case_rng, exercise, register)
from ._refs import _f32
from ._scratch import ARITHMETIC, FROM_SCRATCH, _require_rule

RULES = {"ex09-gemm-dims": ARITHMETIC, "ex09-transpose-phases": FROM_SCRATCH,
         "ex09-im2col-gemm": FROM_SCRATCH}

EXERCISES = {
    "ex09-gemm-dims": (
        "im2col turns each image (and each group) into one matrix product W (M x K) @ cols (K x P); "
        "it does exactly the multiply-adds of the loops.",
        "GEMMs = N * groups; M = C_out / groups; K = (C_in / groups) * kh * kw; P = OH * OW; "
        "MACs = GEMMs * M * K * P"),
    "ex09-transpose-phases": (
        "output o = r + s*j (phase r) receives x[i] * w[t] exactly when i*s + t - p = o; each phase "
        "is a stride-1 correlation of x with the taps t for which (r + p - t) is a multiple of s.",
        "y[o] = sum over taps t with (o + p - t) % s == 0 and 0 <= (o + p - t) // s < n of "
        "w[t] * x[(o + p - t) // s]; length (n - 1) * s - 2p + k"),
    "ex09-im2col-gemm": (
        "copy every (dilated, strided) window of the padded image into a column, then one matrix "
        "product with the weights reshaped to (C_out, C_in*kh*kw) gives all outputs.",
        "cols[(c, u, v), (i, j)] = x_p[c, i*sh + u*dh, j*sw + v*dw]; y = w.reshape(O, -1) @ cols; "
        "OH = floor((H + 2p - dh*(kh-1) - 1) / sh) + 1"),
}

DIAGNOSES = {
    "ex09-gemm-dims/k-ignores-groups": (
        "K ignores groups", "K: each filter of a grouped layer spans only C_in/groups channels."),
    "ex09-gemm-dims/m-ignores-groups": (
        "M ignores groups", "M: each of the groups' GEMMs produces only C_out/groups channels."),
    "ex09-gemm-dims/p-ignores-stride": (
        "P ignores the stride", "P counts OUTPUT positions: the stride leaves fewer of them."),
    "ex09-gemm-dims/p-ignores-padding": (
        "P ignores the padding", "P: padding adds output positions."),
    "ex09-gemm-dims/one-gemm": (
        "one GEMM for the batch", "the count: im2col makes one GEMM per image and per group."),
    "ex09-transpose-phases/no-crop": (
        "padding not cropped", "the padding of a transposed convolution CROPS p samples from both "
                               "ends of the stamped output."),
    "ex09-transpose-phases/flipped": (
        "kernel flipped", "the taps are in the wrong order: input i adds w[t] at position i*s + t - p."),
    "ex09-im2col-gemm/flipped": (
        "kernel flipped", "the kernel is flipped: conv layers compute cross-correlation (no flip)."),
    "ex09-im2col-gemm/dilation-as-stride": (
        "dilation and stride swapped", "stride moves the window (output axes), dilation spreads "
                                       "the taps (kernel axes)."),
    "ex09-im2col-gemm/no-padding": (
        "padding ignored", "pad the input with zeros on both sides before taking the windows."),
}
register(EXERCISES, DIAGNOSES, RULES)


def _gemm_dims(xs, ws, stride, padding, groups):
    out = output_shape(xs[2:], ws[2:], stride=stride, padding=padding)
    return (xs[0] * groups, ws[0] // groups, ws[1] * int(np.prod(ws[2:])), int(np.prod(out)))


@exercise("ex09-gemm-dims")
def check_gemm_dims(fn):
    """fn(x_shape, w_shape, stride, padding, groups) -> (gemms, M, K, P) of im2col; MACs = product."""
    ex = "ex09-gemm-dims"
    _probe(ex, fn, (1, 4, 8, 8), (4, 2, 3, 3), 1, 1, 2)
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    from torch.utils.flop_counter import FlopCounterMode

    rng = case_rng(ex)
    cases = []
    for i in range(24):
        groups = [1, 2, 4][i % 3]
        n = int(rng.integers(1, 4))
        c, o = groups * int(rng.integers(1, 5)), groups * int(rng.integers(1, 5))
        h, w = int(rng.integers(5, 17)), int(rng.integers(5, 17))
        k, s, p = int(rng.integers(1, 5)), int(rng.integers(1, 4)), int(rng.integers(0, 3))
        xs, ws = (n, c, h, w), (o, c // groups, k, k)
        cases.append(Case((xs, ws, s, p, groups), xs=xs, ws=ws, s=s, p=p, g=groups,
                          show={"x_shape": xs, "w_shape": ws, "stride": s, "padding": p,
                                "groups": groups}))

    def torch_macs(c):
        with FlopCounterMode(display=False) as counter:
            F.conv2d(torch.empty(c.xs, device="meta"), torch.empty(c.ws, device="meta"),
                     stride=c.s, padding=c.p, groups=c.g)
        return counter.get_total_flops() // 2

    def as_tuple(v):
        return tuple(int(a) for a in v) if isinstance(v, (tuple, list, np.ndarray)) else v

    refs = [("conv_lib (output_shape, conv_params)",
             lambda c: _gemm_dims(c.xs, c.ws, c.s, c.p, c.g), None)]
    variants = [
        ("k-ignores-groups", lambda c: _gemm_dims(c.xs, c.ws, c.s, c.p, c.g)[:2]
         + (c.xs[1] * c.ws[2] * c.ws[3],) + _gemm_dims(c.xs, c.ws, c.s, c.p, c.g)[3:]),
        ("m-ignores-groups", lambda c: (c.xs[0] * c.g, c.ws[0]) + _gemm_dims(c.xs, c.ws, c.s, c.p, c.g)[2:]),
        ("p-ignores-stride", lambda c: _gemm_dims(c.xs, c.ws, c.s, c.p, c.g)[:3]
         + (int(np.prod(output_shape(c.xs[2:], c.ws[2:], padding=c.p))),)),
        ("p-ignores-padding", lambda c: _gemm_dims(c.xs, c.ws, c.s, c.p, c.g)[:3]
         + (int(np.prod(output_shape(c.xs[2:], c.ws[2:], stride=c.s))),)),
        ("one-gemm", lambda c: (c.g,) + _gemm_dims(c.xs, c.ws, c.s, c.p, c.g)[1:]),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants, normalise=as_tuple)
    # the lesson: the GEMMs do exactly the multiply-adds of the loops (PyTorch's FLOP counter / 2)
    for c in cases[:8]:
        gemms, m, k, p = as_tuple(fn(*c.args))
        _consistent(ex, gemms * m * k * p == torch_macs(c)
                    == conv_macs(c.xs, c.ws, stride=c.s, padding=c.p, groups=c.g),
                    f"GEMMs x M x K x P vs PyTorch's and conv_lib's MAC counts for {c.show}")
    _ok(ex, f"{len(cases)} layers: your GEMM dimensions are right, and GEMMs x M x K x P equals "
            f"PyTorch's multiply-add count (FlopCounterMode / 2)." + tally)


@exercise("ex09-transpose-phases")
def check_transpose_phases(fn):
    """fn(x, w, stride, padding) -> 1-D transposed convolution of x (n,) with w (k,), by phases."""
    ex = "ex09-transpose-phases"
    _probe(ex, fn, np.ones(3), np.ones(2), 2, 0)
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    cases = []
    for i in range(24):
        n, k, s = int(rng.integers(2, 9)), int(rng.integers(1, 6)), int(rng.integers(1, 4))
        p = int(rng.integers(0, (k + 1) // 2 + 1)) if i % 2 else 0
        if (n - 1) * s - 2 * p + k < 1:
            p = 0
        x, w = rng.normal(size=n), rng.normal(size=k)
        cases.append(Case((x, w, s, p), x=x, w=w, s=s, p=p,
                          show={"x": x, "w": w, "stride": s, "padding": p}))

    def lib(c, w=None, p=None):
        return conv_transpose(c.x[None, None], (c.w if w is None else w)[None, None], stride=c.s,
                              padding=c.p if p is None else p)[0, 0]

    refs = [("PyTorch (F.conv_transpose1d)",
             lambda c: fw.torch_conv_transpose(c.x[None, None], c.w[None, None], stride=c.s,
                                               padding=c.p)[0, 0], None, 1e-6, 1e-8),
            ("JAX (gradient of a strided convolution)",
             lambda c: fw.jax_conv_transpose(_f32(c.x)[None, None], _f32(c.w)[None, None],
                                             stride=c.s, padding=c.p)[0, 0], 6, 1e-4, 1e-4)]
    variants = [("no-crop", lambda c: lib(c, p=0)),
                ("flipped", lambda c: lib(c, w=c.w[::-1].copy()))]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random transposed convolutions match PyTorch and JAX, computed phase "
            f"by phase without inserted zeros." + tally)


@exercise("ex09-im2col-gemm")
def check_im2col_gemm(fn):
    """fn(x, w, stride, padding, dilation) -> conv2d via im2col + one GEMM per image."""
    ex = "ex09-im2col-gemm"
    _probe(ex, fn, np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), 1, 0, 1)
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    cases = []
    for i in range(20):
        n, c, o = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        h, w_ = int(rng.integers(5, 11)), int(rng.integers(5, 11))
        k, s, p, d = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(0, 3)), \
            int(rng.integers(1, 3))
        if d * (k - 1) + 1 > min(h, w_) + 2 * p:
            d = 1
        if i == 0:
            s, p, d = 2, 1, 2
        x, w = rng.normal(size=(n, c, h, w_)), rng.normal(size=(o, c, k, k))
        cases.append(Case((x, w, s, p, d), x=x, w=w, s=s, p=p, d=d,
                          show={"x": x, "w": w, "stride": s, "padding": p, "dilation": d}))
    refs = [("PyTorch (F.conv2d)",
             lambda c: fw.torch_conv(c.x, c.w, stride=c.s, padding=c.p, dilation=c.d), None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated)",
             lambda c: fw.jax_conv(_f32(c.x), _f32(c.w), stride=c.s, padding=c.p, dilation=c.d),
             6, 1e-4, 1e-4)]

    def safe(make):
        def run(c):
            try:
                return make(c)
            except ValueError:
                return np.full(1, np.nan)
        return run

    variants = [
        ("flipped", safe(lambda c: conv(c.x, c.w[..., ::-1, ::-1].copy(), stride=c.s, padding=c.p,
                                        dilation=c.d))),
        ("dilation-as-stride", safe(lambda c: conv(c.x, c.w, stride=c.d, padding=c.p, dilation=c.s))),
        ("no-padding", safe(lambda c: conv(c.x, c.w, stride=c.s, dilation=c.d))),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random layers (stride, padding, dilation) match PyTorch and JAX: "
            f"im2col + GEMM is the convolution." + tally)
