"""Checks of the exercise notebook ex06: transposed convolution."""

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv, conv_transpose
from conv_lib.shapes import transposed_output_size

from ._harness import (_torch, _jax, _ok, _probe, _parts, _failure, _require_values, Case,
                       _check_arrays, _check_scalars, case_rng, exercise, register)
from ._scratch import ARITHMETIC, FRAMEWORKS, FROM_SCRATCH, LIBRARIES, Rule, _require_rule
from ._refs import _f32, _torch_shape, _jax_conv_shape

RULES = {
    "ex06-conv-transpose": FROM_SCRATCH,
    "ex06-transpose-size": ARITHMETIC,
    "ex06-input-gradient": Rule("use conv_lib.conv_transpose (required); no automatic "
                                "differentiation: no PyTorch, JAX or Flax.",
                                modules=FRAMEWORKS, require=("conv_lib.conv_transpose",)),
    "ex06-vocabulary": ARITHMETIC,
    "ex06-bias-gradient": Rule("NumPy only: no automatic differentiation (no PyTorch, JAX or Flax) "
                               "and no conv_lib.", modules=LIBRARIES),
    "ex06-weight-gradient": FROM_SCRATCH,
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
    "ex06-vocabulary": (
        "by the gather view, the transpose of a stride-1 conv with padding p is a stride-1 conv with "
        "the flipped kernel whose padding reaches every partial overlap the forward conv left out.",
        "p' = k - 1 - p: no padding <-> full padding, half padding <-> half padding"),
    "ex06-bias-gradient": (
        "the bias of channel o is added to every output of channel o, in every sample of the batch, "
        "so its gradient collects the output gradient of all those positions.",
        "db[o] = sum over n and every spatial position of grad_y[n, o, ...]"),
    "ex06-weight-gradient": (
        "tap u of the kernel multiplied, for output i, the padded input sample i*s + u: its gradient "
        "correlates the padded input with the output gradient (taps s apart), summed over the batch.",
        "dw[o, c, u] = sum over n, i of grad_y[n, o, i] * x_padded[n, c, i*s + u]"),
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
    "ex06-vocabulary/same-padding": (
        "padding kept as is", "the transpose does not keep the forward padding: it pads so that its "
                              "windows reach the partial overlaps the forward conv left out."),
    "ex06-vocabulary/k-minus-p": (
        "k - p instead of k - 1 - p", "off by one: a window of k samples overlaps the input partially "
                                      "at k - 1 positions on each side, not k."),
    "ex06-vocabulary/always-full": (
        "always full padding", "full padding (k - 1) is the transpose of a conv WITHOUT padding only; "
                               "the forward padding p must be subtracted."),
    "ex06-bias-gradient/mean": (
        "mean instead of sum", "the bias is added to every output, so the gradients of all those "
                               "outputs add up: a sum, not a mean."),
    "ex06-bias-gradient/batch-only": (
        "summed over the batch only", "the bias is shared by every position too: sum over the spatial "
                                      "axes as well, leaving one number per output channel."),
    "ex06-bias-gradient/spatial-only": (
        "summed over positions only", "the bias is shared by every sample of the batch too: sum over "
                                      "axis 0 as well, leaving one number per output channel."),
    "ex06-bias-gradient/sum-all": (
        "summed over channels too", "each output channel has its own bias: keep axis 1 (C_out) and "
                                    "sum over the others."),
    "ex06-weight-gradient/no-padding": (
        "input not padded", "the forward pass read the PADDED input: tap u of output i read "
                            "x_padded[i*s + u], which is x[i*s + u - p]."),
    "ex06-weight-gradient/stride-ignored": (
        "stride ignored", "output i read the window starting at i*s: the samples tap u read are s "
                          "apart in x, not consecutive."),
    "ex06-weight-gradient/flipped": (
        "taps reversed", "no flip here: tap u multiplied x_padded[i*s + u], so dw[..., u] "
                         "correlates with the samples at offset u, in the forward order."),
    "ex06-weight-gradient/batch-mean": (
        "averaged over the batch", "the loss sums over the batch, so the weight gradient is a sum over "
                                   "the samples, not a mean."),
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


# ----------------------------------------------------------------------------------------------
# every gradient of a layer, and the vocabulary of convolution arithmetic
# ----------------------------------------------------------------------------------------------

NAMES = ("no padding", "half", "full")
_SYNONYMS = {"no padding": "no padding", "no": "no padding", "none": "no padding",
             "valid": "no padding", "zero": "no padding", "no-padding": "no padding",
             "half": "half", "half padding": "half", "same": "half",
             "full": "full", "full padding": "full"}


def _named_padding(name, k):
    """The padding of the named stride-1 case for an odd kernel size k."""
    return {"no padding": 0, "half": k // 2, "full": k - 1}[name]


@exercise("ex06-vocabulary")
def check_transpose_vocabulary(transposed_padding, half_partner, full_partner):
    """transposed_padding(k, p) -> p'; half_partner, full_partner: names from NAMES."""
    ex = "ex06-vocabulary"
    torch, F = _torch()
    rng = case_rng(ex)

    def partner_padding(k, p, conv_t, conv):
        """p' for which conv with the flipped kernel and padding p' reproduces conv_t (None if none)."""
        x, w = rng.normal(size=(1, 1, 2 * k + 3)), rng.normal(size=(1, 1, k))
        target = conv_t(x, w, p)
        for q in range(k):
            out = conv(x, w[..., ::-1].copy(), q)
            if out.shape == target.shape and np.allclose(out, target, rtol=1e-9, atol=1e-9):
                return q
        return None

    def by_torch(k, p):
        return partner_padding(
            k, p, lambda x, w, q: F.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(w),
                                                     padding=q).numpy(),
            lambda x, w, q: F.conv1d(torch.from_numpy(x), torch.from_numpy(w), padding=q).numpy())

    def by_conv_lib(k, p):
        return partner_padding(k, p, lambda x, w, q: conv_transpose(x, w, padding=q),
                               lambda x, w, q: conv(x, w, padding=q))

    def padding_part():
        _require_rule(ex, transposed_padding, RULES[ex])
        specs = [(3, 1), (3, 0), (5, 2), (5, 4)]
        while len(specs) < 16:
            k = int(rng.integers(1, 8))
            specs.append((k, int(rng.integers(0, k))))
        cases = [Case((k, p), show={"k": k, "p": p}, k=k, p=p) for k, p in specs]
        refs = [("PyTorch (F.conv1d with the flipped kernel reproduces F.conv_transpose1d)",
                 lambda c: by_torch(c.k, c.p), None),
                ("conv_lib (conv with the flipped kernel reproduces conv_transpose)",
                 lambda c: by_conv_lib(c.k, c.p), None)]
        variants = [("same-padding", lambda c: c.p), ("k-minus-p", lambda c: c.k - c.p),
                    ("always-full", lambda c: c.k - 1)]
        _check_scalars(ex, transposed_padding, cases, refs, variants)

    def name_part(label, name, value):
        def part():
            _require_values(ex, **{label: value})
            got = _SYNONYMS.get(str(value).strip().lower()) if isinstance(value, str) else None
            if got is None:
                raise _failure(ex, f"{label}={value!r} is not one of the names {NAMES}",
                               hint="answer with one of the three names of the chapter.")
            # the partner: the named case whose padding the transpose has, found with PyTorch
            partners = {NAMES[[_named_padding(m, k) for m in NAMES].index(by_torch(k, _named_padding(name, k)))]
                        for k in (3, 5, 7)}
            if len(partners) != 1:
                raise ValueError(f"the partner of {name!r} depends on k: {partners}")
            want = partners.pop()
            if got != want:
                raise _failure(ex, f"{label} is not right: the transpose of a {name}-padded stride-1 "
                                   f"conv is not a {got!r} one",
                               hint="the padding of the transpose is k - 1 - p; compute it for "
                                    f"p = {'k // 2' if name == 'half' else 'k - 1'} and name it.")
        return part

    _parts(ex, [("transposed_padding", padding_part),
                ("half_partner", name_part("half_partner", "half", half_partner)),
                ("full_partner", name_part("full_partner", "full", full_partner))])
    _ok(ex, "the padding of every transpose agrees with PyTorch and conv_lib, and both pairs of "
            "the vocabulary are right.")


def _bias_cases(rng, torch, F):
    """Layers (N, C_in, C_out, dims, n, k, s) with their output gradients g."""
    cases = []
    specs = [(1, 1, 2, 1, 5, 3, 1), (2, 3, 4, 2, 6, 3, 2)]
    while len(specs) < 12:
        k = int(rng.integers(1, 4))
        specs.append((int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5)),
                      int(rng.integers(1, 3)), int(rng.integers(k, 9)), k, int(rng.integers(1, 3))))
    for b, ci, co, dims, n, k, s in specs:
        x = rng.normal(size=(b, ci) + (n,) * dims)
        w = rng.normal(size=(co, ci) + (k,) * dims)
        out = (n - k) // s + 1
        g = rng.normal(size=(b, co) + (out,) * dims)
        cases.append(Case((g,), show={"grad_y": g, "layer": f"conv{dims}d, {ci} -> {co} channels, "
                                                            f"kernel {k}, stride {s}"},
                          x=x, w=w, g=g, s=s, dims=dims))
    return cases


