"""Checks of the exercise notebook ex03: stride."""

import functools

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv
from conv_lib.counts import conv_macs

from ._harness import _consistent, _torch, _ok, _probe, Case, _check_arrays, _check_scalars
from ._scratch import _require_from_scratch
from ._refs import _f32, _jax_conv_shape, _impulse_span


def check_strided_conv(fn):
    """fn(x, w, stride): x (N, C, H, W), w (O, C, kh, kw), stride int or (sh, sw); no padding."""
    ex = "ex03-strided-conv"
    _require_from_scratch(ex, fn)
    rng = np.random.default_rng(301)
    cases = []
    for i in range(24):
        n, c, o = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        h, w_ = int(rng.integers(3, 11)), int(rng.integers(3, 11))
        kh, kw = int(rng.integers(1, min(h, 4) + 1)), int(rng.integers(1, min(w_, 4) + 1))
        stride = int(rng.integers(1, 5)) if i % 2 else (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        if i == 0:
            stride = (2, 3)
        x, w = rng.normal(size=(n, c, h, w_)), rng.normal(size=(o, c, kh, kw))
        sh, sw = (stride, stride) if isinstance(stride, int) else stride
        cases.append(Case((x, w, stride), show={"x": x, "w": w, "stride": stride},
                          x=x, w=w, s=(sh, sw)))

    def ceil_pad(c):
        extra = []
        for n, k, s in zip(c.x.shape[2:], c.w.shape[2:], c.s):
            r = (n - k) % s
            extra.append((0, s - r if r else 0))
        return extra

    def dense_cropped(c):
        y = conv(c.x, c.w)
        out = conv(c.x, c.w, stride=c.s)
        return y[..., :out.shape[2], :out.shape[3]]

    refs = [("PyTorch (F.conv2d)", lambda c: fw.torch_conv(c.x, c.w, stride=c.s), None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated)",
             lambda c: fw.jax_conv(_f32(c.x), _f32(c.w), stride=c.s), 4, 1e-4, 1e-4)]
    variants = [
        ("your output has an extra row/column: the output size floors, floor((n - k) / s) + 1; a "
         "window that would run past the edge is dropped, not padded.",
         lambda c: conv(c.x, c.w, stride=c.s, padding=ceil_pad(c))),
        ("the output has the right size but holds the DENSE (stride-1) results: output (i, j) "
         "reads the window starting at (i*sh, j*sw).",
         dense_cropped),
        ("the two strides are swapped: stride[0] moves along H (rows), stride[1] along W (columns).",
         lambda c: conv(c.x, c.w, stride=c.s[::-1])),
        ("the kernel is flipped: conv layers compute cross-correlation (no flip).",
         lambda c: conv(c.x, c.w[..., ::-1, ::-1].copy(), stride=c.s)),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          fallback_hint="y[n, o, i, j] = sum_{c, a, b} x[n, c, i*sh + a, j*sw + b] * w[o, c, a, b]")
    # the lesson: strided == dense, subsampled
    for c in cases[:6]:
        dense = fw.torch_conv(c.x, c.w)
        _consistent(ex, np.allclose(dense[..., ::c.s[0], ::c.s[1]], np.asarray(fn(*c.args)), atol=1e-8),
                    "dense PyTorch output subsampled vs the verified strided output")
    _ok(ex, f"{len(cases)} random configurations match PyTorch (F.conv2d) and JAX; your output "
            f"is exactly the dense output subsampled [::sh, ::sw]." + tally)


