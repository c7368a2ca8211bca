"""Winograd's minimal filtering F(2, 3) and F(4, 3): a 3-tap correlation with fewer multiplications.

One axis. Two outputs of a 3-tap correlation read a "tile" of four inputs d0..d3:

    y0 = d0 g0 + d1 g1 + d2 g2          (6 multiplications)
    y1 = d1 g0 + d2 g1 + d3 g2

With the tile and the kernel transformed,

    V = B^T d = (d0 - d2,  d1 + d2,  d2 - d1,  d1 - d3)
    U = G g   = (g0,  (g0 + g1 + g2) / 2,  (g0 - g1 + g2) / 2,  g2)

the same two outputs need only the 4 products m = U * V (elementwise):

    y = A^T m = (m0 + m1 + m2,  m1 - m2 - m3)

(Winograd's minimal filtering algorithm, applied to CNNs by Lavin & Gray, "Fast Algorithms for
Convolutional Neural Networks", CVPR 2016, arXiv:1509.09308; ``test_winograd_identity`` checks
the identity.)

A layer. Summed over the input channels, the products become one matrix product per
transformed position xi (4 of them in 1-D):

    M[xi] (tiles, C_out) = V[xi] (tiles, C_in) @ U[xi]^T (C_in, C_out)

In d dimensions B^T, G and A^T apply along each axis in turn (they are separable): tiles are
4^d inputs stepping by 2 along every axis, and there are 4^d products, each the size of the
direct method's product with K = C_in instead of C_in * 3^d. The multiply-adds shrink to
(4/6)^d: 0.44 of im2col + GEMM in 2-D, 0.30 in 3-D. The price is the transforms, a few passes
over data 2^d times the size of the input and of the output, so the method wins where the
products dominate: many channels. ``_engine.estimate_seconds`` decides.

The steps (``_winograd``):

1. copy the input channels-last, zero-padded to 2T + 2 per axis (T = ceil(out / 2) tiles):
   (N, *padded, C_in). Channels last, every NumPy call below runs over runs of C numbers
   instead of rows of T numbers;
2. input transform along each spatial axis: V, (4,)*d + (N, *T, C_in);
3. kernel transform U = (G x G x ...) w, (4^d, C_out, C_in), and the 4^d products M = V @ U^T;
4. output transform along each axis: (N, T_0, 2, T_1, 2, ..., C_out) = (N, *2T, C_out);
5. copy back channels-first, dropping the last output of an odd axis.

F(4, 3) (``_winograd4``). Tiles of six inputs stepping by 4 give four outputs from 6 products
instead of 12 multiply-adds; in d dimensions 6^d products make 4^d outputs, (6/12)^d of the
direct multiply-adds: 0.25 in 2-D. Its transforms have more terms (B^T below has 22 nonzero
coefficients, not 8), too many for one NumPy pass per term, so they run as matrix products:

    D (6^d, tiles * C_in)   the tiles, gathered channels last (one copy)
    V = (B^T x B^T x ...) D             one product, K = 6^d
    M[xi] = V[xi] @ U[xi]^T             6^d products, K = C_in, as in F(2, 3)
    Y = (A^T x A^T x ...) M             one product, (4^d, tiles * C_out)

and a copy puts Y's (4 x 4 x ...)-blocks back in place. Neighbouring tiles share 2 of their 6
inputs instead of 2 of 4, and in 2-D an output takes 36/16 = 2.25 products instead of 16/4 = 4,
so the copies and products that are not the layer's own multiply-adds shrink too. The price: the
points +-2 of its polynomials put coefficients from 1/24 to 8 in the matrices, and the float32
error is more than ten times F(2, 3)'s (the appendix's "Winograd in conv_lib, counted" measures
it); the transformed kernel is 36 C_out C_in numbers; and in 3-D a single Kronecker product
would be 216 x 216, as many multiply-adds per number as the layer saves with 32 channels, so
there the first axis goes on its own (``_transform``).

Only 3-tap kernels, stride 1, dilation 1, groups 1 (``_engine.applicable``).
"""
import contextlib
import functools
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import _workspace as ws

