"""Instant feedback for the exercise notebooks.

Every ``check_*`` function takes the student's answer (a function, a class or plain values), runs it
on seeded random configurations, compares the result with PyTorch and JAX computed live (and with
``conv_lib`` where that helps), and either prints one line starting with "✓" or raises an
``AssertionError`` that says what went wrong:

* the failing configuration, the expected and the obtained shape, the first differing index with
  both values and the tolerance used;
* a hint naming the typical mistake, found by computing the outputs of known-wrong variants
  (ceil instead of floor, padding on the wrong side, dilation applied to the input, groups
  ignored, kernel flipped, reflect vs symmetric, ...) and seeing which one the answer reproduces;
* "not attempted yet" when the answer still raises ``NotImplementedError`` or is ``...``.

Value answers (predictions such as "the output is 56 wide") are never echoed back in a failure
message: the check says what is wrong and how to think about it, not what the number is.

PyTorch, JAX and Flax are imported lazily, on the first check that needs them, so
``from conv_lib.course import checks`` is cheap. JAX compiles every new shape, so each check runs all its
cases through PyTorch and only the first few through JAX.
"""
import functools
import inspect
import io
import re
import textwrap
import tokenize
import types
import warnings
from contextlib import redirect_stdout

import numpy as np

from conv_lib import frameworks as fw
from conv_lib.conv import conv, conv_transpose
from conv_lib.counts import conv_macs, conv_params
from conv_lib.padding import dilate
from conv_lib.receptive import receptive_field

# ----------------------------------------------------------------------------------------------
# Lazy framework imports (once per process)
# ----------------------------------------------------------------------------------------------


@functools.cache
def _torch():
    import torch
    import torch.nn.functional as F

    return torch, F


@functools.cache
def _jax():
    import jax
    import jax.numpy as jnp
    from jax import lax

    return jax, jnp, lax


@functools.cache
def _nnx():
    from flax import nnx

    return nnx


# ----------------------------------------------------------------------------------------------
# Messages
# ----------------------------------------------------------------------------------------------

NOT_ATTEMPTED = ("not attempted yet: replace the `raise NotImplementedError(...)` line (or the `...` "
                 "placeholder) in the answer cell with your solution, run that cell, then run this "
                 "check again.")


def _ok(ex, text):
    print(f"✓ {ex}: {text}")


def _fmt_value(v):
    if isinstance(v, np.ndarray):
        return f"array{v.shape}"
    if hasattr(v, "shape") and hasattr(v, "dtype"):
        return f"array{tuple(v.shape)}"
    return repr(v)


def _fmt_config(config):
    if isinstance(config, dict):
        return ", ".join(f"{k}={_fmt_value(v)}" for k, v in config.items())
    return str(config)


def _failure(ex, headline, *, config=None, details=(), hint=None):
    """Build (do not raise) the AssertionError for a failed check."""
    lines = [f"{ex}: {headline}"]
    if config is not None:
        lines.append(f"  configuration: {_fmt_config(config)}")
    lines += [f"  {d}" for d in details]
    if hint:
        lines.append(f"  hint: {hint}")
    return AssertionError("\n".join(lines))


def _not_attempted(ex, what=None):
    who = "" if not what else f"{what} {'are' if ',' in what else 'is'} "
    return AssertionError(f"{ex}: {who}{NOT_ATTEMPTED}")


def _require_values(ex, **values):
    """Fail with the friendly message if any value is still the ``...`` placeholder."""
    missing = [name for name, v in values.items() if v is Ellipsis]
    if missing:
        raise _not_attempted(ex, ", ".join(missing))


def _call(ex, fn, *args, config=None, hint=None, **kwargs):
    """Call the student's code; turn NotImplementedError and crashes into readable failures."""
    if fn is Ellipsis or fn is None:
        raise _not_attempted(ex)
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise _not_attempted(ex) from None
    except AssertionError:
        raise
    except Exception as exc:  # the student's traceback stays attached as __cause__
        raise _failure(ex, f"your code raised {type(exc).__name__}: {exc}", config=config,
                       hint=hint) from exc


def _probe(ex, fn, *args, **kwargs):
    """Call ``fn`` once, only to report "not attempted yet" before any slow set-up work."""
    if fn is Ellipsis or fn is None:
        raise _not_attempted(ex)
    try:
        fn(*args, **kwargs)
    except NotImplementedError:
        raise _not_attempted(ex) from None
    except Exception:  # real failures are reported, with their configuration, by the check itself
        pass


def _to_numpy(ex, value, config=None):
    """Student output -> float ndarray (accepts NumPy, PyTorch and JAX arrays, nested lists)."""
    if value is None:
        raise _failure(ex, "your function returned None; did you forget `return`?", config=config)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _failure(ex, f"expected an array, got {type(value).__name__}", config=config) from None


def _array_diff(got, expected, rtol, atol):
    """None if ``got`` matches ``expected`` within tolerance, else lines describing the difference."""
    if got.shape != expected.shape:
        return [f"expected shape {expected.shape}, got shape {got.shape}"]
    bad = ~np.isclose(got, expected, rtol=rtol, atol=atol)
    if not bad.any():
        return None
    idx = tuple(int(i) for i in np.argwhere(bad)[0])
    return [f"shapes agree {expected.shape}, but {int(bad.sum())} of {bad.size} values differ",
            f"first differing index {idx}: expected {expected[idx]:.6g}, got {got[idx]:.6g}",
            f"tolerance: |got - expected| <= {atol:g} + {rtol:g} * |expected|"]


def _variant_matches(got, wrong, array):
    """Does the student's output ``got`` equal the output ``wrong`` of a known-wrong variant?"""
    if not array:
        return _same_value(got, wrong)
    wrong = np.asarray(wrong, dtype=np.float64)
    return wrong.shape == got.shape and np.allclose(got, wrong, rtol=1e-5, atol=1e-6)


def _best_hint(fn, cases, failing, got, variants, array=False, normalise=None, max_cases=12):
    """Hint of the known-wrong variant that explains the student's answer best.

    Candidates are the variants reproducing the answer on the failing case; when several do (a
    coincidence on that one configuration), the one that also reproduces the answers on the most
    other cases wins.
    """
    failed = object()

    def run_variant(make, case):
        try:
            return make(case)
        except Exception:
            return failed

    candidates = [(text, make) for text, make in variants
                  if (w := run_variant(make, cases[failing])) is not failed
                  and _variant_matches(got, w, array)]
    if len(candidates) <= 1:
        return candidates[0][0] if candidates else None
    others = [c for j, c in enumerate(cases[:max_cases]) if j != failing]
    answers = []
    for case in others:
        try:
            out = case(fn)
            out = _to_numpy("", out) if array else (normalise(out) if normalise else out)
        except Exception:
            out = failed
        answers.append(out)
    scores = []
    for text, make in candidates:
        score = 0
        for case, out in zip(others, answers):
            w = run_variant(make, case)
            if out is not failed and w is not failed and _variant_matches(out, w, array):
                score += 1
        scores.append(score)
    return candidates[int(np.argmax(scores))][0]


class Case:
    """One random configuration: positional/keyword arguments plus what to show on failure."""

    def __init__(self, args=(), kwargs=None, show=None, **extra):
        self.args, self.kwargs = tuple(args), dict(kwargs or {})
        self.show = show if show is not None else {}
        self.__dict__.update(extra)

    def __call__(self, fn):
        return fn(*self.args, **self.kwargs)


def _check_arrays(ex, fn, cases, refs, variants=(), fallback_hint=None, crash_hint=None):
    """Run ``fn`` on every case and compare with each reference.

    refs: list of (name, make(case) -> array, n_cases or None for all, rtol, atol).
    Returns the number of cases compared with each reference, in order.
    """
    if fn is Ellipsis or fn is None:
        raise _not_attempted(ex)
    counts = [0] * len(refs)
    for i, case in enumerate(cases):
        got = _to_numpy(ex, _call(ex, case, fn, config=case.show, hint=crash_hint), case.show)
        for r, (name, make, limit, rtol, atol) in enumerate(refs):
            if limit is not None and i >= limit:
                continue
            expected = np.asarray(make(case), dtype=np.float64)
            problems = _array_diff(got, expected, rtol, atol)
            counts[r] += 1
            if problems:
                hint = _best_hint(fn, cases, i, got, variants, array=True) or fallback_hint
                raise _failure(ex, f"case {i + 1} of {len(cases)} does not match {name}",
                               config=case.show, details=problems, hint=hint)
    return _tally(refs, counts)


def _check_scalars(ex, fn, cases, refs, variants=(), fallback_hint=None, normalise=None):
    """Like ``_check_arrays`` for functions returning ints or tuples (compared exactly).

    refs: list of (name, make(case) -> value, n_cases or None).
    variants: list of (hint, make(case) -> wrong value).
    """
    if fn is Ellipsis or fn is None:
        raise _not_attempted(ex)
    counts = [0] * len(refs)
    for i, case in enumerate(cases):
        got = _call(ex, case, fn, config=case.show)
        if normalise is not None:
            got = normalise(got)
        for r, (name, make, limit) in enumerate(refs):
            if limit is not None and i >= limit:
                continue
            expected = make(case)
            counts[r] += 1
            if not _same_value(got, expected):
                hint = _best_hint(fn, cases, i, got, variants, normalise=normalise) or fallback_hint
                raise _failure(ex, f"case {i + 1} of {len(cases)} does not match {name}",
                               config=case.show, details=[f"expected {expected!r}, got {got!r}"],
                               hint=hint)
    return _tally(refs, counts)


def _tally(refs, counts):
    """' [cases compared with PyTorch: 24, JAX: 4]' for the success line."""
    parts = [f"{ref[0].split(' (')[0]}: {n}" for ref, n in zip(refs, counts)]
    return f" [cases compared with {', '.join(parts)}]"


def _same_value(a, b):
    if isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and len(a) == len(b)
                and all(_same_value(x, y) for x, y in zip(a, b)))
    if b is None or isinstance(b, bool):
        return a is b or (isinstance(a, (bool, np.bool_)) and bool(a) == b)
    if a is None or isinstance(a, (bool, np.bool_, str)):
        return False
    try:
        return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=1e-9))
    except (TypeError, ValueError):
        return False


def _as_shape(value):
    """torch.Size / list / tuple of whole numbers -> tuple of ints (anything else unchanged)."""
    if isinstance(value, (tuple, list)) or type(value).__name__ == "Size":
        items = list(value)
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
               or isinstance(v, (float, np.floating)) and float(v).is_integer() for v in items):
            return tuple(int(v) for v in items)
    return value


def _as_tuple(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


# ----------------------------------------------------------------------------------------------
# Source inspection for "from scratch" exercises
# ----------------------------------------------------------------------------------------------

_FOREIGN = ("torch", "jax", "jaxlib", "flax", "scipy", "conv_lib", "tensorflow", "keras")
_FOREIGN_PATTERN = re.compile(r"\b(torch|jax|jnp|lax|flax|nnx|scipy|conv_lib|tensorflow|tf)\b")
_NP_PAD_PATTERN = re.compile(r"\b(np|numpy)\s*\.\s*pad\b")
_F_PAD_PATTERN = re.compile(r"\bF\s*\.\s*pad\b")


def _source(fn):
    try:
        return textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):
        return None


def _tokens(src):
    """(code tokens, string-literal tokens) of ``src``, comments dropped."""
    code, strings = [], []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.COMMENT:
                continue
            (strings if tok.type == tokenize.STRING else code).append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return src, []
    return " ".join(code), strings


def _code_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _own_functions(fn):
    """``fn`` plus the helper functions it calls that live in the same module (recursively)."""
    seen, todo = [], [fn]
    while todo:
        f = todo.pop()
        if f in seen or not hasattr(f, "__code__"):
            continue
        seen.append(f)
        for name in _code_names(f.__code__):
            obj = f.__globals__.get(name)
            if inspect.isfunction(obj) and obj.__module__ == fn.__module__ and obj not in seen:
                todo.append(obj)
    return seen


