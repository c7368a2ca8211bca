"""How many parameters a convolution stores and how much arithmetic it does."""
from __future__ import annotations

import math
from typing import Sequence

from ._args import IntOrSeq, Padding, channel_error, check_int, is_int, per_dim, shape_error
from .shapes import output_shape


def conv_params(c_in: int, c_out: int, kernel_size: IntOrSeq, groups: int = 1,
                bias: bool = True) -> int:
    """Learned numbers in a conv layer: ``c_out * (c_in / groups) * prod(kernel) (+ c_out)``.

    ``kernel_size`` is one int (a 1-D kernel) or one int per spatial dim.

    >>> conv_params(64, 128, (3, 3))
    73856
    >>> conv_params(32, 32, (3, 3), groups=32, bias=False)     # depthwise: 9 weights a channel
    288
    """
    c_in = check_int("c_in", c_in, 1)
    c_out = check_int("c_out", c_out, 1)
    groups = check_int("groups", groups, 1)
    if c_in % groups or c_out % groups:
        raise channel_error("groups", groups,
                            f"groups={groups} must divide c_in={c_in} and c_out={c_out}")
    ks = per_dim("kernel_size", kernel_size, 1 if is_int(kernel_size) else len(kernel_size))
    return c_out * (c_in // groups) * math.prod(ks) + (c_out if bias else 0)


def conv_macs(x_shape: Sequence[int], w_shape: Sequence[int], stride: IntOrSeq = 1,
              padding: Padding = 0, dilation: IntOrSeq = 1, input_dilation: IntOrSeq = 1,
              groups: int = 1) -> int:
    """Multiply-accumulates of one forward pass (zero taps from padding/dilation included).

    x_shape: (N, C_in, *in_sizes); w_shape: (C_out, C_in // groups, *k).
    Every output value costs (C_in / groups) * prod(k) MACs.

    >>> conv_macs((1, 3, 224, 224), (64, 3, 7, 7), stride=2, padding=3)   # ResNet's stem
    118013952
    """
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    if len(x_shape) < 3 or len(x_shape) != len(w_shape):
        raise shape_error("w_shape", f"x_shape {x_shape} and w_shape {w_shape} must both be "
                                     f"(N, C, *spatial) with the same number of dims")
    groups = check_int("groups", groups, 1)
    if w_shape[1] * groups != x_shape[1]:
        raise channel_error("w_shape", w_shape, f"channel mismatch: x has C_in={x_shape[1]}, "
                                                f"w_shape[1]*groups={w_shape[1] * groups}")
    out = output_shape(x_shape[2:], w_shape[2:], stride, padding, dilation, input_dilation)
    return x_shape[0] * w_shape[0] * math.prod(out) * w_shape[1] * math.prod(w_shape[2:])


def conv_flops(*args, **kwargs) -> int:
    """Floating-point operations of one forward pass: 2 per multiply-accumulate."""
    return 2 * conv_macs(*args, **kwargs)