@exercise("ex06-bias-gradient")
def check_conv_bias_grad(fn):
    """fn(grad_y) -> dL/db (C_out,) of y = conv(x, w) + b, grad_y of shape (N, C_out, *spatial)."""
    ex = "ex06-bias-gradient"
    _probe(ex, fn, np.ones((1, 1, 2)))
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    jax, jnp, lax = _jax()
    cases = _bias_cases(case_rng(ex), torch, F)

    def torch_grad(c):
        bt = torch.zeros(c.w.shape[0], dtype=torch.float64, requires_grad=True)
        layer = F.conv1d if c.dims == 1 else F.conv2d
        layer(torch.from_numpy(c.x), torch.from_numpy(c.w), bt, stride=c.s).backward(torch.from_numpy(c.g))
        return bt.grad.numpy()

    def jax_grad(c):
        def loss(b):
            y = lax.conv_general_dilated(_f32(c.x), _f32(c.w), (c.s,) * c.dims, "VALID")
            return jnp.sum((y + b.reshape((1, -1) + (1,) * c.dims)) * _f32(c.g))
        return np.asarray(jax.grad(loss)(jnp.zeros(c.w.shape[0], jnp.float32)))

    spatial = lambda c: tuple(range(2, c.g.ndim))  # noqa: E731
    refs = [("PyTorch (autograd: b.grad after y.backward(grad_y))", torch_grad, None, 1e-9, 1e-9),
            ("JAX (jax.grad)", jax_grad, 4, 1e-4, 1e-4)]
    variants = [("mean", lambda c: c.g.mean(axis=(0,) + spatial(c))),
                ("batch-only", lambda c: c.g.sum(axis=0)),
                ("spatial-only", lambda c: c.g.sum(axis=spatial(c))),
                ("sum-all", lambda c: c.g.sum())]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          crash_hint="grad_y is (N, C_out, *spatial); the answer is (C_out,).")
    _ok(ex, f"{len(cases)} random layers (1-D and 2-D): your bias gradient equals PyTorch autograd "
            f"and jax.grad." + tally)