def _forbidden_uses(fn, extra=(), allow=()):
    """Names of forbidden tools that ``fn`` (or its own helpers) uses.

    extra: (regex, label) pairs of further forbidden patterns; allow: top-level module names that
    are fine here (e.g. ("conv_lib",)).
    """
    found = []
    for f in _own_functions(fn):
        src = _source(f)
        if src is not None:
            code, _ = _tokens(src)
            found += [m.group(1) for m in _FOREIGN_PATTERN.finditer(code) if m.group(1) not in allow]
            if _NP_PAD_PATTERN.search(code):
                found.append("np.pad")
            if _F_PAD_PATTERN.search(code):
                found.append("F.pad")
            found += [label for pattern, label in extra if re.search(pattern, code)]
        for name in _code_names(f.__code__):  # also catch aliases such as `from numpy import pad`
            if name not in f.__globals__:
                continue
            obj = f.__globals__[name]
            module = obj.__name__ if inspect.ismodule(obj) else (getattr(obj, "__module__", "") or "")
            top = module.split(".")[0]
            if top in _FOREIGN and top not in allow:
                found.append(name)
            elif obj is np.pad:
                found.append(f"{name} (= np.pad)")
    return list(dict.fromkeys(found))


def _require_from_scratch(ex, fn, extra=(), what="NumPy and plain Python"):
    if fn is Ellipsis or fn is None:
        raise _not_attempted(ex)
    bad = _forbidden_uses(fn, extra)
    if bad:
        raise _failure(
            ex, f"this exercise asks for a from-scratch implementation, but "
                f"`{getattr(fn, '__name__', fn)}` uses {', '.join(bad)}",
            hint=f"use only {what} (indexing, slicing, loops, np.zeros, np.concatenate, ...); "
                 f"PyTorch, JAX, SciPy, conv_lib and ready-made padding functions are what the "
                 f"check compares you against.")


def _string_literals(fn):
    src = _source(fn)
    return [] if src is None else [s.lower() for s in _tokens(src)[1]]


# ----------------------------------------------------------------------------------------------
# Framework references (PyTorch layout in and out, NumPy arrays)
# ----------------------------------------------------------------------------------------------


def _f32(a):
    return np.asarray(a, dtype=np.float32)


def _torch_shape(module_cls, in_shape, *args, **kwargs):
    """Output shape of a torch.nn module, computed on the 'meta' device (no arithmetic)."""
    torch, _ = _torch()
    layer = getattr(torch.nn, module_cls)(*args, device="meta", **kwargs)
    return tuple(layer(torch.empty(in_shape, device="meta")).shape)


def _jax_conv_shape(in_shape, w_shape, strides, padding, rhs_dilation=None, lhs_dilation=None):
    """Output shape of lax.conv_general_dilated via jax.eval_shape (traced, not compiled)."""
    jax, jnp, lax = _jax()
    nd = len(in_shape) - 2
    letters = "DHW"[-nd:]
    spec = ("NC" + letters, "OI" + letters, "NC" + letters)
    f = functools.partial(lax.conv_general_dilated, window_strides=strides, padding=padding,
                          lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
                          dimension_numbers=spec)
    out = jax.eval_shape(f, jax.ShapeDtypeStruct(in_shape, jnp.float32),
                         jax.ShapeDtypeStruct(w_shape, jnp.float32))
    return tuple(out.shape)


def _impulse_span(grad):
    """Positions (first, last) of the non-zero entries of a 1-D gradient."""
    nz = np.flatnonzero(np.abs(np.asarray(grad)) > 0)
    return int(nz[0]), int(nz[-1])


def _torch_rf(layers, length=None):
    """Receptive field of output 0 of a stack of 1-D convs (all-ones weights), by backprop in torch.

    layers: (k, s, d) tuples; a pooling layer is just a conv with its (k, s) and d = 1 here.
    """
    torch, F = _torch()
    length = length or receptive_field(layers) + 8 * int(np.prod([l[1] for l in layers]))
    x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for k, s, d in layers:
        y = F.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
    y[0, 0, 0].backward()
    first, last = _impulse_span(x.grad[0, 0].numpy())
    return last - first + 1


def _jax_rf(layers, length=None):
    """The same measurement as ``_torch_rf`` with jax.grad through lax.conv_general_dilated."""
    jax, jnp, lax = _jax()
    length = length or receptive_field(layers) + 8 * int(np.prod([l[1] for l in layers]))

    def first_output(x):
        y = x
        for k, s, d in layers:
            y = lax.conv_general_dilated(y, jnp.ones((1, 1, k)), (s,), "VALID", rhs_dilation=(d,),
                                         dimension_numbers=("NCH", "OIH", "NCH"))
        return y[0, 0, 0]

    g = jax.grad(first_output)(jnp.ones((1, 1, length)))
    first, last = _impulse_span(np.asarray(g[0, 0]))
    return last - first + 1


def _layers3(layers):
    return [(l[0], l[1] if len(l) > 1 else 1, l[2] if len(l) > 2 else 1) for l in layers]


# ==============================================================================================
# ex01 — convolution
# ==============================================================================================


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


# ==============================================================================================
# ex02 — output shape
# ==============================================================================================


def check_56x56(out_plain, out_dilated, rf_plain, rf_dilated, extra_params):
    """Textbook exercises 1-2: Conv2d(64, 128, 5, padding=2) on 56x56, then dilation=2, padding=4."""
    ex = "ex02-56x56"
    _require_values(ex, out_plain=out_plain, out_dilated=out_dilated, rf_plain=rf_plain,
                    rf_dilated=rf_dilated, extra_params=extra_params)
    torch, _ = _torch()
    true_plain = _torch_shape("Conv2d", (1, 64, 56, 56), 64, 128, 5, padding=2)[-1]
    true_dil = _torch_shape("Conv2d", (1, 64, 56, 56), 64, 128, 5, padding=4, dilation=2)[-1]
    assert _jax_conv_shape((1, 64, 56, 56), (128, 64, 5, 5), (1, 1), [(2, 2)] * 2)[-1] == true_plain
    assert _jax_conv_shape((1, 64, 56, 56), (128, 64, 5, 5), (1, 1), [(4, 4)] * 2,
                           rhs_dilation=(2, 2))[-1] == true_dil
    for name, got, true in (("out_plain", out_plain, true_plain), ("out_dilated", out_dilated, true_dil)):
        if not _same_value(got, true):
            raise _failure(ex, f"{name} is not what PyTorch and JAX produce",
                           hint="O = floor((I + 2P - D(K-1) - 1) / S) + 1, with P added on BOTH sides "
                                "and the kernel spanning D(K-1)+1 pixels.")
    true_rf = _torch_rf([(5, 1, 1)]), _torch_rf([(5, 1, 2)])
    assert true_rf == (_jax_rf([(5, 1, 1)]), _jax_rf([(5, 1, 2)]))
    if not _same_value(rf_plain, true_rf[0]):
        raise _failure(ex, "rf_plain is not right",
                       hint="one layer sees exactly the pixels its kernel covers along one axis.")
    if not _same_value(rf_dilated, true_rf[1]):
        hint = ("D*K overcounts: 5 taps spaced 2 apart span D(K-1)+1 pixels."
                if _same_value(rf_dilated, 10) else
                "the 5 taps are now spaced D=2 apart, so their span is larger than 5.")
        raise _failure(ex, "rf_dilated is not right (measured by backpropagating an impulse)", hint=hint)
    counts = [sum(p.numel() for p in torch.nn.Conv2d(64, 128, 5, dilation=d, device="meta").parameters())
              for d in (1, 2)]
    if not _same_value(extra_params, counts[1] - counts[0]):
        raise _failure(ex, "extra_params is not right",
                       hint="dilation spreads the same K x K weights apart; does it store new ones?")
    _ok(ex, "shapes agree with PyTorch and JAX, receptive fields with impulse responses, "
            "parameter counts with nn.Conv2d.")


def check_quick_shapes(out_224, pad_5x5):
    """Quick checks: Conv2d(64, 128, 3, padding=1, stride=2) on 224x224; padding for a size-keeping 5x5."""
    ex = "ex02-quick-checks"
    _require_values(ex, out_224=out_224, pad_5x5=pad_5x5)
    torch, F = _torch()
    _, _, lax = _jax()
    true_224 = _torch_shape("Conv2d", (1, 64, 224, 224), 64, 128, 3, padding=1, stride=2)[-1]
    assert _jax_conv_shape((1, 64, 224, 224), (128, 64, 3, 3), (2, 2), [(1, 1)] * 2)[-1] == true_224
    if not _same_value(out_224, true_224):
        hints = {113: "you rounded up; the formula floors (the last half window is dropped).",
                 111: "the padding (1 on each side) is missing from your computation.",
                 224: "stride 2 visits every other position.",
                 112.5: "the output size is an integer: floor((I + 2P - K) / S) + 1."}
        raise _failure(ex, "out_224 does not match PyTorch and JAX",
                       hint=hints.get(out_224 if isinstance(out_224, (int, float)) else None,
                                      "O = floor((I + 2P - K) / S) + 1"))
    ok = isinstance(pad_5x5, (int, np.integer)) and not isinstance(pad_5x5, bool) and pad_5x5 >= 0
    if ok:
        for n in (7, 16, 33):
            x = torch.randn(1, 1, n, n, dtype=torch.float64)
            w = torch.randn(1, 1, 5, 5, dtype=torch.float64)
            y = F.conv2d(x, w, padding=int(pad_5x5))
            ok = ok and y.shape[-2:] == x.shape[-2:] and torch.allclose(y, F.conv2d(x, w, padding="same"))
        ok = ok and lax.padtype_to_pads((16,), (5,), (1,), "SAME") == [(int(pad_5x5),) * 2]
    if not ok:
        raise _failure(ex, "pad_5x5 does not keep the size of a 5x5, stride-1 convolution",
                       hint=("that is the TOTAL padding; padding=P in PyTorch adds P on each side."
                             if _same_value(pad_5x5, 4) else
                             "the kernel removes K-1 pixels; padding adds 2P (both sides)."))
    _ok(ex, "both answers agree with PyTorch and JAX (shape and 'same' padding).")


def check_explainer_examples(shape1, example2_raises, shape2_fixed, shape3):
    """The PyTorch explainer's three examples, run for real."""
    ex = "ex02-explainer-examples"
    _require_values(ex, shape1=shape1, example2_raises=example2_raises, shape2_fixed=shape2_fixed,
                    shape3=shape3)
    torch, _ = _torch()
    true1 = _torch_shape("Conv2d", (1, 3, 64, 64), 3, 32, 3, stride=1, padding="same")
    if _as_shape(shape1) != true1:
        raise _failure(ex, "shape1 is not what PyTorch returns",
                       hint="(N, C_out, H, W); 'same' at stride 1 keeps H and W.")
    try:
        torch.nn.Conv2d(32, 64, 5, stride=2, padding="same")
        raises = False
    except ValueError:
        raises = True
    if not isinstance(example2_raises, (bool, np.bool_)) or bool(example2_raises) != raises:
        raise _failure(ex, "example2_raises (True/False) is not what PyTorch does",
                       hint="build nn.Conv2d(32, 64, 5, stride=2, padding='same') and see: PyTorch "
                            "defines 'same' as 'output size == input size'.")
    true2 = _torch_shape("Conv2d", true1, 32, 64, 5, stride=2, padding=2)
    if _as_shape(shape2_fixed) != true2:
        raise _failure(ex, "shape2_fixed is not what PyTorch returns",
                       hint="floor((64 + 2*2 - 5) / 2) + 1 for each spatial axis; 64 channels out.")
    true3 = _torch_shape("Conv2d", true2, 64, 128, 3, padding="same", dilation=2)
    if _as_shape(shape3) != true3:
        raise _failure(ex, "shape3 is not what PyTorch returns",
                       hint="'same' keeps the spatial size at stride 1, with or without dilation.")
    _ok(ex, "all three predictions agree with PyTorch (including the ValueError of example 2).")


