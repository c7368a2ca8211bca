"""Checks of the exercise notebook ex06: transposed convolution."""

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv, conv_transpose
from conv_lib.shapes import transposed_output_size

from ._harness import (_torch, _jax, _ok, _probe, Case, _check_arrays, _check_scalars, case_rng,
                       exercise, register)
from ._scratch import ARITHMETIC, FRAMEWORKS, FROM_SCRATCH, Rule, _require_rule
from ._refs import _f32, _torch_shape, _jax_conv_shape

RULES = {
    "ex06-conv-transpose": FROM_SCRATCH,
    "ex06-transpose-size": ARITHMETIC,
    "ex06-input-gradient": Rule("use conv_lib.conv_transpose (required); no automatic "
                                "differentiation: no PyTorch, JAX or Flax.",
                                modules=FRAMEWORKS, require=("conv_lib.conv_transpose",)),
}

EXERCISES = {
    "ex06-conv-transpose": (
        "a transposed conv equals a plain conv of the stride-dilated input, padded so that padding "
        "removes border outputs, with the kernel's channel axes swapped and its taps reversed.",
        "dilate x by the stride, pad (k-1-p, k-1-p+output_padding), then cross-correlate with w "
        "swapped to (C_out, C_in, K) and flipped"),
    "ex06-transpose-size": (
        "a transposed conv inverts the forward size formula: stride-spaced inputs, the kernel's "
        "span added, padding removed on each side, output_padding added at the end.",
        "(n - 1)*s - 2p + d(k - 1) + output_padding + 1"),
    "ex06-input-gradient": (
        "the input gradient of a strided conv is the transposed conv of the output gradient with "
        "the same weights, stride and padding; the floor of the forward size formula dropped "
        "samples that output_padding gives back.",
        "dx = conv_transpose(grad_y, w, stride, padding, output_padding=(n + 2p - k) % stride)"),
}

DIAGNOSES = {
    "ex06-conv-transpose/not-flipped": (
        "kernel not flipped", "the kernel is not flipped: the transposed conv equals a conv of the "
                              "dilated input with the kernel reversed in space."),
    "ex06-conv-transpose/padding-as-is": (
        "padding used as is", "the padding is used as is; in a transposed conv padding REMOVES "
                              "border outputs."),
    "ex06-conv-transpose/output-padding-front": (
        "output_padding at the front", "output_padding belongs at the END (it adds samples on the "
                                       "high side only)."),
    "ex06-conv-transpose/no-output-padding": ("output_padding ignored", "output_padding is ignored."),
    "ex06-conv-transpose/strided-read": (
        "strided read instead of input dilation", "the input needs stride - 1 zeros BETWEEN samples "
                                                  "(input dilation), not a strided read."),
    "ex06-transpose-size/forward-formula": (
        "forward conv formula", "that is the forward conv formula; a transposed conv inverts it."),
    "ex06-transpose-size/no-output-padding": ("output_padding missing",
                                              "output_padding is missing (it adds samples at the end)."),
    "ex06-transpose-size/no-dilation": ("dilation missing", "the dilation is missing: the kernel "
                                                            "spans more than k samples."),
    "ex06-transpose-size/one-sided-padding": ("padding removed once",
                                              "padding removes p samples on EACH side."),
    "ex06-transpose-size/n-times-s": ("n*s instead of (n-1)*s + 1",
                                      "n samples with s - 1 zeros between them do not make n*s."),
    "ex06-input-gradient/no-output-padding": (
        "output_padding missing", "your gradient is too short: the forward conv's floor dropped the "
                                  "last input samples, and output_padding gives them back (with "
                                  "zero gradient)."),
    "ex06-input-gradient/flipped": (
        "kernel flipped by hand", "use the kernel as in the forward pass (conv_transpose flips it "
                                  "internally); do not flip it yourself."),
    "ex06-input-gradient/no-padding": (
        "forward padding not passed", "the forward padding must be passed to the transposed conv "
                                      "too (it crops the border)."),
}
register(EXERCISES, DIAGNOSES, RULES)


def _fits(*args):
    """True when a transposed conv with these (n, k, s, p, op[, d]) has at least one output."""
    try:
        return transposed_output_size(*args) >= 1
    except ValueError:  # the library refuses negative sizes
        return False


