"""Padding and input dilation from scratch, by index arithmetic (no ``np.pad``).

Padding one axis of length ``n`` by ``(lo, hi)`` produces ``lo + n + hi`` samples. Output sample
``j`` shows input position ``i = j - lo``; a mode is just a rule for where an ``i`` outside
``[0, n)`` reads from:

    zeros      nowhere: the constant ``value``
    replicate  the nearest edge:            clip(i, 0, n - 1)
    reflect    a mirror at each edge sample (the edge is not repeated): period 2(n - 1)
    circular   the other end (a torus):     i mod n
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ._args import check_int, check_mode, is_int, shape_error
from .errors import ArgumentTypeError, ArgumentValueError


def source_index(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """Input position read by each of the ``lo + n + hi`` padded positions, or -1 for 'zeros'.

    >>> source_index(4, 2, 2, "reflect").tolist()
    [2, 1, 0, 1, 2, 3, 2, 1]
    >>> source_index(4, 2, 2, "circular").tolist()
    [2, 3, 0, 1, 2, 3, 0, 1]
    """
    i = np.arange(-lo, n + hi)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    if mode == "reflect":
        if n == 1:
            return np.zeros_like(i)
        period = 2 * (n - 1)
        j = i % period
        return np.where(j < n, j, period - j)
    return np.where((i >= 0) & (i < n), i, -1)  # zeros


def _check_pad_args(x: np.ndarray, padding: Any, mode: Any) -> list[tuple[int, int]]:
    check_mode(mode, "mode")
    if is_int(padding) or not isinstance(padding, (tuple, list)):
        raise ArgumentTypeError(f"padding must be a sequence of (lo, hi) pairs, one per padded "
                                f"axis, got padding={padding!r}",
                                argument="padding", kind="type", value=padding)
    if len(padding) > x.ndim:
        raise ArgumentValueError(f"padding has {len(padding)} pairs but x has only {x.ndim} dims",
                                 argument="padding", kind="length", value=padding)
    pairs = []
    for a, pair in enumerate(padding):
        name = f"padding[{a}]"
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ArgumentValueError(f"{name} must be a (lo, hi) pair, got {pair!r}",
                                     argument=name, kind="length", value=pair, axis=a)
        lo = check_int(f"{name}[0]", pair[0], 0, axis=a)
        hi = check_int(f"{name}[1]", pair[1], 0, axis=a)
        axis = x.ndim - len(padding) + a
        n = x.shape[axis]
        if mode == "reflect" and max(lo, hi) >= n:
            raise ArgumentValueError(
                f"reflect padding must be smaller than the input size: {name}=({lo}, {hi}) "
                f"but axis {axis} has size {n} (valid: 0 <= pad <= {n - 1})",
                argument=name, kind="reflect_pad_too_large", value=(lo, hi), axis=a)
        if mode == "circular" and max(lo, hi) > n:
            raise ArgumentValueError(
                f"circular padding may not wrap around more than once: {name}=({lo}, {hi}) "
                f"but axis {axis} has size {n} (valid: 0 <= pad <= {n})",
                argument=name, kind="circular_pad_too_large", value=(lo, hi), axis=a)
        if mode in ("replicate", "circular", "reflect") and n == 0 and lo + hi > 0:
            raise ArgumentValueError(f"cannot pad an empty axis {axis} with mode={mode!r}",
                                     argument=name, kind="empty_axis", value=(lo, hi), axis=a)
        pairs.append((lo, hi))
    return pairs


def pad(x: Any, padding: Sequence[Sequence[int]], mode: str = "zeros",
        value: float = 0.0) -> np.ndarray:
    """Pad the trailing ``len(padding)`` axes of ``x``.

    Parameters
    ----------
    x : array of shape (..., n_1, ..., n_m)
    padding : sequence of m (lo, hi) pairs, in natural axis order (the first pair pads axis -m).
    mode : 'zeros' | 'reflect' | 'replicate' | 'circular'
        PyTorch's rules: reflect needs pad < n; circular may wrap at most once (pad <= n).
    value : float, the constant for mode 'zeros'.

    Returns
    -------
    array of shape (..., lo_1 + n_1 + hi_1, ..., lo_m + n_m + hi_m)
    """
    x = np.asarray(x)
    pairs = _check_pad_args(x, padding, mode)
    first = x.ndim - len(pairs)
    if mode == "zeros":
        if all(lo == hi == 0 for lo, hi in pairs):
            return x
        # One allocation for all axes: copy x into the middle, then fill only the border slabs.
        lead = [slice(None)] * first
        out = np.empty(x.shape[:first] + tuple(lo + n + hi for (lo, hi), n in
                                               zip(pairs, x.shape[first:])),
                       dtype=np.result_type(x.dtype, value))
        out[tuple(lead + [slice(lo, lo + n) for (lo, _), n in zip(pairs, x.shape[first:])])] = x
        for axis, (lo, hi) in enumerate(pairs, start=first):
            before = [slice(None)] * axis
            out[tuple(before + [slice(0, lo)])] = value
            out[tuple(before + [slice(out.shape[axis] - hi, None)])] = value
        return out
    for axis, (lo, hi) in enumerate(pairs, start=first):
        if lo == hi == 0:
            continue
        x = np.take(x, source_index(x.shape[axis], lo, hi, mode), axis=axis)
    return x


def dilate(x: Any, factors: Sequence[int]) -> np.ndarray:
    """Insert ``f - 1`` zeros between neighbouring samples along the trailing ``len(factors)`` axes.

    This is JAX's ``lhs_dilation`` (input dilation): an axis of length n becomes (n - 1) * f + 1.

    >>> dilate(np.array([1., 2., 3.]), [2]).tolist()
    [1.0, 0.0, 2.0, 0.0, 3.0]
    """
    x = np.asarray(x)
    if is_int(factors) or not isinstance(factors, (tuple, list)):
        raise ArgumentTypeError(
            f"factors must be a sequence of ints, one per dilated axis, got {factors!r}",
            argument="factors", kind="type", value=factors)
    if len(factors) > x.ndim:
        raise shape_error("factors", f"factors has {len(factors)} entries but x has only "
                                     f"{x.ndim} dims")
    factors = [check_int(f"factors[{i}]", f, 1, axis=i) for i, f in enumerate(factors)]
    if all(f == 1 for f in factors):
        return x
    lead = x.shape[:x.ndim - len(factors)]
    sizes = x.shape[x.ndim - len(factors):]
    out = np.zeros(lead + tuple((n - 1) * f + 1 if n else 0 for n, f in zip(sizes, factors)),
                   dtype=x.dtype)
    every_f = (Ellipsis,) + tuple(slice(None, None, f) for f in factors)
    out[every_f] = x
    return out