def check_torch_accepts(fn):
    """fn(n, kernel_size, stride, padding, dilation) -> True iff nn.Conv1d accepts it on length n."""
    ex = "ex02-torch-accepts"
    torch, _ = _torch()
    rng = np.random.default_rng(202)
    configs = [(8, 3, 2, "same", 1), (8, 3, 1, "same", 1), (5, 4, 1, "same", 2), (8, 4, 2, "valid", 1),
               (3, 5, 1, 0, 1), (3, 5, 1, 1, 1), (4, 3, 1, 0, 2), (2, 5, 1, "same", 1)]
    while len(configs) < 40:
        configs.append((int(rng.integers(1, 9)), int(rng.integers(1, 6)), int(rng.integers(1, 4)),
                        [0, 1, 2, "same", "valid"][int(rng.integers(0, 5))], int(rng.integers(1, 3))))
    for i, (n, k, s, p, d) in enumerate(configs):
        show = {"input length": n, "kernel_size": k, "stride": s, "padding": p, "dilation": d}
        try:
            torch.nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d)(torch.zeros(1, 1, n))
            truth, err = True, None
        except (ValueError, RuntimeError) as exc:
            truth, err = False, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
        got = _call(ex, fn, n, k, s, p, d, config=show)
        if not isinstance(got, (bool, np.bool_)):
            raise _failure(ex, f"return True or False, got {got!r}", config=show)
        if bool(got) != truth:
            if truth:
                hint = "PyTorch runs this one fine: the kernel fits and nothing forbids the padding."
                detail = ["PyTorch accepted this configuration"]
            elif p == "same" and s > 1:
                hint = ("'same' in PyTorch means output length == input length, which no padding "
                        "can achieve when stride > 1, so PyTorch refuses it.")
                detail = [f"PyTorch raised {err}"]
            else:
                hint = ("the (padded) input must be at least as long as the dilated kernel "
                        "d*(k-1)+1, otherwise there is not a single output position.")
                detail = [f"PyTorch raised {err}"]
            raise _failure(ex, f"case {i + 1} of {len(configs)}: your function says "
                               f"{bool(got)}", config=show, details=detail, hint=hint)
    _ok(ex, f"{len(configs)} configurations: your predictions agree with what PyTorch actually does.")