@exercise("ex06-conv-transpose")
def check_conv_transpose1d(fn):
    """fn(x, w, stride=1, padding=0, output_padding=0): x (N, C_in, L), w (C_in, C_out, K)."""
    ex = "ex06-conv-transpose"
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    cases = []
    specs = [(1, 2, 3, 4, 3, 2, 1, 1), (1, 1, 1, 3, 2, 1, 0, 0), (2, 3, 2, 5, 4, 3, 2, 2)]
    while len(specs) < 20:
        n, ci, co = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        length, k, s = int(rng.integers(1, 9)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
        p, op = int(rng.integers(0, k)), int(rng.integers(0, s))
        if _fits(length, k, s, p, op):
            specs.append((n, ci, co, length, k, s, p, op))
    for n, ci, co, length, k, s, p, op in specs:
        x, w = rng.normal(size=(n, ci, length)), rng.normal(size=(ci, co, k))
        cases.append(Case((x, w), {"stride": s, "padding": p, "output_padding": op},
                          show={"x": x, "w": w, "stride": s, "padding": p, "output_padding": op},
                          x=x, w=w, s=s, p=p, op=op, k=k))

    def via_conv(c, w_conv, pads):
        return conv(c.x, np.ascontiguousarray(w_conv), input_dilation=c.s, padding=[pads])

    def flip_swap(c):
        return c.w.transpose(1, 0, 2)[..., ::-1]

    refs = [("PyTorch (F.conv_transpose1d)",
             lambda c: fw.torch_conv_transpose(c.x, c.w, stride=c.s, padding=c.p, output_padding=c.op),
             None, 1e-6, 1e-8),
            ("JAX (jax.vjp of the strided conv = its transpose)",
             lambda c: fw.jax_conv_transpose(_f32(c.x), _f32(c.w), stride=c.s, padding=c.p,
                                             output_padding=c.op), 3, 1e-4, 1e-4)]
    e = lambda c: c.k - 1 - c.p  # noqa: E731
    variants = [
        ("not-flipped", lambda c: via_conv(c, c.w.transpose(1, 0, 2), (e(c), e(c) + c.op))),
        ("padding-as-is", lambda c: via_conv(c, flip_swap(c), (c.p, c.p + c.op))),
        ("output-padding-front", lambda c: via_conv(c, flip_swap(c), (e(c) + c.op, e(c)))),
        ("no-output-padding", lambda c: via_conv(c, flip_swap(c), (e(c), e(c)))),
        ("strided-read",
         lambda c: conv(c.x, np.ascontiguousarray(flip_swap(c)), padding=[(e(c), e(c) + c.op)])),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          crash_hint="w is (C_in, C_out, K): for the equivalent conv swap its first two axes "
                                     "and flip the last one.")
    _ok(ex, f"{len(cases)} random configurations match PyTorch (F.conv_transpose1d) and JAX "
            f"(the vjp of the forward conv)." + tally)


@exercise("ex06-transpose-size")
def check_transpose_output_size(fn):
    """fn(n, k, s, p, op, d) -> output length of ConvTranspose1d."""
    ex = "ex06-transpose-size"
    _require_rule(ex, fn, RULES[ex])
    rng = case_rng(ex)
    cases = []
    while len(cases) < 40:
        n, k, s, d = (int(rng.integers(1, 21)), int(rng.integers(1, 6)), int(rng.integers(1, 5)),
                      int(rng.integers(1, 4)))
        p, op = int(rng.integers(0, d * (k - 1) + 1)), int(rng.integers(0, max(s, d)))
        if _fits(n, k, s, p, op, d):
            cases.append(Case((n, k, s, p, op, d), show={"n": n, "k": k, "s": s, "p": p,
                                                         "output_padding": op, "d": d},
                              n=n, k=k, s=s, p=p, op=op, d=d))

    def jax_shape(c):
        e = c.d * (c.k - 1) - c.p
        return _jax_conv_shape((1, 1, c.n), (1, 1, c.k), (1,), [(e, e + c.op)],
                               rhs_dilation=(c.d,), lhs_dilation=(c.s,))[-1]

    refs = [("PyTorch (nn.ConvTranspose1d output shape)",
             lambda c: _torch_shape("ConvTranspose1d", (1, 1, c.n), 1, 1, c.k, stride=c.s, padding=c.p,
                                    output_padding=c.op, dilation=c.d)[-1], None),
            ("JAX (conv of the stride-dilated input)", jax_shape, None)]
    variants = [
        ("forward-formula", lambda c: (c.n + 2 * c.p - c.d * (c.k - 1) - 1) // c.s + 1),
        ("no-output-padding", lambda c: (c.n - 1) * c.s - 2 * c.p + c.d * (c.k - 1) + 1),
        ("no-dilation", lambda c: (c.n - 1) * c.s - 2 * c.p + (c.k - 1) + c.op + 1),
        ("one-sided-padding", lambda c: (c.n - 1) * c.s - c.p + c.d * (c.k - 1) + c.op + 1),
        ("n-times-s", lambda c: c.n * c.s - 2 * c.p + c.d * (c.k - 1) + c.op + 1),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random configurations agree with PyTorch's ConvTranspose1d and JAX." + tally)


@exercise("ex06-input-gradient")
def check_conv_input_grad(fn):
    """fn(grad_y, w, n, stride, padding) -> dL/dx of y = conv1d(x, w, stride, padding), x length n."""
    ex = "ex06-input-gradient"
    _probe(ex, fn, np.ones((1, 1, 2)), np.ones((1, 1, 3)), 6, 2, 0)
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    jax, jnp, lax = _jax()
    rng = case_rng(ex)
    cases = []
    specs = [(1, 1, 1, 6, 3, 2, 0), (2, 2, 3, 9, 3, 2, 1)]
    while len(specs) < 20:
        b, ci, co = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        n, s, p, k = (int(rng.integers(3, 15)), int(rng.integers(1, 4)), int(rng.integers(0, 3)),
                      int(rng.integers(1, 5)))
        if n + 2 * p >= k:
            specs.append((b, ci, co, n, k, s, p))
    for b, ci, co, n, k, s, p in specs:
        w = rng.normal(size=(co, ci, k))
        out = (n + 2 * p - k) // s + 1
        g = rng.normal(size=(b, co, out))
        cases.append(Case((g, w, n, s, p), show={"grad_y": g, "w": w, "n": n, "stride": s,
                                                 "padding": p}, g=g, w=w, n=n, s=s, p=p, k=k, b=b))

    def torch_grad(c):
        x = torch.zeros(c.b, c.w.shape[1], c.n, dtype=torch.float64, requires_grad=True)
        F.conv1d(x, torch.from_numpy(c.w), stride=c.s, padding=c.p).backward(torch.from_numpy(c.g))
        return x.grad.numpy()

    def jax_grad(c):
        f = lambda x: lax.conv_general_dilated(x, _f32(c.w), (c.s,), [(c.p, c.p)],  # noqa: E731
                                               precision=lax.Precision.HIGHEST)
        _, pull = jax.vjp(f, jnp.zeros((c.b, c.w.shape[1], c.n), jnp.float32))
        return np.asarray(pull(jnp.asarray(_f32(c.g)))[0])

    def without_padding(c):
        if c.p == 0:  # with padding=0 a missing padding changes nothing: not this mistake
            raise ValueError("padding is 0")
        return conv_transpose(c.g, c.w, stride=c.s)[..., :c.n]

    refs = [("PyTorch (autograd: x.grad after y.backward(grad_y))", torch_grad, None, 1e-6, 1e-8),
            ("JAX (jax.vjp)", jax_grad, 4, 1e-4, 1e-4)]
    variants = [
        ("no-output-padding", lambda c: conv_transpose(c.g, c.w, stride=c.s, padding=c.p)),
        ("flipped", lambda c: conv_transpose(c.g, c.w[..., ::-1].copy(), stride=c.s, padding=c.p,
                                             output_padding=(c.n + 2 * c.p - c.k) % c.s)),
        ("no-padding", without_padding),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random configurations: your transposed conv equals the input gradient "
            f"from PyTorch autograd and jax.vjp." + tally)
