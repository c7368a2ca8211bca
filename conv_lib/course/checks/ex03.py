"""Checks of the exercise notebook ex03: stride."""

import functools

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv
from conv_lib.counts import conv_macs

from ._harness import (_consistent, _torch, _ok, _probe, _parts, Case, _check_arrays, _check_scalars,
                       case_rng, exercise, register)
from ._scratch import ARITHMETIC, FROM_SCRATCH, _require_rule
from ._refs import _f32, _jax_conv_shape, _impulse_span

RULES = {"ex03-strided-conv": FROM_SCRATCH, "ex03-stride-floor": ARITHMETIC, "ex03-macs": ARITHMETIC}

EXERCISES = {
    "ex03-strided-conv": (
        "output (i, j) reads the window whose top-left corner is at (i*sh, j*sw); windows that do "
        "not fit are dropped.",
        "y[n, o, i, j] = sum_{c, a, b} x[n, c, i*sh + a, j*sw + b] * w[o, c, a, b]; "
        "OH = floor((H - kh) / sh) + 1"),
    "ex03-stride-floor": (
        "a stride-s layer visits window starts 0, s, 2s, ...; what is left after the last full "
        "window is never read.",
        "out_len = floor((n - k) / s) + 1; dropped = (n - k) mod s"),
    "ex03-macs": (
        "each output value costs one multiply-accumulate per weight it reads.",
        "MACs = N * C_out * H_out * W_out * (C_in * kh * kw)"),
}

DIAGNOSES = {
    "ex03-strided-conv/ceil": ("extra row/column (ceil)",
                               "your output has an extra row/column: the output size floors; a "
                               "window that would run past the edge is dropped, not padded."),
    "ex03-strided-conv/dense-cropped": ("dense results, cropped",
                                        "the output has the right size but holds the DENSE "
                                        "(stride-1) results: the windows must move by the stride."),
    "ex03-strided-conv/strides-swapped": ("strides swapped", "the two strides are swapped: stride[0] "
                                          "moves along H (rows), stride[1] along W (columns)."),
    "ex03-strided-conv/flipped": ("kernel flipped", "the kernel is flipped: conv layers compute "
                                                    "cross-correlation (no flip)."),
    "ex03-stride-floor/ceil": ("out_len rounds up", "out_len rounds up; the formula floors."),
    "ex03-stride-floor/no-plus-one": ("out_len without + 1", "out_len forgot the first window."),
    "ex03-stride-floor/no-kernel": ("out_len ignores k", "out_len: the kernel size matters."),
    "ex03-stride-floor/dropped-whole-stride": (
        "dropped counted past the last window start",
        "dropped: the last window ends at (out-1)*s + k; everything after it is dropped."),
    "ex03-stride-floor/dropped-quotient": (
        "dropped = quotient", "dropped: (n - k) // s counts extra windows; the leftover is a "
                              "remainder."),
    "ex03-macs/flops": ("FLOPs instead of MACs", "that is the FLOP count: one multiply-accumulate "
                                                 "is 2 floating-point operations."),
    "ex03-macs/no-stride": ("stride ignored", "the stride is ignored: only the output positions "
                                              "cost work, and there are fewer of them."),
    "ex03-macs/no-c-in": ("C_in ignored", "each output sums over all C_in input channels too."),
    "ex03-macs/no-batch": ("batch ignored", "every image in the batch costs the same again."),
    "ex03-macs/per-input-pixel": ("counted per input pixel", "count per OUTPUT position, not per "
                                                             "input pixel."),
}
register(EXERCISES, DIAGNOSES, RULES)


@exercise("ex03-strided-conv")
def check_strided_conv(fn):
    """fn(x, w, stride): x (N, C, H, W), w (O, C, kh, kw), stride int or (sh, sw); no padding."""
    ex = "ex03-strided-conv"
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
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
        ("ceil", lambda c: conv(c.x, c.w, stride=c.s, padding=ceil_pad(c))),
        ("dense-cropped", dense_cropped),
        ("strides-swapped", lambda c: conv(c.x, c.w, stride=c.s[::-1])),
        ("flipped", lambda c: conv(c.x, c.w[..., ::-1, ::-1].copy(), stride=c.s)),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    # the lesson: strided == dense, subsampled
    for c in cases[:6]:
        dense = fw.torch_conv(c.x, c.w)
        _consistent(ex, np.allclose(dense[..., ::c.s[0], ::c.s[1]], np.asarray(fn(*c.args)), atol=1e-8),
                    "dense PyTorch output subsampled vs the verified strided output")
    _ok(ex, f"{len(cases)} random configurations match PyTorch (F.conv2d) and JAX; your output "
            f"is exactly the dense output subsampled [::sh, ::sw]." + tally)


@exercise("ex03-stride-floor")
def check_stride_floor(out_len, dropped):
    """out_len(n, k, s) -> output length; dropped(n, k, s) -> trailing input samples never read."""
    ex = "ex03-stride-floor"
    rng = case_rng(ex)
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
        ("ceil", lambda c: -(-(c.n - c.k) // c.s) + 1),
        ("no-plus-one", lambda c: (c.n - c.k) // c.s),
        ("no-kernel", lambda c: c.n // c.s)]
    dropped_refs = [("PyTorch (inputs with zero gradient at the end)",
                     lambda c: measured(c.n, c.k, c.s)[1], None)]
    dropped_variants = [
        ("dropped-whole-stride", lambda c: c.n - ((c.n - c.k) // c.s + 1) * c.s),
        ("dropped-quotient", lambda c: (c.n - c.k) // c.s)]

    def part(fn, refs, variants):
        def run():
            _probe(ex, fn, 5, 3, 2)
            _require_rule(ex, fn, RULES[ex])
            _check_scalars(ex, fn, cases, refs, variants)
        return run

    _parts(ex, [("out_len", part(out_len, length_refs, length_variants)),
                ("dropped", part(dropped, dropped_refs, dropped_variants))])
    _ok(ex, f"{len(cases)} (n, k, s): output lengths match PyTorch and JAX; dropped samples match "
            f"the zero gradient at the end of the input (PyTorch).")


@exercise("ex03-macs")
def check_strided_macs(fn):
    """fn(x_shape, w_shape, stride) -> multiply-accumulates of F.conv2d(x, w, stride=stride)."""
    ex = "ex03-macs"
    _probe(ex, fn, (1, 3, 8, 8), (4, 3, 3, 3), 2)
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    from torch.utils.flop_counter import FlopCounterMode

    rng = case_rng(ex)
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
        ("flops", lambda c: 2 * macs(c)),
        ("no-stride", lambda c: macs(c, s=1)),
        ("no-c-in", lambda c: macs(c, cin=False)),
        ("no-batch", lambda c: macs(c, batch=False)),
        ("per-input-pixel",
         lambda c: c.xs[0] * c.ws[0] * c.xs[2] * c.xs[3] * c.ws[1] * c.ws[2] * c.ws[3]),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} layer shapes agree with PyTorch's FLOP counter and conv_lib.conv_macs." + tally)
