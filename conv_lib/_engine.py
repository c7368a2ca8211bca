"""The fast path: sliding-window views of the padded input and one matrix product per group.

``correlate`` receives the input already dilated; it pads it and slides the kernel:

    y[n, o, i] = sum_{c, t} xp[n, g*Cg + c, i*s + t*d] * w[o, c, t]     with g = o // (C_out/groups)

``windows`` gives V[n, c, i, t] = xp[n, c, i*s + t*d] as a view (no copy). Which way of
contracting V with w is fastest depends on the shapes, so ``choose_strategy`` picks one of four
functions; all compute exactly the formula above (``tests/test_engine.py`` checks each one against
``conv_reference``, PyTorch and JAX):

``_pointwise``   1x1 kernel, stride 1. The windows are the input itself: one matmul per image and
                 group, (C_out/g, C_in/g) @ (C_in/g, positions), reading and writing NCHW directly.
``_depthwise``   one input channel per group (C_in/groups == 1). A matrix product with an inner
                 dimension of prod(k) (9 for 3x3) would waste the BLAS kernel, so the taps are
                 multiply-accumulated one by one instead (a "direct" method). It zero-pads a few
                 planes at a time itself, in cache, instead of padding the whole input first.
``_flat_gemm``   stride 1: im2col + GEMM where every row of the im2col buffer is one contiguous
                 slice of the flattened input (see ``flat_geometry``), so the copy runs at memcpy
                 speed; a few junk columns (windows that wrap around a row) are dropped afterwards.
``_im2col_gemm`` everything else (strides > 1): im2col from the exact window view.

Both GEMM strategies work in chunks: the columns of a few images, or of a band of output rows,
are copied into one buffer of about ``CHUNK_BYTES`` of shape (C_in * prod(k), positions) and
multiplied by the weight matrix (C_out/g, C_in/g * prod(k)). Rows ordered (channel, tap) like the
weight, columns like the output: the product is already NCHW, and neither operand needs a
transpose. Chunking reuses one cache-sized buffer instead of materialising prod(k) copies of the
whole input at once.

Shapes: xp (N, C_in, *padded), w (C_out, C_in // groups, *k) -> y (N, C_out, *out_sizes); the
result has the dtype of xp (float32 stays float32). Every strategy takes the padded input (and
the depthwise one optionally the unpadded input and its zero padding).
"""
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .padding import pad

# Bytes of im2col buffer filled and multiplied per step (measured on the benchmark layers: 8 MiB
# beats 1-2 MiB here because each matmul call is then big enough to keep both cores busy).
CHUNK_BYTES = 8 << 20
# (image, channel) planes per depthwise step: 64 planes of 58x58 floats (padded input,
# accumulator and scratch, about 2.6 MB) measured fastest on the benchmark layer; 16 or fewer
# make the per-call overhead of NumPy dominate.
DEPTHWISE_PLANES = 64


# Threads for the depthwise strategy (one per core the process may use), started on first use.
WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_pool = None