def check_stride_floor(out_len, dropped):
    """out_len(n, k, s) -> output length; dropped(n, k, s) -> trailing input samples never read."""
    ex = "ex03-stride-floor"
    _probe(ex, out_len, 5, 3, 2)
    _probe(ex, dropped, 5, 3, 2)
    rng = np.random.default_rng(302)
    specs = [(5, 3, 2), (32, 3, 4), (32, 7, 2), (10, 1, 3)]
    while len(specs) < 30:
        n = int(rng.integers(1, 31))
        specs.append((n, int(rng.integers(1, n + 1)), int(rng.integers(1, 6))))
    cases = [Case((n, k, s), show={"n": n, "k": k, "s": s}, n=n, k=k, s=s) for n, k, s in specs]

    @functools.cache
    def measured(n, k, s):
        """(output length, trailing samples with zero gradient), measured in PyTorch."""
        torch, F = _torch()
        x = torch.ones(1, 1, n, dtype=torch.float64, requires_grad=True)
        y = F.conv1d(x, torch.ones(1, 1, k, dtype=torch.float64), stride=s)
        y.sum().backward()
        return y.shape[-1], n - 1 - _impulse_span(x.grad[0, 0].numpy())[1]

    length_refs = [
        ("PyTorch (F.conv1d output length)", lambda c: measured(c.n, c.k, c.s)[0], None),
        ("JAX (lax.conv_general_dilated output shape)",
         lambda c: _jax_conv_shape((1, 1, c.n), (1, 1, c.k), (c.s,), "VALID")[-1], None)]
    length_variants = [
        ("out_len rounds up; the formula floors.", lambda c: -(-(c.n - c.k) // c.s) + 1),
        ("out_len forgot the + 1.", lambda c: (c.n - c.k) // c.s),
        ("out_len: the kernel size matters, (n - k) // s + 1.", lambda c: c.n // c.s)]
    _check_scalars(ex, out_len, cases, length_refs, length_variants,
                   fallback_hint="out_len = floor((n - k) / s) + 1")
    dropped_refs = [("PyTorch (inputs with zero gradient at the end)",
                     lambda c: measured(c.n, c.k, c.s)[1], None)]
    dropped_variants = [
        ("dropped: the last window starts at (out-1)*s and is k long, so it ends at (out-1)*s + k "
         "and the rest is n - ((out-1)*s + k).", lambda c: c.n - ((c.n - c.k) // c.s + 1) * c.s),
        ("dropped: (n - k) // s is the number of extra windows; the leftover is a remainder.",
         lambda c: (c.n - c.k) // c.s)]
    _check_scalars(ex, dropped, cases, dropped_refs, dropped_variants,
                   fallback_hint="the leftover samples are (n - k) mod s")
    _ok(ex, f"{len(cases)} (n, k, s): output lengths match PyTorch and JAX; dropped samples match "
            f"the zero gradient at the end of the input (PyTorch).")


def check_strided_macs(fn):
    """fn(x_shape, w_shape, stride) -> multiply-accumulates of F.conv2d(x, w, stride=stride)."""
    ex = "ex03-macs"
    _probe(ex, fn, (1, 3, 8, 8), (4, 3, 3, 3), 2)
    torch, F = _torch()
    from torch.utils.flop_counter import FlopCounterMode

    rng = np.random.default_rng(303)
    cases = []
    for _ in range(20):
        n, c, o = int(rng.integers(1, 4)), int(rng.integers(1, 9)), int(rng.integers(1, 9))
        h, w = int(rng.integers(4, 17)), int(rng.integers(4, 17))
        k = int(rng.integers(1, 5))
        s = int(rng.integers(1, 4))
        xs, ws = (n, c, h, w), (o, c, k, k)
        cases.append(Case((xs, ws, s), show={"x_shape": xs, "w_shape": ws, "stride": s},
                          xs=xs, ws=ws, s=s))

    def torch_macs(c):
        with FlopCounterMode(display=False) as counter:
            F.conv2d(torch.empty(c.xs, device="meta"), torch.empty(c.ws, device="meta"), stride=c.s)
        return counter.get_total_flops() // 2

    def out_hw(c, s):
        return [(n - k) // s + 1 for n, k in zip(c.xs[2:], c.ws[2:])]

    def macs(c, s=None, cin=True, batch=True):
        oh, ow = out_hw(c, c.s if s is None else s)
        return (c.xs[0] if batch else 1) * c.ws[0] * oh * ow * (c.ws[1] if cin else 1) * c.ws[2] * c.ws[3]

    refs = [("PyTorch (FlopCounterMode / 2)", torch_macs, None),
            ("conv_lib.conv_macs", lambda c: conv_macs(c.xs, c.ws, stride=c.s), None)]
    variants = [
        ("that is the FLOP count: one multiply-accumulate is 2 floating-point operations.",
         lambda c: 2 * macs(c)),
        ("the stride is ignored: only the output positions cost work, and there are fewer of them.",
         lambda c: macs(c, s=1)),
        ("each output sums over all C_in input channels too.", lambda c: macs(c, cin=False)),
        ("every image in the batch costs the same again: multiply by N.", lambda c: macs(c, batch=False)),
        ("count per OUTPUT position (oh*ow of them), not per input pixel.",
         lambda c: c.xs[0] * c.ws[0] * c.xs[2] * c.xs[3] * c.ws[1] * c.ws[2] * c.ws[3]),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants,
                           fallback_hint="MACs = N * C_out * H_out * W_out * (C_in * kh * kw)")
    _ok(ex, f"{len(cases)} layer shapes agree with PyTorch's FLOP counter and conv_lib.conv_macs." + tally)
