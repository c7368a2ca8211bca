"""Checks of the exercise notebook ex12: pooling and shift-equivariance (chapter 12)."""

import functools

import numpy as np

from ._harness import (Case, _check_arrays, _check_scalars, _ok, _probe, _jax, _torch, case_rng,
                       exercise, register)
from ._scratch import ARITHMETIC, FROM_SCRATCH, _require_rule

RULES = {"ex12-exact-shift": ARITHMETIC, "ex12-pool-size": ARITHMETIC, "ex12-max-pool": FROM_SCRATCH}

EXERCISES = {
    "ex12-exact-shift": (
        "a stride-s layer turns an input shift t into an output shift t/s only when s divides t; "
        "the strides of a stack multiply.",
        "smallest exact shift = product of the strides"),
    "ex12-pool-size": (
        "pooling windows follow the convolution's output formula; ceil_mode rounds up, but a last "
        "window that would start in the right padding is dropped.",
        "o = floor or ceil((n + 2p - d(k-1) - 1) / s) + 1; with ceil_mode, o -= 1 if (o-1)*s >= n + p"),
    "ex12-max-pool": (
        "max pooling pads with -infinity, so padding never wins a window.",
        "y[n, c, i, j] = max over (u, v) of x_p[n, c, i*s + u, j*s + v], x_p padded with -inf"),
}

DIAGNOSES = {
    "ex12-exact-shift/sum": ("strides added", "the strides multiply: each layer halves (or divides) "
                                              "the shift again."),
    "ex12-exact-shift/last-only": ("last stride only", "every strided layer in the stack must see a "
                                                       "shift divisible by its stride."),
    "ex12-pool-size/no-drop-rule": (
        "ceil without the drop rule", "with ceil_mode, a last window that would START in the right "
                                      "padding is dropped."),
    "ex12-pool-size/always-floor": ("ceil_mode ignored", "ceil_mode=True rounds the division up."),
    "ex12-max-pool/zero-padding": (
        "zero padding", "padding with zeros lets a 0 win windows of negative numbers at the border: "
                        "pad with -inf."),
    "ex12-max-pool/average": ("average instead of max", "max pooling keeps the largest value."),
}
register(EXERCISES, DIAGNOSES, RULES)


@exercise("ex12-exact-shift")
def check_exact_shift(fn):
    """fn(strides) -> smallest positive input shift that shifts the output of the stack exactly."""
    ex = "ex12-exact-shift"
    _probe(ex, fn, (2, 2))
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    rng = case_rng(ex)
    specs = [(2,), (2, 2, 2), (1, 3)]
    while len(specs) < 10:
        specs.append(tuple(int(s) for s in rng.integers(1, 4, size=int(rng.integers(1, 4)))))
    cases = [Case((s,), show={"strides": s}, strides=s) for s in specs]

    @functools.cache
    def measured(strides):
        """Smallest t in 1..period with conv-stack(roll(x, t)) == roll(conv-stack(x), r) for some r."""
        period = int(np.prod(strides))
        size = 4 * period
        x = torch.from_numpy(np.random.default_rng(0).normal(size=(1, 1, size)))

        def stack(v):
            for s in strides:
                v = F.conv1d(F.pad(v, (1, 1), mode="circular"),
                             torch.tensor([[[0.3, 1.0, -0.6]]], dtype=v.dtype), stride=s)
            return v
        y = stack(x)
        for t in range(1, period + 1):
            y_t = stack(torch.roll(x, t, dims=-1))
            if any(torch.allclose(y_t, torch.roll(y, r, dims=-1)) for r in range(y.shape[-1])):
                return t
        return None

    refs = [("PyTorch (circular strided convolutions, shifted inputs)", lambda c: measured(c.strides), None)]
    variants = [("sum", lambda c: sum(c.strides)), ("last-only", lambda c: c.strides[-1])]
    tally = _check_scalars(ex, fn, cases, refs, variants,
                           normalise=lambda v: int(v) if isinstance(v, (int, np.integer)) else v)
    _ok(ex, f"{len(cases)} stacks: your shift is the smallest one that PyTorch's circular strided "
            f"convolutions turn into an exact output shift." + tally)


