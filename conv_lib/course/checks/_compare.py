"""Comparing an answer with references case by case, and naming the mistake it reproduces.

A check hands ``_check_arrays`` / ``_check_scalars`` its cases, its references (PyTorch, JAX, ...)
and its known-wrong variants. On the first mismatch the failure shows the *smallest* failing case
(with the values of inputs, expected and obtained output when they are short enough to read) and
the tier-1 hint of the variant that reproduces the answer; the exercise's formula is added by the
harness only on a repeated failure.

Variants are ``(slug, make)`` pairs whose texts live in the exercise module's ``DIAGNOSES`` table
under ``"<exercise>/<slug>"`` (``(text, make)`` pairs with an inline text still work).
"""
import numpy as np

from ._harness import (DIAGNOSES, EXERCISES, SMALL, _call, _failure, _fmt_value, _not_attempted,
                       _to_numpy, protect)


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


def _variant_text(ex, variant):
    """(tier-1 text, diagnosis id or None, make) of a variant given as (slug|text, make)."""
    label, make = variant
    if " " not in label:
        key = f"{ex}/{label}"
        if key not in DIAGNOSES:
            raise KeyError(f"{key} is missing from the DIAGNOSES table of its exercise module")
        return DIAGNOSES[key].tier1, key, make
    return label, None, make


def _best_hint(fn, cases, failing, got, variants, array=False, normalise=None, max_cases=12, ex=""):
    """(tier-1 hint, diagnosis id) of the known-wrong variant that explains the answer best.

    Candidates are the variants reproducing the answer on the failing case; when several do (a
    coincidence on that one configuration), the one that also reproduces the answers on the most
    other cases wins. (None, None) when no variant matches.
    """
    failed = object()
    variants = [_variant_text(ex, v) for v in variants]

    def run_variant(make, case):
        try:
            return make(case)
        except Exception:
            return failed

    candidates = [(text, key, make) for text, key, make in variants
                  if (w := run_variant(make, cases[failing])) is not failed
                  and _variant_matches(got, w, array)]
    if len(candidates) <= 1:
        return candidates[0][:2] if candidates else (None, None)
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
    for _, _, make in candidates:
        score = 0
        for case, out in zip(others, answers):
            w = run_variant(make, case)
            if out is not failed and w is not failed and _variant_matches(out, w, array):
                score += 1
        scores.append(score)
    return candidates[int(np.argmax(scores))][:2]


class Case:
    """One random configuration: positional/keyword arguments plus what to show on failure."""

    def __init__(self, args=(), kwargs=None, show=None, **extra):
        self.args, self.kwargs = tuple(args), dict(kwargs or {})
        self.show = show if show is not None else {}
        self.__dict__.update(extra)

    def __call__(self, fn):
        return fn(*self.args, **self.kwargs)

    def size(self):
        """(how many numbers the inputs hold, how large the scalar ones are): smaller reads easier."""
        count = magnitude = 0
        for v in list(self.args) + list(self.kwargs.values()):
            if isinstance(v, (list, tuple, str)):
                count += len(str(v))
            elif np.ndim(v) == 0 and isinstance(v, (int, float, np.integer, np.floating)):
                count, magnitude = count + 1, magnitude + abs(float(v))
            else:
                count += int(np.size(v))
        return count, magnitude


def _smallest_failing(fn, cases, first, ref, compare):
    """Index of the smallest case (by input size) on which ``fn`` disagrees with ``ref``."""
    best, best_size = first, cases[first].size()
    name, make, limit = ref[:3]
    for j, case in enumerate(cases):
        if j == first or case.size() >= best_size or (limit is not None and j >= limit):
            continue
        try:
            if not compare(case(fn), make(case)):
                best, best_size = j, case.size()
        except Exception:  # crashes are reported on the case where they happen first
            continue
    return best


def _concept(ex):
    return EXERCISES.get(ex, (None, None))[0]


def _shown(label, value):
    value = np.asarray(value)
    return [f"{label}: {_fmt_value(value)}"] if value.size <= SMALL else []


def _check_arrays(ex, fn, cases, refs, variants=(), fallback_hint=None, crash_hint=None):
    """Run ``fn`` on every case and compare with each reference.

    refs: list of (name, make(case) -> array, n_cases or None for all, rtol, atol).
    fallback_hint: the formula (tier 2) when the exercise table has none.
    Returns the tally for the success line.
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
                def same(out, want, rtol=rtol, atol=atol):
                    return _array_diff(_to_numpy(ex, out), np.asarray(want, np.float64), rtol, atol) is None
                j = _smallest_failing(fn, cases, i, refs[r], same) if r == 0 else i
                if j != i:
                    case = cases[j]
                    got = _to_numpy(ex, case(fn))
                    expected = np.asarray(make(case), dtype=np.float64)
                    problems = _array_diff(got, expected, rtol, atol)
                hint, key = _best_hint(fn, cases, j, got, variants, array=True, ex=ex)
                raise _failure(ex, f"case {j + 1} of {len(cases)} does not match {name}",
                               config=case.show,
                               details=problems + _shown("expected", expected) + _shown("got", got),
                               hint=hint or _concept(ex), diagnosis=key, formula=fallback_hint)
    return _tally(refs, counts)


def _check_scalars(ex, fn, cases, refs, variants=(), fallback_hint=None, normalise=None):
    """Like ``_check_arrays`` for functions returning ints or tuples (compared exactly).

    refs: list of (name, make(case) -> value, n_cases or None).
    variants: list of (slug or hint text, make(case) -> wrong value).
    """
    if fn is Ellipsis or fn is None:
        raise _not_attempted(ex)
    counts = [0] * len(refs)
    norm = normalise or (lambda v: v)
    for i, case in enumerate(cases):
        got = norm(_call(ex, case, fn, config=case.show))
        for r, (name, make, limit) in enumerate(refs):
            if limit is not None and i >= limit:
                continue
            expected = make(case)
            counts[r] += 1
            if not _same_value(got, expected):
                j = _smallest_failing(fn, cases, i, refs[r],
                                      lambda out, want: _same_value(norm(out), want)) if r == 0 else i
                if j != i:
                    case, got, expected = cases[j], norm(cases[j](fn)), make(cases[j])
                hint, key = _best_hint(fn, cases, j, got, variants, normalise=normalise, ex=ex)
                raise _failure(ex, f"case {j + 1} of {len(cases)} does not match {name}",
                               config=case.show, details=[f"expected {expected!r}, got {got!r}"],
                               hint=hint or _concept(ex), diagnosis=key, formula=fallback_hint)
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


protect(_array_diff, _variant_matches, _best_hint, Case, _smallest_failing, _check_arrays,
        _check_scalars, _tally, _same_value, _as_shape, _as_tuple)