def _weight_grad(c, *, pad=True, step=True):
    """dL/dw of a 1-D conv (the known-wrong variants switch off padding or the stride)."""
    p = c.p if pad else 0
    xp = np.zeros(c.x.shape[:2] + (c.x.shape[2] + 2 * c.p,))
    xp[:, :, p:p + c.x.shape[2]] = c.x
    s, o = (c.s if step else 1), c.g.shape[2]
    return np.stack([np.einsum("nos,ncs->oc", c.g, xp[:, :, u:u + s * (o - 1) + 1:s])
                     for u in range(c.k)], axis=-1)


def _needs(condition, what):
    """Variants that only differ from the right answer under some condition raise without it."""
    if not condition:
        raise ValueError(f"this mistake changes nothing when {what}")


@exercise("ex06-weight-gradient")
def check_conv_weight_grad(fn):
    """fn(x, grad_y, k, stride, padding) -> dL/dw (C_out, C_in, k) of y = conv1d(x, w, stride, padding)."""
    ex = "ex06-weight-gradient"
    _probe(ex, fn, np.ones((1, 1, 4)), np.ones((1, 1, 2)), 3, 1, 0)
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    jax, jnp, lax = _jax()
    rng = case_rng(ex)
    specs = [(1, 1, 1, 5, 3, 2, 0), (1, 1, 1, 6, 2, 1, 1), (2, 2, 3, 9, 3, 2, 1)]
    while len(specs) < 20:
        b, ci, co = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        n, k, s, p = (int(rng.integers(3, 15)), int(rng.integers(1, 5)), int(rng.integers(1, 4)),
                      int(rng.integers(0, 3)))
        if n + 2 * p >= k:
            specs.append((b, ci, co, n, k, s, p))
    cases = []
    for b, ci, co, n, k, s, p in specs:
        x = rng.normal(size=(b, ci, n))
        g = rng.normal(size=(b, co, (n + 2 * p - k) // s + 1))
        cases.append(Case((x, g, k, s, p), show={"x": x, "grad_y": g, "k": k, "stride": s,
                                                 "padding": p}, x=x, g=g, k=k, s=s, p=p, b=b, co=co))

    def torch_grad(c):
        w = torch.zeros(c.co, c.x.shape[1], c.k, dtype=torch.float64, requires_grad=True)
        F.conv1d(torch.from_numpy(c.x), w, stride=c.s, padding=c.p).backward(torch.from_numpy(c.g))
        return w.grad.numpy()

    def jax_grad(c):
        def loss(w):
            y = lax.conv_general_dilated(_f32(c.x), w, (c.s,), [(c.p, c.p)],
                                         precision=lax.Precision.HIGHEST)
            return jnp.sum(y * _f32(c.g))
        return np.asarray(jax.grad(loss)(jnp.zeros((c.co, c.x.shape[1], c.k), jnp.float32)))

    def no_padding(c):
        _needs(c.p > 0, "padding is 0")
        return _weight_grad(c, pad=False)

    def stride_ignored(c):
        _needs(c.s > 1, "the stride is 1")
        return _weight_grad(c, step=False)

    def flipped(c):
        _needs(c.k > 1, "the kernel has one tap")
        return _weight_grad(c)[..., ::-1]

    def batch_mean(c):
        _needs(c.b > 1, "the batch holds one sample")
        return _weight_grad(c) / c.b

    refs = [("PyTorch (autograd: w.grad after y.backward(grad_y))", torch_grad, None, 1e-9, 1e-9),
            ("JAX (jax.grad)", jax_grad, 4, 1e-4, 1e-4)]
    variants = [("no-padding", no_padding), ("stride-ignored", stride_ignored), ("flipped", flipped),
                ("batch-mean", batch_mean)]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          crash_hint="x is (N, C_in, L), grad_y is (N, C_out, O); the answer is "
                                     "(C_out, C_in, k).")
    _ok(ex, f"{len(cases)} random strided, padded layers: your weight gradient equals PyTorch "
            f"autograd and jax.grad." + tally)
