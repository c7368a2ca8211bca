"""How many parameters a convolution stores and how much arithmetic it does."""
import math

from ._args import check_int, per_dim
from .shapes import output_shape


def conv_params(c_in, c_out, kernel_size, groups=1, bias=True):
    """Learned numbers in a conv layer: ``c_out * (c_in / groups) * prod(kernel) (+ c_out)``.

    >>> conv_params(64, 128, (3, 3))
    73856
    """
    c_in = check_int("c_in", c_in, 1)
    c_out = check_int("c_out", c_out, 1)
    groups = check_int("groups", groups, 1)
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide c_in={c_in} and c_out={c_out}")
    ks = per_dim("kernel_size", kernel_size, 1 if isinstance(kernel_size, int) else len(kernel_size))
    return c_out * (c_in // groups) * math.prod(ks) + (c_out if bias else 0)


def conv_macs(x_shape, w_shape, stride=1, padding=0, dilation=1, input_dilation=1, groups=1):
    """Multiply-accumulates of one forward pass (zero taps from padding/dilation included).

    x_shape: (N, C_in, *in_sizes); w_shape: (C_out, C_in // groups, *k).
    Every output value costs (C_in / groups) * prod(k) MACs.
    """
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    if len(x_shape) < 3 or len(x_shape) != len(w_shape):
        raise ValueError(f"x_shape {x_shape} and w_shape {w_shape} must both be (N, C, *spatial) "
                         f"with the same number of dims")
    groups = check_int("groups", groups, 1)
    if w_shape[1] * groups != x_shape[1]:
        raise ValueError(f"channel mismatch: x has C_in={x_shape[1]}, w_shape[1]*groups="
                         f"{w_shape[1] * groups}")
    out = output_shape(x_shape[2:], w_shape[2:], stride, padding, dilation, input_dilation)
    return x_shape[0] * w_shape[0] * math.prod(out) * w_shape[1] * math.prod(w_shape[2:])


def conv_flops(*args, **kwargs):
    """Floating-point operations of one forward pass: 2 per multiply-accumulate."""
    return 2 * conv_macs(*args, **kwargs)
