"""The from-scratch rule: which tools an answer (and the helpers it calls) may not use."""

import inspect
import io
import re
import textwrap
import tokenize
import types

import numpy as np

from ._harness import _failure, _not_attempted


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
