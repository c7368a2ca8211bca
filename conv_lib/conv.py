"""Convolution (really cross-correlation, as in every deep-learning framework).

One pipeline serves every knob, as in JAX's ``lax_reference``:

    1. dilate the input   (input_dilation: d - 1 zeros between samples)
    2. pad it             (any padding form, any padding mode)
    3. slide the kernel   (stride s, kernel dilation d)  and contract over channels and taps.

``conv_reference`` writes step 3 as loops that read like the formula; ``conv`` does it with a
window view and a matrix product (see ``_engine``). ``conv_transpose`` is ``conv`` with input
dilation and a flipped kernel.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from ._args import IntOrSeq, Padding, check_conv_operands, check_int, check_mode, float_dtype, per_dim
from ._engine import correlate, transposed
from .padding import dilate, pad
from .shapes import output_shape, resolve_padding, transposed_output_size

Plan = namedtuple("Plan", "x w bias stride dilation groups out_sizes pads padding_mode")


def check_conv_args(x, w, bias, stride, padding, dilation, input_dilation, groups, padding_mode):
    """Validate the arguments of a convolution; every conv entry point (``conv``,
    ``conv_reference``, the framework adapters) calls this before any arithmetic.

    Returns (x, w, bias, stride, dilation, input_dilation, pads) with the per-dim arguments as
    tuples and the padding resolved to (lo, hi) pairs.
    """
    x, w, bias, _ = check_conv_operands(x, w, bias, groups)
    ndim = x.ndim - 2
    stride = per_dim("stride", stride, ndim)
    dilation = per_dim("dilation", dilation, ndim)
    input_dilation = per_dim("input_dilation", input_dilation, ndim)
    check_mode(padding_mode)
    pads = resolve_padding(padding, x.shape[2:], w.shape[2:], stride, dilation, input_dilation)
    return x, w, bias, stride, dilation, input_dilation, pads


def plan_conv(x, w, bias=None, *, stride=1, padding=0, dilation=1, input_dilation=1, groups=1,
              padding_mode="zeros"):
    """Validate every argument and return a ``Plan``: ``x`` is already dilated (step 1), ``pads``
    and ``padding_mode`` say how to pad it (step 2)."""
    x, w, bias, stride, dilation, input_dilation, pads = check_conv_args(
        x, w, bias, stride, padding, dilation, input_dilation, groups, padding_mode)
    out_sizes = output_shape(x.shape[2:], w.shape[2:], stride, pads, dilation, input_dilation)
    dtype = float_dtype(x, w) if bias is None else float_dtype(x, w, bias)
    x = dilate(x.astype(dtype, copy=False), input_dilation)
    return Plan(x, w.astype(dtype, copy=False), bias, stride, dilation, groups, out_sizes, pads,
                padding_mode)


def conv(x: Any, w: Any, bias: Any = None, *, stride: IntOrSeq = 1, padding: Padding = 0,
         dilation: IntOrSeq = 1, input_dilation: IntOrSeq = 1, groups: int = 1,
         padding_mode: str = "zeros") -> np.ndarray:
    """N-d convolution with PyTorch's layout and every knob of ``lax.conv_general_dilated``.

    Parameters
    ----------
    x : array (N, C_in, *in_sizes)
    w : array (C_out, C_in // groups, *kernel_sizes)
    bias : array (C_out,) or None
    stride, dilation, input_dilation : int or one int per spatial dim (all >= 1)
    padding : int | tuple of ints | sequence of (lo, hi) pairs | 'valid' | 'same' | 'causal' | 'full'
    groups : int dividing C_in and C_out
    padding_mode : 'zeros' | 'reflect' | 'replicate' | 'circular'

    Returns
    -------
    y : array (N, C_out, *out_sizes), with, per spatial dim,
        out = floor(((n - 1) * input_dilation + 1 + lo + hi - dilation * (k - 1) - 1) / stride) + 1
    """
    p = plan_conv(x, w, bias, stride=stride, padding=padding, dilation=dilation,
                  input_dilation=input_dilation, groups=groups, padding_mode=padding_mode)
    y = correlate(p.x, p.w, p.stride, p.dilation, p.groups, p.out_sizes, p.pads, p.padding_mode)
    if p.bias is not None:
        y += p.bias.reshape((-1,) + (1,) * len(p.out_sizes))  # y is freshly allocated
    return np.ascontiguousarray(y)


def conv_reference(x: Any, w: Any, bias: Any = None, *, stride: IntOrSeq = 1, padding: Padding = 0,
                   dilation: IntOrSeq = 1, input_dilation: IntOrSeq = 1, groups: int = 1,
                   padding_mode: str = "zeros") -> np.ndarray:
    """The same convolution as ``conv``, as plain loops: slow on purpose, easy to trace by hand.

    With xp the dilated, padded input and Cg = C_in // groups input channels per group,

        y[n, o, i] = bias[o] + sum_{c < Cg} sum_{t} xp[n, g * Cg + c, i * s + t * d] * w[o, c, t]

    where g = o // (C_out // groups) is the group of output channel o, and i and t run over all
    output positions and kernel taps (tuples of indices in N-d: i * s means (i_1 s_1, i_2 s_2, ...)).
    Shapes and arguments are those of ``conv``.
    """
    p = plan_conv(x, w, bias, stride=stride, padding=padding, dilation=dilation,
                  input_dilation=input_dilation, groups=groups, padding_mode=padding_mode)
    xp, w = pad(p.x, p.pads, p.padding_mode), p.w
    batch, c_out, c_per_group = xp.shape[0], w.shape[0], w.shape[1]
    outputs_per_group = c_out // p.groups
    y = np.zeros((batch, c_out) + p.out_sizes, dtype=xp.dtype)
    for n in range(batch):
        for o in range(c_out):
            g = o // outputs_per_group
            for i in np.ndindex(*p.out_sizes):
                total = 0.0 if p.bias is None else p.bias[o]
                for c in range(c_per_group):
                    for t in np.ndindex(*w.shape[2:]):
                        pos = tuple(i_ * s + t_ * d for i_, t_, s, d in zip(i, t, p.stride, p.dilation))
                        total += xp[(n, g * c_per_group + c) + pos] * w[(o, c) + t]
                y[(n, o) + i] = total
    return y


def conv_transpose(x: Any, w: Any, bias: Any = None, *, stride: IntOrSeq = 1, padding: IntOrSeq = 0,
                   output_padding: IntOrSeq = 0, dilation: IntOrSeq = 1, groups: int = 1
                   ) -> np.ndarray:
    """Transposed convolution with PyTorch's ``ConvTranspose{1,2,3}d`` semantics.

    Parameters
    ----------
    x : array (N, C_in, *in_sizes)
    w : array (C_in, C_out // groups, *kernel_sizes)   (note: input channels first)
    stride, padding, output_padding, dilation : int or one int per spatial dim
        output_padding < max(stride, dilation), as PyTorch requires.

    Returns
    -------
    y : array (N, C_out, *out), out = (n - 1) * s - 2 * p + d * (k - 1) + output_padding + 1

    The identity it is built on (Dumoulin & Visin, 2016): a transposed convolution is an ordinary
    convolution of the stride-dilated input with the spatially flipped kernel whose in/out channel
    axes are swapped (per group), padded by ``d * (k - 1) - p`` at the start and
    ``d * (k - 1) - p + output_padding`` at the end:

        conv_transpose(x, w, stride=s, padding=p, output_padding=op, dilation=d)
          == conv(x, flip(swap(w)), input_dilation=s, dilation=d,
                  padding=[(d*(k-1) - p, d*(k-1) - p + op)])

    When ``p > d * (k - 1)`` that padding is negative, i.e. the result is cropped instead.

    Computed without the zeros: with stride s, a fraction (s-1)/s of the dilated input along each
    axis is inserted zeros, and most of that convolution's products would be multiplications by
    zero. Read the other way round, every input sample x[i] adds x[i] * w[t] to y[i*s + t*d - p]:
    ``_engine.transposed`` computes all those products as a matrix product (every input
    channel against every (output channel, tap) pair; on large inputs one product per output
    phase, so that its columns stay in cache) and adds each tap's plane into its outputs, one
    output phase (every s-th output) at a time.
    """
    x, w, bias, _ = check_conv_operands(x, w, bias, groups, weight_layout="IO")
    ndim = x.ndim - 2
    stride = per_dim("stride", stride, ndim)
    padding = per_dim("padding", padding, ndim, minimum=0)
    output_padding = per_dim("output_padding", output_padding, ndim, minimum=0)
    dilation = per_dim("dilation", dilation, ndim)
    check_int("groups", groups, 1)
    out_sizes = [transposed_output_size(*args, axis=i) for i, args in enumerate(
        zip(x.shape[2:], w.shape[2:], stride, padding, output_padding, dilation))]
    dtype = float_dtype(x, w) if bias is None else float_dtype(x, w, bias)
    y = transposed(x.astype(dtype, copy=False), w.astype(dtype, copy=False), stride, padding,
                   dilation, groups, out_sizes)
    if bias is not None:
        y += bias.reshape((-1,) + (1,) * ndim)
    return y