G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
# V and M of one piece (``_winograd``) hold at most about this many bytes. The products run
# over the tiles of one piece, so pieces must be wide: measured on ResNet-50's 3x3 layers and
# the 3-D U-Net's, 8-16 MiB pieces run fastest, 1 MiB ones two to three times slower (narrow
# products), 32 MiB ones up to 30% slower (too few pieces for the queue to balance the cores).
WINOGRAD_PIECE_BYTES = 16 << 20


@functools.lru_cache(maxsize=8)
def kernel_matrix(ndim, dtype):
    """G x G x ... (Kronecker, ndim factors): (4^d, 3^d), row xi = (xi_0, ..., xi_{d-1}) and
    column t = (t_0, ..., t_{d-1}) in row-major order: U[xi] = K[xi] @ w.reshape(..., 3^d)."""
    return _kron_power(G, ndim, dtype)


def _kron_power(factor, ndim, dtype):
    """factor x factor x ... (Kronecker, ndim factors), as ``dtype``: one factor per axis."""
    k = np.ones((1, 1))
    for _ in range(ndim):
        k = np.kron(k, factor)
    return k.astype(dtype)


def tile_counts(out_sizes, m=2):
    """Tiles per axis: each gives m outputs, the last one partly outside where m does not divide
    the axis."""
    return [-(-o // m) for o in out_sizes]


def _kernel_transform(k_mat, w):
    """U = K w for every (C_out, C_in) pair: (comps, C_out, C_in), K (comps, 3^d) the Kronecker
    power of G; the comps rows split between the cores, each with a single-threaded BLAS."""
    c_out, c_in, comps = w.shape[0], w.shape[1], k_mat.shape[0]
    w_t = w.reshape(c_out * c_in, -1).T                              # (3^d, C_out * C_in), a view
    u = ws.scratch("winograd_u", comps * c_out * c_in, w.dtype).reshape(comps, c_out, c_in)
    blas = ws._blas_controller()
    with blas.limit(limits=1) if blas is not None else contextlib.nullcontext():
        each = ws.parallel if blas is not None else lambda fn, count: fn(0, count)
        each(lambda lo, hi: np.matmul(k_mat[lo:hi], w_t,
                                      out=u[lo:hi].reshape(hi - lo, c_out * c_in)), comps)
    return u


def _input_axis(src, axis, tiles, out):
    """out[k] = (B^T d)[k] for the tiles along ``axis`` of src, d_j = src[.., 2t + j, ..]."""
    d = [src[(slice(None),) * axis + (slice(j, j + 2 * tiles, 2),)] for j in range(4)]
    np.subtract(d[0], d[2], out=out[0])
    np.add(d[1], d[2], out=out[1])
    np.subtract(d[2], d[1], out=out[2])
    np.subtract(d[1], d[3], out=out[3])


def _output_axis(m, out0, out1):
    """(out0, out1) = A^T m along the first axis of m: m0 + m1 + m2 and m1 - m2 - m3."""
    np.add(m[0], m[1], out=out0)
    out0 += m[2]
    np.subtract(m[1], m[2], out=out1)
    out1 -= m[3]


def _pad_channels_last(x, pads, band, a):
    """band = rows a, a+1, ... of the zero-padded input, channels last.

    x : (N, C, *sizes) ; pads : (lo, hi) per axis ; band : (N, rows, *padded[1:], C) where
    padded >= lo + size + hi (the rest is zero as well).
    """
    ndim = x.ndim - 2
    inside = [(lo, lo + size) for (lo, _), size in zip(pads, x.shape[2:])]
    r0, r1 = max(a, inside[0][0]), min(a + band.shape[1], inside[0][1])   # rows that are x's
    if r0 >= r1:
        band[...] = 0
        return
    band[:, :r0 - a] = 0
    band[:, r1 - a:] = 0
    for j, (lo, hi) in enumerate(inside[1:], start=2):
        cut = (slice(None), slice(r0 - a, r1 - a)) + (slice(None),) * (j - 2)
        band[cut + (slice(0, lo),)] = 0
        band[cut + (slice(hi, None),)] = 0
    dst = band[(slice(None), slice(r0 - a, r1 - a), *(slice(lo, hi) for lo, hi in inside[1:]))]
    src = x[:, :, r0 - inside[0][0]:r1 - inside[0][0]]
    np.copyto(dst, src.transpose(0, *range(2, ndim + 2), 1))


def _winograd(x, w, stride, dilation, groups, out_sizes, pads=None):
    """F(2, 3) along every axis (the module docstring). x : (N, C_in, *sizes), padded by
    ``pads`` (zeros) or already padded (pads None); w : (C_out, C_in, 3, ..., 3)
    -> (N, C_out, *out_sizes).

    The kernel transform first (step 3a, the 4^d products split between the cores), then the
    layer in pieces -- a few images, or a band of tile rows of one -- each taken by a core from
    a common queue (``_workspace.each_chunk``) and carried through steps 1-5 by that core alone,
    with a single-threaded BLAS. A core never waits for the other between the steps (splitting
    each step between the cores instead, with a wait after each, measured 5-30% slower: 16% on
    ResNet's 56x56 layer, 28-31% on the 3-D U-Net's), and a piece's V and M stay its own scratch.
    """
    ndim = len(out_sizes)
    n, c_in = x.shape[:2]
    c_out = w.shape[0]
    pads = pads or [(0, 0)] * ndim
    tiles = tile_counts(out_sizes)
    comps, dtype = 4 ** ndim, x.dtype
    u = _kernel_transform(kernel_matrix(ndim, dtype), w)                      # step 3a
    y = np.empty((n, c_out, *out_sizes), dtype=dtype)
    row_bytes = comps * math.prod(tiles[1:]) * (c_in + c_out) * x.itemsize   # one tile row's V, M
    ws.each_chunk(lambda piece: _winograd_piece(x, *piece, pads, u, y),
                  ws._chunks(n, tiles[0], row_bytes, WINOGRAD_PIECE_BYTES))
    return y


def _winograd_piece(x, n0, n1, lo, hi, pads, u, y):
    """Steps 1, 2, 3b, 4 and 5 (``_winograd``) for the images n0..n1-1, tile rows lo..hi-1:
    those outputs of y from x and the transformed kernel u (4^d, C_out, C_in)."""
    ndim, c_in, (comps, c_out, _) = x.ndim - 2, x.shape[1], u.shape
    out_sizes, dtype = y.shape[2:], x.dtype
    tiles = tile_counts(out_sizes)
    tiles[0] = count = hi - lo                                    # this piece's tile rows
    padded = [2 * t + 2 for t in tiles]
    b = n1 - n0
    v = ws.scratch("winograd_v", comps * b * math.prod(tiles) * c_in, dtype)
    v = v.reshape((4,) * ndim + (b, *tiles, c_in))
    m = ws.scratch("winograd_m", comps * b * math.prod(tiles) * c_out, dtype)
    m = m.reshape((4,) * ndim + (b, *tiles, c_out))

    # steps 1 and 2: the padded band channels last, then B^T along each axis
    cur = ws.scratch("winograd_x", b * math.prod(padded) * c_in, dtype).reshape(b, *padded, c_in)
    _pad_channels_last(x[n0:n1], pads, cur, 2 * lo)
    for j in range(ndim):                     # cur: (xi_0, ..., xi_{j-1}, N, *axes, C_in)
        shape = list(cur.shape)
        shape[2 * j + 1] = tiles[j]                                # axis j -> its tiles
        if j == ndim - 1:
            out = np.moveaxis(v, j, 0)
        else:
            out = ws.scratch(f"winograd_in{j}", 4 * math.prod(shape), dtype).reshape(4, *shape)
        _input_axis(cur, 2 * j + 1, tiles[j], out)                 # out[xi_j]
        cur = np.moveaxis(out, 0, j)                               # xi_j after xi_{j-1}

    # step 3b: M[xi] = V[xi] @ U[xi]^T, the 4^d products over the piece's tiles
    np.matmul(v.reshape(comps, -1, c_in), u.transpose(0, 2, 1), out=m.reshape(comps, -1, c_out))

    # step 4: A^T along each axis
    cur = m
    for j in range(ndim):
        # cur: (xi_j, ..., xi_{d-1}, N, T_0, 2, ..., T_{j-1}, 2, T_j, ..., C_out);
        # A^T along xi_j gives r_j, which goes right after T_j (index ndim + j + 1)
        shape = list(cur.shape[1:])
        shape.insert(ndim + j + 1, 2)
        out = ws.scratch(f"winograd_out{j}", math.prod(shape), dtype).reshape(shape)
        _output_axis(cur, _index(out, ndim + j + 1, 0), _index(out, ndim + j + 1, 1))
        cur = out

    # step 5: back channels first, without the outputs past an odd axis's end
    last = min(2 * hi, out_sizes[0])
    full = cur.reshape(b, 2 * count, *(2 * t for t in tiles[1:]), c_out)
    full = full[(slice(None), slice(0, last - 2 * lo), *(slice(0, o) for o in out_sizes[1:]))]
    np.copyto(y[n0:n1, :, 2 * lo:last], full.transpose(0, ndim + 1, *range(1, ndim + 1)))


def _index(a, axis, i):
    """a[..., i, ...] with i on ``axis`` (a view)."""
    return a[(slice(None),) * axis + (i,)]


# ---- F(4, 3) --------------------------------------------------------------------------------
# Lavin & Gray's matrices for the points 0, 1, -1, 2, -2 and infinity (their section 4.2):
# y = A^T ((G g) * (B^T d)) for a tile d of 6 inputs and a kernel g of 3 taps.
B4_T = np.array([[4, 0, -5, 0, 1, 0],
                 [0, -4, -4, 1, 1, 0],
                 [0, 4, -4, -1, 1, 0],
                 [0, -2, -1, 2, 1, 0],
                 [0, 2, -1, -2, 1, 0],
                 [0, 4, 0, -5, 0, 1]], dtype=float)
G4 = np.array([[1 / 4, 0, 0],
               [-1 / 6, -1 / 6, -1 / 6],
               [-1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6],
               [1 / 24, -1 / 12, 1 / 6],
               [0, 0, 1]])
A4_T = np.array([[1, 1, 1, 1, 1, 0],
                 [0, 1, -1, 2, -2, 0],
                 [0, 1, 1, 4, 4, 0],
                 [0, 1, -1, 8, -8, 1]], dtype=float)


# Axes whose transform is one product with a Kronecker power (``_transform``); the others go
# one at a time before them.
KRONECKER_AXES = 2


@functools.lru_cache(maxsize=24)
def kronecker(matrix, ndim, dtype):
    """matrix x matrix x ... (ndim factors) for "B" (B4^T), "G" (G4) or "A" (A4^T): one
    factor per axis, row and column indices in row-major order, like ``kernel_matrix``."""
    return _kron_power({"B": B4_T, "G": G4, "A": A4_T}[matrix], ndim, dtype)


def _winograd4(x, w, stride, dilation, groups, out_sizes, pads=None):
    """F(4, 3) along every axis (module docstring). x : (N, C_in, *sizes), padded by ``pads``
    (zeros) or already padded (pads None); w : (C_out, C_in, 3, ..., 3)
    -> (N, C_out, *out_sizes). Split like ``_winograd``: the kernel transform, then pieces of
    images or tile rows, each carried through every step by one core."""
    ndim = len(out_sizes)
    n, c_in = x.shape[:2]
    c_out = w.shape[0]
    pads = pads or [(0, 0)] * ndim
    tiles, comps = tile_counts(out_sizes, 4), 6 ** ndim
    u = _kernel_transform(kronecker("G", ndim, x.dtype), w)
    y = np.empty((n, c_out, *out_sizes), dtype=x.dtype)
    row_bytes = comps * math.prod(tiles[1:]) * (2 * c_in + c_out) * x.itemsize  # D, V, M per row
    ws.each_chunk(lambda piece: _winograd4_piece(x, *piece, pads, u, y),
                  ws._chunks(n, tiles[0], row_bytes, WINOGRAD_PIECE_BYTES))
    return y


def _winograd4_piece(x, n0, n1, lo, hi, pads, u, y):
    """The images n0..n1-1, tile rows lo..hi-1 of ``_winograd4``: gather, B^T, products, A^T,
    copy back."""
    ndim, c_in, (comps, c_out, _) = x.ndim - 2, x.shape[1], u.shape
    out_sizes, dtype = y.shape[2:], x.dtype
    tiles = tile_counts(out_sizes, 4)
    tiles[0] = hi - lo                                            # this piece's tile rows
    b = n1 - n0
    cols = b * math.prod(tiles)                                  # tiles of this piece
    padded = [4 * t + 2 for t in tiles]
    band = ws.scratch("winograd_x", b * math.prod(padded) * c_in, dtype)
    band = band.reshape(b, *padded, c_in)
    _pad_channels_last(x[n0:n1], pads, band, 4 * lo)
    # tile (n, t_0, ...) position (a_0, ...) is band[n, 4 t_0 + a_0, ..., :]: a view, then a copy
    step = band.strides
    view = as_strided(band, (6,) * ndim + (b, *tiles, c_in),
                      step[1:-1] + step[:1] + tuple(4 * s for s in step[1:-1]) + step[-1:])
    d = ws.scratch("winograd_d", comps * cols * c_in, dtype).reshape(view.shape)
    np.copyto(d, view)
    v = ws.scratch("winograd_v", comps * cols * c_in, dtype).reshape(comps, cols, c_in)
    _transform("B", ndim, d, v)
    m = ws.scratch("winograd_m", comps * cols * c_out, dtype).reshape(comps, cols, c_out)
    np.matmul(v, u.transpose(0, 2, 1), out=m)
    out = ws.scratch("winograd_out", 4 ** ndim * cols * c_out, dtype)
    out = out.reshape((4,) * ndim + (b, *tiles, c_out))
    _transform("A", ndim, m, out)
    # out (r_0, ..., r_{d-1}, N, T_0, ..., T_{d-1}, C_out) -> (N, C_out, T_0, r_0, T_1, r_1, ...)
    order = [ndim, 2 * ndim + 1] + [a for j in range(ndim) for a in (ndim + 1 + j, j)]
    _put_tiles(out.transpose(order), y[n0:n1, :, 4 * lo:min(4 * hi, out_sizes[0])])


def _transform(matrix, ndim, data, out):
    """out = (F x F x ... x F) data, F = B4^T or A4^T ("B", "A") and one factor per spatial axis:
    data (6^d * P numbers, positions first) -> out (n^d * P), n the rows of F: 6 or 4.

    The last ``KRONECKER_AXES`` axes in one product with the Kronecker power of F (K = 6^that),
    the axes before them first, one at a time (K = 6): in 3-D that is 6 + 36 = 42 multiply-adds
    per number of B^T's output instead of 216, for one more pass over the data.
    """
    rows, together = {"B": 6, "A": 4}[matrix], min(ndim, KRONECKER_AXES)
    factor, cur = kronecker(matrix, 1, data.dtype), data
    for j in range(ndim - together):              # cur (rows^j, 6, rest) -> (rows^j, rows, rest)
        rest = data.size // 6 ** (j + 1)
        nxt = ws.scratch(f"winograd_axis{j}", rows ** (j + 1) * rest, data.dtype)
        nxt = nxt.reshape(rows ** j, rows, rest)
        np.matmul(factor, cur.reshape(rows ** j, 6, rest), out=nxt)
        cur = nxt
    lead = rows ** (ndim - together)
    np.matmul(kronecker(matrix, together, data.dtype), cur.reshape(lead, 6 ** together, -1),
              out=out.reshape(lead, rows ** together, -1))


def _put_tiles(blocks, y):
    """y[n, c, 4 t_0 + r_0, 4 t_1 + r_1, ...] = blocks[n, c, t_0, r_0, t_1, r_1, ...] wherever y
    has that position (the last tile of an axis may stick out of y): one copy for the whole
    tiles, one more for each combination of last tiles that stick out.
    blocks : (N, C, T_0, 4, T_1, 4, ...) ; y : (N, C, *sizes), sizes <= 4 T."""
    parts = []                                      # per axis: (tiles, positions in them, y's)
    for size in y.shape[2:]:
        whole, rest = divmod(size, 4)
        last = (slice(whole, whole + 1), slice(0, rest), slice(4 * whole, size))
        parts.append([(slice(0, whole), slice(None), slice(0, 4 * whole))] + [last] * (rest > 0))
    for combo in itertools.product(*parts):
        src = blocks[(slice(None), slice(None)) + tuple(s for t, r, _ in combo for s in (t, r))]
        dst = y[(slice(None), slice(None)) + tuple(part for _, _, part in combo)]
        np.copyto(np.reshape(dst, src.shape, copy=False), src)
