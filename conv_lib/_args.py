"""Argument checking in one place, before any arithmetic (the habit of PyTorch's ``_ConvNd``).

Every public function normalises its arguments here first, so the maths modules never branch on
types and every bad value is reported as ``name=value`` together with what would be allowed.
"""
from __future__ import annotations

import numbers
from typing import Any, Sequence, Union

import numpy as np

from .errors import ArgumentTypeError as ArgTypeError
from .errors import ArgumentValueError as ArgValueError

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
PADDING_STRINGS = ("valid", "same", "causal", "full")

# The public argument types, for annotations.
IntOrSeq = Union[int, Sequence[int]]
Padding = Union[int, str, Sequence[Union[int, Sequence[int]]]]


def is_int(value: Any) -> bool:
    """True for Python/NumPy integers, False for bools (``True`` is not a stride)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value: Any, minimum: int, axis: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an int >= ``minimum``."""
    if not is_int(value):
        raise ArgTypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})",
                           argument=name, kind="type", value=value, axis=axis)
    if value < minimum:
        raise ArgValueError(f"{name} must be >= {minimum}, got {name}={value}",
                            argument=name, kind="out_of_range", value=value, axis=axis)
    return int(value)


def per_dim(name: str, value: Any, ndim: int, minimum: int = 1) -> tuple[int, ...]:
    """Normalise an int-or-sequence argument to a tuple of ``ndim`` ints, each >= ``minimum``.

    >>> per_dim("stride", 2, 3)
    (2, 2, 2)
    """
    if is_int(value):
        return (check_int(name, value, minimum),) * ndim
    if isinstance(value, (tuple, list, np.ndarray)):
        values = tuple(value)
        if len(values) != ndim:
            raise ArgValueError(
                f"{name} must be an int or a sequence of {ndim} ints (one per spatial dim), "
                f"got {name}={value!r} of length {len(values)}",
                argument=name, kind="length", value=value)
        return tuple(check_int(f"{name}[{i}]", v, minimum, axis=i) for i, v in enumerate(values))
    raise ArgTypeError(f"{name} must be an int or a sequence of {ndim} ints, got {value!r}",
                       argument=name, kind="type", value=value)


def check_mode(mode: Any, name: str = "padding_mode") -> str:
    """The one check of a padding mode (``conv``'s ``padding_mode``, ``pad``'s ``mode``)."""
    if not isinstance(mode, str) or mode not in PADDING_MODES:
        raise ArgValueError(f"{name} must be one of {PADDING_MODES}, got {name}={mode!r}",
                            argument=name, kind="bad_padding_mode", value=mode)
    return mode


def shape_error(name: str, message: str) -> ArgValueError:
    """The error for an array argument of the wrong shape."""
    return ArgValueError(message, argument=name, kind="shape")


def channel_error(name: str, value: Any, message: str) -> ArgValueError:
    """The error for channel counts that do not fit together."""
    return ArgValueError(message, argument=name, kind="channels", value=value)


def as_array(name: str, value: Any, min_ndim: int) -> np.ndarray:
    """Convert to a NumPy array with at least ``min_ndim`` dims and a float dtype."""
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ArgTypeError(f"{name} must be a numeric array, got dtype {arr.dtype}",
                           argument=name, kind="type")
    if arr.ndim < min_ndim:
        raise shape_error(name, f"{name} must have at least {min_ndim} dims, got shape {arr.shape}")
    return arr


def float_dtype(*arrays: np.ndarray) -> np.dtype:
    """The float dtype of the result: that of the inputs, float64 when they are integers."""
    dtype = np.result_type(*arrays)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def check_conv_operands(x: Any, w: Any, bias: Any, groups: Any, weight_layout: str = "OI"
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Validate ``x`` (N, C_in, *spatial), ``w`` and ``bias`` for a convolution.

    ``weight_layout`` is "OI" for ``conv`` (w: C_out, C_in/groups, *k) and "IO" for
    ``conv_transpose`` (w: C_in, C_out/groups, *k). Returns (x, w, bias, c_out).
    """
    x = as_array("x", x, 3)
    w = as_array("w", w, 3)
    if x.ndim != w.ndim:
        raise shape_error("w",
            f"x and w must have the same number of dims: x is (N, C_in, *spatial) with shape "
            f"{x.shape} ({x.ndim} dims) but w has shape {w.shape} ({w.ndim} dims), which implies "
            f"{w.ndim - 2} spatial dims")
    groups = check_int("groups", groups, 1)
    c_in = x.shape[1]
    if c_in % groups:
        raise channel_error("groups", groups, f"groups={groups} must divide the input channels, but C_in={c_in} "
                         f"(x.shape[1]) is not a multiple of {groups}")
    if weight_layout == "OI":
        c_out, c_in_per_group = w.shape[0], w.shape[1]
        if c_out % groups:
            raise channel_error("groups", groups, f"groups={groups} must divide the output channels, but C_out={c_out} "
                             f"(w.shape[0]) is not a multiple of {groups}")
        if c_in_per_group * groups != c_in:
            raise channel_error("w", w.shape,
                f"channel mismatch: x has C_in={c_in} channels, so with groups={groups} w.shape[1] "
                f"must be C_in // groups = {c_in // groups}, got w.shape={w.shape}")
    else:
        if w.shape[0] != c_in:
            raise channel_error("w", w.shape, f"channel mismatch: x has C_in={c_in} channels but the transposed "
                             f"weight w.shape[0]={w.shape[0]} (w is (C_in, C_out // groups, *k))")
        c_out = w.shape[1] * groups
    if 0 in w.shape[2:]:
        raise shape_error("w", f"every kernel size must be >= 1, got w.shape={w.shape}")
    if x.shape[0] == 0 or c_in == 0:
        raise shape_error("x", f"x must have at least one sample and one channel, got shape {x.shape}")
    if bias is not None:
        bias = as_array("bias", bias, 1)
        if bias.shape != (c_out,):
            raise shape_error("bias", f"bias must have shape (C_out,) = ({c_out},), got {bias.shape}")
    return x, w, bias, c_out
