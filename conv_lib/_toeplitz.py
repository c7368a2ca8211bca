"""2-D depthwise layers as many small matrix products: each channel's kernel becomes a Toeplitz
matrix.

Along the last axis, correlating one row with a channel's kernel row w_c[i] (stride s, dilation
d, padding p) is a product with a banded ("Toeplitz") matrix,

    sum_j w_c[i, j] x[o*s + j*d - p] = sum_u x[u] B_ci[u, o],   B_ci[u, o] = w_c[i, j] where
                                                                 u = o*s + j*d - p,
                                                                 0 elsewhere,

in which the padding is simply absent (rows u < 0 or u >= W do not exist). Output row h of a 2-D
layer reads the input rows h*s_h + i*d_h - p_h, i < k_h: R = (k_h - 1) d_h + 1 consecutive rows,
i.e. ONE contiguous run of R*W numbers once the rows are zero-padded at the top and bottom. So

    y[n, c, h, :] = xrun[n, c, h] @ T_c,     xrun[n, c, h] = the R*W numbers from row h*s_h,
                                             T_c = the k_h matrices B_ci stacked, (R*W, W_out)

and for one channel c and output row h the N images form an (N, R*W) matrix -- a strided view of
the zero-padded copy of the input, no further copy. NumPy's matmul runs all (c, h) products in
one call (as T_c^T @ xrun^T, the orientation BLAS runs faster here). T_c has about W/k_w times
more entries than taps, i.e. the product does that many more multiply-adds than the direct
method, but inside BLAS instead of two NumPy passes per tap: it wins on the small planes at
the end of a network (7x7 to 28x28), where the direct method's passes are short and its
per-call overhead dominates. ``_engine.estimate_seconds`` decides.

``tests/test_engine.py`` checks it against ``conv_reference``, PyTorch and JAX.
"""
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _workspace as ws


def toeplitz(w2, width, out, stride, dilation, lo, span, T=None):
    """w2 (C, m, k_h, k_w) -> T (C, m, span * width, out): T[c, j] stacks, for rows r = i * d_h
    (zero rows between them when d_h > 1), the banded matrix of kernel row i along the last axis
    (written into ``T`` when given).
    """
    c, m, kh, kw = w2.shape
    if T is None:
        T = np.zeros((c, m, span * width, out), w2.dtype)
    else:
        T.fill(0)
    (dh, dw), item = dilation, T.itemsize
    flat = T.reshape(c, m, -1)
    for i in range(kh):
        for j in range(kw):
            o0, count = ws.tap_box(j, stride, dw, lo, width, out)
            if count:       # entry (i*d_h*W + o*s + j*d_w - lo, o) for o in the box: step s*out + 1
                start = (i * dh * width + o0 * stride + j * dw - lo) * out + o0
                view = as_strided(flat[:, :, start:], (c, m, count),
                                  (*flat.strides[:2], (stride * out + 1) * item))
                view[...] = w2[:, :, i, j, None]
    return T


def _depthwise_toeplitz(xp, w, stride, dilation, groups, out_sizes, pads=None):
    """2-D depthwise layer (one input channel per group) by Toeplitz products.

    xp : (N, C, H, W), unpadded with ``pads`` its zero padding (or padded already, pads None)
    w  : (C * m, 1, k_h, k_w) -> y (N, C * m, H_out, W_out)
    """
    n, c, h, width = xp.shape
    (kh, kw), m = w.shape[2:], w.shape[0] // groups
    (sh, sw), dh = stride, dilation[0]
    (lo_h, _), (lo_w, _) = pads or [(0, 0), (0, 0)]
    h_out, w_out = out_sizes
    span = (kh - 1) * dh + 1                                   # input rows per output row
    rows = max(lo_h + h, (h_out - 1) * sh + span)              # rows of the padded buffer
    w2 = w.reshape(c, m, kh, kw)
    y = np.empty((n, c, m, h_out, w_out), dtype=xp.dtype)
    item = xp.itemsize

    def work(c0, c1):
        b = c1 - c0
        T = ws.scratch("toeplitz_matrix", b * m * span * width * w_out, xp.dtype)
        T = toeplitz(w2[c0:c1], width, w_out, sw, dilation, lo_w, span,
                     T.reshape(b, m, span * width, w_out))
        xb = ws.scratch("toeplitz", n * b * rows * width, xp.dtype).reshape(n, b, rows, width)
        xb[:, :, :lo_h] = 0                                    # the zero rows, top and bottom
        xb[:, :, lo_h + h:] = 0
        xb[:, :, lo_h:lo_h + h] = xp[:, c0:c1]
        # (channel, output row, image, R*W): the run of output row h starts at row h*s_h
        runs = as_strided(xb, (b, h_out, n, span * width),
                          (rows * width * item, sh * width * item, b * rows * width * item, item),
                          writeable=False)
        prod = ws.scratch("toeplitz_out", b * h_out * w_out * n, xp.dtype)
        prod = prod.reshape(b, h_out, w_out, n)
        for j in range(m):
            # as y^T = T^T @ runs^T (BLAS runs this orientation faster here), into a contiguous
            # buffer (matmul writes a strided `out` far more slowly than this one extra copy)
            np.matmul(T[:, j, None].swapaxes(-1, -2), runs.swapaxes(-1, -2), out=prod)
            np.copyto(y[:, c0:c1, j], prod.transpose(3, 0, 1, 2))

    # one channel range per core, each with a single-threaded BLAS
    bounds = [c * i // ws.WORKERS for i in range(ws.WORKERS + 1)]
    ws.each_chunk(lambda r: work(*r), [(lo, hi) for lo, hi in zip(bounds, bounds[1:]) if lo < hi])
    return y.reshape(n, c * m, h_out, w_out)