def parallel(work, n):
    """Run ``work(lo, hi)`` on one contiguous piece of range(n) per core, in threads.

    Threads are enough: NumPy releases the GIL inside its ufunc loops, so the pieces run at the
    same time (only BLAS calls such as matmul use all cores by themselves). Returns when all
    pieces are done, re-raising their errors.
    """
    global _pool
    parts = min(WORKERS, n)
    if parts <= 1:
        return work(0, n)
    if _pool is None:
        _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="conv_lib")
    bounds = [n * i // parts for i in range(parts + 1)]
    for future in [_pool.submit(work, lo, hi) for lo, hi in zip(bounds, bounds[1:])]:
        future.result()


# Scratch buffers (im2col columns, products with junk columns) are kept between calls, one set per
# thread. A fresh multi-megabyte array costs a page fault per 4 KiB the first time it is written
# (about 1 ms per 6 MB here), which is as much as the copy into it; frameworks keep workspaces
# for the same reason.
_scratch = threading.local()


def scratch(name, size, dtype):
    """A 1-D array of ``size`` elements, reused across calls (contents undefined)."""
    cache = _scratch.__dict__.setdefault("buffers", {})
    buf = cache.get((name, np.dtype(dtype)))
    if buf is None or buf.size < size:
        buf = cache[(name, np.dtype(dtype))] = np.empty(size, dtype=dtype)
    return buf[:size]


def windows(xp, kernel_sizes, stride, dilation, out_sizes):
    """View of shape (N, C, *out_sizes, *kernel_sizes): V[..., i, t] = xp[..., i*s + t*d]."""
    n, c = xp.shape[:2]
    sn, sc, *spatial = xp.strides
    return as_strided(
        xp,
        shape=(n, c, *out_sizes, *kernel_sizes),
        strides=(sn, sc, *(st * s for st, s in zip(spatial, stride)),
                 *(st * d for st, d in zip(spatial, dilation))),
        writeable=False)


def correlate(x, w, stride, dilation, groups, out_sizes, pads, mode="zeros"):
    """Pad ``x`` by ``pads`` (mode ``mode``) and cross-correlate it with ``w``, with the strategy
    ``choose_strategy`` picks.

    x : (N, C_in, *in_sizes) ; w : (C_out, C_in // groups, *k) ; pads : one (lo, hi) per spatial dim
    -> (N, C_out, *out_sizes)
    """
    strategy = choose_strategy(w.shape, stride)
    args = (w, tuple(stride), tuple(dilation), groups, tuple(out_sizes))
    if strategy is _depthwise and mode == "zeros":
        return _depthwise(x, *args, pads=pads)        # pads in cache, a few planes at a time
    return strategy(pad(x, pads, mode), *args)


def choose_strategy(w_shape, stride):
    """The function ``correlate`` uses for a weight of shape ``w_shape`` (C_out, C_in/groups, *k).

    Every strategy has the signature of ``correlate`` and computes the same result.
    """
    unit_stride = all(s == 1 for s in stride)
    if all(k == 1 for k in w_shape[2:]) and unit_stride:
        return _pointwise
    if w_shape[1] == 1:
        return _depthwise
    return _flat_gemm if unit_stride else _im2col_gemm


def flat_geometry(padded, kernel, dilation, out_sizes):
    """Where a stride-1 correlation reads the input once the spatial axes are flattened.

    With flat (row-major) strides S_j of the padded grid, output position i sits at flat index
    q(i) = sum_j i_j S_j and its tap t reads input q(i) + offset(t), offset(t) = sum_j t_j d_j S_j.
    So for a fixed tap the inputs of consecutive q form ONE contiguous slice. Computing all q
    between the first and the last output also produces junk values (q whose trailing indices lie
    in the padding), which callers drop. Returns:

    row     flat distance between two steps of the first spatial axis, S_0
    inner   flat outputs needed for one step of the first axis, sum_{j>=1} (out_j - 1) S_j + 1
    strides flat strides of the kernel taps, d_j S_j (in elements)
    """
    flat = [math.prod(padded[j + 1:]) for j in range(len(padded))]
    inner = sum((o - 1) * s for o, s in zip(out_sizes[1:], flat[1:])) + 1
    return flat[0], inner, [d * s for d, s in zip(dilation, flat)]


def _pointwise(xp, w, stride, dilation, groups, out_sizes):
    """1x1 kernel, stride 1: y[n, g] = w[g] @ x[n, g] with positions flattened (a plain matmul).

    (``stride`` and ``dilation`` are accepted for a uniform signature; here they change nothing.)
    """
    n, c_in = xp.shape[:2]
    c_out = w.shape[0]
    positions = math.prod(out_sizes)
    x = xp.reshape(n, groups, c_in // groups, positions)        # 1x1 windows = the input itself
    y = np.empty((n, c_out, *out_sizes), dtype=xp.dtype)
    np.matmul(w.reshape(groups, c_out // groups, c_in // groups), x,
              out=np.reshape(y, (n, groups, c_out // groups, positions), copy=False))
    return y


def _chunks(n, rows, row_bytes):
    """Split (images, rows of the first output axis) into pieces of about CHUNK_BYTES.

    Yields (n0, n1, r0, r1): several whole images if one image fits, else bands of rows of one image.
    """
    if rows * row_bytes <= CHUNK_BYTES:
        step = max(1, CHUNK_BYTES // (rows * row_bytes))
        for n0 in range(0, n, step):
            yield n0, min(n, n0 + step), 0, rows
    else:
        step = max(1, CHUNK_BYTES // row_bytes)
        for n0 in range(n):
            for r0 in range(0, rows, step):
                yield n0, n0 + 1, r0, min(rows, r0 + step)


def _im2col_gemm(xp, w, stride, dilation, groups, out_sizes):
    """im2col from the exact window view into a cache-sized buffer, then one matmul per chunk.

    The buffer for b images and r rows of the first output axis has shape
    (b, C_in, *k, r, *out_sizes[1:]) = (b, C_in * prod(k), positions), so ``w_mat @ cols`` lands
    directly in y[n0:n1, :, r0:r1] (a contiguous block per output channel).
    """
    ndim = len(out_sizes)
    n, c_in = xp.shape[:2]
    c_out, c_group = w.shape[:2]
    kernel = w.shape[2:]
    k_group = c_group * math.prod(kernel)                      # inner GEMM dimension per group
    # (N, C, *out, *k) -> (N, C, *k, *out): the (channel, tap) axes first, positions last
    view = windows(xp, kernel, stride, dilation, out_sizes)
    view = view.transpose(0, 1, *range(2 + ndim, 2 + 2 * ndim), *range(2, 2 + ndim))
    w_mat = w.reshape(groups, c_out // groups, k_group)
    y = np.empty((n, c_out, *out_sizes), dtype=xp.dtype)
    per_row = c_in * math.prod(kernel) * math.prod(out_sizes[1:])   # buffer entries per output row
    for n0, n1, r0, r1 in _chunks(n, out_sizes[0], per_row * xp.itemsize):
        block = view[(slice(n0, n1), Ellipsis, slice(r0, r1)) + (slice(None),) * (ndim - 1)]
        cols = scratch("cols", block.size, xp.dtype).reshape(block.shape)
        np.copyto(cols, block)                                  # the im2col copy
        b, positions = n1 - n0, (r1 - r0) * math.prod(out_sizes[1:])
        np.matmul(w_mat, cols.reshape(b, groups, k_group, positions),
                  out=np.reshape(y[n0:n1, :, r0:r1], (b, groups, c_out // groups, positions),
                                 copy=False))
    return y


def _flat_gemm(xp, w, stride, dilation, groups, out_sizes):
    """Stride 1: im2col whose rows are contiguous slices of the flattened input, then matmul.

    Row (c, t) of a chunk's buffer is xp[n, c].flat[start + offset(t) : ... + span]
    (``flat_geometry``), so the copy moves long contiguous runs instead of short image rows. The
    product has the padded row length; its junk columns are dropped when it is copied into y
    (in 1-D there are none and the product goes straight into y).
    """
    xp = np.ascontiguousarray(xp)
    n, c_in = xp.shape[:2]
    c_out, c_group = w.shape[:2]
    kernel, padded = w.shape[2:], xp.shape[2:]
    k_group = c_group * math.prod(kernel)
    row, inner, tap_strides = flat_geometry(padded, kernel, dilation, out_sizes)
    w_mat = w.reshape(groups, c_out // groups, k_group)
    y = np.empty((n, c_out, *out_sizes), dtype=xp.dtype)
    junk = tuple(padded[1:]) != tuple(out_sizes[1:])
    item, (sn, sc) = xp.itemsize, xp.strides[:2]
    for n0, n1, r0, r1 in _chunks(n, out_sizes[0], c_in * math.prod(kernel) * row * item):
        b, span = n1 - n0, (r1 - r0 - 1) * row + inner          # flat outputs of rows r0..r1-1
        start = xp[n0:n1].reshape(-1)[r0 * row:]                 # first input read by this chunk
        block = as_strided(start, (b, c_in, *kernel, span),
                           (sn, sc, *(s * item for s in tap_strides), item), writeable=False)
        cols = scratch("cols", block.size, xp.dtype).reshape(b, groups, k_group, span)
        np.copyto(cols.reshape(block.shape), block)             # the im2col copy
        if not junk:
            np.matmul(w_mat, cols, out=np.reshape(y[n0:n1, :, r0:r1], (b, groups, -1, span),
                                                  copy=False))
            continue
        flat_out = scratch("product", b * c_out * (r1 - r0) * row, xp.dtype).reshape(
            b, c_out, r1 - r0, *padded[1:])
        np.matmul(w_mat, cols, out=flat_out.reshape(b, groups, c_out // groups, -1)[..., :span])
        y[n0:n1, :, r0:r1] = flat_out[(Ellipsis, *(slice(0, o) for o in out_sizes[1:]))]
    return y


def _depthwise(xp, w, stride, dilation, groups, out_sizes, pads=None):
    """One input channel per group: y[n, g*m + j] = sum_t w[g*m + j, 0, t] * xp[n, g, i + t*d].

    A direct method: the prod(k) taps are multiply-accumulated, ``acc += w_t * shifted input``.
    The (image, channel) planes go ``DEPTHWISE_PLANES`` at a time through buffers that stay in
    the core's cache: the planes are copied into a zero-bordered buffer (so ``xp`` may also be
    the unpadded input, with ``pads`` its zero padding), then every tap streams through it.
    With stride 1 each tap reads ONE contiguous slice of the flattened buffer (``flat_geometry``),
    so NumPy's loops run over thousands of numbers instead of over image rows (whose per-row
    overhead would dominate a 3x3 kernel on 56x56); the last tap's sum drops the junk positions
    as it is written into y. Each core takes a contiguous range of planes (``parallel``). A
    stride > 1 is computed as stride 1 and subsampled.
    """
    if any(s > 1 for s in stride):
        dense = tuple((o - 1) * s + 1 for o, s in zip(out_sizes, stride))
        y = _depthwise(xp, w, (1,) * len(stride), dilation, groups, dense, pads)
        return np.ascontiguousarray(y[(Ellipsis, *(slice(None, None, s) for s in stride))])
    n, sizes, kernel = xp.shape[0], xp.shape[2:], w.shape[2:]
    pads = pads or [(0, 0)] * len(sizes)
    padded = tuple(lo + size + hi for size, (lo, hi) in zip(sizes, pads))
    interior = tuple(slice(lo, lo + size) for size, (lo, _) in zip(sizes, pads))
    mult = w.shape[0] // groups                              # output channels per input channel
    row, inner, tap_strides = flat_geometry(padded, kernel, dilation, out_sizes)
    span = (out_sizes[0] - 1) * row + inner                  # flat outputs of one plane
    offsets = [sum(t * s for t, s in zip(tap, tap_strides)) for tap in np.ndindex(*kernel)]
    planes = n * groups                                      # plane p is image p // G, channel p % G
    x = xp.reshape(planes, *sizes)
    taps = np.tile(w.reshape(groups, mult, -1), (n, 1, 1))[..., None]   # (N*G, m, prod(k), 1)
    grid = (out_sizes[0], *padded[1:])                        # the flat result, junk included
    y = np.empty((planes, mult, *out_sizes), dtype=xp.dtype)
    valid = (Ellipsis, *(slice(0, o) for o in out_sizes))

    def work(lo, hi):
        chunk = min(DEPTHWISE_PLANES, hi - lo)
        block = np.zeros((chunk, *padded), dtype=xp.dtype)          # its borders stay zero
        flat = block.reshape(chunk, 1, -1)
        acc = np.empty((chunk, mult, math.prod(grid)), dtype=xp.dtype)
        tmp = np.empty_like(acc)
        for p0 in range(lo, hi, chunk):
            p = slice(p0, min(hi, p0 + chunk))
            b = p.stop - p.start
            block[(slice(0, b), *interior)] = x[p]                      # zero-pad, in cache
            head, product = acc[:b, :, :span], tmp[:b, :, :span]         # valid outputs lie here
            np.multiply(flat[:b, :, :span], taps[p, :, 0], out=head)      # tap 0 has offset 0
            for t, off in enumerate(offsets[1:], start=1):
                np.multiply(flat[:b, :, off:off + span], taps[p, :, t], out=product)
                if t < len(offsets) - 1:
                    head += product
            if len(offsets) == 1:
                y[p] = acc[:b].reshape((b, mult) + grid)[valid]
            else:                                               # the last tap's sum goes to y
                np.add(acc[:b].reshape((b, mult) + grid)[valid],
                       tmp[:b].reshape((b, mult) + grid)[valid], out=y[p])

    parallel(work, planes)
    return y.reshape(n, groups * mult, *out_sizes)
