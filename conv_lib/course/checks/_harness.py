"""The machinery every exercise check shares.

* **Seeds.** Random cases come from ``case_rng(exercise_id)``, seeded by ``CONV_KNOBS_CHECK_SEED``
  (read at call time; ``PRACTICE_SEED`` when unset). Practice runs therefore see the same cases
  every time, and the grader, which sets a fresh secret seed, sees held-out ones.
* **Results.** Every public check is wrapped by ``@exercise(id)``: whatever happens inside ends in
  one ``CheckResult`` (exercise, parts, diagnoses, status, message). Reporters registered with
  ``add_reporter`` receive ``result.as_dict()``; then the check prints its "✓" line, or raises
  ``CheckFailure`` (an ``AssertionError`` carrying ``.result``), or ``CheckBug`` when the check's
  own reference computations disagree (never the student's fault).
* **Hints in tiers.** A failure names the concept and shows the smallest failing case; the formula
  (tier 2) is added only when the same exercise fails again in the session, or after
  ``hint(exercise_id)``. Exercise modules register their tables with ``register``.
* **PROTECTED** lists the objects (checks, harness functions, comparison helpers) whose identity
  and code the grader verifies after a submission has run.
* Lazy framework imports: PyTorch, JAX and Flax are imported by the first check that needs them.
"""
import collections
import functools
import os
import sys
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PRACTICE_SEED = 2024
SEED_ENV = "CONV_KNOBS_CHECK_SEED"
STATUSES = ("passed", "failed", "not-attempted", "forbidden", "check-bug")

PROTECTED = {}


def protect(*objects):
    """Add objects to ``PROTECTED`` under their dotted names; returns the first one."""
    for obj in objects:
        name = f"{obj.__module__}.{obj.__qualname__}"
        if name in PROTECTED and PROTECTED[name] is not obj:
            name += ".__wrapped__"
        PROTECTED[name] = obj
    return objects[0] if objects else None


# ----------------------------------------------------------------------------------------------
# Seeds
# ----------------------------------------------------------------------------------------------

def current_seed():
    """The seed of this run: ``$CONV_KNOBS_CHECK_SEED`` if set, else ``PRACTICE_SEED``."""
    raw = os.environ.get(SEED_ENV, "").strip()
    if not raw:
        return PRACTICE_SEED
    try:
        seed = int(raw)
    except ValueError:
        raise ValueError(f"{SEED_ENV} must be a non-negative integer, got {SEED_ENV}={raw!r}") from None
    if seed < 0:
        raise ValueError(f"{SEED_ENV} must be a non-negative integer, got {SEED_ENV}={seed}")
    return seed


def case_rng(exercise_id):
    """The random generator one exercise draws its cases from (seed x exercise id)."""
    return np.random.default_rng([current_seed(), zlib.crc32(exercise_id.encode())])


def framework_seed(rng):
    """An int seed for torch.manual_seed / nnx.Rngs, drawn from a case generator."""
    return int(rng.integers(0, 2 ** 31 - 1))


# ----------------------------------------------------------------------------------------------
# Results, exceptions, reporters
# ----------------------------------------------------------------------------------------------

@dataclass
class CheckResult:
    """The outcome of one check call (see the grader contract)."""
    exercise: str
    parts: list = field(default_factory=list)       # [(part name, passed)]
    diagnoses: list = field(default_factory=list)   # stable ids "<exercise>/<mistake>"
    status: str = "passed"
    message: str = ""

    def as_dict(self):
        return {"exercise": self.exercise,
                "parts": [[str(name), bool(ok)] for name, ok in self.parts],
                "diagnoses": [str(d) for d in self.diagnoses],
                "status": self.status, "message": self.message}

    @property
    def fraction(self):
        """Share of the parts passed (what the grader multiplies the points by)."""
        return sum(ok for _, ok in self.parts) / len(self.parts) if self.parts else 0.0


class CheckFailure(AssertionError):
    """A wrong, unattempted or forbidden answer. ``.result`` is set when the check finishes."""

    def __init__(self, message, *, status="failed", diagnoses=(), formula=None):
        super().__init__(message)
        self.status, self.diagnoses, self.formula = status, list(diagnoses), formula
        self.result = None


class CheckBug(RuntimeError):
    """The check's own reference computations disagree: a bug in the check, not in the answer."""

    def __init__(self, message):
        super().__init__(message)
        self.result = None


_REPORTERS = []


def add_reporter(fn):
    """Call ``fn(result_dict)`` after every check (before it prints or raises); returns ``fn``."""
    if fn not in _REPORTERS:
        _REPORTERS.append(fn)
    return fn


def remove_reporter(fn):
    if fn in _REPORTERS:
        _REPORTERS.remove(fn)


def _report(result):
    for fn in list(_REPORTERS):
        try:
            fn(result.as_dict())
        except Exception as exc:  # a broken reporter must not change the student's feedback
            warnings.warn(f"check reporter {fn!r} failed: {type(exc).__name__}: {exc}", stacklevel=2)


