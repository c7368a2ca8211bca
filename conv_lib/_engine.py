"""The fast path: which strategy computes a correlation, chosen by a cost model.

``correlate`` receives the input already dilated; it pads it and slides the kernel:

    y[n, o, i] = sum_{c, t} xp[n, g*Cg + c, i*s + t*d] * w[o, c, t]     with g = o // (C_out/groups)

(``conv.conv_reference`` writes exactly this as loops: it is the specification). Seven functions
compute it, each for the shapes where it can (``tests/test_engine.py`` checks every one, forced,
against ``conv_reference``, PyTorch and JAX):

``_pointwise``   (``_gemm``) 1x1 kernel, stride 1: the input is the GEMM operand as it is.
``_flat_gemm``   (``_gemm``) stride 1: im2col whose rows are contiguous slices, then GEMM.
``_im2col_gemm`` (``_gemm``) any layer: im2col from the window view (zero padding in its buffer),
                 then GEMM.
``_depthwise``   (``_direct``) one input channel per group: the taps multiply-accumulated in
                 cache, strided layers split into phases.
``_depthwise_toeplitz`` (``_toeplitz``) 2-D, one input channel per group: each channel's kernel
                 as a banded matrix, one small product per (channel, output row).
``_winograd``    (``_winograd``) 3-tap kernels, stride 1: Winograd's F(2, 3) along every axis,
                 4^d products on transformed tiles with (4/6)^d of the multiply-adds.
``_winograd4``   (``_winograd``) the same with F(4, 3): 6^d products for 4^d outputs, (6/12)^d
                 of the multiply-adds, the transforms themselves matrix products.

and ``transposed`` (``_gemm``) computes ``conv_transpose`` as a GEMM plus a scatter.

Which one is fastest depends on the sizes, not only on the kind of layer: a 3x3 depthwise layer on
7x7 planes spends its time in per-call overhead, a 1x1 layer on 7x7 images needs its images side
by side to give BLAS a wide enough product. ``estimate_seconds`` predicts the time of each
applicable strategy from the work it does -- multiply-adds at a GEMM speed that drops for narrow
products, elements copied, elements streamed through the direct loops, NumPy calls -- with
constants measured once on a benchmark machine (2 cores, AVX-512, OpenBLAS), and
``choose_strategy`` takes the cheapest. The model only has to rank strategies, not predict times
exactly; ``python -m benchmarks.networks`` shows how its choices fare.
"""
import functools
import math

from ._direct import FLAT_PLANE, _depthwise, phase_geometry, planes_per_step
from ._gemm import WIDE_COLUMNS, _flat_gemm, _im2col_gemm, _pointwise, transposed
from ._toeplitz import _depthwise_toeplitz
from ._winograd import KRONECKER_AXES, _winograd, _winograd4, tile_counts
from ._workspace import CHUNK_BYTES, WORKERS, _chunks, flat_geometry, parallel, scratch, windows
from .padding import pad

__all__ = ["correlate", "choose_strategy", "estimate_seconds", "transposed", "windows",
           "flat_geometry", "parallel", "scratch", "CHUNK_BYTES", "WORKERS", "_chunks"]

STRATEGIES = (_pointwise, _flat_gemm, _im2col_gemm, _depthwise, _depthwise_toeplitz, _winograd,
              _winograd4)
IN_CACHE_PADDING = (_depthwise, _depthwise_toeplitz, _im2col_gemm, _winograd,   # + zero pads
                    _winograd4)

# ---- cost model constants (float32, both cores) ----------------------------------------------
# Fitted once, on an earlier 2-core benchmark machine (an AMD EPYC); the stored runs of later
# days come from an Intel Xeon where the same sgemm runs at 280-300 GFLOP/s. Only the
# ranking matters, and ``python -m benchmarks.networks --strategies`` checks it on the machine
# at hand (``benchmarks/strategies.json``: on the Xeon, every pick within 10% of the fastest).
GEMM_FLOPS = 170e9        # a large square sgemm: 2048^3 float32 at 166-175 GFLOP/s (the EPYC)
GEMM_HALF = (8, 96, 24)   # M, N, K at which a product runs at half speed along that dimension
COPY_RATE = 1.5e9         # elements/s of a copy made of long contiguous runs (im2col, flat)
GATHER_RATE = 0.6e9       # elements/s of a copy with a stride inside (im2col of a strided layer)
DIRECT_RATE = 2.5e9       # multiply-adds/s of the direct loops (in cache, both cores)
CALL = 2e-6               # seconds per NumPy call (ufunc or small matmul)
ROW = 0.15e-6             # extra seconds per row of a 2-D ufunc loop
SMALL_GEMM = (50e-9, 25e9)  # one product of a batched matmul: seconds + multiply-adds / rate
THREAD_GAIN = 1.5         # speed-up of 2 threads over 1 on those (OpenBLAS serialises a little)
RUN = 20e-9               # seconds per contiguous run of a strided NumPy pass (its inner loop)


