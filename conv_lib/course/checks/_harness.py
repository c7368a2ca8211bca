"""The machinery every exercise check shares: lazy framework imports, messages, calling the
student's code, comparing arrays and values, and choosing the hint of the known-wrong variant that
reproduces an answer."""

import functools

import numpy as np


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


NOT_ATTEMPTED = ("not attempted yet: replace the `raise NotImplementedError(...)` line (or the `...` "
                 "placeholder) in the answer cell with your solution, run that cell, then run this "
                 "check again.")


class CheckBug(RuntimeError):
    """A check's own reference computations disagree with each other: never the student's fault."""


def _consistent(ex, condition, what):
    """Guard a reference computation of the check itself (PyTorch vs JAX vs the library, ...).

    Raises ``CheckBug`` (not an AssertionError, so it is never graded as a wrong answer) when
    ``condition`` is false; ``what`` says which two computations disagreed.
    """
    if not condition:
        raise CheckBug(f"{ex}: bug in the check, not in your answer; please report it "
                       f"({what}).")


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