# ----------------------------------------------------------------------------------------------
# Hint tables and the session's tiers
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Diagnosis:
    description: str          # short, for the class report
    tier1: str                # names the mistake / the concept
    tier2: str | None = None  # the formula or recipe (None: the exercise's formula)


EXERCISES = {}    # exercise id -> (concept, formula): tier 1 and tier 2 of unknown mistakes
RULES = {}        # exercise id -> _scratch.Rule (what the answer may not use)
DIAGNOSES = {}    # diagnosis id -> Diagnosis
_SESSION = {"failures": collections.Counter(), "revealed": set()}


def register(exercises=None, diagnoses=None, rules=None):
    """Called by each exercise module with its tables."""
    EXERCISES.update(exercises or {})
    RULES.update(rules or {})
    for key, value in (diagnoses or {}).items():
        DIAGNOSES[key] = value if isinstance(value, Diagnosis) else Diagnosis(*value)


def _formula(ex, diagnosis_id=None):
    diag = DIAGNOSES.get(diagnosis_id)
    if diag is not None and diag.tier2:
        return diag.tier2
    return EXERCISES.get(ex, (None, None))[1]


def hint(name):
    """Print the full hint (with the formula) for an exercise id or a diagnosis id.

    After ``hint("ex04-causal")`` failures of that exercise show the formula straight away.
    """
    if name in DIAGNOSES:
        diag = DIAGNOSES[name]
        ex = name.split("/")[0]
        _SESSION["revealed"].add(ex)
        print(f"{name}: {diag.tier1}\n  formula: {_formula(ex, name)}")
        return
    if name in EXERCISES:
        concept, formula = EXERCISES[name]
        _SESSION["revealed"].add(name)
        print(f"{name}: {concept}\n  formula: {formula}")
        return
    known = ", ".join(sorted(EXERCISES))
    raise ValueError(f"hint: unknown exercise or diagnosis id name={name!r}; exercise ids: {known}")


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
SMALL = 12  # arrays with at most this many numbers are shown in full


def _consistent(ex, condition, what):
    """Guard a reference computation of the check itself (PyTorch vs JAX vs the library, ...)."""
    if not condition:
        raise CheckBug(f"{ex}: bug in the check, not in your answer; please report it ({what}).")


def _fmt_value(v):
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    if isinstance(v, np.ndarray) or (hasattr(v, "shape") and hasattr(v, "dtype")):
        v = np.asarray(v)
        if v.size <= SMALL:
            return " ".join(np.array2string(v, precision=4, separator=", ", suppress_small=True).split())
        return f"array{v.shape}"
    return repr(v)


def _fmt_config(config):
    if isinstance(config, dict):
        return ", ".join(f"{k}={_fmt_value(v)}" for k, v in config.items())
    return str(config)


def _failure(ex, headline, *, config=None, details=(), hint=None, diagnosis=None, formula=None):
    """Build (do not raise) the CheckFailure for a wrong answer; ``hint`` is the tier-1 text."""
    lines = [f"{ex}: {headline}"]
    if config is not None:
        lines.append(f"  configuration: {_fmt_config(config)}")
    lines += [f"  {d}" for d in details]
    if hint:
        lines.append(f"  hint: {hint}")
    return CheckFailure("\n".join(lines), diagnoses=[diagnosis] if diagnosis else (),
                        formula=formula)


def _not_attempted(ex, what=None):
    who = "" if not what else f"{what} {'are' if ',' in what else 'is'} "
    return CheckFailure(f"{ex}: {who}{NOT_ATTEMPTED}", status="not-attempted")


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
    except (CheckFailure, CheckBug):
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


# ----------------------------------------------------------------------------------------------
# One check call = one CheckResult
# ----------------------------------------------------------------------------------------------

class _Attempt:
    def __init__(self, ex):
        self.ex, self.parts, self.success = ex, [], None


_ATTEMPTS = []


def _ok(ex, text):
    """Record the success line (printed by ``exercise`` after the reporters ran)."""
    if _ATTEMPTS and _ATTEMPTS[-1].ex == ex:
        _ATTEMPTS[-1].success = text
    else:
        print(f"✓ {ex}: {text}")


_PACKAGE = str(Path(__file__).resolve().parents[2])   # .../conv_lib
_SYSTEM = tuple({str(Path(p).resolve()) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})


def _students_frame(exc):
    """Did the exception come out of code outside conv_lib and the installed packages?"""
    tb = exc.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        try:
            path = str(Path(name).resolve())
        except (OSError, ValueError):
            path = name
        if not path.startswith(_PACKAGE) and not path.startswith(_SYSTEM) and "/site-packages/" not in path \
                and not name.startswith("<frozen"):
            return True
        tb = tb.tb_next
    return False