def applicable(strategy, w_shape, stride, dilation=None, groups=1):
    """Can ``strategy`` compute a layer with weight ``w_shape``, ``stride``, ``dilation`` (default
    1) and ``groups``?"""
    unit = all(s == 1 for s in stride)
    if strategy in (_winograd, _winograd4):
        return (unit and groups == 1 and all(k == 3 for k in w_shape[2:])
                and (dilation is None or all(d == 1 for d in dilation)))
    if strategy is _pointwise:
        return unit and all(k == 1 for k in w_shape[2:])
    if strategy is _flat_gemm:
        return unit
    if strategy is _depthwise:
        return w_shape[1] == 1
    if strategy is _depthwise_toeplitz:
        return w_shape[1] == 1 and len(stride) == 2
    return strategy is _im2col_gemm


def candidates(w_shape, stride, dilation=None, groups=1):
    """The strategies that can compute this layer (``applicable``), in ``STRATEGIES`` order."""
    return [s for s in STRATEGIES if applicable(s, w_shape, stride, dilation, groups)]


def _gemm_seconds(m, n, k, calls):
    rate = GEMM_FLOPS * math.prod(v / (v + h) for v, h in zip((m, n, k), GEMM_HALF))
    return 2 * m * n * k * calls / rate + calls * CALL


def _transform_seconds(rows, ndim, columns):
    """``_winograd._transform`` of (6^d, columns) into (rows^d, columns): the leading axes one
    product each (K = 6), the last ``KRONECKER_AXES`` together."""
    together = min(ndim, KRONECKER_AXES)
    seconds = sum(_gemm_seconds(rows, rows ** j * 6 ** (ndim - j - 1) * columns, 6, 1)
                  for j in range(ndim - together))
    return seconds + _gemm_seconds(rows ** together, rows ** (ndim - together) * columns,
                                   6 ** together, 1)