def _output_size_variants():
    def keff(c): return c.d * (c.k - 1) + 1
    return [
        ("you rounded up: the formula floors, i.e. windows that would run past the end are dropped "
         "(use // on the numerator, then + 1).",
         lambda c: -(-(c.n + 2 * c.p - keff(c)) // c.s) + 1),
        ("the dilation is missing: a kernel of k taps spaced d apart spans d*(k-1)+1 samples.",
         lambda c: (c.n + 2 * c.p - c.k) // c.s + 1),
        ("the effective kernel is d*(k-1)+1, not d*k.",
         lambda c: (c.n + 2 * c.p - c.d * c.k) // c.s + 1),
        ("padding is added on BOTH sides: n + 2p.",
         lambda c: (c.n + c.p - keff(c)) // c.s + 1),
        ("you forgot the + 1 (the first window is already one output).",
         lambda c: (c.n + 2 * c.p - keff(c)) // c.s),
        ("the stride divides (n + 2p - k_eff) only, then you add 1 — not (n + 2p - k_eff + 1) / s.",
         lambda c: (c.n + 2 * c.p - keff(c) + 1) // c.s),
    ]


def check_output_size(fn):
    """fn(n, k, s, p, d) -> output length, from scratch; compared with PyTorch and JAX shapes."""
    ex = "ex02-output-size"
    _require_from_scratch(ex, fn, what="integer arithmetic")
    rng = np.random.default_rng(203)
    cases = []
    while len(cases) < 40:
        n, k, s, p, d = (int(rng.integers(1, 41)), int(rng.integers(1, 8)), int(rng.integers(1, 5)),
                         int(rng.integers(0, 4)), int(rng.integers(1, 4)))
        if n + 2 * p >= d * (k - 1) + 1:
            cases.append(Case((n, k, s, p, d), show={"n": n, "k": k, "s": s, "p": p, "d": d},
                              n=n, k=k, s=s, p=p, d=d))
    refs = [("PyTorch (nn.Conv1d output shape)",
             lambda c: _torch_shape("Conv1d", (1, 1, c.n), 1, 1, c.k, stride=c.s, padding=c.p,
                                    dilation=c.d)[-1], None),
            ("JAX (lax.conv_general_dilated output shape)",
             lambda c: _jax_conv_shape((1, 1, c.n), (1, 1, c.k), (c.s,), [(c.p, c.p)],
                                       rhs_dilation=(c.d,))[-1], None)]
    tally = _check_scalars(ex, fn, cases, refs, _output_size_variants(),
                           fallback_hint="O = floor((n + 2p - d(k-1) - 1) / s) + 1")
    _ok(ex, f"{len(cases)} random (n, k, s, p, d) agree with PyTorch and JAX output shapes." + tally)


def _same_pads(n, k, s, d):
    _, _, lax = _jax()
    return tuple(lax.padtype_to_pads((n,), (d * (k - 1) + 1,), (s,), "SAME")[0])


def check_same_padding(fn):
    """fn(n, k, s, d) -> (lo, hi) of JAX/TensorFlow 'SAME' padding, from scratch."""
    ex = "ex02-same-padding"
    _require_from_scratch(ex, fn, what="integer arithmetic")
    torch, F = _torch()
    rng = np.random.default_rng(204)
    cases = [Case((n, k, s, d), show={"n": n, "k": k, "s": s, "d": d}, n=n, k=k, s=s, d=d)
             for n, k, s, d in [(5, 2, 1, 1), (7, 4, 3, 1), (10, 3, 2, 2), (4, 5, 1, 1)]]
    while len(cases) < 40:
        n, k, s, d = (int(rng.integers(1, 21)), int(rng.integers(1, 7)), int(rng.integers(1, 5)),
                      int(rng.integers(1, 4)))
        cases.append(Case((n, k, s, d), show={"n": n, "k": k, "s": s, "d": d}, n=n, k=k, s=s, d=d))

    def total(c):
        return max((-(-c.n // c.s) - 1) * c.s + c.d * (c.k - 1) + 1 - c.n, 0)

    variants = [
        ("the odd unit of padding is on the wrong side: JAX/TensorFlow put the extra one at the "
         "END (lo = total // 2, hi = total - lo).",
         lambda c: (total(c) - total(c) // 2, total(c) // 2)),
        ("symmetric floor((k_eff-1)/2) on both sides (the textbook recipe) is not 'SAME' when the "
         "total padding is odd or the stride is > 1: compute the total first, then split it.",
         lambda c: ((c.d * (c.k - 1)) // 2,) * 2),
        ("the stride is missing: 'SAME' aims for ceil(n / s) outputs, so the total padding is "
         "(ceil(n/s) - 1)*s + k_eff - n (never negative).",
         lambda c: ((c.d * (c.k - 1)) // 2, c.d * (c.k - 1) - (c.d * (c.k - 1)) // 2)),
        ("the dilation is missing: the kernel spans k_eff = d*(k-1)+1 samples.",
         lambda c: _same_pads(c.n, c.k, c.s, 1)),
        ("the total padding can come out negative for large strides: clamp it at 0.",
         lambda c: (((-(-c.n // c.s) - 1) * c.s + c.d * (c.k - 1) + 1 - c.n) // 2,
                    ((-(-c.n // c.s) - 1) * c.s + c.d * (c.k - 1) + 1 - c.n)
                    - ((-(-c.n // c.s) - 1) * c.s + c.d * (c.k - 1) + 1 - c.n) // 2)),
    ]
    refs = [("JAX (lax.padtype_to_pads 'SAME')", lambda c: _same_pads(c.n, c.k, c.s, c.d), None)]
    tally = _check_scalars(ex, fn, cases, refs, variants, normalise=_as_tuple,
                           fallback_hint="total = max((ceil(n/s) - 1)*s + d*(k-1) + 1 - n, 0); "
                                         "lo = total // 2; hi = total - lo")
    # the pads must also reproduce the convolutions themselves
    _, _, lax = _jax()
    n_torch = n_jax = 0
    for c in cases:
        lo, hi = tuple(int(v) for v in fn(c.n, c.k, c.s, c.d))
        x, w = rng.normal(size=(1, 1, c.n)), rng.normal(size=(1, 1, c.k))
        if c.s == 1:
            xt, wt = torch.from_numpy(x), torch.from_numpy(w)
            with warnings.catch_warnings():  # even kernels: PyTorch warns about an extra copy
                warnings.simplefilter("ignore")
                a = F.conv1d(xt, wt, padding="same", dilation=c.d)
            assert torch.allclose(a, F.conv1d(F.pad(xt, (lo, hi)), wt, dilation=c.d))
            n_torch += 1
        if n_jax < 5:
            a = lax.conv_general_dilated(_f32(x), _f32(w), (c.s,), "SAME", rhs_dilation=(c.d,))
            b = lax.conv_general_dilated(_f32(x), _f32(w), (c.s,), [(lo, hi)], rhs_dilation=(c.d,))
            assert np.allclose(a, b, atol=1e-5)
            n_jax += 1
    _ok(ex, f"{len(cases)} configurations agree with lax 'SAME' padding; the pads reproduce "
            f"PyTorch padding='same' ({n_torch} stride-1 cases) and lax 'SAME' outputs ({n_jax})." + tally)


# ==============================================================================================
# ex03 — stride
# ==============================================================================================


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
        assert np.allclose(dense[..., ::c.s[0], ::c.s[1]], np.asarray(fn(*c.args)), atol=1e-8)
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


# ==============================================================================================
# ex04 — padding
# ==============================================================================================


def check_pad2d(fn):
    """fn(x, pads, mode): x (H, W), pads ((top, bottom), (left, right)), mode 'reflect' | 'replicate'."""
    ex = "ex04-reflect-replicate"
    _require_from_scratch(ex, fn)
    _probe(ex, fn, np.arange(12.0).reshape(3, 4), ((1, 1), (1, 1)), "reflect")
    torch, F = _torch()
    _, jnp, _ = _jax()
    rng = np.random.default_rng(401)
    cases = []
    for i in range(30):
        mode = ("reflect", "replicate")[i % 2]
        h, w = int(rng.integers(2, 8)), int(rng.integers(2, 8))
        hi_h, hi_w = (h - 1, w - 1) if mode == "reflect" else (6, 6)
        pads = ((int(rng.integers(0, hi_h + 1)), int(rng.integers(0, hi_h + 1))),
                (int(rng.integers(0, hi_w + 1)), int(rng.integers(0, hi_w + 1))))
        if i < 2:  # asymmetric first, so that swapped sides are caught at once
            h, w = max(h, 3), max(w, 3)
            pads = ((2, 0), (0, 1)) if mode == "reflect" else ((3, 0), (0, 1))
        x = (rng.permutation(h * w) + 1).reshape(h, w).astype(float)
        cases.append(Case((x, pads, mode), show={"x": x, "pads": pads, "mode": mode},
                          x=x, pads=pads, mode=mode))
    np_mode = {"reflect": "reflect", "replicate": "edge"}
    refs = [("PyTorch (F.pad)",
             lambda c: F.pad(torch.from_numpy(c.x)[None, None],
                             (*c.pads[1], *c.pads[0]), mode=c.mode)[0, 0].numpy(), None, 0, 0),
            ("JAX (jnp.pad)",
             lambda c: np.asarray(jnp.pad(jnp.asarray(_f32(c.x)), c.pads, mode=np_mode[c.mode])), 6, 0, 0)]
    variants = [
        ("your reflect repeats the edge value (that is NumPy's 'symmetric' mode). PyTorch's "
         "'reflect' mirrors around the edge sample WITHOUT repeating it: [a b c] -> b | a b c | b.",
         lambda c: np.pad(c.x, c.pads, mode="symmetric") if c.mode == "reflect" else None),
        ("reflect and replicate are swapped: 'replicate' copies the edge value outward, 'reflect' "
         "mirrors the interior.",
         lambda c: np.pad(c.x, c.pads, mode="edge" if c.mode == "reflect" else "reflect")),
        ("padding on the wrong side: pads[0] = (top, bottom), pads[1] = (left, right); the first "
         "number of each pair goes BEFORE the data.",
         lambda c: np.pad(c.x, [p[::-1] for p in c.pads], mode=np_mode[c.mode])),
        ("the axes are swapped: pads[0] applies to the rows (axis 0, height), pads[1] to the "
         "columns (axis 1, width).",
         lambda c: np.pad(c.x, c.pads[::-1], mode=np_mode[c.mode])),
        ("those are zeros: this exercise is about the 'reflect' and 'replicate' modes.",
         lambda c: np.pad(c.x, c.pads)),
        ("that is circular (wrap-around) padding.",
         lambda c: np.pad(c.x, c.pads, mode="wrap")),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random images, pads and modes match PyTorch F.pad and jnp.pad exactly." + tally)


def check_causal_conv1d(fn):
    """fn(x, w, dilation): x (N, C_in, L), w (C_out, C_in, K) -> (N, C_out, L), causal."""
    ex = "ex04-causal"
    rng = np.random.default_rng(402)
    cases = []
    for i in range(20):
        n, ci, co = int(rng.integers(1, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        length, k, d = int(rng.integers(4, 17)), int(rng.integers(2, 5)), int(rng.integers(1, 5))
        if i == 0:
            k, d = 3, 2
        x, w = rng.normal(size=(n, ci, length)), rng.normal(size=(co, ci, k))
        cases.append(Case((x, w, d), show={"x": x, "w": w, "dilation": d}, x=x, w=w, d=d, k=k))
    _call(ex, cases[0], fn, config=cases[0].show)
    if any("causal" in s for f in _own_functions(fn) for s in _string_literals(f)):
        raise _failure(ex, "your code passes the string 'causal' to a library",
                       hint="compute the (left, right) padding yourself; that is the exercise.")
    if _forbidden_uses(fn, allow=("conv_lib",)):
        raise _failure(ex, "use NumPy or conv_lib here (conv_lib.pad / conv_lib.conv with "
                           "explicit pairs), not PyTorch or JAX: those are what you are checked against")

    def pair(c):
        return [(c.d * (c.k - 1), 0)]

    refs = [("PyTorch (F.pad on the left + F.conv1d)",
             lambda c: fw.torch_conv(c.x, c.w, padding=pair(c), dilation=c.d), None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated, padding [(d*(k-1), 0)])",
             lambda c: fw.jax_conv(_f32(c.x), _f32(c.w), padding=pair(c), dilation=c.d), 5, 1e-4, 1e-4)]
    variants = [
        ("the output is 'same'-padded (zeros on both sides): position t then sees the future. "
         "Put ALL d*(k-1) zeros on the left.",
         lambda c: conv(c.x, c.w, padding="same", dilation=c.d)),
        ("padding on the wrong side: zeros on the RIGHT make y[t] depend on x[t+1], ... ",
         lambda c: conv(c.x, c.w, padding=[(0, c.d * (c.k - 1))], dilation=c.d)),
        ("the padding ignores the dilation: a dilated kernel spans d*(k-1)+1 samples, so the left "
         "pad must be d*(k-1) to keep the length.",
         lambda c: conv(c.x, c.w, padding=[(c.k - 1, 0)], dilation=c.d)),
        ("the convolution itself ignores the dilation (taps must be d apart).",
         lambda c: conv(c.x, c.w, padding=[(c.d * (c.k - 1), 0)])[..., :c.x.shape[-1]]),
        ("the kernel is flipped; conv layers do not flip.",
         lambda c: conv(c.x, c.w[..., ::-1].copy(), padding=pair(c), dilation=c.d)),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _ok(ex, f"{len(cases)} random configurations match PyTorch (left F.pad) and JAX "
            f"(padding [(d*(k-1), 0)]); output length = input length." + tally)


def check_conv_with_padding(fn):
    """The JAX practice problem: fn(x, kernel, padding_mode) with 0.0 -> 'VALID', 1.0 -> 'SAME'."""
    ex = "ex04-jax-padding"
    _probe(ex, fn, np.arange(5.0, dtype=np.float32), np.ones(3, np.float32), 1.0)
    torch, F = _torch()
    _, jnp, lax = _jax()
    rng = np.random.default_rng(403)
    specs = [(5, 3, 0.0), (5, 3, 1.0), (6, 2, 1.0), (4, 6, 0.0), (7, 4, 1.0), (4, 5, 0.0)]
    while len(specs) < 16:
        specs.append((int(rng.choice([4, 7, 10])), int(rng.integers(1, 7)), float(len(specs) % 2)))
    cases = []
    for i, (n, k, mode) in enumerate(specs):
        x, kern = rng.normal(size=n).astype(np.float32), rng.normal(size=k).astype(np.float32)
        m = mode if i % 2 else jnp.float32(mode)
        cases.append(Case((jnp.asarray(x), jnp.asarray(kern), m),
                          show={"len(x)": n, "len(kernel)": k, "padding_mode": mode},
                          x=x, k=kern, mode=mode))
    _call(ex, cases[0], fn, config=cases[0].show)
    names = set().union(*(_code_names(f.__code__) for f in _own_functions(fn)))
    if "conv_general_dilated" not in names:
        raise _failure(ex, "the problem asks you to use lax.conv_general_dilated",
                       hint="reshape x to (1, 1, L) and the kernel to (1, 1, K), call "
                            "lax.conv_general_dilated with the padding string, reshape back.")

    def pads(c, odd_at_end=True):
        if c.mode == 0.0:
            return (0, 0)
        total = len(c.k) - 1
        return (total // 2, total - total // 2) if odd_at_end else (total - total // 2, total // 2)

    def torch_ref(c):
        if c.mode == 0.0 and len(c.k) > len(c.x):  # PyTorch refuses; lax returns an empty array
            return np.asarray(lax.conv_general_dilated(c.x[None, None], c.k[None, None], (1,),
                                                       "VALID"))[0, 0]
        xt = F.pad(torch.from_numpy(c.x.astype(np.float64))[None, None], pads(c))
        return F.conv1d(xt, torch.from_numpy(c.k.astype(np.float64))[None, None])[0, 0].numpy()

    def lax_ref(c):
        return np.asarray(lax.conv_general_dilated(c.x[None, None], c.k[None, None], (1,),
                                                   "SAME" if c.mode else "VALID"))[0, 0]

    def with_pads(c, p, kern=None):
        kern = c.k if kern is None else kern
        total = len(c.x) + p[0] + p[1] - len(kern) + 1
        if total < 0:
            return np.zeros(0)
        return conv(c.x[None, None].astype(np.float64), kern[None, None].astype(np.float64),
                    padding=[p])[0, 0]

    refs = [("PyTorch (F.conv1d, SAME = F.pad(total//2, total - total//2))", torch_ref, None, 1e-4, 1e-4),
            ("JAX (lax.conv_general_dilated with the padding string)", lax_ref, 4, 1e-5, 1e-5)]
    variants = [
        ("the modes are swapped: 0.0 means 'VALID' (no padding), 1.0 means 'SAME'.",
         lambda c: with_pads(c, (0, 0) if c.mode else
                             ((len(c.k) - 1) // 2, len(c.k) - 1 - (len(c.k) - 1) // 2))),
        ("the kernel is flipped (jnp.convolve / np.convolve flip it); lax.conv_general_dilated "
         "does not.", lambda c: with_pads(c, pads(c), c.k[::-1].copy())),
        ("for even kernels the extra zero of 'SAME' goes at the END, not the front.",
         lambda c: with_pads(c, pads(c, odd_at_end=False))),
        ("'SAME' with floor((K-1)/2) zeros on both sides loses one sample for even K; use the "
         "padding string and let lax split the K-1 zeros (front gets the smaller half).",
         lambda c: with_pads(c, ((len(c.k) - 1) // 2,) * 2 if c.mode else (0, 0))),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          fallback_hint="'VALID': length L-K+1 (empty if K > L); 'SAME': length L, "
                                        "K-1 zeros split as (front, back) = ((K-1)//2, K-1 - (K-1)//2)")
    _ok(ex, f"{len(cases)} signals (odd and even kernels, K > L included) match PyTorch and lax; "
            f"note lax returns an EMPTY array for 'VALID' with K > L instead of raising." + tally)


def check_even_kernel(out_len_sym, pads_same_k4):
    """K=4 on a length-10 signal: symmetric floor((K-1)/2) padding vs what frameworks call 'same'."""
    ex = "ex04-even-kernel"
    _require_values(ex, out_len_sym=out_len_sym, pads_same_k4=pads_same_k4)
    torch, F = _torch()
    true_len = _torch_shape("Conv1d", (1, 1, 10), 1, 1, 4, padding=(4 - 1) // 2)[-1]
    assert _jax_conv_shape((1, 1, 10), (1, 1, 4), (1,), [(1, 1)])[-1] == true_len
    if not _same_value(out_len_sym, true_len):
        hint = ("that is the textbook's claim, and it is false for even K: run it."
                if _same_value(out_len_sym, 10) else "10 + 2*1 - 4 + 1")
        raise _failure(ex, "out_len_sym does not match PyTorch and JAX", hint=hint)
    true_pads = _same_pads(10, 4, 1, 1)
    x, w = torch.randn(1, 1, 10, dtype=torch.float64), torch.randn(1, 1, 4, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.allclose(F.conv1d(x, w, padding="same"), F.conv1d(F.pad(x, true_pads), w))
    got = _as_shape(pads_same_k4)
    if got != true_pads:
        if got == true_pads[::-1]:
            hint = "right numbers, wrong sides: JAX, TensorFlow and PyTorch put the extra zero at the END."
        elif isinstance(got, tuple) and len(got) == 2 and got[0] == got[1]:
            hint = "K-1 = 3 zeros cannot be split evenly; 'same' is asymmetric for even K."
        else:
            hint = "the two numbers must add up to K - 1 = 3 so that the length stays 10."
        raise _failure(ex, "pads_same_k4 is not what lax 'SAME' / PyTorch padding='same' use", hint=hint)
    _ok(ex, "agrees with PyTorch and JAX: symmetric padding loses a sample for K=4, 'same' pads "
            "asymmetrically.")


# ==============================================================================================
# ex05 — dilation
# ==============================================================================================


def check_dilated_conv2d(fn):
    """fn(img, kern, stride=1, padding=0, dilation=1): img (H, W), kern (kh, kw) -> 2-D output."""
    ex = "ex05-dilated-conv2d"
    _require_from_scratch(ex, fn)
    rng = np.random.default_rng(501)
    specs = [(5, 5, 3, 3, 1, 0, 2), (7, 6, 2, 2, 3, 0, 1), (3, 4, 2, 3, 1, 4, 1), (6, 6, 3, 2, 2, 1, 2)]
    while len(specs) < 24:
        h, w, kh, kw = (int(rng.integers(3, 11)), int(rng.integers(3, 11)), int(rng.integers(1, 4)),
                        int(rng.integers(1, 4)))
        s, p, d = int(rng.integers(1, 5)), int(rng.integers(0, 5)), int(rng.integers(1, 4))
        if min(h, w) + 2 * p >= d * (max(kh, kw) - 1) + 1:
            specs.append((h, w, kh, kw, s, p, d))
    cases = []
    for h, w, kh, kw, s, p, d in specs:
        img, kern = rng.normal(size=(h, w)), rng.normal(size=(kh, kw))
        cases.append(Case((img, kern), {"stride": s, "padding": p, "dilation": d},
                          show={"img": img, "kern": kern, "stride": s, "padding": p, "dilation": d},
                          img=img[None, None], kern=kern[None, None], s=s, p=p, d=d))

    def ref(c, **kw):
        args = dict(stride=c.s, padding=c.p, dilation=c.d)
        args.update(kw)
        return conv(c.img, c.kern, **args)[0, 0]

    def ceil_pad(c):
        out = []
        for n in c.img.shape[2:]:
            k_eff = c.d * (c.kern.shape[-1] - 1) + 1
            r = (n + 2 * c.p - k_eff) % c.s
            out.append((c.p, c.p + (c.s - r if r else 0)))
        return out

    refs = [("PyTorch (F.conv2d)",
             lambda c: fw.torch_conv(c.img, c.kern, stride=c.s, padding=c.p, dilation=c.d)[0, 0],
             None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated)",
             lambda c: fw.jax_conv(_f32(c.img), _f32(c.kern), stride=c.s, padding=c.p,
                                   dilation=c.d)[0, 0], 4, 1e-4, 1e-4)]
    variants = [
        ("you dilated the INPUT (inserted zeros between pixels) instead of the kernel: dilation "
         "spreads the kernel taps, output (i, j) reads img[i*s + a*d, j*s + b*d].",
         lambda c: ref(c, dilation=1, input_dilation=c.d)),
        ("the dilation is ignored: taps must sit d pixels apart.", lambda c: ref(c, dilation=1)),
        ("one output row/column too many: the output size floors (use //).",
         lambda c: ref(c, padding=ceil_pad(c))),
        ("the zeros are only on the top/left: padding=p adds p on EVERY side.",
         lambda c: ref(c, padding=[(2 * c.p, 0)] * 2)),
        ("the zeros are only on the bottom/right: padding=p adds p on EVERY side.",
         lambda c: ref(c, padding=[(0, 2 * c.p)] * 2)),
        ("the stride is not applied to the window position (i*s, j*s).",
         lambda c: ref(c, stride=1)[:ref(c).shape[0], :ref(c).shape[1]]),
        ("the kernel is flipped; no flip in conv layers.",
         lambda c: conv(c.img, c.kern[..., ::-1, ::-1].copy(), stride=c.s, padding=c.p,
                        dilation=c.d)[0, 0]),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          fallback_hint="pad by p on every side, then out[i, j] = sum_{a, b} "
                                        "padded[i*s + a*d, j*s + b*d] * kern[a, b]; "
                                        "size floor((n + 2p - d(k-1) - 1) / s) + 1")
    _ok(ex, f"{len(cases)} random configurations (stride > kernel and padding > input included) "
            f"match PyTorch (F.conv2d) and JAX." + tally)


def check_effective_size(k_eff):
    """Quick check: the span of a 3x3 kernel with dilation 4."""
    ex = "ex05-effective-size"
    _require_values(ex, k_eff=k_eff)
    torch, F = _torch()
    w = torch.ones(1, 1, 3, 3)
    smallest = None
    for n in range(1, 16):  # smallest input on which a dilation-4 3x3 conv has an output
        try:
            F.conv2d(torch.zeros(1, 1, n, n), w, dilation=4)
            smallest = n
            break
        except RuntimeError:
            continue
    assert _jax_conv_shape((1, 1, smallest, smallest), (1, 1, 3, 3), (1, 1), "VALID",
                           rhs_dilation=(4, 4))[-1] == 1
    if not _same_value(k_eff, smallest):
        hint = {12: "d*k counts a gap after the last tap too; there are only k-1 gaps.",
                3: "dilation keeps 3 taps but spreads them apart; the span grows.",
                8: "count pixels from the first tap to the last one, both included."}.get(
                    k_eff if isinstance(k_eff, int) else None, "k_eff = d*(k-1) + 1")
        raise _failure(ex, "k_eff does not match the smallest input PyTorch accepts", hint=hint)
    _ok(ex, "matches PyTorch (smallest accepted input) and JAX (one output on that input).")


def check_dilate_kernel(fn):
    """fn(kern, d): kern (kh, kw) -> kernel with d-1 zeros between taps, shape (d(kh-1)+1, d(kw-1)+1)."""
    ex = "ex05-dilate-kernel"
    _require_from_scratch(ex, fn)
    _probe(ex, fn, np.ones((2, 2)), 2)
    torch, F = _torch()
    rng = np.random.default_rng(502)
    cases = []
    for i in range(16):
        kh, kw, d = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 5))
        if i == 0:
            kh, kw, d = 3, 2, 3
        kern = rng.normal(size=(kh, kw))
        cases.append(Case((kern, d), show={"kern": kern, "d": d}, kern=kern, d=d))

    def torch_equiv(c):
        # the dilated kernel, recovered from PyTorch: F.conv2d(impulse image, kern, dilation=d)
        keff = (c.d * (c.kern.shape[0] - 1) + 1, c.d * (c.kern.shape[1] - 1) + 1)
        img = torch.zeros(1, 1, 2 * keff[0] - 1, 2 * keff[1] - 1, dtype=torch.float64)
        img[0, 0, keff[0] - 1, keff[1] - 1] = 1.0
        y = F.conv2d(img, torch.from_numpy(c.kern)[None, None], dilation=c.d)[0, 0].numpy()
        return y[::-1, ::-1]  # correlating an impulse reads the kernel backwards

    refs = [("PyTorch (impulse response of F.conv2d with dilation=d)", torch_equiv, None, 1e-12, 1e-12),
            ("conv_lib.dilate", lambda c: dilate(c.kern, [c.d, c.d]), None, 0, 0)]
    variants = [
        ("you put d zeros between taps; dilation d means taps d apart, i.e. d - 1 zeros between.",
         lambda c: dilate(c.kern, [c.d + 1, c.d + 1])),
        ("there are trailing zeros after the last tap (np.kron style); the dilated kernel ends "
         "on a tap: size d*(k-1) + 1.",
         lambda c: np.kron(c.kern, np.pad(np.ones((1, 1)), ((0, c.d - 1), (0, c.d - 1))))),
        ("only one axis is dilated; dilation applies to both.",
         lambda c: dilate(c.kern, [c.d, 1])),
        ("only one axis is dilated; dilation applies to both.",
         lambda c: dilate(c.kern, [1, c.d])),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants)
    _, _, lax = _jax()
    for c in cases[:3]:  # the point of the exercise, in JAX: conv with it == rhs_dilation conv
        x = rng.normal(size=(1, 1, 13, 13)).astype(np.float32)
        a = lax.conv_general_dilated(x, _f32(c.kern)[None, None], (1, 1), "VALID", rhs_dilation=(c.d, c.d))
        b = lax.conv_general_dilated(x, _f32(fn(*c.args))[None, None], (1, 1), "VALID")
        assert np.allclose(a, b, atol=1e-4)
    _ok(ex, f"{len(cases)} kernels: identical to PyTorch's dilated kernel; convolving with yours "
            f"equals lax rhs_dilation." + tally)


def check_same_padding_dilated(fn):
    """fn(k, d) -> the symmetric padding P that keeps the length at stride 1, or None if none exists."""
    ex = "ex05-same-dilated"
    _probe(ex, fn, 3, 2)
    torch, F = _torch()
    cases = [Case((k, d), show={"k": k, "d": d}, k=k, d=d) for k in range(1, 7) for d in range(1, 5)]
    order = np.random.default_rng(503).permutation(len(cases))
    cases = [cases[i] for i in order]

    def brute(c):
        n = 32  # longer than any dilated kernel tried here
        for p in range(0, c.d * c.k + 1):
            y = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, c.k), padding=p, dilation=c.d)
            if y.shape[-1] == n:
                return p
        return None

    def jax_sym(c):
        lo, hi = _same_pads(32, c.k, 1, c.d)
        return lo if lo == hi else None

    refs = [("PyTorch (brute force over symmetric paddings)", brute, None),
            ("JAX ('SAME' padding is symmetric)", jax_sym, None)]
    variants = [
        ("the textbook rule 'odd K only' is too strict: P = d(k-1)/2 works whenever d(k-1) is "
         "even, e.g. k = 4 with d = 2.",
         lambda c: c.d * (c.k - 1) // 2 if c.k % 2 else None),
        ("the dilation is missing: the kernel spans d(k-1)+1 samples.",
         lambda c: (c.k - 1) // 2 if (c.k - 1) % 2 == 0 else None),
        ("when d(k-1) is odd no integer P works (PyTorch's padding= is per side): return None.",
         lambda c: c.d * (c.k - 1) / 2),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants,
                           fallback_hint="P = d(k-1)/2 if d(k-1) is even else None")
    _ok(ex, f"all {len(cases)} (k, d) with k <= 6, d <= 4 agree with PyTorch (brute force) and "
            f"JAX 'SAME' pads." + tally)


# ==============================================================================================
# ex06 — transposed convolution
# ==============================================================================================


def _vjp_transpose(x, w, stride, padding, n_out):
    """Transposed conv as the input-gradient of a conv (jax.vjp): w is (C_in_t, C_out_t, K)."""
    jax, jnp, lax = _jax()
    fwd = functools.partial(lax.conv_general_dilated, window_strides=(stride,),
                            padding=[(padding, padding)], dimension_numbers=("NCH", "OIH", "NCH"),
                            precision=lax.Precision.HIGHEST)
    z = jnp.zeros((x.shape[0], w.shape[1], n_out), jnp.float32)
    _, pullback = jax.vjp(lambda z_: fwd(z_, jnp.asarray(_f32(w))), z)
    return np.asarray(pullback(jnp.asarray(_f32(x)))[0])


def check_conv_transpose1d(fn):
    """fn(x, w, stride=1, padding=0, output_padding=0): x (N, C_in, L), w (C_in, C_out, K)."""
    ex = "ex06-conv-transpose"
    _require_from_scratch(ex, fn)
    rng = np.random.default_rng(601)
    cases = []
    specs = [(1, 2, 3, 4, 3, 2, 1, 1), (1, 1, 1, 3, 2, 1, 0, 0), (2, 3, 2, 5, 4, 3, 2, 2)]
    while len(specs) < 20:
        n, ci, co = int(rng.integers(1, 3)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
        length, k, s = int(rng.integers(1, 9)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
        p, op = int(rng.integers(0, k)), int(rng.integers(0, s))
        if (length - 1) * s - 2 * p + k + op >= 1:
            specs.append((n, ci, co, length, k, s, p, op))
    for n, ci, co, length, k, s, p, op in specs:
        x, w = rng.normal(size=(n, ci, length)), rng.normal(size=(ci, co, k))
        cases.append(Case((x, w), {"stride": s, "padding": p, "output_padding": op},
                          show={"x": x, "w": w, "stride": s, "padding": p, "output_padding": op},
                          x=x, w=w, s=s, p=p, op=op, k=k))

    def n_out(c):
        return (c.x.shape[-1] - 1) * c.s - 2 * c.p + c.k + c.op

    def via_conv(c, w_conv, pads):
        return conv(c.x, np.ascontiguousarray(w_conv), input_dilation=c.s, padding=[pads])

    def flip_swap(c):
        return c.w.transpose(1, 0, 2)[..., ::-1]

    refs = [("PyTorch (F.conv_transpose1d)",
             lambda c: fw.torch_conv_transpose(c.x, c.w, stride=c.s, padding=c.p, output_padding=c.op),
             None, 1e-6, 1e-8),
            ("JAX (jax.vjp of the strided conv = its transpose)",
             lambda c: _vjp_transpose(c.x, c.w, c.s, c.p, n_out(c)), 3, 1e-4, 1e-4)]
    e = lambda c: c.k - 1 - c.p  # noqa: E731
    variants = [
        ("the kernel is not flipped: the transposed conv equals a conv of the dilated input with "
         "the kernel reversed in space.",
         lambda c: via_conv(c, c.w.transpose(1, 0, 2), (e(c), e(c) + c.op))),
        ("the padding is used as is; inside the equivalent conv it becomes k - 1 - padding per side "
         "(padding in a transposed conv REMOVES border outputs).",
         lambda c: via_conv(c, flip_swap(c), (c.p, c.p + c.op))),
        ("output_padding belongs at the END (it adds samples on the high side only).",
         lambda c: via_conv(c, flip_swap(c), (e(c) + c.op, e(c)))),
        ("output_padding is ignored.", lambda c: via_conv(c, flip_swap(c), (e(c), e(c)))),
        ("the input needs stride - 1 zeros BETWEEN samples (input dilation), not a strided "
         "read.", lambda c: conv(c.x, np.ascontiguousarray(flip_swap(c)), padding=[(e(c), e(c) + c.op)])),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          crash_hint="w is (C_in, C_out, K): for the equivalent conv swap its first two axes "
                                     "and flip the last one.",
                          fallback_hint="dilate x by the stride, pad (k-1-p, k-1-p+output_padding), then "
                                        "cross-correlate with w swapped to (C_out, C_in, K) and flipped")
    _ok(ex, f"{len(cases)} random configurations match PyTorch (F.conv_transpose1d) and JAX "
            f"(the vjp of the forward conv)." + tally)


def check_transpose_output_size(fn):
    """fn(n, k, s, p, op, d) -> output length of ConvTranspose1d."""
    ex = "ex06-transpose-size"
    _require_from_scratch(ex, fn, what="integer arithmetic")
    rng = np.random.default_rng(602)
    cases = []
    while len(cases) < 40:
        n, k, s, d = (int(rng.integers(1, 21)), int(rng.integers(1, 6)), int(rng.integers(1, 5)),
                      int(rng.integers(1, 4)))
        p, op = int(rng.integers(0, d * (k - 1) + 1)), int(rng.integers(0, max(s, d)))
        if (n - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1:
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
        ("that is the forward conv formula; a transposed conv inverts it: "
         "(n-1)*s - 2p + d(k-1) + output_padding + 1.",
         lambda c: (c.n + 2 * c.p - c.d * (c.k - 1) - 1) // c.s + 1),
        ("output_padding is missing (it adds samples at the end).",
         lambda c: (c.n - 1) * c.s - 2 * c.p + c.d * (c.k - 1) + 1),
        ("the dilation is missing: the kernel spans d(k-1)+1.",
         lambda c: (c.n - 1) * c.s - 2 * c.p + (c.k - 1) + c.op + 1),
        ("padding removes p samples on EACH side: - 2p.",
         lambda c: (c.n - 1) * c.s - c.p + c.d * (c.k - 1) + c.op + 1),
        ("n samples with s - 1 zeros between them make (n-1)*s + 1, not n*s.",
         lambda c: c.n * c.s - 2 * c.p + c.d * (c.k - 1) + c.op + 1),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants,
                           fallback_hint="(n - 1)*s - 2p + d(k - 1) + output_padding + 1")
    _ok(ex, f"{len(cases)} random configurations agree with PyTorch's ConvTranspose1d and JAX." + tally)


def check_conv_input_grad(fn):
    """fn(grad_y, w, n, stride, padding) -> dL/dx of y = conv1d(x, w, stride, padding), x length n."""
    ex = "ex06-input-gradient"
    _probe(ex, fn, np.ones((1, 1, 2)), np.ones((1, 1, 3)), 6, 2, 0)
    torch, F = _torch()
    jax, jnp, lax = _jax()
    rng = np.random.default_rng(603)
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

    refs = [("PyTorch (autograd: x.grad after y.backward(grad_y))", torch_grad, None, 1e-6, 1e-8),
            ("JAX (jax.vjp)", jax_grad, 4, 1e-4, 1e-4)]
    variants = [
        ("your gradient is (n + 2p - k) mod s samples short: the forward conv's floor dropped "
         "them, and output_padding=(n + 2p - k) % s gives them back (with zero gradient).",
         lambda c: conv_transpose(c.g, c.w, stride=c.s, padding=c.p)),
        ("the kernel must be used as in the forward pass (conv_transpose flips it internally); "
         "do not flip it yourself.",
         lambda c: conv_transpose(c.g, c.w[..., ::-1].copy(), stride=c.s, padding=c.p,
                                  output_padding=(c.n + 2 * c.p - c.k) % c.s)),
        ("the forward padding must be passed to the transposed conv too (it crops the border).",
         lambda c: conv_transpose(c.g, c.w, stride=c.s)[..., :c.n]),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          fallback_hint="dx = conv_transpose(grad_y, w, stride, padding, "
                                        "output_padding=(n + 2p - k) % stride)")
    _ok(ex, f"{len(cases)} random configurations: your transposed conv equals the input gradient "
            f"from PyTorch autograd and jax.vjp." + tally)


# ==============================================================================================
# ex07 — receptive field
# ==============================================================================================


def _rf_variants():
    def run(increment):
        def f(c):
            rf, jump = 1, 1
            for k, s, d in c.layers3:
                rf += increment(k, s, d, jump)
                jump *= s
            return rf
        return f

    return [
        ("that is the formula RF_n = RF_(n-1) + (k-1)*stride with the CURRENT layer's stride. The "
         "increment uses the product of all PREVIOUS strides (the jump), and the dilation.",
         run(lambda k, s, d, j: (k - 1) * s)),
        ("you scaled by the current layer's stride; the increment is d*(k-1) times the product "
         "of the strides BEFORE this layer (the jump).",
         run(lambda k, s, d, j: d * (k - 1) * s)),
        ("the jump is missing: after a stride-s layer, one step of the next layer moves s input "
         "samples, so later increments are multiplied by the product of earlier strides.",
         run(lambda k, s, d, j: d * (k - 1))),
        ("the dilation is missing: a dilated kernel spans d*(k-1)+1, so it adds d*(k-1) times "
         "the jump.", run(lambda k, s, d, j: (k - 1) * j)),
        ("the jump you use already includes this layer's stride; use the product of the strides "
         "BEFORE the layer.", run(lambda k, s, d, j: d * (k - 1) * j * s)),
        ("a dilated kernel adds d*(k-1), not d*k - 1... check the span d*(k-1)+1.",
         run(lambda k, s, d, j: (d * k - 1) * j)),
    ]


def check_receptive_field(fn):
    """fn(layers) -> receptive field; layers are (k, s, d) or (k, s) tuples (pooling: d = 1)."""
    ex = "ex07-receptive-field"
    rng = np.random.default_rng(701)
    stacks = [[(3, 1, 1)] * 3, [(2, 1, 2 ** i) for i in range(4)],
              [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1)], [(3, 2, 1), (3, 1, 2)]]
    while len(stacks) < 30:
        stack = []
        for _ in range(int(rng.integers(1, 6))):
            k, s, d = int(rng.integers(1, 6)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
            stack.append((k, s) if rng.random() < 0.25 else (k, s, d))
        stacks.append(stack)
    cases = [Case((st,), show={"layers": st}, layers=st, layers3=_layers3(st)) for st in stacks]
    refs = [("PyTorch (impulse response of a stack of F.conv1d)", lambda c: _torch_rf(c.layers3), None),
            ("JAX (jax.grad through lax.conv_general_dilated)", lambda c: _jax_rf(c.layers3), 3),
            ("conv_lib.receptive_field", lambda c: receptive_field(c.layers), None)]
    tally = _check_scalars(ex, fn, cases, refs, _rf_variants(),
                           fallback_hint="r = 1, jump = 1; per layer: r += d*(k-1)*jump; jump *= s")
    _ok(ex, f"{len(cases)} random stacks agree with impulse responses measured through PyTorch and "
            f"JAX convolutions." + tally)


def check_stacked_3x3(rf_two_3x3, equivalent_kernel, param_ratio, fewer_params):
    """Two stacked 3x3 convs vs one 5x5: receptive field, same-RF kernel, parameter ratio/difference."""
    ex = "ex07-stacked-3x3"
    _require_values(ex, rf_two_3x3=rf_two_3x3, equivalent_kernel=equivalent_kernel,
                    param_ratio=param_ratio, fewer_params=fewer_params)
    torch, _ = _torch()
    rf = _torch_rf([(3, 1, 1)] * 2)
    assert rf == _jax_rf([(3, 1, 1)] * 2)
    if not _same_value(rf_two_3x3, rf):
        raise _failure(ex, "rf_two_3x3 does not match the impulse response through two 3x3 convs",
                       hint="each stride-1 3x3 layer widens the field by k-1 = 2 pixels."
                            if not _same_value(rf_two_3x3, 6) else
                            "6 = 3 + 3 double counts the centre pixel; add k-1 per layer, from 1.")
    single = next((k for k in range(1, 20) if _torch_rf([(k, 1, 1)]) == rf), None)
    if not _same_value(equivalent_kernel, single):
        raise _failure(ex, "equivalent_kernel is not the single kernel with the same receptive field",
                       hint="one stride-1 layer sees exactly k pixels per axis.")
    count = lambda k: sum(p.numel() for p in torch.nn.Conv2d(1, 1, k, bias=False).parameters())  # noqa: E731
    two, one = 2 * count(3), count(single)
    if not isinstance(param_ratio, (int, float, np.floating)) or not np.isclose(param_ratio, two / one):
        hint = ("inverted: divide the two-3x3 count by the 5x5 count."
                if isinstance(param_ratio, (int, float)) and np.isclose(param_ratio, one / two) else
                "count per (input, output) channel pair: 3*3 weights per layer, two layers, vs 5*5.")
        raise _failure(ex, "param_ratio does not match the parameter counts of nn.Conv2d", hint=hint)
    if not _same_value(fewer_params, one - two):
        raise _failure(ex, "fewer_params does not match the parameter counts of nn.Conv2d",
                       hint="5*5 minus 2*(3*3), per channel pair, without bias.")
    _ok(ex, "receptive fields match impulse responses (PyTorch and JAX), parameter counts match "
            "nn.Conv2d.")


def check_pooled_rf(rf_pooled):
    """Quick check: conv3 s1, conv3 s1, pool2 s2, conv3 s1, conv3 s1."""
    ex = "ex07-pooled"
    _require_values(ex, rf_pooled=rf_pooled)
    layers = [(3, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1), (3, 1, 1)]
    torch, F = _torch()
    truth = _torch_rf(layers)
    assert truth == _jax_rf(layers) == receptive_field(layers)
    # average pooling in PyTorch sees the same region as the equivalent all-ones conv
    x = torch.ones(1, 1, 40, dtype=torch.float64, requires_grad=True)
    ones3 = torch.ones(1, 1, 3, dtype=torch.float64)
    y = F.avg_pool1d(F.conv1d(F.conv1d(x, ones3), ones3), 2, 2)
    y = F.conv1d(F.conv1d(y, ones3), ones3)
    y[0, 0, 0].backward()
    first, last = _impulse_span(x.grad[0, 0].numpy())
    assert last - first + 1 == truth
    if not _same_value(rf_pooled, truth):
        case = Case(layers3=layers)
        hint = next((h for h, f in _rf_variants() if _same_value(rf_pooled, f(case))),
                    "r += d*(k-1)*jump per layer, where jump is the product of the strides BEFORE it; "
                    "the pool is a layer with k = 2, s = 2.")
        raise _failure(ex, "rf_pooled does not match the impulse response through PyTorch "
                           "(conv, conv, avg_pool1d, conv, conv) and JAX", hint=hint)
    _ok(ex, "matches the impulse response through PyTorch (with avg_pool1d) and JAX.")


def check_wavenet(model_cls, measure_rf):
    """The WaveNet challenge: a causal dilated stack (k=2, dilations 1..512) in PyTorch.

    model_cls(channels) -> nn.Module with forward(x, depth=None) (x: (N, channels, T), first
    ``depth`` layers only); measure_rf(model) prints and returns the receptive field after each layer.
    """
    ex = "ex07-wavenet"
    torch, _ = _torch()
    with torch.random.fork_rng():
        torch.manual_seed(7)
        model = _call(ex, model_cls, 2)
    t_len = 1100
    gen = torch.Generator().manual_seed(8)
    x = torch.randn(1, 2, t_len, generator=gen)
    with torch.no_grad():
        y = _call(ex, model, x)
    if tuple(y.shape) != (1, 2, t_len):
        short = t_len - y.shape[-1]
        hint = {1023: "no padding at all: each layer must first pad d*(k-1) zeros on the left.",
                1013: "the padding ignores the dilation: pad d*(k-1) = d zeros, not k-1 = 1."}.get(
                    short, "pad each layer by d*(k-1) on the left, so every layer keeps the length.")
        raise _failure(ex, "the output length differs from the input length",
                       config={"x": tuple(x.shape)},
                       details=[f"expected shape (1, 2, {t_len}), got {tuple(y.shape)}"], hint=hint)
    t0 = 700
    x2 = x.clone()
    x2[..., t0 + 1:] = torch.randn(1, 2, t_len - t0 - 1, generator=gen)
    with torch.no_grad():
        y2 = model(x2)
    if not torch.allclose(y[..., :t0 + 1], y2[..., :t0 + 1], atol=1e-6):
        bad = int(torch.nonzero((y[..., :t0 + 1] - y2[..., :t0 + 1]).abs().amax(1)[0] > 1e-6)[0])
        raise _failure(ex, "the stack is not causal: changing inputs after t = 700 changed outputs "
                           "at or before t = 700",
                       details=[f"first changed output: t = {bad}"],
                       hint="all d*(k-1) padding zeros must go on the LEFT (F.pad(x, (d*(k-1), 0)));"
                            " zeros on the right let y[t] see x[t+1], ...")
    measured = []
    for depth in range(1, 11):
        xg = torch.randn(1, 2, t_len, generator=gen, requires_grad=True)
        out = _call(ex, model, xg, depth, config={"depth": depth})
        out[0, :, -1].sum().backward()
        first, last = _impulse_span(xg.grad[0].abs().sum(0).numpy())
        measured.append(last - first + 1)
    expected = [receptive_field([(2, 1, 2 ** i) for i in range(n)]) for n in range(1, 11)]
    if measured != expected:
        hint = ("the dilation does not double: layer i needs dilation 2**i."
                if measured == list(range(2, 12)) else
                "layer i (from 0) is nn.Conv1d(C, C, 2, dilation=2**i); forward(x, depth) must run "
                "only the first `depth` layers.")
        raise _failure(ex, "receptive fields measured by backpropagation through your model "
                           "(last output, first `depth` layers) are not 2, 4, ..., 1024",
                       details=[f"measured {measured}"], hint=hint)
    buf = io.StringIO()
    with redirect_stdout(buf):
        reported = _call(ex, measure_rf, model)
    if not buf.getvalue().strip():
        raise _failure(ex, "measure_rf printed nothing",
                       hint="print the receptive field after each layer (and return the list).")
    reported = [int(v) for v in reported] if isinstance(reported, (list, tuple)) else reported
    if reported != measured:
        raise _failure(ex, "measure_rf does not return what backpropagation through the model shows",
                       details=[f"expected {measured}, got {reported!r}"],
                       hint="for each depth, backpropagate from the LAST output and count the inputs "
                            "with a non-zero gradient (from the first to the last).")
    # JAX: the same stack with the student's weights, causal padding written as lax pairs
    _, jnp, lax = _jax()
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv1d)]
    yj = jnp.asarray(x.numpy())
    for m in convs:
        (k,), (d,) = m.kernel_size, m.dilation
        yj = lax.conv_general_dilated(yj, jnp.asarray(m.weight.detach().numpy()), (1,),
                                      [(d * (k - 1), 0)], rhs_dilation=(d,),
                                      precision=lax.Precision.HIGHEST)
        if m.bias is not None:
            yj = yj + jnp.asarray(m.bias.detach().numpy())[:, None]
    if len(convs) == 10 and not np.allclose(np.asarray(yj), y.numpy(), rtol=1e-3, atol=1e-4):
        raise _failure(ex, "your stack differs from the same causal stack rebuilt in JAX from your "
                           "weights", hint="keep the stack linear (no activations) and pad only "
                                           "on the left, by d*(k-1) per layer.")
    _ok(ex, "length preserved, causal, receptive field doubles 2 -> 1024 (measured by backprop), "
            "and the same stack in JAX gives the same output.")


# ==============================================================================================
# ex08 — frameworks
# ==============================================================================================


def _flax_pairs(padding, in_sizes, kernel, strides, dilation):
    """Flax/lax padding attribute -> list of (lo, hi) pairs (for hints)."""
    from conv_lib.shapes import resolve_padding

    if isinstance(padding, str):
        return resolve_padding(padding.lower(), in_sizes, kernel, strides, dilation)
    if isinstance(padding, int):
        return [(padding, padding)] * len(kernel)
    return [tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in padding]


def _tuple2(v, default=1):
    if v is None:
        return (default, default)
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else tuple(int(a) for a in v)


def _diagnose_port(layer, tlayer, in_sizes):
    """A hint comparing the Flax layer's attributes with the PyTorch layer's."""
    nnx = _nnx()
    if not isinstance(layer, nnx.Conv):
        return f"port_conv2d should return an nnx.Conv, got {type(layer).__name__}."
    w = tlayer.weight.detach().numpy()
    hwio = w.transpose(2, 3, 1, 0)
    kernel = np.asarray(layer.kernel[...])
    if kernel.shape != hwio.shape:
        return (f"the kernel has shape {kernel.shape}; Flax wants HWIO = (kh, kw, C_in/groups, "
                f"C_out) = {hwio.shape}, i.e. weight.permute(2, 3, 1, 0).")
    if not np.allclose(kernel, hwio, atol=1e-6):
        if np.allclose(kernel, w.reshape(hwio.shape), atol=1e-6):
            return ("you RESHAPED the OIHW weight to the HWIO shape; the axes must be moved "
                    "(transpose(2, 3, 1, 0)), a reshape scrambles the numbers.")
        if np.allclose(kernel, hwio[::-1, ::-1], atol=1e-6):
            return "the kernel is flipped in space; neither framework flips kernels."
        return "the kernel values are not the PyTorch weights moved to HWIO (transpose(2, 3, 1, 0))."
    pairs = [(p, p) for p in tlayer.padding]
    if _flax_pairs(layer.padding, in_sizes, tlayer.kernel_size, _tuple2(layer.strides),
                   _tuple2(layer.kernel_dilation)) != pairs:
        return (f"padding: the Flax layer has padding={layer.padding!r} but PyTorch pads "
                f"{tuple(tlayer.padding)} on each side. Flax's DEFAULT is 'SAME', PyTorch's is 0: "
                f"pass padding=[(p, p) for p in layer.padding].")
    if _tuple2(layer.strides) != tuple(tlayer.stride):
        return f"strides: Flax layer has {layer.strides!r}, PyTorch layer has {tlayer.stride}."
    if _tuple2(layer.kernel_dilation) != tuple(tlayer.dilation):
        return (f"kernel_dilation: Flax layer has {layer.kernel_dilation!r}, PyTorch's dilation is "
                f"{tlayer.dilation}.")
    if layer.feature_group_count != tlayer.groups:
        return (f"groups ignored: PyTorch groups={tlayer.groups} is Flax's feature_group_count "
                f"(yours is {layer.feature_group_count}).")
    if (layer.bias is None) != (tlayer.bias is None):
        return "use_bias must follow the PyTorch layer (bias=None means no bias)."
    if tlayer.bias is not None and not np.allclose(np.asarray(layer.bias[...]),
                                                   tlayer.bias.detach().numpy(), atol=1e-6):
        return "the bias was not copied: set flax_layer.bias[...] = the PyTorch bias."
    return None


def check_port_conv(port_conv2d, forward_nchw):
    """port_conv2d(nn.Conv2d) -> nnx.Conv with copied weights; forward_nchw(flax_layer, x_nchw) -> NCHW."""
    ex = "ex08-port-layer"
    torch, _ = _torch()
    configs = [dict(kernel_size=3, padding=1),
               dict(kernel_size=3, stride=2, dilation=2, bias=False),
               dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 0)),
               dict(kernel_size=3, groups=2, padding=2),
               dict(kernel_size=(2, 3), dilation=(2, 1), padding=(0, 2)),
               dict(kernel_size=3, stride=3, padding=1)]
    gen = torch.Generator().manual_seed(801)
    x = torch.randn(2, 4, 9, 11, generator=gen)
    for i, cfg in enumerate(configs):
        with torch.random.fork_rng():
            torch.manual_seed(810 + i)
            tlayer = torch.nn.Conv2d(4, 6, **cfg)
            with torch.no_grad():
                if tlayer.bias is not None:
                    tlayer.bias.normal_()
        show = {"torch layer": repr(tlayer), "x": tuple(x.shape)}
        layer = _call(ex, port_conv2d, tlayer, config=show,
                      hint="the Flax kernel is HWIO: (kh, kw, C_in // groups, C_out); with "
                           "groups > 1 pass feature_group_count=groups, otherwise Flax expects all "
                           "C_in input channels per filter.")
        got = _to_numpy(ex, _call(ex, forward_nchw, layer, x.numpy(), config=show), show)
        with torch.no_grad():
            expected = tlayer(x).numpy().astype(np.float64)
        problems = _array_diff(got, expected, 1e-4, 1e-4)
        if problems:
            hint = _diagnose_port(layer, tlayer, x.shape[2:])
            if hint is None and got.shape == expected.transpose(0, 2, 3, 1).shape:
                hint = "the result is still NHWC: move the channel axis back, transpose(0, 3, 1, 2)."
            if hint is None and got.shape[1:] == expected.shape[1:][::-1]:
                hint = "the input must go NCHW -> NHWC with transpose(0, 2, 3, 1) (not a reshape)."
            raise _failure(ex, f"configuration {i + 1} of {len(configs)}: the Flax output differs "
                               f"from PyTorch's", config=show, details=problems, hint=hint)
    _ok(ex, f"{len(configs)} PyTorch Conv2d layers (stride, padding, dilation, groups, bias) ported "
            f"to nnx.Conv give the same outputs.")


def check_flax_shapes(unbatched, multi_batch, valid_100, causal_pad_100, kernel_dilated, input_dilated):
    """The Flax guide's shape predictions, each checked by running nnx.Conv."""
    ex = "ex08-flax-shapes"
    values = dict(unbatched=unbatched, multi_batch=multi_batch, valid_100=valid_100,
                  causal_pad_100=causal_pad_100, kernel_dilated=kernel_dilated,
                  input_dilated=input_dilated)
    _require_values(ex, **values)
    nnx = _nnx()
    _, jnp, _ = _jax()
    zeros = nnx.initializers.zeros_init()

    def run(layer_args, layer_kwargs, shape):
        layer = nnx.Conv(*layer_args, kernel_init=zeros, rngs=nnx.Rngs(0), **layer_kwargs)
        return tuple(layer(jnp.ones(shape)).shape)

    truth = {
        "unbatched": run((3, 4, (5, 5)), {}, (32, 32, 3)),
        "multi_batch": run((3, 4, (5, 5)), {}, (1, 1, 32, 32, 3)),
        "valid_100": run((3, 4, 5), {"padding": "VALID"}, (128, 100, 3)),
        "causal_pad_100": run((3, 4, 5), {"padding": [(4, 0)]}, (100, 3)),
        "kernel_dilated": run((5, 6, 7), {"padding": "VALID", "kernel_dilation": 2}, (224, 5)),
        "input_dilated": run((5, 6, 7), {"padding": [(0, 0)], "input_dilation": 2}, (224, 5)),
    }
    hints = {
        "unbatched": "Flax does not add a batch axis: a (H, W, C) input gives an (H, W, C_out) output; "
                     "and the default padding is 'SAME'.",
        "multi_batch": "every axis before the spatial ones counts as a batch axis and is kept.",
        "valid_100": "(128, 100, 3) with a length-5 kernel is 128 sequences of length 100; 'VALID' "
                     "drops k - 1 samples.",
        "causal_pad_100": "[(4, 0)] adds 4 zeros on the left only: 100 + 4 - 5 + 1.",
        "kernel_dilated": "the kernel spans d*(k-1)+1 = 13 samples, so 'VALID' drops 12.",
        "input_dilated": "input_dilation=2 turns 224 samples into (224-1)*2+1, then a 7-tap valid "
                         "conv drops 6.",
    }
    for name, value in values.items():
        if _as_shape(value) != truth[name]:
            raise _failure(ex, f"{name} is not the shape nnx.Conv returns", hint=hints[name])
    _ok(ex, "all six predictions agree with what flax.nnx.Conv returns.")


def check_grouped_conv1d(fn):
    """fn(x, w, groups): x (N, C_in, L), w (C_out, C_in // groups, K) -> (N, C_out, L - K + 1)."""
    ex = "ex08-grouped-conv"
    _require_from_scratch(ex, fn)
    rng = np.random.default_rng(803)
    cases = []
    for i in range(20):
        g = int(rng.integers(1, 5)) if i else 2
        cg, og = int(rng.integers(1, 4)), int(rng.integers(1, 3))
        if i == 0:
            cg, og = 2, 2
        length, k, n = int(rng.integers(3, 11)), int(rng.integers(1, 4)), int(rng.integers(1, 3))
        x, w = rng.normal(size=(n, g * cg, length)), rng.normal(size=(g * og, cg, k))
        cases.append(Case((x, w, g), show={"x": x, "w": w, "groups": g}, x=x, w=w, g=g))

    def interleaved(c):
        c_out, cg = c.w.shape[0], c.w.shape[1]
        y = []
        for o in range(c_out):
            grp = o % c.g
            y.append(conv(c.x[:, grp * cg:(grp + 1) * cg], c.w[o:o + 1]))
        return np.concatenate(y, axis=1)

    refs = [("PyTorch (F.conv1d, groups=g)", lambda c: fw.torch_conv(c.x, c.w, groups=c.g), None, 1e-6, 1e-8),
            ("JAX (lax.conv_general_dilated, feature_group_count=g)",
             lambda c: fw.jax_conv(_f32(c.x), _f32(c.w), groups=c.g), 5, 1e-4, 1e-4)]
    variants = [
        ("groups ignored: every output channel reads the FIRST C_in/groups input channels. Output "
         "channel o belongs to group o // (C_out // groups) and must read that group's inputs.",
         lambda c: conv(c.x[:, :c.w.shape[1]], c.w)),
        ("the groups are interleaved: consecutive output channels belong to the SAME group "
         "(o // (C_out // groups)), not o % groups.", interleaved),
    ]
    tally = _check_arrays(ex, fn, cases, refs, variants,
                          crash_hint="w has only C_in // groups input channels: slice x per group.",
                          fallback_hint="for g in range(groups): y[:, g*Og:(g+1)*Og] = conv(x[:, g*Cg:(g+1)*Cg], "
                                        "w[g*Og:(g+1)*Og])")
    _ok(ex, f"{len(cases)} random grouped convolutions match PyTorch (groups) and JAX "
            f"(feature_group_count)." + tally)


def check_depthwise_separable(make_depthwise, separable_params):
    """make_depthwise(channels, kernel_size, multiplier, rngs) -> nnx.Conv (SAME, grouped);
    separable_params(c_in, c_out, k) -> (standard, separable) parameter counts, biases included."""
    ex = "ex08-depthwise-separable"
    torch, F = _torch()
    nnx = _nnx()
    _, jnp, _ = _jax()
    rng = np.random.default_rng(804)
    for channels, k, mult in [(3, 3, 1), (4, 5, 2)]:
        show = {"channels": channels, "kernel_size": k, "multiplier": mult}
        layer = _call(ex, make_depthwise, channels, k, mult, nnx.Rngs(0), config=show)
        kernel = np.array(layer.kernel[...])
        want = (k, k, 1, channels * mult)
        if kernel.shape != want:
            hint = ("groups ignored: with feature_group_count=channels each filter sees ONE input "
                    "channel, so the kernel is (k, k, 1, channels * multiplier)."
                    if kernel.shape == (k, k, channels, channels * mult) else
                    "out_features = channels * multiplier, feature_group_count = channels.")
            raise _failure(ex, "the depthwise kernel has the wrong shape", config=show,
                           details=[f"expected {want}, got {kernel.shape}"], hint=hint)
        x = rng.normal(size=(2, 9, 9, channels)).astype(np.float32)
        got = np.asarray(layer(jnp.asarray(x)), dtype=np.float64)
        bias = None if layer.bias is None else torch.from_numpy(np.array(layer.bias[...]))
        expected = F.conv2d(torch.from_numpy(x).permute(0, 3, 1, 2),
                            torch.from_numpy(fw.hwio_to_oihw(kernel)), bias, padding="same",
                            groups=channels).permute(0, 2, 3, 1).numpy()
        problems = _array_diff(got, expected, 1e-4, 1e-4)
        if problems:
            raise _failure(ex, "the depthwise layer differs from PyTorch's grouped conv with the same "
                               "weights", config=show, details=problems,
                           hint="keep the spatial size (padding='SAME') and set "
                                "feature_group_count=channels.")
    cases = []
    for _ in range(15):
        ci, co, k = int(rng.integers(1, 65)), int(rng.integers(1, 129)), int(rng.choice([1, 3, 5, 7]))
        cases.append(Case((ci, co, k), show={"c_in": ci, "c_out": co, "k": k}, ci=ci, co=co, k=k))

    def count(*layers):
        return sum(p.numel() for layer in layers for p in layer.parameters())

    def torch_counts(c):
        std = torch.nn.Conv2d(c.ci, c.co, c.k, device="meta")
        dw = torch.nn.Conv2d(c.ci, c.ci, c.k, groups=c.ci, device="meta")
        pw = torch.nn.Conv2d(c.ci, c.co, 1, device="meta")
        return (count(std), count(dw, pw))

    refs = [("PyTorch (parameters of Conv2d / depthwise + pointwise Conv2d)", torch_counts, None),
            ("conv_lib.conv_params",
             lambda c: (conv_params(c.ci, c.co, (c.k, c.k)),
                        conv_params(c.ci, c.ci, (c.k, c.k), groups=c.ci) + conv_params(c.ci, c.co, (1, 1))),
             None)]
    variants = [
        ("the biases are missing (every conv here has one bias per output channel).",
         lambda c: (c.co * c.ci * c.k * c.k, c.ci * c.k * c.k + c.co * c.ci)),
        ("the depthwise conv was counted like a full conv (groups ignored): each of its filters "
         "sees one channel, so it has c_in * k * k weights.",
         lambda c: (c.co * c.ci * c.k * c.k + c.co, c.ci * c.ci * c.k * c.k + c.ci + c.co * c.ci + c.co)),
    ]
    tally = _check_scalars(ex, separable_params, cases, refs, variants,
                           normalise=_as_tuple,
                           fallback_hint="standard: c_out*c_in*k*k + c_out; separable: (c_in*k*k + c_in) + "
                                         "(c_out*c_in + c_out)")
    _ok(ex, "the depthwise layer matches PyTorch's groups=C conv; parameter counts match PyTorch "
            f"and conv_lib on {len(cases)} shapes." + tally)


# ==============================================================================================
# ex10 — temporal convolutional networks
# ==============================================================================================


def _torch_block(x_btc, params, dilation, *, residual=True, final_relu=True, dil=None):
    """PyTorch re-implementation of the causal TemporalBlock (eval mode), from Flax parameters."""
    torch, F = _torch()
    d = dilation if dil is None else dil
    t = lambda a: None if a is None else torch.from_numpy(np.asarray(a, dtype=np.float64))  # noqa: E731
    x = t(x_btc).permute(0, 2, 1)

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
    return y.permute(0, 2, 1).numpy()


def _flax_params(block):
    def get(conv_layer):
        if conv_layer is None:
            return None
        bias = None if conv_layer.bias is None else np.asarray(conv_layer.bias[...])
        return (np.asarray(conv_layer.kernel[...]), bias)

    return {"conv1": get(block.conv1), "conv2": get(block.conv2),
            "downsample": get(getattr(block, "downsample", None))}


def check_temporal_block(block_cls):
    """TemporalBlock(in_channels, out_channels, kernel_size, dilation, dropout, rngs) in Flax NNX."""
    ex = "ex10-temporal-block"
    nnx = _nnx()
    _, jnp, _ = _jax()
    rng = np.random.default_rng(1001)
    configs = [dict(in_channels=3, out_channels=5, kernel_size=3, dilation=2, dropout=0.3),
               dict(in_channels=5, out_channels=5, kernel_size=3, dilation=4, dropout=0.5)]
    for cfg in configs:
        show = dict(cfg)
        block = _call(ex, block_cls, rngs=nnx.Rngs(0), config=show, **cfg)
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
                           config=show, hint="both convs need padding='CAUSAL' (or [(d*(k-1), 0)]): "
                                             "all padding on the left.")
        params = _flax_params(block)
        d = cfg["dilation"]
        expected = _torch_block(x, params, d)
        problems = _array_diff(y, expected, 1e-4, 1e-4)
        if problems:
            hint = None
            for text, kw in [("the residual connection is missing: add x (or downsample(x)) before "
                              "the last ReLU.", {"residual": False}),
                             ("the final ReLU (after the residual add) is missing.", {"final_relu": False}),
                             ("the convs ignore the dilation: pass kernel_dilation=dilation.", {"dil": 1})]:
                if np.allclose(y, _torch_block(x, params, d, **kw), atol=1e-4):
                    hint = text
                    break
            raise _failure(ex, "in eval mode the block differs from a PyTorch re-implementation with "
                               "your weights (causal F.pad + conv1d, ReLU, conv1d, ReLU, + residual, "
                               "ReLU)", config=show, details=problems, hint=hint)
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


def check_tcn_receptive_field(fn):
    """fn(kernel_size, n_levels) -> receptive field of a TCN (two causal dilated convs per level)."""
    ex = "ex10-tcn-receptive-field"
    cases = [Case((k, lv), show={"kernel_size": k, "n_levels": lv}, k=k, lv=lv)
             for k, lv in [(3, 3), (2, 1), (2, 4), (3, 1), (4, 2), (5, 3), (2, 6), (3, 5), (4, 4),
                           (5, 1), (2, 2), (3, 6)]]
    refs = [("PyTorch (impulse response through the causal conv stack)",
             lambda c: _torch_rf(_tcn_layers(c.k, c.lv)), None),
            ("JAX (jax.grad through the same stack)", lambda c: _jax_rf(_tcn_layers(c.k, c.lv)), 2),
            ("conv_lib.receptive_field", lambda c: receptive_field(_tcn_layers(c.k, c.lv)), None)]
    variants = [
        ("each level has TWO dilated convs, and both widen the field.",
         lambda c: 1 + (c.k - 1) * (2 ** c.lv - 1)),
        ("you forgot the starting 1 (the output sample itself).",
         lambda c: 2 * (c.k - 1) * (2 ** c.lv - 1)),
        ("the dilations are 1, 2, 4, ..., 2**(n_levels-1): level i uses 2**i, starting at i = 0.",
         lambda c: 1 + 2 * (c.k - 1) * (2 ** (c.lv + 1) - 2)),
    ]
    tally = _check_scalars(ex, fn, cases, refs, variants,
                           fallback_hint="sum over levels i of 2 * (k-1) * 2**i, plus 1")
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


def check_tcn_usage(out_shape, rf):
    """The guide's usage: TCN(5, [25, 25, 25], 1, kernel_size=3) on (32, 1024, 5)."""
    ex = "ex10-tcn-usage"
    _require_values(ex, out_shape=out_shape, rf=rf)
    nnx = _nnx()
    _, jnp, _ = _jax()
    true_shape = tuple(_reference_tcn(nnx, 5, [25, 25, 25], 1, 3)(jnp.ones((32, 1024, 5))).shape)
    if _as_shape(out_shape) != true_shape:
        got = _as_shape(out_shape)
        hint = ("the decoder (a 1x1 conv) maps the last hidden size to out_features."
                if isinstance(got, tuple) and len(got) == 3 and got[:2] == true_shape[:2] else
                "causal padding keeps T, and the batch axis is untouched.")
        raise _failure(ex, "out_shape is not what the TCN returns when run", hint=hint)
    true_rf = _torch_rf(_tcn_layers(3, 3))
    assert true_rf == receptive_field(_tcn_layers(3, 3))
    if not _same_value(rf, true_rf):
        hint = {15: "each level has TWO convs with the same dilation.",
                28: "start from 1 (the current sample)."}.get(rf if isinstance(rf, int) else None,
                                                              "1 + sum over levels of 2*(k-1)*2**i")
        raise _failure(ex, "rf does not match the impulse response through the TCN's conv stack",
                       hint=hint)
    _ok(ex, "shape matches the Flax TCN run on (32, 1024, 5); receptive field matches the impulse "
            "response (PyTorch) and conv_lib.")
