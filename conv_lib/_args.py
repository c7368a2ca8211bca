"""Argument checking in one place, before any arithmetic (the habit of PyTorch's ``_ConvNd``).

Every public function normalises its arguments here first, so the maths modules never branch on
types and every bad value is reported as ``name=value`` together with what would be allowed.
"""
import numbers

import numpy as np

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
PADDING_STRINGS = ("valid", "same", "causal", "full")


def is_int(value):
    """True for Python/NumPy integers, False for bools (``True`` is not a stride)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def check_int(name, value, minimum):
    """Return ``value`` as an int, or raise if it is not an int >= ``minimum``."""
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {name}={value}")
    return int(value)


def per_dim(name, value, ndim, minimum=1):
    """Normalise an int-or-sequence argument to a tuple of ``ndim`` ints, each >= ``minimum``.

    >>> per_dim("stride", 2, 3)
    (2, 2, 2)
    """
    if is_int(value):
        return (check_int(name, value, minimum),) * ndim
    if isinstance(value, (tuple, list, np.ndarray)):
        values = tuple(value)
        if len(values) != ndim:
            raise ValueError(
                f"{name} must be an int or a sequence of {ndim} ints (one per spatial dim), "
                f"got {name}={value!r} of length {len(values)}")
        return tuple(check_int(f"{name}[{i}]", v, minimum) for i, v in enumerate(values))
    raise TypeError(f"{name} must be an int or a sequence of {ndim} ints, got {value!r}")


def check_mode(mode):
    if not isinstance(mode, str) or mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got padding_mode={mode!r}")
    return mode


def as_array(name, value, min_ndim):
    """Convert to a NumPy array with at least ``min_ndim`` dims and a float dtype."""
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dims, got shape {arr.shape}")
    return arr


def float_dtype(*arrays):
    """The float dtype of the result: that of the inputs, float64 when they are integers."""
    dtype = np.result_type(*arrays)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def check_conv_operands(x, w, bias, groups, weight_layout="OI"):
    """Validate ``x`` (N, C_in, *spatial), ``w`` and ``bias`` for a convolution.

    ``weight_layout`` is "OI" for ``conv`` (w: C_out, C_in/groups, *k) and "IO" for
    ``conv_transpose`` (w: C_in, C_out/groups, *k). Returns (x, w, bias, c_out).
    """
    x = as_array("x", x, 3)
    w = as_array("w", w, 3)
    if x.ndim != w.ndim:
        raise ValueError(
            f"x and w must have the same number of dims: x is (N, C_in, *spatial) with shape "
            f"{x.shape} ({x.ndim} dims) but w has shape {w.shape} ({w.ndim} dims), which implies "
            f"{w.ndim - 2} spatial dims")
    groups = check_int("groups", groups, 1)
    c_in = x.shape[1]
    if c_in % groups:
        raise ValueError(f"groups={groups} must divide the input channels, but C_in={c_in} "
                         f"(x.shape[1]) is not a multiple of {groups}")
    if weight_layout == "OI":
        c_out, c_in_per_group = w.shape[0], w.shape[1]
        if c_out % groups:
            raise ValueError(f"groups={groups} must divide the output channels, but C_out={c_out} "
                             f"(w.shape[0]) is not a multiple of {groups}")
        if c_in_per_group * groups != c_in:
            raise ValueError(
                f"channel mismatch: x has C_in={c_in} channels, so with groups={groups} w.shape[1] "
                f"must be C_in // groups = {c_in // groups}, got w.shape={w.shape}")
    else:
        if w.shape[0] != c_in:
            raise ValueError(f"channel mismatch: x has C_in={c_in} channels but the transposed "
                             f"weight w.shape[0]={w.shape[0]} (w is (C_in, C_out // groups, *k))")
        c_out = w.shape[1] * groups
    if 0 in w.shape[2:]:
        raise ValueError(f"every kernel size must be >= 1, got w.shape={w.shape}")
    if x.shape[0] == 0 or c_in == 0:
        raise ValueError(f"x must have at least one sample and one channel, got shape {x.shape}")
    if bias is not None:
        bias = as_array("bias", bias, 1)
        if bias.shape != (c_out,):
            raise ValueError(f"bias must have shape (C_out,) = ({c_out},), got {bias.shape}")
    return x, w, bias, c_out