def estimate_seconds(strategy, x_shape, w_shape, stride, dilation, groups, out_sizes):
    """Predicted seconds of ``strategy`` on this layer (x_shape is the dilated, unpadded input).

    GEMM strategies: the im2col copy (elements / copy rate) + the products (flops / GEMM speed
    for their M = C_out/groups, N = columns, K = C_in/groups * prod(k)) + the copy of the result
    into y when it has junk columns or images side by side. Direct: multiply-adds / direct rate
    + one call per tap and chunk + the per-row overhead of the ``rows`` mode + the phase split.
    Winograd: its 4^d products (K = C_in) + the kernel transform + the passes of the transforms
    over data 2^d times the input and the output, at the copy rate and a cost per run of C;
    F(4, 3) its 6^d products, its two Kronecker products and its three copies.
    """
    n, c_in = x_shape[:2]
    c_out, c_group = w_shape[:2]
    kernel, taps = w_shape[2:], math.prod(w_shape[2:])
    positions, item = math.prod(out_sizes), 4
    og, kg = c_out // groups, c_group * taps
    if strategy is _depthwise:
        planes, _ = phase_geometry(kernel, stride, dilation, out_sizes)
        plane = math.prod(planes)
        mult = c_out // c_in
        chunk = planes_per_step(c_in, plane)
        steps = n * -(-c_in // chunk)
        seconds = n * c_out * plane * taps / DIRECT_RATE + steps * mult * (2 * taps + 2) * CALL
        if plane > FLAT_PLANE:
            seconds += steps * chunk * mult * 2 * taps * ROW / WORKERS
        else:                                             # the expanded weights
            seconds += mult * taps * c_in * plane / COPY_RATE
        copies = n * c_in * plane * math.prod(stride) * (2 if any(s > 1 for s in stride) else 1)
        return seconds + copies / COPY_RATE / WORKERS
    if strategy is _depthwise_toeplitz:        # (channel, output row) products (N, R*W) x (W_out)
        span = (kernel[0] - 1) * dilation[0] + 1
        width, products = x_shape[3], c_out * out_sizes[0]
        macs = n * span * width * out_sizes[1]
        seconds = products * (SMALL_GEMM[0] + macs / SMALL_GEMM[1])
        copies = n * c_in * (x_shape[2] + span) * width + n * c_out * positions
        return (seconds + copies / COPY_RATE) / (THREAD_GAIN if WORKERS > 1 else 1)
    if strategy is _winograd:       # 4^d products over the tiles + the passes of the transforms
        ndim = len(out_sizes)
        tiles = tile_counts(out_sizes)
        cols, comps = n * math.prod(tiles), 4 ** ndim
        # U (4^d, C_out, C_in) is written by the kernel transform and read back by the products
        seconds = _gemm_seconds(c_out, cols, c_in, comps) + 2 * comps * c_out * c_in / COPY_RATE
        ins = n * math.prod(2 * t + 2 for t in tiles) * c_in + 1.5 * comps * cols * c_in
        outs = 1.5 * comps * cols * c_out + n * c_out * positions    # (V, M, half-way arrays)
        # channels last, the passes run over contiguous runs of C numbers, each a NumPy loop
        return seconds + (ins + outs) / COPY_RATE + (ins / c_in + outs / c_out) * RUN
    if strategy is _winograd4:      # gather, two Kronecker products, 6^d products, copy back
        ndim = len(out_sizes)
        tiles = tile_counts(out_sizes, 4)
        cols, comps, outs = n * math.prod(tiles), 6 ** ndim, 4 ** ndim
        seconds = (_gemm_seconds(c_out, cols, c_in, comps) + 2 * comps * c_out * c_in / COPY_RATE
                   + _transform_seconds(6, ndim, cols * c_in)                           # B^T
                   + _transform_seconds(4, ndim, cols * c_out))                         # A^T
        copied = n * math.prod(4 * t + 2 for t in tiles) * c_in + comps * cols * c_in \
            + outs * cols * c_out                                 # channels last, D, the blocks
        return seconds + copied / COPY_RATE + (copied / c_in) * RUN
    if strategy is _pointwise:
        columns, copied, junk = positions, 0, False
    elif strategy is _flat_gemm:
        padded = [o + d * (k - 1) for o, k, d in zip(out_sizes, kernel, dilation)]
        row, inner, _ = flat_geometry(padded, kernel, dilation, out_sizes)
        columns = (out_sizes[0] - 1) * row + inner
        copied, junk = n * c_in * taps * columns / COPY_RATE, columns != positions
        if list(padded) != list(x_shape[2:]):          # correlate pads a copy of x for it first
            copied += n * c_in * math.prod(padded) / COPY_RATE
    else:
        # strided windows copy with a stride inside; in 1-D with stride 1 each (image, channel,
        # tap) is one contiguous run, as fast as the flat copy (WaveNet's kernel-2 layers)
        columns, contiguous = positions, len(out_sizes) == 1 and stride[0] == 1
        rate = COPY_RATE if contiguous else GATHER_RATE
        copied, junk = n * c_in * taps * columns / rate, False
    chunk_images = max(1, min(n, CHUNK_BYTES // max(1, c_in * taps * columns * item)))
    wide = chunk_images == 1 or columns >= WIDE_COLUMNS
    chunks = -(-n // chunk_images)
    if wide:
        gemm = _gemm_seconds(og, columns, kg, n * groups)
    else:
        gemm = _gemm_seconds(og, columns * chunk_images, kg, chunks * groups)
        copied += (n * c_in * positions / COPY_RATE) if strategy is _pointwise else 0
    out_copy = n * c_out * positions / COPY_RATE if (junk or not wide) else 0
    return copied + gemm + out_copy


def choose_strategy(w_shape, stride, x_shape=None, groups=1, dilation=None, out_sizes=None):
    """The function ``correlate`` uses for a weight of shape ``w_shape`` (C_out, C_in/groups, *k).

    With the input shape (``x_shape``, dilated, unpadded) the cost model ranks every applicable
    strategy; without it, the rule for large layers: pointwise, depthwise, flat GEMM for
    stride 1, im2col otherwise. Every strategy computes the same result.
    """
    stride = tuple(stride)
    if x_shape is not None:                    # a layer's choice is remembered (~0.1 ms each)
        return _cheapest(tuple(w_shape), stride, tuple(x_shape), groups,
                         tuple(dilation or (1,) * len(stride)),
                         None if out_sizes is None else tuple(out_sizes))
    unit_stride = all(s == 1 for s in stride)
    if all(k == 1 for k in w_shape[2:]) and unit_stride:
        return _pointwise
    if w_shape[1] == 1:
        return _depthwise
    return _flat_gemm if unit_stride else _im2col_gemm


@functools.lru_cache(maxsize=512)
def _cheapest(w_shape, stride, x_shape, groups, dilation, out_sizes):
    """The applicable strategy of least ``estimate_seconds`` (arguments as tuples)."""
    if out_sizes is None:
        out_sizes = [(size - d * (k - 1) - 1) // s + 1
                     for size, k, s, d in zip(x_shape[2:], w_shape[2:], stride, dilation)]
    return min(candidates(w_shape, stride, dilation, groups),
               key=lambda s: estimate_seconds(s, x_shape, w_shape, stride, dilation, groups,
                                              out_sizes))


def correlate(x, w, stride, dilation, groups, out_sizes, pads, mode="zeros", strategy=None):
    """Pad ``x`` by ``pads`` (mode ``mode``) and cross-correlate it with ``w``, with the strategy
    ``choose_strategy`` picks (or ``strategy``, forced).

    x : (N, C_in, *in_sizes) ; w : (C_out, C_in // groups, *k) ; pads : one (lo, hi) per spatial dim
    -> (N, C_out, *out_sizes)
    """
    if strategy is None:
        strategy = choose_strategy(w.shape, stride, x.shape, groups, dilation, out_sizes)
        if strategy is _winograd4 and x.dtype.itemsize < 4:
            strategy = _winograd    # float16: F(4, 3)'s constants (1/24 .. 8) cost it 1% error
    args = (w, tuple(stride), tuple(dilation), groups, tuple(out_sizes))
    if strategy in IN_CACHE_PADDING and mode == "zeros":
        return strategy(x, *args, pads=pads)          # pads in cache, a few planes at a time
    return strategy(pad(x, pads, mode), *args)