@exercise("ex12-pool-size")
def check_pool_size(fn):
    """fn(n, k, s, p, ceil_mode) -> output length of PyTorch's max_pool1d."""
    ex = "ex12-pool-size"
    _probe(ex, fn, 5, 2, 2, 0, False)
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    rng = case_rng(ex)
    specs = [(5, 2, 2, 1, True), (6, 3, 2, 1, True), (56, 3, 2, 1, True)]
    while len(specs) < 40:
        k = int(rng.integers(1, 6))
        p = int(rng.integers(0, k // 2 + 1))
        n = int(rng.integers(max(1, k - 2 * p), 30))
        specs.append((n, k, int(rng.integers(1, 5)), p, bool(rng.integers(0, 2))))
    cases = [Case(s, show=dict(zip(("n", "k", "s", "p", "ceil_mode"), s)), spec=s) for s in specs]

    def torch_len(c):
        n, k, s, p, cm = c.spec
        return F.max_pool1d(torch.zeros(1, 1, n), k, s, p, ceil_mode=cm).shape[-1]

    def jax_len(c):
        """JAX's reduce_window with the padding PyTorch uses (ceil_mode: extra right padding)."""
        jax, jnp, lax = _jax()
        n, k, s, p, cm = c.spec
        o = torch_len(c)
        extra = max((o - 1) * s + k - (n + 2 * p), 0) if cm else 0
        shape = jax.eval_shape(lambda v: lax.reduce_window(v, -jnp.inf, lax.max, (k,), (s,),
                                                           [(p, p + extra)]),
                               jax.ShapeDtypeStruct((n,), jnp.float32)).shape
        return shape[0]

    def formula(c, drop=True, ceil=None):
        n, k, s, p, cm = c.spec
        cm = cm if ceil is None else ceil
        span = n + 2 * p - k
        o = (-(-span // s) if cm else span // s) + 1
        if cm and drop and (o - 1) * s >= n + p:
            o -= 1
        return o

    refs = [("PyTorch (F.max_pool1d)", torch_len, None),
            ("JAX (lax.reduce_window with the same windows)", jax_len, 8)]
    variants = [("no-drop-rule", lambda c: formula(c, drop=False)),
                ("always-floor", lambda c: formula(c, ceil=False))]
    tally = _check_scalars(ex, fn, cases, refs, variants,
                           normalise=lambda v: int(v) if isinstance(v, (int, np.integer)) else v)
    _ok(ex, f"{len(cases)} configurations, with and without ceil_mode, match PyTorch." + tally)


@exercise("ex12-max-pool")
def check_max_pool(fn):
    """fn(x, k, s, p) -> max pooling of x (N, C, H, W), k x k window, stride s, padding p."""
    ex = "ex12-max-pool"
    _probe(ex, fn, -np.ones((1, 1, 4, 4)), 2, 2, 0)
    _require_rule(ex, fn, RULES[ex])
    torch, F = _torch()
    rng = case_rng(ex)
    cases = []
    for i in range(16):
        k = int(rng.integers(1, 4))
        p = int(rng.integers(0, k // 2 + 1)) if i else 1
        k = 2 if i == 0 else k
        s = int(rng.integers(1, 4))
        n, c = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        h, w = int(rng.integers(k, 9)), int(rng.integers(k, 9))
        x = rng.normal(size=(n, c, h, w)) - (3.0 if i % 2 == 0 else 0.0)   # all-negative maps too
        cases.append(Case((x, k, s, p), show={"x": x, "k": k, "s": s, "p": p}, x=x, k=k, s=s, p=p))

    def torch_pool(c, op=None):
        return (op or F.max_pool2d)(torch.from_numpy(c.x), c.k, c.s, c.p).numpy()

    def jax_pool(c):
        jax, jnp, lax = _jax()
        return np.asarray(lax.reduce_window(jnp.asarray(c.x, jnp.float32), -jnp.inf, lax.max,
                                            (1, 1, c.k, c.k), (1, 1, c.s, c.s),
                                            [(0, 0), (0, 0), (c.p, c.p), (c.p, c.p)]))

    def zero_padded(c):
        xp = np.pad(c.x, [(0, 0), (0, 0), (c.p, c.p), (c.p, c.p)])
        return F.max_pool2d(torch.from_numpy(xp), c.k, c.s).numpy()

    refs = [("PyTorch (F.max_pool2d)", torch_pool, None, 0, 0),
            ("JAX (lax.reduce_window, -inf padding)", jax_pool, 6, 1e-6, 1e-6)]
    variants = [("zero-padding", zero_padded),
                ("average", lambda c: torch_pool(c, lambda *a: F.avg_pool2d(*a, count_include_pad=False)))]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random maps (half of them all negative) match PyTorch and JAX." + tally)