def _unexpected(ex, exc):
    """An exception the check did not turn into a message itself: whose fault is it?"""
    if _students_frame(exc):
        if isinstance(exc, NotImplementedError):
            return _not_attempted(ex)
        failure = _failure(ex, f"your code raised {type(exc).__name__}: {exc}")
        failure.__cause__ = exc
        return failure
    bug = CheckBug(f"{ex}: bug in the check, not in your answer; please report it "
                   f"({type(exc).__name__}: {exc}).")
    bug.__cause__ = exc
    return bug


def _finish(attempt, error):
    ex = attempt.ex
    if error is None:
        result = CheckResult(ex, attempt.parts or [(ex, True)], [], "passed",
                             f"✓ {ex}: {attempt.success or 'passed.'}")
        _report(result)
        print(result.message)
        return
    if isinstance(error, CheckBug):
        result = CheckResult(ex, [(name, False) for name, _ in attempt.parts] or [(ex, False)], [],
                             "check-bug", str(error))
    else:
        message = str(error)
        if error.status == "failed":
            _SESSION["failures"][ex] += 1
            formula = error.formula if error.formula is not None else _formula(
                ex, error.diagnoses[0] if error.diagnoses else None)
            if formula and (_SESSION["failures"][ex] >= 2 or ex in _SESSION["revealed"]):
                message += f"\n  formula: {formula}"
            elif formula:
                message += f"\n  (fix and run again; a second failure, or checks.hint({ex!r}), shows the formula)"
        result = CheckResult(ex, attempt.parts or [(ex, False)], list(dict.fromkeys(error.diagnoses)),
                             error.status, message)
        error.args = (message,)
    error.result = result
    _report(result)
    raise error


def exercise(ex_id):
    """Decorator for a public check: run it, build its CheckResult, report, print or raise."""
    def wrap(check):
        @functools.wraps(check)
        def run(*args, **kwargs):
            attempt = _Attempt(ex_id)
            _ATTEMPTS.append(attempt)
            error = None
            try:
                check(*args, **kwargs)
            except (CheckFailure, CheckBug) as exc:
                error = exc
            except Exception as exc:
                error = _unexpected(ex_id, exc)
            finally:
                _ATTEMPTS.remove(attempt)
            _finish(attempt, error)
        run.exercise = ex_id
        protect(run, check)
        return run
    return wrap


def _parts(ex, parts):
    """Run independent parts [(name, thunk)], record each, fail with all failing parts listed."""
    attempt = _ATTEMPTS[-1] if _ATTEMPTS and _ATTEMPTS[-1].ex == ex else _Attempt(ex)
    failures = []
    for name, thunk in parts:
        try:
            thunk()
            attempt.parts.append((name, True))
        except CheckFailure as exc:
            attempt.parts.append((name, False))
            failures.append((name, exc))
    if not failures:
        return
    right = len(parts) - len(failures)
    statuses = {f.status for _, f in failures}
    status = ("forbidden" if "forbidden" in statuses else
              "not-attempted" if statuses == {"not-attempted"} and right == 0 else "failed")
    lines = [f"{ex}: {right} of {len(parts)} parts right"]
    lines += [f"  ✓ {name}" for name, ok in attempt.parts if ok]
    untouched = [name for name, exc in failures if exc.status == "not-attempted"]
    if untouched:
        lines.append(f"  ✗ {', '.join(untouched)} {'are' if len(untouched) > 1 else 'is'} {NOT_ATTEMPTED}")
    wrong = [(name, exc) for name, exc in failures if exc.status != "not-attempted"]
    for name, exc in wrong:
        text = str(exc).split(": ", 1)[-1] if str(exc).startswith(ex) else str(exc)
        lines.append(f"  ✗ {name}: " + text.replace("\n", "\n    "))
    if status == "not-attempted":
        lines = [f"{ex}: {', '.join(untouched)} {'are' if len(untouched) > 1 else 'is'} {NOT_ATTEMPTED}"]
    formulas = [f.formula for _, f in wrong if f.formula]
    formula = "; ".join(dict.fromkeys(formulas)) if formulas else (None if wrong else "")
    raise CheckFailure("\n".join(lines), status=status,
                       diagnoses=[d for _, f in wrong for d in f.diagnoses], formula=formula)


protect(current_seed, case_rng, add_reporter, remove_reporter, _report, hint, _consistent, _failure,
        _not_attempted, _require_values, _call, _probe, _to_numpy, _ok, _finish, exercise, _parts,
        _students_frame, _unexpected, CheckResult, CheckFailure, CheckBug, np.isclose, np.allclose,
        np.asarray, np.array_equal)

from ._compare import (  # noqa: E402  (the comparison machinery needs the names above)
    Case, _array_diff, _as_shape, _as_tuple, _best_hint, _check_arrays, _check_scalars,
    _same_value, _tally, _variant_matches)

