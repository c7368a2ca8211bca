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
from ._engine import correlate
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

    Computed phase by phase: with stride s, a fraction (s-1)/s of the dilated input along each
    axis is inserted zeros, and most of the convolution's products would be multiplications by
    zero. Output positions o = r + s*j of one phase r only ever meet the taps t with
    (r + p - t*d) % s == 0, and those taps read the real samples x[j + c_t],
    c_t = (r + p - t*d) / s. So each phase is an ordinary stride-1 convolution of x itself with
    that subset of taps (``_phase``), and the s**ndim phases interleave into y (the "sub-pixel
    convolution" view of Shi et al., 2016).
    """
    x, w, bias, c_out = check_conv_operands(x, w, bias, groups, weight_layout="IO")
    ndim = x.ndim - 2
    stride = per_dim("stride", stride, ndim)
    padding = per_dim("padding", padding, ndim, minimum=0)
    output_padding = per_dim("output_padding", output_padding, ndim, minimum=0)
    dilation = per_dim("dilation", dilation, ndim)
    check_int("groups", groups, 1)
    out_sizes = [transposed_output_size(*args, axis=i) for i, args in enumerate(
        zip(x.shape[2:], w.shape[2:], stride, padding, output_padding, dilation))]
    # (C_in, C_out/g, *k) -> (g, C_in/g, C_out/g, *k) -> (g, C_out/g, C_in/g, *k) -> (C_out, C_in/g, *k)
    c_in, k = x.shape[1], w.shape[2:]
    w_swap = w.reshape((groups, c_in // groups, c_out // groups) + k).swapaxes(1, 2)
    w_swap = w_swap.reshape((c_out, c_in // groups) + k)
    dtype = float_dtype(x, w) if bias is None else float_dtype(x, w, bias)
    phases = {phase: [_phase(*args) for args in zip(phase, x.shape[2:], k, stride, padding,
                                                     dilation, out_sizes)]
              for phase in np.ndindex(*stride)}
    # np.empty when every phase writes its outputs (the usual case), zeros otherwise
    gaps = any(None in plans for plans in phases.values())
    y = (np.zeros if gaps else np.empty)((x.shape[0], c_out, *out_sizes), dtype=dtype)
    for phase, plans in phases.items():
        if None in plans:
            continue                                   # no tap ever reaches these outputs: zeros
        taps, dil, pads, crop = zip(*plans)
        w_phase = w_swap[np.ix_(range(c_out), range(c_in // groups), *taps)]
        y_phase = conv(x[(Ellipsis, *crop)], w_phase, dilation=dil, padding=pads, groups=groups)
        y[(Ellipsis, *(slice(r, None, s) for r, s in zip(phase, stride)))] = y_phase
    if bias is not None:
        y += bias.reshape((-1,) + (1,) * ndim)
    return y


def _phase(r, n, k, s, p, d, out):
    """One axis of phase r (outputs o = r, r + s, ...) of a transposed convolution, as a conv.

    Output o = r + s*j gets x[i] * w[t] whenever i*s + t*d - p = o, i.e. i = j + (r + p - t*d)/s.
    The taps with an integer i are every (s / gcd(s, d))-th one; listed last-to-first they read
    x[j + c], x[j + c + dil], ... with c = (r + p - t_last*d) / s: a stride-1 correlation of x
    with dilation dil, starting c samples in (padding -c, or cropping when c > 0).

    Returns (taps, dil, (lo, hi), crop) -- the tap indices (reversed), the dilation, the padding
    and the slice of x of that convolution -- or None when no tap or no output belongs to phase r.
    """
    count = len(range(r, out, s))                      # outputs in this phase
    taps = [t for t in range(k) if (r + p - t * d) % s == 0][::-1]
    if not taps or count == 0:
        return None
    dil = (taps[0] - taps[1]) * d // s if len(taps) > 1 else 1
    lo = -((r + p - taps[0] * d) // s)                 # the padded input starts at x[-lo]
    hi = (count - 1) + dil * (len(taps) - 1) + 1 - lo - n
    start, stop = max(-lo, 0), n - max(-hi, 0)
    if start >= stop:
        return None                                    # the windows only ever cover padding
    return taps, dil, (max(lo, 0), max(hi, 0)), slice(start, stop)
